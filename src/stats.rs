//! Process-wide counters. Tests read them to prove what the hot paths skip;
//! the metrics endpoint will publish them.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    pub sql_queries: AtomicU64,
    pub argon2_verifications: AtomicU64,
    pub credential_cache_hits: AtomicU64,
    pub credential_cache_misses: AtomicU64,
    pub tokens_issued: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

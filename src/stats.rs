//! Process-wide counters. Tests read them to prove what the hot paths skip;
//! the metrics endpoint will publish them.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    /// SQL run on behalf of requests (and admin commands).
    pub sql_queries: AtomicU64,
    /// SQL run by background tasks: change-log polling, re-syncs, purges.
    pub background_sql_queries: AtomicU64,
    pub argon2_verifications: AtomicU64,
    pub credential_cache_hits: AtomicU64,
    pub credential_cache_misses: AtomicU64,
    pub tokens_issued: AtomicU64,
    /// Access-token signatures checked (a cached token is not checked again).
    pub signature_verifications: AtomicU64,
    /// Batches of usage that could not be written (and were kept).
    pub usage_flush_failures: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

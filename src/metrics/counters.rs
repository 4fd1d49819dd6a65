//! An application's counters. Tests read them to prove what the hot paths
//! skip; `/metrics` publishes them.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Counters {
    /// SQL run on behalf of requests (and admin commands).
    pub sql_queries: AtomicU64,
    /// SQL run by background tasks: change-log polling, re-syncs, purges.
    pub background_sql_queries: AtomicU64,
    pub argon2_verifications: AtomicU64,
    /// Keyed digests (HMACs) of presented secrets computed to check them.
    pub secret_digests_computed: AtomicU64,
    /// Stored hashes rewritten into the current scheme on a successful check.
    pub secret_hashes_rewritten: AtomicU64,
    pub credential_cache_hits: AtomicU64,
    pub credential_cache_misses: AtomicU64,
    pub tokens_issued: AtomicU64,
    /// Access-token signatures checked (a cached token is not checked again).
    pub signature_verifications: AtomicU64,
    /// Batches of usage that could not be written (and were kept).
    pub usage_flush_failures: AtomicU64,
    /// Rounds of the usage writer, each writing what was tallied before it.
    pub usage_flush_rounds: AtomicU64,
    /// Scans for credentials that expire soon, each warning about all due.
    pub expiry_scan_rounds: AtomicU64,
    /// Rounds of the webhook sender, each sending every delivery then due.
    pub webhook_dispatch_rounds: AtomicU64,
    /// Rounds of the email sender, each sending every email then due.
    pub email_dispatch_rounds: AtomicU64,
    /// Credential records served from cache past their freshness because
    /// the database was unavailable.
    pub stale_answers: AtomicU64,
    /// Audit events dropped because the queue for an unavailable database
    /// was full.
    pub audit_events_dropped: AtomicU64,
    /// Usage dropped because the tally for an unavailable database was full.
    pub usage_dropped: AtomicU64,
    /// Request log entries dropped because the queue was full.
    pub request_log_dropped: AtomicU64,
    /// Cached client records dropped after a change (one, or all at once).
    pub client_cache_evictions: AtomicU64,
    /// Cached API key records dropped after a change (one, or all at once).
    pub key_cache_evictions: AtomicU64,
    /// Changes the change feed delivered, from this node or another.
    pub change_notifications: AtomicU64,
    /// Rate-limit checks, and those of them refused.
    pub rate_limit_checks: AtomicU64,
    pub rate_limited: AtomicU64,
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub fn read(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

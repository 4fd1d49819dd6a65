//! Usage counting written behind the requests: a request only adds to an
//! in-memory tally; a background task writes the tally in one transaction
//! every `usage_flush_seconds` (sooner past `FLUSH_AT` events), and a clean
//! stop writes what is left. A flush writes a row or two per credential
//! used since the last one, however often it was used: with 10,000 clients
//! each used about once a second, a flush every second cost PostgreSQL
//! about 18 µs a DPoP issuance more than one every 5 s (2026-12-02).

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use tokio::sync::Notify;

use crate::metrics::Counters;
use crate::storage::{Store, UsageCount};

const FLUSH_AT: usize = 20_000;
/// The most (credential, minute) tallies held while the database is away.
const MAX_PENDING: usize = 200_000;

#[derive(Default)]
struct Tally {
    count: i64,
    rate_limited: i64,
    last_used_at: i64,
}

impl Tally {
    fn add(&mut self, other: &Tally) {
        self.count += other.count;
        self.rate_limited += other.rate_limited;
        self.last_used_at = self.last_used_at.max(other.last_used_at);
    }
}

/// Tallies by minute, then credential: a request for a credential already
/// tallied this minute finds it without allocating.
#[derive(Default)]
struct Pending {
    minutes: HashMap<i64, HashMap<String, Tally>>,
    len: usize,
}

impl Pending {
    /// The tally of `credential` in `minute`, new unless there are `limit`.
    fn tally(&mut self, credential: &str, minute: i64, limit: usize) -> Option<&mut Tally> {
        let credentials = self.minutes.entry(minute).or_default();
        if !credentials.contains_key(credential) {
            if self.len >= limit {
                return None;
            }
            self.len += 1;
            credentials.insert(credential.to_owned(), Tally::default());
        }
        credentials.get_mut(credential)
    }

    fn into_counts(self) -> impl Iterator<Item = (String, i64, Tally)> {
        self.minutes.into_iter().flat_map(|(minute, credentials)| {
            credentials
                .into_iter()
                .map(move |(credential, tally)| (credential, minute, tally))
        })
    }
}

pub struct UsageRecorder {
    pending: Mutex<Pending>,
    /// One flush at a time: the last flush at a stop waits for a periodic
    /// one still writing, which the end of the process would cut short.
    flushing: tokio::sync::Mutex<()>,
    store: Arc<dyn Store>,
    full: Notify,
    counters: Arc<Counters>,
}

impl UsageRecorder {
    pub fn new(store: Arc<dyn Store>, counters: Arc<Counters>) -> Arc<Self> {
        Arc::new(Self {
            pending: Mutex::new(Pending::default()),
            flushing: tokio::sync::Mutex::new(()),
            store,
            full: Notify::new(),
            counters,
        })
    }

    /// Counts one use of `credential` (an API key check or a token), or one
    /// refusal for its rate.
    pub fn record(&self, credential: &str, rate_limited: bool, now: i64) {
        if rate_limited {
            self.tally(credential, now, |tally| tally.rate_limited += 1);
        } else {
            self.record_served(credential, 1, now);
        }
    }

    /// Counts `uses` served requests of `credential` at once.
    pub fn record_served(&self, credential: &str, uses: u32, now: i64) {
        self.tally(credential, now, |tally| {
            tally.count += i64::from(uses);
            tally.last_used_at = tally.last_used_at.max(now);
        });
    }

    fn tally(&self, credential: &str, now: i64, count: impl FnOnce(&mut Tally)) {
        let size = {
            let mut pending = self.pending.lock();
            let Some(tally) = pending.tally(credential, now.div_euclid(60), MAX_PENDING) else {
                drop(pending);
                self.dropped();
                return;
            };
            count(tally);
            pending.len
        };
        if size >= FLUSH_AT {
            self.full.notify_one();
        }
    }

    /// Entries tallied and not yet written: the write-behind queue's depth.
    pub fn pending(&self) -> usize {
        self.pending.lock().len
    }

    /// Writes everything tallied so far. On failure the tally is kept for
    /// the next flush, so nothing is lost while the database is away.
    pub async fn flush(&self) {
        let _one_at_a_time = self.flushing.lock().await;
        let taken = std::mem::take(&mut *self.pending.lock());
        if taken.len == 0 {
            return;
        }
        let taken: Vec<(String, i64, Tally)> = taken.into_counts().collect();
        let batch: Vec<UsageCount> = taken
            .iter()
            .map(|(credential_id, minute, tally)| UsageCount {
                credential_id: credential_id.clone(),
                minute: *minute,
                count: tally.count,
                rate_limited: tally.rate_limited,
                last_used_at: tally.last_used_at,
            })
            .collect();
        if let Err(e) = self.store.record_usage(&batch).await {
            Counters::bump(&self.counters.usage_flush_failures);
            tracing::error!(error = %crate::error::error_chain(&e), rows = batch.len(), "writing usage failed; kept for the next flush");
            let mut pending = self.pending.lock();
            for (credential, minute, tally) in taken {
                if let Some(kept) = pending.tally(&credential, minute, usize::MAX) {
                    kept.add(&tally);
                }
            }
        }
    }

    fn dropped(&self) {
        let before = self
            .counters
            .usage_dropped
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if before.is_multiple_of(10_000) {
            tracing::error!(
                dropped = before + 1,
                "the usage tally is full while the database is unavailable; dropping usage"
            );
        }
    }

    /// Flushes `every` so long, or sooner when the tally grows large.
    pub fn spawn_flusher(self: &Arc<Self>, every: Duration) {
        let recorder = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = recorder.full.notified() => {}
                }
                recorder.flush().await;
                Counters::bump(&recorder.counters.usage_flush_rounds);
            }
        });
    }
}

//! Usage counting written behind the requests: a request only adds to an
//! in-memory tally; a background task writes the tally in one transaction
//! every second (sooner past `FLUSH_AT` events), and a clean stop writes
//! what is left.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::stats::Counters;
use crate::storage::{Store, UsageCount};

const FLUSH_EVERY: Duration = Duration::from_secs(1);
const FLUSH_AT: usize = 1000;
/// The most (credential, minute) tallies held while the database is away.
const MAX_PENDING: usize = 200_000;

#[derive(Default)]
struct Tally {
    count: i64,
    rate_limited: i64,
    last_used_at: i64,
}

pub struct UsageRecorder {
    pending: Mutex<HashMap<(String, i64), Tally>>,
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
            pending: Mutex::new(HashMap::new()),
            flushing: tokio::sync::Mutex::new(()),
            store,
            full: Notify::new(),
            counters,
        })
    }

    /// Counts one use of `credential` (an API key check or a token), or one
    /// refusal for its rate.
    pub fn record(&self, credential: &str, rate_limited: bool, now: i64) {
        let size = {
            let mut pending = self.pending.lock().expect("not poisoned");
            let key = (credential.to_owned(), now.div_euclid(60));
            if pending.len() >= MAX_PENDING && !pending.contains_key(&key) {
                drop(pending);
                self.dropped();
                return;
            }
            let tally = pending.entry(key).or_default();
            if rate_limited {
                tally.rate_limited += 1;
            } else {
                tally.count += 1;
                tally.last_used_at = tally.last_used_at.max(now);
            }
            pending.len()
        };
        if size >= FLUSH_AT {
            self.full.notify_one();
        }
    }

    /// Entries tallied and not yet written: the write-behind queue's depth.
    pub fn pending(&self) -> usize {
        self.pending.lock().expect("not poisoned").len()
    }

    /// Writes everything tallied so far. On failure the tally is kept for
    /// the next flush, so nothing is lost while the database is away.
    pub async fn flush(&self) {
        let _one_at_a_time = self.flushing.lock().await;
        let taken = std::mem::take(&mut *self.pending.lock().expect("not poisoned"));
        if taken.is_empty() {
            return;
        }
        let batch: Vec<UsageCount> = taken
            .iter()
            .map(|((credential_id, minute), tally)| UsageCount {
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
            let mut pending = self.pending.lock().expect("not poisoned");
            for (key, tally) in taken {
                let kept = pending.entry(key).or_default();
                kept.count += tally.count;
                kept.rate_limited += tally.rate_limited;
                kept.last_used_at = kept.last_used_at.max(tally.last_used_at);
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

    /// Flushes every second, or sooner when the tally grows large.
    pub fn spawn_flusher(self: &Arc<Self>) {
        let recorder = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(FLUSH_EVERY) => {}
                    _ = recorder.full.notified() => {}
                }
                recorder.flush().await;
            }
        });
    }
}

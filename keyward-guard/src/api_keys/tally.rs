//! Uses served from cached verdicts, per key, until they are reported to
//! Keyward: a second after a key's first unreported use, before the key
//! is checked again, and at [`crate::Guard::flush_usage`]. A report that
//! fails is kept and tried again a second later.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use secrecy::SecretString;

use super::cache::KeyDigest;
use super::keyward::KeywardApi;

pub(crate) const REPORT_AFTER: Duration = Duration::from_secs(1);

/// The most uses Keyward takes in one report.
const MAX_USES_PER_REPORT: u32 = 10_000;

struct Pending {
    key: SecretString,
    uses: u32,
}

pub(crate) struct UsageTally {
    keyward: Arc<KeywardApi>,
    pending: Mutex<HashMap<KeyDigest, Pending>>,
}

impl UsageTally {
    pub(crate) fn new(keyward: Arc<KeywardApi>) -> Self {
        Self {
            keyward,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one request served from a cached verdict of `key`.
    pub(crate) fn add(self: &Arc<Self>, digest: KeyDigest, key: &str) {
        self.tally(digest, || SecretString::from(key), 1);
    }

    /// Reports `digest`'s unreported uses now.
    pub(crate) async fn flush(self: &Arc<Self>, digest: &KeyDigest) {
        let pending = self.lock().remove(digest);
        if let Some(pending) = pending {
            self.report(*digest, pending).await;
        }
    }

    pub(crate) async fn flush_all(self: &Arc<Self>) {
        let drained: Vec<_> = self.lock().drain().collect();
        for (digest, pending) in drained {
            self.report(digest, pending).await;
        }
    }

    async fn report(self: &Arc<Self>, digest: KeyDigest, pending: Pending) {
        let mut left = pending.uses;
        while left > 0 {
            let uses = left.min(MAX_USES_PER_REPORT);
            if let Err(e) = self.keyward.report_usage(&pending.key, uses).await {
                tracing::warn!(error = %e, uses = left, "reporting API key usage failed; will retry");
                self.tally(digest, || pending.key.clone(), left);
                return;
            }
            left -= uses;
        }
    }

    /// Adds `uses` to `digest`'s tally; a new tally is reported later.
    fn tally(self: &Arc<Self>, digest: KeyDigest, key: impl FnOnce() -> SecretString, uses: u32) {
        let new = match self.lock().entry(digest) {
            Entry::Occupied(mut held) => {
                let held = held.get_mut();
                held.uses = held.uses.saturating_add(uses);
                false
            }
            Entry::Vacant(slot) => {
                slot.insert(Pending { key: key(), uses });
                true
            }
        };
        if new {
            let tally = self.clone();
            tokio::spawn(async move {
                tokio::time::sleep(REPORT_AFTER).await;
                tally.flush(&digest).await;
            });
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<KeyDigest, Pending>> {
        self.pending
            .lock()
            .expect("the tally lock is never poisoned")
    }
}

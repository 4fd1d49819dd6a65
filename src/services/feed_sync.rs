//! How far this node's caches are known to be current: the change feed
//! marks the moment up to which every committed change has been applied. A
//! record cached before that moment and not evicted since was current then.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

pub struct FeedSync {
    /// Milliseconds since the epoch; `i64::MIN` until the feed first syncs.
    synced_at_ms: AtomicI64,
}

impl Default for FeedSync {
    fn default() -> Self {
        Self {
            synced_at_ms: AtomicI64::new(i64::MIN),
        }
    }
}

impl FeedSync {
    /// Every change committed before `as_of` has been applied.
    pub fn mark(&self, as_of: DateTime<Utc>) {
        self.synced_at_ms
            .fetch_max(as_of.timestamp_millis(), Ordering::AcqRel);
    }

    pub fn synced_at(&self) -> Option<DateTime<Utc>> {
        match self.synced_at_ms.load(Ordering::Acquire) {
            i64::MIN => None,
            ms => DateTime::from_timestamp_millis(ms),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mark_only_moves_forward() {
        let sync = FeedSync::default();
        assert_eq!(sync.synced_at(), None);
        let now = Utc::now();
        sync.mark(now);
        sync.mark(now - chrono::Duration::seconds(3));
        assert_eq!(
            sync.synced_at().unwrap().timestamp_millis(),
            now.timestamp_millis()
        );
    }
}

//! The caches of credential records. An entry is fresh while it was read,
//! or confirmed by the change feed, within the status TTL: with the feed
//! working, every entry is confirmed a few times a second and stays until
//! it is evicted or an hour old. While the database is unavailable,
//! an older entry still answers for at most `max_staleness` after it was
//! last known current. Past that the request fails closed with the storage
//! error. Ages are read from the server's clock.

use std::borrow::Borrow;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use moka::sync::Cache;

use super::feed_sync::FeedSync;
use crate::storage::StorageError;
use crate::time::Clock;

const CAPACITY: u64 = 100_000;
/// Even while the feed confirms it, a record is read again this often: a
/// bound for an edit made in the database by hand, outside the change log.
const REREAD_AT_LEAST_EVERY: Duration = Duration::from_secs(3600);

/// How long records stay fresh and how long stale ones may answer, on
/// which clock, and how far the change feed has confirmed them.
#[derive(Clone)]
pub struct Freshness {
    pub fresh_for: Duration,
    pub max_staleness: Duration,
    pub clock: Arc<dyn Clock>,
    pub feed: Arc<FeedSync>,
}

pub struct RecordCache<K, V> {
    /// Its own expiry only bounds memory; ages are checked on the clock.
    entries: Cache<K, Timed<V>>,
    fresh_for: Duration,
    max_staleness: Duration,
    clock: Arc<dyn Clock>,
    feed: Arc<FeedSync>,
    /// Counts evictions, so a read that overlapped one is known.
    evictions: AtomicU64,
}

#[derive(Clone)]
struct Timed<V> {
    value: V,
    read_at: DateTime<Utc>,
    /// Whether the feed's confirmation covers it. A read that overlapped
    /// an eviction may hold what the eviction was for: only its own age
    /// counts, as if there were no feed.
    confirmable: bool,
}

impl<V> Timed<V> {
    fn known_current_at(&self, feed: &FeedSync) -> DateTime<Utc> {
        match feed.synced_at() {
            Some(synced) if self.confirmable => synced.max(self.read_at),
            _ => self.read_at,
        }
    }
}

impl<K, V> RecordCache<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
{
    pub fn new(freshness: &Freshness) -> Self {
        let kept_for = freshness.fresh_for.max(freshness.max_staleness);
        Self {
            entries: Cache::builder()
                .max_capacity(CAPACITY)
                .time_to_live(REREAD_AT_LEAST_EVERY.max(kept_for))
                .build(),
            fresh_for: freshness.fresh_for,
            max_staleness: kept_for,
            clock: freshness.clock.clone(),
            feed: freshness.feed.clone(),
            evictions: AtomicU64::new(0),
        }
    }

    /// The record under `key`: cached while fresh, else read by `load`. An
    /// unavailable database leaves a stale entry answering; a record that is
    /// gone is forgotten. Whether the answer was stale comes with it.
    pub async fn get_or_load<Q, F, Fut>(
        &self,
        key: &Q,
        load: F,
    ) -> Result<Option<(V, bool)>, StorageError>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Option<V>, StorageError>>,
    {
        let now = self.clock.now();
        let cached = self.entries.get(key).and_then(|entry| {
            let age = (now - entry.known_current_at(&self.feed))
                .to_std()
                .unwrap_or_default();
            (age < self.max_staleness).then_some((entry, age))
        });
        if let Some((entry, age)) = &cached {
            if *age < self.fresh_for {
                return Ok(Some((entry.value.clone(), false)));
            }
        }
        let evictions_before = self.evictions.load(Ordering::SeqCst);
        match load().await {
            Ok(Some(value)) => {
                let mut entry = Timed {
                    value: value.clone(),
                    read_at: now,
                    confirmable: true,
                };
                self.entries.insert(key.to_owned(), entry.clone());
                // Checked after the insert: an eviction that ran before it
                // is seen here, one that runs after it removes the entry.
                if self.evictions.load(Ordering::SeqCst) != evictions_before {
                    entry.confirmable = false;
                    self.entries.insert(key.to_owned(), entry);
                }
                Ok(Some((value, false)))
            }
            Ok(None) => {
                self.entries.invalidate(key);
                Ok(None)
            }
            Err(StorageError::Unavailable(e)) => match cached {
                Some((entry, _)) => Ok(Some((entry.value, true))),
                None => Err(StorageError::Unavailable(e)),
            },
            Err(e) => Err(e),
        }
    }

    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate(key);
    }

    pub fn invalidate_all(&self) {
        self.evictions.fetch_add(1, Ordering::SeqCst);
        self.entries.invalidate_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn down() -> StorageError {
        StorageError::Unavailable(sqlx::Error::PoolTimedOut)
    }

    use crate::time::{ManualClock, SystemClock};

    #[tokio::test]
    async fn a_stale_entry_answers_only_while_the_database_is_down_and_not_for_long() {
        let clock = ManualClock::starting_now();
        let cache: RecordCache<String, u32> = RecordCache::new(&Freshness {
            fresh_for: Duration::ZERO,
            max_staleness: Duration::from_secs(200),
            clock: clock.clone(),
            feed: Arc::default(),
        });
        let load = |v: u32| move || async move { Ok(Some(v)) };
        assert_eq!(
            cache.get_or_load("a", load(1)).await.unwrap(),
            Some((1, false))
        );
        // Not fresh: the store is asked, and its answer wins.
        assert_eq!(
            cache.get_or_load("a", load(2)).await.unwrap(),
            Some((2, false))
        );
        let outage = || async { Err(down()) };
        assert_eq!(
            cache.get_or_load("a", outage).await.unwrap(),
            Some((2, true))
        );
        assert!(
            cache.get_or_load("b", outage).await.is_err(),
            "nothing cached"
        );
        clock.advance(Duration::from_secs(199));
        assert!(
            cache.get_or_load("a", outage).await.is_ok(),
            "stale, in bound"
        );
        clock.advance(Duration::from_secs(2));
        assert!(cache.get_or_load("a", outage).await.is_err(), "too stale");
    }

    #[tokio::test]
    async fn a_fresh_entry_does_not_ask_and_a_deleted_record_is_forgotten() {
        let cache: RecordCache<String, u32> = RecordCache::new(&Freshness {
            fresh_for: Duration::from_secs(60),
            max_staleness: Duration::from_secs(60),
            clock: Arc::new(SystemClock),
            feed: Arc::default(),
        });
        cache
            .get_or_load("a", || async { Ok(Some(1)) })
            .await
            .unwrap();
        let asked = || async { Err(StorageError::Corrupt("a fresh entry reads nothing".into())) };
        assert_eq!(
            cache.get_or_load("a", asked).await.unwrap(),
            Some((1, false))
        );
        cache.invalidate("a");
        assert_eq!(
            cache.get_or_load("a", || async { Ok(None) }).await.unwrap(),
            None
        );
        let outage = || async { Err(down()) };
        assert!(cache.get_or_load("a", outage).await.is_err());
    }

    fn five_second_ttl(clock: Arc<ManualClock>) -> RecordCache<String, u32> {
        RecordCache::new(&Freshness {
            fresh_for: Duration::from_secs(5),
            max_staleness: Duration::from_secs(5),
            clock,
            feed: Arc::default(),
        })
    }

    async fn must_not_read() -> Result<Option<u32>, StorageError> {
        Err(StorageError::Corrupt("read again".into()))
    }

    /// Reads "a", with `value` as what the store would answer.
    async fn read_with(cache: &RecordCache<String, u32>, value: u32) -> Option<(u32, bool)> {
        cache
            .get_or_load("a", || async move { Ok(Some(value)) })
            .await
            .unwrap()
    }

    /// Moves the clock on, and the feed confirms everything at the new time.
    fn confirmed_later(clock: &ManualClock, cache: &RecordCache<String, u32>, seconds: u64) {
        clock.advance(Duration::from_secs(seconds));
        cache.feed.mark(clock.now());
    }

    #[tokio::test]
    async fn an_entry_the_feed_confirms_stays_fresh_past_the_ttl() {
        let clock = ManualClock::starting_now();
        let cache = five_second_ttl(clock.clone());
        read_with(&cache, 1).await;
        confirmed_later(&clock, &cache, 6);
        assert_eq!(
            cache.get_or_load("a", must_not_read).await.unwrap(),
            Some((1, false))
        );
        // The feed stopped confirming: the TTL counts from its last mark.
        clock.advance(Duration::from_secs(5));
        assert_eq!(read_with(&cache, 2).await, Some((2, false)));
    }

    #[tokio::test]
    async fn a_read_that_overlapped_an_eviction_is_not_confirmed_by_the_feed() {
        let clock = ManualClock::starting_now();
        let cache = five_second_ttl(clock.clone());
        let evicted_while_read = || async {
            cache.invalidate("a");
            Ok(Some(1))
        };
        cache.get_or_load("a", evicted_while_read).await.unwrap();
        assert_eq!(
            cache.get_or_load("a", must_not_read).await.unwrap(),
            Some((1, false)),
            "fresh by its own age"
        );
        confirmed_later(&clock, &cache, 6);
        assert_eq!(read_with(&cache, 2).await, Some((2, false)));
        confirmed_later(&clock, &cache, 6);
        assert_eq!(
            cache.get_or_load("a", must_not_read).await.unwrap(),
            Some((2, false)),
            "the clean read is confirmed"
        );
    }
}

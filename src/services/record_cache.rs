//! The caches of credential records. An entry is fresh for the status TTL;
//! while the database is unavailable, an older entry still answers for at
//! most `max_staleness` after it was read. Past that the request fails
//! closed with the storage error. Ages are read from the server's clock.

use std::borrow::Borrow;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use crate::storage::StorageError;
use crate::time::Clock;

const CAPACITY: u64 = 100_000;

/// How long records stay fresh and how long stale ones may answer, on
/// which clock.
#[derive(Clone)]
pub struct Freshness {
    pub fresh_for: Duration,
    pub max_staleness: Duration,
    pub clock: Arc<dyn Clock>,
}

pub struct RecordCache<K, V> {
    /// Its own expiry only bounds memory; ages are checked on the clock.
    entries: Cache<K, Timed<V>>,
    fresh_for: Duration,
    max_staleness: Duration,
    clock: Arc<dyn Clock>,
}

#[derive(Clone)]
struct Timed<V> {
    value: V,
    read_at: chrono::DateTime<chrono::Utc>,
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
                .time_to_live(kept_for)
                .build(),
            fresh_for: freshness.fresh_for,
            max_staleness: kept_for,
            clock: freshness.clock.clone(),
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
            let age = (now - entry.read_at).to_std().unwrap_or_default();
            (age < self.max_staleness).then_some((entry, age))
        });
        if let Some((entry, age)) = &cached {
            if *age < self.fresh_for {
                return Ok(Some((entry.value.clone(), false)));
            }
        }
        match load().await {
            Ok(Some(value)) => {
                let entry = Timed {
                    value: value.clone(),
                    read_at: now,
                };
                self.entries.insert(key.to_owned(), entry);
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
        self.entries.invalidate(key);
    }

    pub fn invalidate_all(&self) {
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
}

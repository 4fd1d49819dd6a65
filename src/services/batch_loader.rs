//! Credential records read together. Real traffic is many credentials, each
//! seen once per token lifetime, so most requests find their record
//! uncached. Each still costs one indexed read, but the reads of requests
//! that arrive together share a query: while `MAX_IN_FLIGHT` queries run,
//! the ids asked for meanwhile wait and go in the next one, up to
//! `MAX_BATCH` at a time. A lone request is read at once, with no added
//! delay; a burst costs a few queries instead of one each (a round trip on
//! PostgreSQL; SQLite answers these reads at once, see `credential_reads`,
//! and comes here only when that way cannot answer).
//!
//! Writes that must be committed before their requests are answered (a
//! one-time value) batch as a group commit instead: one write at a time,
//! and what arrives meanwhile goes in the next, since a commit costs far
//! more than a row. A group commit may also be paced: a batch starts no
//! sooner than `pace` after the one before it began (unless that one was
//! full), so under load each commit carries more values, while a value that
//! comes after a quiet spell goes at once. (Holding every batch open for a
//! millisecond, quiet or not, made 32 connections get a third fewer answers
//! a second.)

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::time::Instant;

use crate::storage::StorageError;

pub const MAX_BATCH: usize = 64;

/// How a loader forms its batches: how many run at once, and how soon
/// after one batch the next may start.
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    in_flight: usize,
    pace: Duration,
}

impl Batching {
    /// Reads: up to four at once.
    pub const READS: Self = Self {
        in_flight: 4,
        pace: Duration::ZERO,
    };
    /// Group commits: one at a time.
    pub const GROUP_COMMIT: Self = Self {
        in_flight: 1,
        pace: Duration::ZERO,
    };

    /// The same, with batches starting at most once per `pace`.
    pub const fn paced(self, pace: Duration) -> Self {
        Self {
            in_flight: self.in_flight,
            pace,
        }
    }
}

type Answer<V> = oneshot::Sender<Result<Option<V>, StorageError>>;

pub struct BatchLoader<K, V> {
    requests: mpsc::UnboundedSender<(K, Answer<V>)>,
}

impl<K, V> BatchLoader<K, V>
where
    K: Eq + Hash + Clone + Send + 'static,
    V: Clone + Send + 'static,
{
    /// Starts the loader on the current runtime; `read` answers a batch of
    /// ids with the records that exist.
    pub fn spawn<F, Fut>(batching: Batching, read: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<HashMap<K, V>, StorageError>> + Send + 'static,
    {
        let (requests, mut waiting) = mpsc::unbounded_channel::<(K, Answer<V>)>();
        let read = Arc::new(read);
        let slots = Arc::new(Semaphore::new(batching.in_flight));
        tokio::spawn(async move {
            let mut paced_until: Option<Instant> = None;
            while let Some(first) = waiting.recv().await {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                if let Some(until) = paced_until.take() {
                    tokio::time::sleep_until(until).await;
                }
                // Whatever arrived while every slot was busy goes along.
                let mut batch = vec![first];
                while batch.len() < MAX_BATCH {
                    match waiting.try_recv() {
                        Ok(request) => batch.push(request),
                        Err(_) => break,
                    }
                }
                // Unpaced loaders (reads) never touch the timer.
                if !batching.pace.is_zero() && batch.len() < MAX_BATCH {
                    paced_until = Some(Instant::now() + batching.pace);
                }
                let read = read.clone();
                tokio::spawn(async move {
                    let ids = batch.iter().map(|(id, _)| id.clone()).collect();
                    answer(batch, read(ids).await);
                    drop(slot);
                });
            }
        });
        Self { requests }
    }

    /// The record of `id`, read with whatever else is asked for meanwhile.
    pub async fn load(&self, id: K) -> Result<Option<V>, StorageError> {
        let (answer, answered) = oneshot::channel();
        if self.requests.send((id, answer)).is_err() {
            return Err(stopped());
        }
        answered.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn answer<K: Eq + Hash, V: Clone>(
    batch: Vec<(K, Answer<V>)>,
    read: Result<HashMap<K, V>, StorageError>,
) {
    match read {
        Ok(found) => {
            for (id, answer) in batch {
                let _ = answer.send(Ok(found.get(&id).cloned()));
            }
        }
        Err(err) => {
            for (_, answer) in batch {
                let _ = answer.send(Err(err.copy()));
            }
        }
    }
}

/// The loader's task is gone: only while the runtime shuts down.
fn stopped() -> StorageError {
    StorageError::Unavailable(sqlx::Error::PoolClosed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test]
    async fn a_burst_shares_queries_and_each_gets_its_own_record() {
        let queries = Arc::new(AtomicUsize::new(0));
        let counted = queries.clone();
        let loader = BatchLoader::spawn(Batching::READS, move |ids: Vec<u32>| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(ids
                    .into_iter()
                    .filter(|id| id % 2 == 0)
                    .map(|id| (id, id * 10))
                    .collect())
            }
        });
        let loader = Arc::new(loader);
        let asks = (0..200u32).map(|id| {
            let loader = loader.clone();
            tokio::spawn(async move { (id, loader.load(id).await.unwrap()) })
        });
        for asked in futures_util::future::join_all(asks).await {
            let (id, found) = asked.unwrap();
            assert_eq!(found, (id % 2 == 0).then_some(id * 10));
        }
        let queries = queries.load(Ordering::SeqCst);
        assert!(queries < 20, "{queries} queries for 200 reads");
    }

    #[tokio::test]
    async fn a_group_commit_runs_one_write_at_a_time_for_many_requests() {
        let (running, most, writes) = (
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
            Arc::new(AtomicUsize::new(0)),
        );
        let counters = (running.clone(), most.clone(), writes.clone());
        let loader = BatchLoader::spawn(Batching::GROUP_COMMIT, move |ids: Vec<u32>| {
            let (running, most, writes) = counters.clone();
            async move {
                writes.fetch_add(1, Ordering::SeqCst);
                most.fetch_max(running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(2)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(ids.into_iter().map(|id| (id, ())).collect())
            }
        });
        let loader = Arc::new(loader);
        let asks = (0..300u32).map(|id| {
            let loader = loader.clone();
            tokio::spawn(async move { loader.load(id).await.unwrap() })
        });
        for answered in futures_util::future::join_all(asks).await {
            assert_eq!(answered.unwrap(), Some(()));
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
        let writes = writes.load(Ordering::SeqCst);
        assert!(writes < 20, "{writes} writes for 300 values");
    }

    #[tokio::test]
    async fn a_paced_group_commit_gathers_a_stream_and_lets_a_lone_value_through() {
        let writes = Arc::new(AtomicUsize::new(0));
        let counted = writes.clone();
        let pace = Duration::from_millis(500);
        let loader =
            BatchLoader::spawn(Batching::GROUP_COMMIT.paced(pace), move |ids: Vec<u32>| {
                counted.fetch_add(1, Ordering::SeqCst);
                async move { Ok(ids.into_iter().map(|id| (id, ())).collect()) }
            });
        let loader = Arc::new(loader);
        // A value after a quiet spell is written at once, not a pace later.
        let alone = std::time::Instant::now();
        assert_eq!(loader.load(0).await.unwrap(), Some(()));
        assert!(alone.elapsed() < pace / 2, "{:?}", alone.elapsed());
        // Values arriving one a millisecond share the paced commits; unpaced,
        // each would be written alone.
        let asks = (1..=100u32).map(|id| {
            let loader = loader.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(u64::from(id))).await;
                loader.load(id).await.unwrap()
            })
        });
        for answered in futures_util::future::join_all(asks).await {
            assert_eq!(answered.unwrap(), Some(()));
        }
        let writes = writes.load(Ordering::SeqCst);
        assert!(writes <= 4, "{writes} writes for 101 values");
    }

    #[tokio::test]
    async fn a_failed_read_fails_every_request_of_its_batch_alike() {
        let loader = BatchLoader::spawn(Batching::READS, |_: Vec<u32>| async {
            Err::<HashMap<u32, u32>, _>(StorageError::Unavailable(sqlx::Error::PoolTimedOut))
        });
        assert!(matches!(
            loader.load(1).await,
            Err(StorageError::Unavailable(_))
        ));
    }
}

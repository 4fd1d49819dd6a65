//! Values that may be used once across every replica: a client assertion's
//! `jti`, a platform token's, a DPoP proof's. This node's memory refuses a
//! repeat at once and keeps two concurrent repeats apart; the shared record,
//! Redis when it is configured (else the database, in batches), refuses a
//! repeat that went to another replica. On SQLite without Redis the
//! database's record, made on the request's thread, does both. While Redis
//! is unreachable the database takes its place, so a value first used just
//! before an outage and repeated during it on another replica is the one
//! repeat that can pass.

use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use moka::sync::Cache;

use super::batch_loader::{BatchLoader, Batching};
use super::redis_link::RedisLink;
use super::thread_group_commit::ThreadGroupCommit;
use crate::storage::{StorageError, Store};
use crate::time::Clock;

const LOCAL_CAPACITY: u64 = 1_000_000;
const KEY_PREFIX: &str = "keyward:once:";

/// A commit costs PostgreSQL far more than a row (~160 µs against ~10 µs
/// on a 2-core host): under load, at most one commit per 500 µs, each with
/// what arrived meanwhile. Tokio's timer counts whole milliseconds, so a
/// value waits up to about 1.5 ms for its turn; a longer pace left a
/// faster host's CPU idle while requests waited.
const COMMITS: Batching = Batching::GROUP_COMMIT.paced(Duration::from_micros(500));

/// How long a value is remembered at most: the longest lifetime we accept,
/// with the clock leeway on both sides.
pub const MAX_REMEMBERED_SECONDS: u64 = 600;

pub struct OneTimeValues {
    local: Cache<String, ()>,
    instant: Option<ThreadGroupCommit>,
    store: BatchLoader<(String, i64), ()>,
    redis: Option<RedisLink>,
    clock: Arc<dyn Clock>,
}

impl OneTimeValues {
    pub fn new(
        store: Arc<dyn Store>,
        redis_url: Option<&str>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, redis::RedisError> {
        let instant = store.instant_one_time().map(ThreadGroupCommit::new);
        let batched = BatchLoader::spawn(COMMITS, move |values: Vec<(String, i64)>| {
            let store = store.clone();
            async move {
                let fresh = store.use_once(&values).await?;
                Ok(values
                    .into_iter()
                    .zip(fresh)
                    .filter(|(_, fresh)| *fresh)
                    .map(|(value, _)| (value, ()))
                    .collect())
            }
        });
        Ok(Self {
            local: Cache::builder()
                .max_capacity(LOCAL_CAPACITY)
                .time_to_live(Duration::from_secs(MAX_REMEMBERED_SECONDS))
                .build(),
            instant,
            store: batched,
            redis: redis_url
                .map(|url| RedisLink::new(url, "one-time values are recorded in the database"))
                .transpose()?,
            clock,
        })
    }

    /// Whether this is the first use of `value` in `scope` (such as the
    /// client that signed it); it is remembered until `expires_at`.
    pub async fn first_use(
        &self,
        scope: &str,
        value: &str,
        expires_at: i64,
    ) -> Result<bool, StorageError> {
        let digest = value_digest(scope, value);
        if let (Some(instant), None) = (&self.instant, &self.redis) {
            // The record itself keeps repeats apart, at once.
            if let Some(first) = instant.use_once(&digest, expires_at).await {
                return Ok(first);
            }
        }
        let entry = self.local.entry(digest.clone()).or_insert(());
        if !entry.is_fresh() {
            return Ok(false);
        }
        let shared = self.shared_first_use(&digest, expires_at).await;
        if shared.is_err() {
            // Not recorded anywhere: a retry of the same value may pass.
            self.local.invalidate(&digest);
        }
        shared
    }

    async fn shared_first_use(&self, digest: &str, expires_at: i64) -> Result<bool, StorageError> {
        if let Some(redis) = &self.redis {
            if let Some(first) = self.redis_first_use(redis, digest, expires_at).await {
                return Ok(first);
            }
        }
        let found = self.store.load((digest.to_owned(), expires_at)).await?;
        Ok(found.is_some())
    }

    async fn redis_first_use(
        &self,
        redis: &RedisLink,
        digest: &str,
        expires_at: i64,
    ) -> Option<bool> {
        let mut connection = redis.connection().await?;
        let ttl = (expires_at - self.clock.unix()).max(1);
        let mut command = redis::cmd("SET");
        command
            .arg(format!("{KEY_PREFIX}{digest}"))
            .arg(1)
            .arg("NX")
            .arg("EX")
            .arg(ttl);
        let set = command.query_async::<Option<String>>(&mut connection);
        redis.run(set).await.map(|answer| answer.is_some())
    }
}

fn value_digest(scope: &str, value: &str) -> String {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(scope.as_bytes());
    context.update(&[0]);
    context.update(value.as_bytes());
    URL_SAFE_NO_PAD.encode(context.finish())
}

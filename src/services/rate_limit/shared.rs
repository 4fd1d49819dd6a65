//! One rate budget per credential across replicas: GCRA in Redis, one
//! atomic script per check. When Redis cannot be reached the caller falls
//! back to its local budget; a new connection is tried at most once a second.

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::MultiplexedConnection;

use super::decision::{Decision, WINDOW_SECONDS};

/// GCRA on Redis's own clock: the key holds the theoretical arrival time in
/// microseconds, which keeps the emission interval whole for rates up to a
/// million a second (Lua numbers are doubles: exact at this size).
/// Returns {allowed, remaining, retry_after_us, reset_us}.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local tolerance = interval * burst
local next_tat = tat + interval
if next_tat - tolerance > now then
  return {0, 0, next_tat - tolerance - now, tat - now}
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil((next_tat - now) / 1000))
return {1, math.floor((tolerance - (next_tat - now)) / interval), 0, next_tat - now}
";

const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
const COMMAND_TIMEOUT: Duration = Duration::from_millis(100);
const RETRY_EVERY_MS: i64 = 1000;

/// Milliseconds on a monotonic clock: reconnection attempts are paced in
/// real time, whatever time the rest of the server is told.
fn elapsed_ms() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}
pub const KEY_PREFIX: &str = "keyward:ratelimit:";

pub struct RedisLimiter {
    client: redis::Client,
    script: redis::Script,
    connection: ArcSwapOption<MultiplexedConnection>,
    next_attempt_ms: AtomicI64,
    reachable: AtomicBool,
}

impl RedisLimiter {
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            script: redis::Script::new(GCRA),
            connection: ArcSwapOption::empty(),
            next_attempt_ms: AtomicI64::new(0),
            reachable: AtomicBool::new(true),
        })
    }

    /// Whether the last attempt reached Redis.
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// One check against the shared budget; `None` when Redis is unreachable.
    pub async fn check(&self, credential: &str, per_minute: u32) -> Option<Decision> {
        let limit = per_minute.max(1);
        let mut connection = self.connection().await?;
        let interval_us = (WINDOW_SECONDS * 1_000_000 / u64::from(limit)).max(1);
        let mut invocation = self.script.key(format!("{KEY_PREFIX}{credential}"));
        invocation.arg(interval_us).arg(limit);
        let call = invocation.invoke_async::<(i64, i64, i64, i64)>(&mut connection);
        match tokio::time::timeout(COMMAND_TIMEOUT, call).await {
            Ok(Ok((allowed, remaining, retry_us, reset_us))) => {
                self.mark_reachable();
                let seconds = |us: i64| (us.max(0) as u64).div_ceil(1_000_000);
                Some(Decision {
                    allowed: allowed == 1,
                    limit,
                    remaining: remaining.max(0) as u32,
                    reset_seconds: seconds(reset_us),
                    retry_after_seconds: (allowed != 1).then(|| seconds(retry_us).max(1)),
                })
            }
            Ok(Err(e)) => self.unreachable(&e.to_string()),
            Err(_) => self.unreachable("timed out"),
        }
    }

    async fn connection(&self) -> Option<MultiplexedConnection> {
        if let Some(connection) = self.connection.load_full() {
            return Some((*connection).clone());
        }
        let now = elapsed_ms();
        let due = self.next_attempt_ms.load(Ordering::Relaxed);
        // One caller a second tries to connect; the others use local budgets.
        if now < due
            || self
                .next_attempt_ms
                .compare_exchange(
                    due,
                    now + RETRY_EVERY_MS,
                    Ordering::AcqRel,
                    Ordering::Relaxed,
                )
                .is_err()
        {
            return None;
        }
        match tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.client.get_multiplexed_async_connection(),
        )
        .await
        {
            Ok(Ok(connection)) => {
                self.connection.store(Some(Arc::new(connection.clone())));
                Some(connection)
            }
            Ok(Err(e)) => self.unreachable(&e.to_string()),
            Err(_) => self.unreachable("connecting timed out"),
        }
    }

    fn mark_reachable(&self) {
        if !self.reachable.swap(true, Ordering::Relaxed) {
            tracing::info!("redis is reachable again; rate limits are shared again");
        }
    }

    fn unreachable<T>(&self, why: &str) -> Option<T> {
        self.connection.store(None);
        self.next_attempt_ms
            .store(elapsed_ms() + RETRY_EVERY_MS, Ordering::Relaxed);
        if self.reachable.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                error = why,
                "redis is unreachable; rate limits fall back to this node's budgets"
            );
        }
        None
    }
}

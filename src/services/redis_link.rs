//! A connection to Redis that may come and go. Callers that find it down
//! fall back to what they do without Redis; a new connection is tried at
//! most once a second, on a monotonic clock (this is real network time,
//! whatever time the rest of the server is told).

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwapOption;
use redis::aio::MultiplexedConnection;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
pub const COMMAND_TIMEOUT: Duration = Duration::from_millis(100);
const RETRY_EVERY_MS: i64 = 1000;

fn elapsed_ms() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    let start = START.get_or_init(std::time::Instant::now);
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

pub struct RedisLink {
    client: redis::Client,
    connection: ArcSwapOption<MultiplexedConnection>,
    next_attempt_ms: AtomicI64,
    reachable: AtomicBool,
    /// What the callers do while Redis is down, for the log.
    fallback: &'static str,
}

impl RedisLink {
    pub fn new(url: &str, fallback: &'static str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            client: redis::Client::open(url)?,
            connection: ArcSwapOption::empty(),
            next_attempt_ms: AtomicI64::new(0),
            reachable: AtomicBool::new(true),
            fallback,
        })
    }

    /// Whether the last attempt reached Redis.
    pub fn is_reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    /// The connection; `None` while Redis is down and no attempt is due.
    pub async fn connection(&self) -> Option<MultiplexedConnection> {
        if let Some(connection) = self.connection.load_full() {
            return Some((*connection).clone());
        }
        let now = elapsed_ms();
        let due = self.next_attempt_ms.load(Ordering::Relaxed);
        // One caller a second tries to connect; the others fall back.
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

    /// Runs one command with the command timeout; `None` (and the link
    /// marked down) when Redis did not answer.
    pub async fn run<T, F>(&self, command: F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match tokio::time::timeout(COMMAND_TIMEOUT, command).await {
            Ok(Ok(answer)) => {
                if !self.reachable.swap(true, Ordering::Relaxed) {
                    tracing::info!("redis is reachable again");
                }
                Some(answer)
            }
            Ok(Err(e)) => self.unreachable(&e.to_string()),
            Err(_) => self.unreachable("timed out"),
        }
    }

    fn unreachable<T>(&self, why: &str) -> Option<T> {
        self.connection.store(None);
        self.next_attempt_ms
            .store(elapsed_ms() + RETRY_EVERY_MS, Ordering::Relaxed);
        if self.reachable.swap(false, Ordering::Relaxed) {
            tracing::warn!(error = why, "redis is unreachable; {}", self.fallback);
        }
        None
    }
}

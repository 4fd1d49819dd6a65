//! Per-credential rate limits: GCRA at the credential's per-minute rate,
//! with bursts up to that amount; in this process (governor), or shared by
//! every replica through Redis with this process's budgets as the fallback.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use dashmap::DashMap;

use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use crate::metrics::Counters;
use crate::time::Clock;

mod decision;
pub mod shared;

pub use decision::{Decision, WINDOW_SECONDS};

type Gcra = RateLimiter<NotKeyed, InMemoryState, GcraClock, StateInformationMiddleware>;

/// Governor's clock read from ours, so that a test moves budgets' time too.
#[derive(Clone)]
struct GcraClock(Arc<dyn Clock>);

impl governor::clock::Clock for GcraClock {
    /// Since the Unix epoch.
    type Instant = std::time::Duration;

    fn now(&self) -> Self::Instant {
        let now = self.0.now();
        let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
        std::time::Duration::new(seconds, now.timestamp_subsec_nanos())
    }
}

/// The most buckets kept; past it, idle ones are dropped at once.
const MAX_BUCKETS: usize = 1_000_000;

struct Bucket {
    per_minute: NonZeroU32,
    gcra: Gcra,
    /// Unix seconds of the last check, for forgetting idle buckets.
    last_used: AtomicI64,
}

/// One GCRA bucket per credential, kept while it is in use: a bucket idle
/// for a whole window is full again, so forgetting it changes nothing.
/// Checks find their bucket without a lock or an allocation (every checked
/// request comes here); idle buckets are swept when new ones are added.
pub struct LocalLimiter {
    buckets: DashMap<String, Arc<Bucket>>,
    clock: GcraClock,
    next_sweep: AtomicI64,
}

impl LocalLimiter {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            buckets: DashMap::new(),
            clock: GcraClock(clock),
            next_sweep: AtomicI64::new(0),
        }
    }

    /// Counts one request of `credential`, limited to `per_minute`.
    pub fn check(&self, credential: &str, per_minute: u32) -> Decision {
        let bucket = self.bucket_in_use(credential, per_minute);
        let limit = bucket.per_minute.get();
        let refill = |used: u32| {
            let seconds = u64::from(used) * WINDOW_SECONDS;
            seconds.div_ceil(u64::from(limit))
        };
        match bucket.gcra.check() {
            Ok(state) => {
                let remaining = state.remaining_burst_capacity();
                Decision {
                    allowed: true,
                    limit,
                    remaining,
                    reset_seconds: refill(limit - remaining),
                    retry_after_seconds: None,
                }
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(governor::clock::Clock::now(&self.clock));
                let retry = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                Decision {
                    allowed: false,
                    limit,
                    remaining: 0,
                    reset_seconds: refill(limit),
                    retry_after_seconds: Some(retry.max(1)),
                }
            }
        }
    }

    /// Takes up to `uses` of `credential`'s budget for requests already
    /// served; returns how many it had.
    pub fn consume(&self, credential: &str, per_minute: u32, uses: u32) -> u32 {
        let bucket = self.bucket_in_use(credential, per_minute);
        // A refused check takes nothing, so the budget is empty at the first.
        (0..uses)
            .take_while(|_| bucket.gcra.check().is_ok())
            .count() as u32
    }

    /// `credential`'s bucket at `per_minute`, marked used now.
    fn bucket_in_use(&self, credential: &str, per_minute: u32) -> Arc<Bucket> {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let now = self.clock.0.unix();
        let bucket = self.bucket(credential, per_minute, now);
        bucket.last_used.store(now, Ordering::Relaxed);
        bucket
    }

    fn bucket(&self, credential: &str, per_minute: NonZeroU32, now: i64) -> Arc<Bucket> {
        if let Some(bucket) = self.buckets.get(credential) {
            if bucket.per_minute == per_minute {
                return bucket.clone();
            }
        }
        self.sweep(now);
        // A new rate starts a new budget.
        let gcra =
            RateLimiter::direct_with_clock(Quota::per_minute(per_minute), self.clock.clone())
                .with_middleware::<StateInformationMiddleware>();
        let bucket = Arc::new(Bucket {
            per_minute,
            gcra,
            last_used: AtomicI64::new(now),
        });
        self.buckets.insert(credential.to_owned(), bucket.clone());
        bucket
    }

    /// Drops buckets idle for a whole window: at most once a window, or at
    /// once when there are too many. Past the bound even after that (over a
    /// million credentials checked within a minute), every budget restarts.
    fn sweep(&self, now: i64) {
        let due = self.next_sweep.load(Ordering::Relaxed);
        let full = self.buckets.len() >= MAX_BUCKETS;
        if now < due && !full {
            return;
        }
        self.next_sweep
            .store(now + WINDOW_SECONDS as i64, Ordering::Relaxed);
        let idle_since = now - WINDOW_SECONDS as i64;
        self.buckets
            .retain(|_, bucket| bucket.last_used.load(Ordering::Relaxed) > idle_since);
        if self.buckets.len() >= MAX_BUCKETS {
            tracing::warn!(
                buckets = MAX_BUCKETS,
                "too many rate-limit budgets in use; all restart"
            );
            self.buckets.clear();
        }
    }
}

/// The limiter a node uses: Redis when configured and reachable, else local.
pub struct RateLimits {
    local: LocalLimiter,
    shared: Option<shared::RedisLimiter>,
    counters: Arc<Counters>,
}

impl RateLimits {
    pub fn new(
        redis_url: Option<&str>,
        counters: Arc<Counters>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, redis::RedisError> {
        Ok(Self {
            local: LocalLimiter::new(clock),
            shared: redis_url.map(shared::RedisLimiter::new).transpose()?,
            counters,
        })
    }

    /// Counts one request of `credential`, limited to `per_minute`.
    pub async fn check(&self, credential: &str, per_minute: u32) -> Decision {
        let decision = self.decide(credential, per_minute).await;
        Counters::bump(&self.counters.rate_limit_checks);
        if !decision.allowed {
            Counters::bump(&self.counters.rate_limited);
        }
        decision
    }

    async fn decide(&self, credential: &str, per_minute: u32) -> Decision {
        if let Some(shared) = &self.shared {
            if let Some(decision) = shared.check(credential, per_minute).await {
                return decision;
            }
        }
        self.local.check(credential, per_minute)
    }

    /// Takes up to `uses` of `credential`'s budget for requests a resource
    /// server already served (they cannot be refused, and leave no debt);
    /// returns how many the budget had.
    pub async fn consume(&self, credential: &str, per_minute: u32, uses: u32) -> u32 {
        Counters::add(&self.counters.rate_limit_checks, u64::from(uses));
        if let Some(shared) = &self.shared {
            if let Some(taken) = shared.consume(credential, per_minute, uses).await {
                return taken;
            }
        }
        self.local.consume(credential, per_minute, uses)
    }

    /// Whether budgets are shared through Redis right now (not configured,
    /// or fallen back to this node's budgets, is false).
    pub fn shared_in_redis(&self) -> bool {
        self.shared.as_ref().is_some_and(|s| s.is_reachable())
    }

    /// `local`, `redis`, or `local (redis unreachable)`, for /readyz.
    pub fn mode(&self) -> &'static str {
        match &self.shared {
            None => "local",
            Some(shared) if shared.is_reachable() => "redis",
            Some(_) => "local (redis unreachable)",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{ManualClock, SystemClock};

    fn limiter() -> LocalLimiter {
        LocalLimiter::new(Arc::new(SystemClock))
    }

    #[test]
    fn a_burst_gets_exactly_the_per_minute_amount() {
        let limiter = limiter();
        let decisions: Vec<_> = (0..200).map(|_| limiter.check("ak_x", 60)).collect();
        assert_eq!(decisions.iter().filter(|d| d.allowed).count(), 60);
        assert_eq!(decisions[0].remaining, 59);
        assert_eq!(decisions[59].remaining, 0);
        let refused = decisions[60];
        assert_eq!(refused.retry_after_seconds, Some(1));
        assert_eq!(refused.reset_seconds, 60);
        assert!(
            limiter.check("ak_y", 60).allowed,
            "budgets are per credential"
        );
    }

    #[test]
    fn a_budget_refills_as_the_clock_moves() {
        let clock = ManualClock::starting_now();
        let limiter = LocalLimiter::new(clock.clone());
        let allowed = (0..61).filter(|_| limiter.check("ak", 60).allowed).count();
        assert_eq!(allowed, 60);
        clock.advance(std::time::Duration::from_millis(990));
        assert!(!limiter.check("ak", 60).allowed);
        clock.advance(std::time::Duration::from_millis(10));
        assert!(limiter.check("ak", 60).allowed, "one a second");
        assert!(!limiter.check("ak", 60).allowed);
    }

    #[test]
    fn consuming_takes_what_the_budget_has_and_no_more() {
        let limiter = limiter();
        assert_eq!(limiter.consume("ak", 60, 45), 45);
        assert_eq!(limiter.check("ak", 60).remaining, 14);
        assert_eq!(limiter.consume("ak", 60, 45), 14);
        assert!(!limiter.check("ak", 60).allowed, "the budget is spent");
        assert_eq!(limiter.consume("ak", 60, 1), 0);
    }

    #[test]
    fn a_new_rate_starts_a_new_budget() {
        let limiter = limiter();
        assert!(limiter.check("cl", 1).allowed);
        assert!(!limiter.check("cl", 1).allowed);
        assert!(limiter.check("cl", 2).allowed);
    }

    #[test]
    fn idle_budgets_are_forgotten_when_new_ones_come() {
        let limiter = limiter();
        assert!(limiter.check("old", 1).allowed);
        limiter
            .buckets
            .get("old")
            .unwrap()
            .last_used
            .store(0, Ordering::Relaxed);
        limiter.next_sweep.store(0, Ordering::Relaxed);
        assert!(limiter.check("new", 1).allowed);
        assert!(limiter.buckets.get("old").is_none());
        assert!(limiter.buckets.get("new").is_some());
    }
}

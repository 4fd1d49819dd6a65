//! Per-credential rate limits: GCRA at the credential's per-minute rate,
//! with bursts up to that amount; in this process (governor), or shared by
//! every replica through Redis with this process's budgets as the fallback.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::middleware::StateInformationMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use moka::sync::Cache;

use crate::stats::Counters;

type Gcra = RateLimiter<NotKeyed, InMemoryState, DefaultClock, StateInformationMiddleware>;

/// The outcome of one check, with what the rate-limit headers tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    /// Requests per window (the per-minute rate; the window is 60 s).
    pub limit: u32,
    pub remaining: u32,
    /// Seconds until the full budget is back.
    pub reset_seconds: u64,
    /// Seconds until a request would be allowed; only when refused.
    pub retry_after_seconds: Option<u64>,
}

pub const WINDOW_SECONDS: u64 = 60;

/// One GCRA bucket per credential, kept while it is in use: a bucket idle
/// for a whole window is full again, so forgetting it changes nothing.
pub struct LocalLimiter {
    buckets: Cache<String, Arc<(u32, Gcra)>>,
    clock: DefaultClock,
}

impl Default for LocalLimiter {
    fn default() -> Self {
        Self {
            buckets: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_idle(Duration::from_secs(2 * WINDOW_SECONDS))
                .build(),
            clock: DefaultClock::default(),
        }
    }
}

impl LocalLimiter {
    /// Counts one request of `credential`, limited to `per_minute`.
    pub fn check(&self, credential: &str, per_minute: u32) -> Decision {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        let bucket = self.bucket(credential, per_minute);
        let limit = per_minute.get();
        let refill = |used: u32| {
            let seconds = u64::from(used) * WINDOW_SECONDS;
            seconds.div_ceil(u64::from(limit))
        };
        match bucket.1.check() {
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
                let wait = not_until.wait_time_from(self.clock.now());
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

    fn bucket(&self, credential: &str, per_minute: NonZeroU32) -> Arc<(u32, Gcra)> {
        if let Some(bucket) = self.buckets.get(credential) {
            if bucket.0 == per_minute.get() {
                return bucket;
            }
        }
        // A new rate starts a new budget.
        let gcra =
            RateLimiter::direct_with_clock(Quota::per_minute(per_minute), self.clock.clone())
                .with_middleware::<StateInformationMiddleware>();
        let bucket = Arc::new((per_minute.get(), gcra));
        self.buckets.insert(credential.to_owned(), bucket.clone());
        bucket
    }
}

/// The limiter a node uses: Redis when configured and reachable, else local.
#[derive(Default)]
pub struct RateLimits {
    local: LocalLimiter,
    shared: Option<super::redis_limiter::RedisLimiter>,
    counters: Arc<Counters>,
}

impl RateLimits {
    pub fn new(
        redis_url: Option<&str>,
        counters: Arc<Counters>,
    ) -> Result<Self, redis::RedisError> {
        Ok(Self {
            local: LocalLimiter::default(),
            shared: redis_url
                .map(super::redis_limiter::RedisLimiter::new)
                .transpose()?,
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

    #[test]
    fn a_burst_gets_exactly_the_per_minute_amount() {
        let limiter = LocalLimiter::default();
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
    fn a_new_rate_starts_a_new_budget() {
        let limiter = LocalLimiter::default();
        assert!(limiter.check("cl", 1).allowed);
        assert!(!limiter.check("cl", 1).allowed);
        assert!(limiter.check("cl", 2).allowed);
    }
}

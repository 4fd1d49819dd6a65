//! One rate budget per credential across replicas: GCRA in Redis, one
//! atomic script per check. When Redis cannot be reached the caller falls
//! back to its local budget (see `redis_link`).

use super::decision::{Decision, WINDOW_SECONDS};
use crate::services::redis_link::RedisLink;

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

/// Takes up to ARGV[3] emission intervals of the same budget at once, as
/// many GCRA checks in a row would (a refused one takes nothing). Returns
/// how many it took.
const GCRA_CONSUME: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local uses = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local taken = math.min(uses, math.floor((now + interval * burst - tat) / interval))
if taken <= 0 then return 0 end
local next_tat = tat + taken * interval
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil((next_tat - now) / 1000))
return taken
";

pub const KEY_PREFIX: &str = "keyward:ratelimit:";

pub struct RedisLimiter {
    link: RedisLink,
    check: redis::Script,
    consume: redis::Script,
}

impl RedisLimiter {
    pub fn new(url: &str) -> Result<Self, redis::RedisError> {
        Ok(Self {
            link: RedisLink::new(url, "rate limits fall back to this node's budgets")?,
            check: redis::Script::new(GCRA),
            consume: redis::Script::new(GCRA_CONSUME),
        })
    }

    /// Whether the last attempt reached Redis.
    pub fn is_reachable(&self) -> bool {
        self.link.is_reachable()
    }

    /// One check against the shared budget; `None` when Redis is unreachable.
    pub async fn check(&self, credential: &str, per_minute: u32) -> Option<Decision> {
        let limit = per_minute.max(1);
        let mut connection = self.link.connection().await?;
        let mut invocation = self.check.key(format!("{KEY_PREFIX}{credential}"));
        invocation.arg(interval_us(limit)).arg(limit);
        let call = invocation.invoke_async::<(i64, i64, i64, i64)>(&mut connection);
        let (allowed, remaining, retry_us, reset_us) = self.link.run(call).await?;
        let seconds = |us: i64| (us.max(0) as u64).div_ceil(1_000_000);
        Some(Decision {
            allowed: allowed == 1,
            limit,
            remaining: remaining.max(0) as u32,
            reset_seconds: seconds(reset_us),
            retry_after_seconds: (allowed != 1).then(|| seconds(retry_us).max(1)),
        })
    }

    /// Takes up to `uses` of the shared budget in one call; how many it
    /// took, or `None` when Redis is unreachable.
    pub async fn consume(&self, credential: &str, per_minute: u32, uses: u32) -> Option<u32> {
        let limit = per_minute.max(1);
        let mut connection = self.link.connection().await?;
        let mut invocation = self.consume.key(format!("{KEY_PREFIX}{credential}"));
        invocation.arg(interval_us(limit)).arg(limit).arg(uses);
        let call = invocation.invoke_async::<i64>(&mut connection);
        let taken = self.link.run(call).await?;
        Some(taken.clamp(0, i64::from(uses)) as u32)
    }
}

/// The emission interval of `limit` per minute, in microseconds.
fn interval_us(limit: u32) -> u64 {
    (WINDOW_SECONDS * 1_000_000 / u64::from(limit)).max(1)
}

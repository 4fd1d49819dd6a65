//! Metering: each credential's rate limit and usage counts, unless the
//! operator turned it off (`metering = false`).

use std::sync::Arc;

use super::api_keys::CheckedKey;
use super::rate_limit::{Decision, RateLimits};
use super::usage::UsageRecorder;

pub struct Metering {
    on: bool,
    limiter: Arc<RateLimits>,
    usage: Arc<UsageRecorder>,
}

impl Metering {
    pub fn new(on: bool, limiter: Arc<RateLimits>, usage: Arc<UsageRecorder>) -> Self {
        Self { on, limiter, usage }
    }

    /// Checks one request of `credential` against its per-minute limit
    /// (`None`: it has none); a refusal is counted as rate-limited usage.
    /// `None` when metering is off or there is no limit to check.
    pub async fn admit(
        &self,
        credential: &str,
        per_minute: Option<u32>,
        now: i64,
    ) -> Option<Decision> {
        if !self.on {
            return None;
        }
        let decision = self.limiter.check(credential, per_minute?).await;
        if !decision.allowed {
            self.usage.record(credential, true, now);
        }
        Some(decision)
    }

    /// Counts a request of `credential` that was served.
    pub fn served(&self, credential: &str, now: i64) {
        if self.on {
            self.usage.record(credential, false, now);
        }
    }

    /// `admit` and, when admitted, `served`, for a check of a usable API
    /// key at its effective limit: the check is its own answer.
    pub async fn count_key_check(&self, key: &CheckedKey, now: i64) -> Option<Decision> {
        let credential = key.credentials.key.id.as_str();
        let decision = self
            .admit(credential, key.rate_limit.per_minute, now)
            .await?;
        if decision.allowed {
            self.served(credential, now);
        }
        Some(decision)
    }

    /// Counts `uses` requests a resource server already served on a
    /// cached verdict of `key`: each is a served use, and takes its share
    /// of the key's budget as far as the budget still has it.
    pub async fn count_reported_uses(&self, key: &CheckedKey, uses: u32, now: i64) {
        if !self.on {
            return;
        }
        let credential = key.credentials.key.id.as_str();
        if let Some(per_minute) = key.rate_limit.per_minute {
            self.limiter.consume(credential, per_minute, uses).await;
        }
        self.usage.record_served(credential, uses, now);
    }
}

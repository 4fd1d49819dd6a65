//! Brute-force protection for the secrets that still need argon2 (imported
//! client secrets and hashes stored before digests): failed checks are
//! limited per source address, and an address over its budget is refused
//! before argon2 until it refills. Nothing is limited per credential, so
//! failures from one address never get a client's correct secret refused
//! from another. Generated secrets are checked by digest in microseconds
//! and are not gated at all: there is nothing to protect them from.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use moka::sync::Cache;

use super::rate_limit::LocalLimiter;
use crate::time::Clock;

/// Failures allowed per minute and address.
pub const FAILURES_PER_MINUTE: u32 = 10;

pub struct FailureGate {
    failures: LocalLimiter,
    /// Who is refused, until when (Unix seconds).
    blocked: Cache<String, i64>,
}

impl FailureGate {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            failures: LocalLimiter::new(clock),
            blocked: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(Duration::from_secs(120))
                .build(),
        }
    }

    /// Seconds until `source` may try again, if refused now.
    pub fn refused(&self, source: Option<IpAddr>, now: i64) -> Option<u64> {
        self.blocked
            .get(&subject(source))
            .filter(|until| *until > now)
            .map(|until| (until - now) as u64)
    }

    /// Counts one failed check from `source`.
    pub fn failed(&self, source: Option<IpAddr>, now: i64) {
        let subject = subject(source);
        let decision = self.failures.check(&subject, FAILURES_PER_MINUTE);
        if let Some(retry) = decision.retry_after_seconds {
            self.blocked.insert(subject, now + retry as i64);
        }
    }
}

fn subject(source: Option<IpAddr>) -> String {
    match source {
        Some(ip) => format!("ip:{}", ip.to_canonical()),
        None => "ip:unknown".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_failure_closes_the_gate_for_that_address_only() {
        let gate = FailureGate::new(Arc::new(crate::time::SystemClock));
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for _ in 0..FAILURES_PER_MINUTE {
            assert_eq!(gate.refused(Some(ip), 0), None);
            gate.failed(Some(ip), 0);
        }
        gate.failed(Some(ip), 0);
        assert!(gate.refused(Some(ip), 0).is_some());
        let mapped: IpAddr = "::ffff:198.51.100.7".parse().unwrap();
        assert!(
            gate.refused(Some(mapped), 0).is_some(),
            "one address, two spellings"
        );
        assert_eq!(gate.refused("203.0.113.1".parse().ok(), 0), None);
        assert_eq!(gate.refused(None, 0), None);
    }
}

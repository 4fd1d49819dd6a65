//! Brute-force protection: failed credential checks are limited per
//! credential id and per source address. Once either is over its budget,
//! further checks that would need argon2 are refused until it refills, so a
//! wrong-secret flood cannot drive argon2 work or crowd out other clients.
//! A credential already verified on this node (the digest cache) is never
//! refused, so a flood against a client's id does not lock the client out.

use std::net::IpAddr;
use std::time::Duration;

use moka::sync::Cache;

use super::rate_limit::LocalLimiter;

/// Failures allowed per minute, per credential id and per address.
pub const FAILURES_PER_MINUTE: u32 = 10;

pub struct FailureGate {
    failures: LocalLimiter,
    /// Who is refused, until when (Unix seconds).
    blocked: Cache<String, i64>,
}

impl Default for FailureGate {
    fn default() -> Self {
        Self {
            failures: LocalLimiter::default(),
            blocked: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(Duration::from_secs(120))
                .build(),
        }
    }
}

impl FailureGate {
    /// Seconds until `credential` from `source` may try again, if refused now.
    pub fn refused(&self, credential: &str, source: Option<IpAddr>, now: i64) -> Option<u64> {
        subjects(credential, source)
            .filter_map(|subject| self.blocked.get(&subject))
            .filter(|until| *until > now)
            .max()
            .map(|until| (until - now) as u64)
    }

    /// Counts one failed check of `credential` from `source`.
    pub fn failed(&self, credential: &str, source: Option<IpAddr>, now: i64) {
        for subject in subjects(credential, source) {
            let decision = self.failures.check(&subject, FAILURES_PER_MINUTE);
            if let Some(retry) = decision.retry_after_seconds {
                self.blocked.insert(subject, now + retry as i64);
            }
        }
    }
}

fn subjects(credential: &str, source: Option<IpAddr>) -> impl Iterator<Item = String> {
    let credential = format!("id:{credential}");
    let source = source.map(|ip| format!("ip:{}", ip.to_canonical()));
    std::iter::once(credential).chain(source)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eleventh_failure_closes_the_gate_for_that_id_and_address() {
        let gate = FailureGate::default();
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for _ in 0..FAILURES_PER_MINUTE {
            assert_eq!(gate.refused("cl_a", Some(ip), 0), None);
            gate.failed("cl_a", Some(ip), 0);
        }
        gate.failed("cl_a", Some(ip), 0);
        assert!(gate.refused("cl_a", Some(ip), 0).is_some());
        assert!(
            gate.refused("cl_a", None, 0).is_some(),
            "the id is refused anywhere"
        );
        assert!(
            gate.refused("cl_b", Some(ip), 0).is_some(),
            "the address is refused for any id"
        );
        assert_eq!(gate.refused("cl_b", "203.0.113.1".parse().ok(), 0), None);
    }
}

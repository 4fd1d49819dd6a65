//! Rate limits that follow a credential's tier: a key or client without a
//! limit of its own gets the highest configured limit among the scopes it
//! holds, implied ones included, else the default of its kind.

use std::collections::HashMap;
use std::sync::Arc;

use super::api_key::{ApiKey, DEFAULT_KEY_RATE_LIMIT};
use super::client::Client;
use super::scope::{Scope, ScopeError, ScopeSet};
use super::scope_policy::ScopePolicy;

/// The `scope_rate_limits` setting: a per-minute limit per scope.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(try_from = "HashMap<String, u32>")]
pub struct ScopeRateLimits {
    limits: HashMap<Scope, u32>,
}

impl TryFrom<HashMap<String, u32>> for ScopeRateLimits {
    type Error = ScopeError;

    fn try_from(rules: HashMap<String, u32>) -> Result<Self, Self::Error> {
        let limits = rules
            .into_iter()
            .map(|(scope, limit)| Ok((Scope::parse(&scope)?, limit)))
            .collect::<Result<_, ScopeError>>()?;
        Ok(Self { limits })
    }
}

impl ScopeRateLimits {
    /// A configured limit outside `1..=max`, if there is one, for the
    /// settings' check.
    pub fn out_of_range(&self, max: u32) -> Option<(&Scope, u32)> {
        let mut bad: Vec<_> = self
            .limits
            .iter()
            .filter(|(_, limit)| !(1..=max).contains(*limit))
            .collect();
        bad.sort();
        bad.first().map(|(scope, limit)| (*scope, **limit))
    }

    /// The highest limit among `granted` (an expanded set) and its scope;
    /// of equal limits, the first scope by name.
    fn highest(&self, granted: &ScopeSet) -> Option<(&Scope, u32)> {
        self.limits
            .iter()
            .filter(|(scope, _)| granted.contains(scope))
            .map(|(scope, limit)| (scope, *limit))
            .min_by(|(a, x), (b, y)| y.cmp(x).then_with(|| a.cmp(b)))
    }
}

/// Where a credential's limit comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateLimitSource {
    /// Its own `rate_limit_per_minute`.
    Credential,
    /// The tier limit of this scope, held or implied.
    Scope(Scope),
    /// Neither: the default of its kind (60 for a key, none for a client).
    Default,
}

impl RateLimitSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Credential => "credential",
            Self::Scope(_) => "scope",
            Self::Default => "default",
        }
    }
}

/// The limit the rate limiter applies to a credential; `None` is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveRateLimit {
    pub per_minute: Option<u32>,
    pub source: RateLimitSource,
}

/// The tier rules: the configured limits, and the implications that decide
/// which scopes a credential holds.
#[derive(Debug, Clone, Default)]
pub struct RateTiers {
    policy: Arc<ScopePolicy>,
    limits: ScopeRateLimits,
}

impl RateTiers {
    pub fn new(policy: Arc<ScopePolicy>, limits: ScopeRateLimits) -> Self {
        Self { policy, limits }
    }

    /// A key's limit, given its scopes as already expanded (`granted`).
    pub fn for_key(&self, own: Option<u32>, granted: &ScopeSet) -> EffectiveRateLimit {
        self.resolve(own, granted, Some(DEFAULT_KEY_RATE_LIMIT))
    }

    /// A client's limit, given the scopes it may be granted, expanded.
    pub fn for_client(&self, own: Option<u32>, grantable: &ScopeSet) -> EffectiveRateLimit {
        self.resolve(own, grantable, None)
    }

    /// A stored key's limit, expanding its scopes.
    pub fn of_key(&self, key: &ApiKey) -> EffectiveRateLimit {
        self.for_key(key.rate_limit_per_minute, &self.policy.expand(&key.scopes))
    }

    /// A stored client's limit, expanding its scopes.
    pub fn of_client(&self, client: &Client) -> EffectiveRateLimit {
        let grantable = self.policy.expand(&client.scopes);
        self.for_client(client.rate_limit_per_minute, &grantable)
    }

    fn resolve(
        &self,
        own: Option<u32>,
        granted: &ScopeSet,
        default: Option<u32>,
    ) -> EffectiveRateLimit {
        let (per_minute, source) = match (own, self.limits.highest(granted)) {
            (Some(own), _) => (Some(own), RateLimitSource::Credential),
            (None, Some((scope, limit))) => (Some(limit), RateLimitSource::Scope(scope.clone())),
            (None, None) => (default, RateLimitSource::Default),
        };
        EffectiveRateLimit { per_minute, source }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiers() -> RateTiers {
        let policy = ScopePolicy::new(&HashMap::from([
            ("ops".into(), vec!["deployment".into()]),
            ("admin".into(), vec!["deployment".into()]),
        ]))
        .unwrap();
        let limits = ScopeRateLimits::try_from(HashMap::from([
            ("admin".into(), 1000),
            ("deployment".into(), 100),
            ("free".into(), 10),
            ("docs:read".into(), 100),
        ]))
        .unwrap();
        RateTiers::new(Arc::new(policy), limits)
    }

    fn key_limit(scopes: &str, own: Option<u32>) -> EffectiveRateLimit {
        let tiers = tiers();
        let granted = tiers.policy.expand(&ScopeSet::parse(scopes).unwrap());
        tiers.for_key(own, &granted)
    }

    fn from_scope(per_minute: u32, scope: &str) -> EffectiveRateLimit {
        EffectiveRateLimit {
            per_minute: Some(per_minute),
            source: RateLimitSource::Scope(Scope::parse(scope).unwrap()),
        }
    }

    #[test]
    fn the_highest_tier_held_wins() {
        assert_eq!(key_limit("free", None), from_scope(10, "free"));
        assert_eq!(
            key_limit("free deployment", None),
            from_scope(100, "deployment")
        );
        assert_eq!(key_limit("admin free", None), from_scope(1000, "admin"));
    }

    #[test]
    fn an_implied_scope_counts() {
        assert_eq!(key_limit("ops", None), from_scope(100, "deployment"));
        assert_eq!(key_limit("docs:write", None), from_scope(100, "docs:read"));
    }

    #[test]
    fn equal_limits_name_the_first_scope() {
        assert_eq!(
            key_limit("docs:read deployment", None),
            from_scope(100, "deployment")
        );
    }

    #[test]
    fn an_own_limit_wins_and_else_the_default_of_the_kind() {
        let own = key_limit("admin", Some(5));
        assert_eq!(
            (own.per_minute, own.source),
            (Some(5), RateLimitSource::Credential)
        );
        let plain = key_limit("payouts:read", None);
        assert_eq!(plain.per_minute, Some(DEFAULT_KEY_RATE_LIMIT));
        assert_eq!(plain.source, RateLimitSource::Default);
        let client = tiers().for_client(None, &ScopeSet::parse("payouts:read").unwrap());
        assert_eq!(
            (client.per_minute, client.source),
            (None, RateLimitSource::Default)
        );
    }

    #[test]
    fn the_wildcard_is_a_tier_only_when_named() {
        assert_eq!(key_limit("*", None).source, RateLimitSource::Default);
    }

    #[test]
    fn limits_are_checked_against_the_ceiling_and_scopes_parsed() {
        let limits = ScopeRateLimits::try_from(HashMap::from([
            ("free".into(), 0),
            ("admin".into(), 20_000),
        ]))
        .unwrap();
        let (scope, limit) = limits.out_of_range(10_000).unwrap();
        assert_eq!((scope.as_str(), limit), ("admin", 20_000));
        assert!(tiers().limits.out_of_range(1000).is_none());
        assert!(ScopeRateLimits::try_from(HashMap::from([("a b".into(), 1)])).is_err());
    }
}

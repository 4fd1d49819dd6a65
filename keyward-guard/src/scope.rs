//! The scope a route needs, and whether a token's granted scope holds it.
//! Keyward puts the expanded effective scope in each token (`X:write`
//! already brings `X:read`), so membership is the whole check; `*` grants
//! every scope except Keyward's own `keyward:` management scopes, as in
//! Keyward itself.

use std::fmt;

use crate::Denial;

const WILDCARD: &str = "*";
const MANAGEMENT_PREFIX: &str = "keyward:";

/// One or more scopes, all of which a call needs. Parsed once, when the
/// route is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequiredScope(Vec<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("the required scope is empty")]
    Empty,
    #[error("{0:?} is not a valid scope")]
    Invalid(String),
}

impl RequiredScope {
    /// Space-separated scope tokens (RFC 6749 §3.3), such as `payouts:read`.
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        // RFC 6749 §3.3's scope-token; it also keeps the challenge's quoting safe.
        let valid = |c: char| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e');
        let mut scopes: Vec<String> = raw.split_whitespace().map(str::to_owned).collect();
        if scopes.is_empty() {
            return Err(ScopeError::Empty);
        }
        if let Some(bad) = scopes.iter().find(|s| !s.chars().all(valid)) {
            return Err(ScopeError::Invalid(bad.clone()));
        }
        scopes.sort();
        scopes.dedup();
        Ok(Self(scopes))
    }

    /// Whether `granted`, a token's space-separated `scope`, holds every
    /// required scope; if not, the denial names both.
    pub fn check(&self, granted: &str) -> Result<(), Denial> {
        let granted: Vec<&str> = granted.split_whitespace().collect();
        let wildcard = granted.contains(&WILDCARD);
        let held = |required: &String| {
            granted.contains(&required.as_str())
                || (wildcard && !required.starts_with(MANAGEMENT_PREFIX))
        };
        if self.0.iter().all(held) {
            return Ok(());
        }
        Err(Denial::InsufficientScope {
            required: self.to_string(),
            actual: granted.join(" "),
        })
    }
}

impl fmt::Display for RequiredScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

impl std::str::FromStr for RequiredScope {
    type Err = ScopeError;

    fn from_str(raw: &str) -> Result<Self, Self::Err> {
        Self::parse(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn required(raw: &str) -> RequiredScope {
        RequiredScope::parse(raw).unwrap()
    }

    #[test]
    fn parses_scope_tokens_once() {
        assert_eq!(
            required(" b:read  a:read b:read").to_string(),
            "a:read b:read"
        );
        assert_eq!(RequiredScope::parse("  "), Err(ScopeError::Empty));
        for bad in ["a\"b", "a\\b", "caf\u{e9}"] {
            assert!(
                matches!(RequiredScope::parse(bad), Err(ScopeError::Invalid(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn needs_every_required_scope() {
        let needed = required("payouts:read wallets:read");
        assert!(needed
            .check("wallets:read payouts:read payouts:write")
            .is_ok());
        assert_eq!(
            needed.check("payouts:read"),
            Err(Denial::InsufficientScope {
                required: "payouts:read wallets:read".into(),
                actual: "payouts:read".into(),
            })
        );
        assert!(required("payouts:read").check("").is_err());
        assert!(required("payouts:read").check("payouts:readx").is_err());
    }

    #[test]
    fn the_wildcard_grants_all_but_management_scopes() {
        assert!(required("payouts:write wallets:read").check("*").is_ok());
        assert!(required("anything").check("other *").is_ok());
        assert!(required("keyward:keys:verify").check("*").is_err());
        assert!(required("keyward:keys:verify")
            .check("* keyward:keys:verify")
            .is_ok());
        // `*` is only a whole scope, never a pattern.
        assert!(required("payouts:read").check("payouts:*").is_err());
    }
}

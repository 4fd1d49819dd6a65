//! Scope implications: `X:write` ⊃ `X:read`, plus configured tiers.

use std::collections::HashMap;

use super::scope::{Scope, ScopeError, ScopeSet};

/// The implication rules, expanded to their transitive closure.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(try_from = "HashMap<String, Vec<String>>")]
pub struct ScopePolicy {
    implies: HashMap<Scope, Vec<Scope>>,
}

impl TryFrom<HashMap<String, Vec<String>>> for ScopePolicy {
    type Error = ScopeError;

    fn try_from(rules: HashMap<String, Vec<String>>) -> Result<Self, Self::Error> {
        Self::new(&rules)
    }
}

impl ScopePolicy {
    /// Builds the policy from configured pairs such as `admin -> [deployment]`.
    pub fn new(rules: &HashMap<String, Vec<String>>) -> Result<Self, ScopeError> {
        let mut implies = HashMap::new();
        for (from, to) in rules {
            let to = to
                .iter()
                .map(|s| Scope::parse(s))
                .collect::<Result<_, _>>()?;
            implies.insert(Scope::parse(from)?, to);
        }
        Ok(Self { implies })
    }

    /// Everything `set` grants: the set itself plus every scope it implies.
    pub fn expand(&self, set: &ScopeSet) -> ScopeSet {
        let mut expanded = ScopeSet::default();
        let mut pending: Vec<Scope> = set.iter().cloned().collect();
        while let Some(scope) = pending.pop() {
            // A scope already in the set was expanded when first seen, so cycles end.
            if expanded.contains(&scope) {
                continue;
            }
            if let Some(read) = scope.implied_read() {
                pending.push(read);
            }
            if let Some(implied) = self.implies.get(&scope) {
                pending.extend(implied.iter().cloned());
            }
            expanded.insert(scope);
        }
        expanded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tiers() -> ScopePolicy {
        let rules = HashMap::from([
            (
                "admin".into(),
                vec!["deployment".into(), "users:write".into()],
            ),
            ("deployment".into(), vec!["free".into()]),
            ("free".into(), vec!["docs:read".into()]),
        ]);
        ScopePolicy::new(&rules).unwrap()
    }

    fn set(raw: &str) -> ScopeSet {
        ScopeSet::parse(raw).unwrap()
    }

    #[test]
    fn tiers_expand_transitively() {
        let expanded = tiers().expand(&set("admin"));
        assert_eq!(
            expanded.to_string(),
            "admin deployment docs:read free users:read users:write"
        );
    }

    #[test]
    fn wildcard_stays_literal() {
        assert_eq!(tiers().expand(&set("*")).to_string(), "*");
        assert!(set("*").covers(&set("anything:write other")));
    }

    #[test]
    fn cycles_terminate() {
        let rules = HashMap::from([
            ("a".into(), vec!["b".into()]),
            ("b".into(), vec!["a".into()]),
        ]);
        let policy = ScopePolicy::new(&rules).unwrap();
        assert_eq!(policy.expand(&set("a")).to_string(), "a b");
    }

    #[test]
    fn bad_rule_is_rejected() {
        let rules = HashMap::from([("a b".into(), vec![])]);
        assert!(ScopePolicy::new(&rules).is_err());
    }

    proptest! {
        #[test]
        fn expansion_is_idempotent_and_covers_input(
            items in prop::collection::vec("(admin|deployment|free|[a-z]{1,6}:(read|write))", 0..8)
        ) {
            let policy = tiers();
            let input = ScopeSet::from_strs(items.iter().map(String::as_str)).unwrap();
            let once = policy.expand(&input);
            prop_assert!(once.covers(&input));
            prop_assert_eq!(policy.expand(&once), once.clone());
            for scope in once.iter() {
                if let Some(read) = scope.implied_read() {
                    prop_assert!(once.contains(&read));
                }
            }
        }

        /// Any scope list the management API accepts for a client gives a
        /// token claim that every check reads back whole: the claim parses
        /// and covers each scope the token was granted.
        #[test]
        fn every_issued_claim_is_accepted_by_the_checks(
            items in prop::collection::vec(
                "(admin|deployment|free|[a-z]{1,6}:(read|write)|[a-z]{1,4}:[a-z]{1,4}:write)",
                1..=super::super::scope::MAX_SCOPES,
            )
        ) {
            let policy = tiers();
            let held = ScopeSet::from_strs(items.iter().map(String::as_str)).unwrap();
            let claim = policy.expand(&held).to_string();
            let read_back = ScopeSet::parse_issued(&claim).unwrap();
            let checked = policy.expand(&read_back);
            for scope in claim.split(' ') {
                prop_assert!(checked.covers(&ScopeSet::from_strs([scope]).unwrap()), "{}", scope);
            }
        }
    }
}

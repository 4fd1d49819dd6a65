//! The scope grammar: `resource:action`, a bare tier name, or `*`.

use std::collections::BTreeSet;
use std::fmt;

pub const MAX_SCOPE_LEN: usize = 128;
pub const MAX_SCOPES: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("a scope must not be empty")]
    Empty,
    #[error("a scope must be at most {MAX_SCOPE_LEN} characters")]
    TooLong,
    #[error("a scope may hold only printable ASCII without spaces, quotes or backslashes")]
    BadCharacter,
    #[error("a scope must not start or end with ':' nor contain '::'")]
    EmptySegment,
    #[error("'*' must stand alone as a scope")]
    MisplacedWildcard,
    #[error("at most {MAX_SCOPES} scopes may be given")]
    TooMany,
}

/// One validated scope token.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Scope(String);

impl TryFrom<String> for Scope {
    type Error = ScopeError;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl Scope {
    pub const WILDCARD: &'static str = "*";

    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        if raw.is_empty() {
            return Err(ScopeError::Empty);
        }
        if raw.len() > MAX_SCOPE_LEN {
            return Err(ScopeError::TooLong);
        }
        if !raw.bytes().all(is_scope_byte) {
            return Err(ScopeError::BadCharacter);
        }
        if raw == Self::WILDCARD {
            return Ok(Self(raw.to_owned()));
        }
        if raw.contains('*') {
            return Err(ScopeError::MisplacedWildcard);
        }
        if raw.starts_with(':') || raw.ends_with(':') || raw.contains("::") {
            return Err(ScopeError::EmptySegment);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn is_wildcard(&self) -> bool {
        self.0 == Self::WILDCARD
    }

    /// Keyward's own management scopes, which `*` does not grant: a client
    /// given `*` for every product API is not thereby an organisation admin
    /// or a credential checker.
    pub fn is_management(&self) -> bool {
        self.0.starts_with(super::management_scope::PREFIX)
    }

    /// `X:write` implies `X:read`.
    pub fn implied_read(&self) -> Option<Scope> {
        self.0
            .strip_suffix(":write")
            .map(|resource| Scope(format!("{resource}:read")))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// RFC 6749 §3.3 NQCHAR, less the single quote.
fn is_scope_byte(b: u8) -> bool {
    matches!(b, 0x21..=0x7e) && !matches!(b, b'"' | b'\'' | b'\\')
}

/// A set of scopes, ordered so that its string form is stable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScopeSet(BTreeSet<Scope>);

impl ScopeSet {
    /// Parses a space-delimited scope parameter (RFC 6749 §3.3).
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        Self::from_strs(raw.split(' ').filter(|s| !s.is_empty()))
    }

    /// Parses the `scope` claim of a token this server issued. Issuance
    /// expands what a client holds (`X:write` adds `X:read`, tiers add their
    /// scopes), so a claim may hold more than `MAX_SCOPES`: the count bounds
    /// what callers send, not what we signed.
    pub fn parse_issued(raw: &str) -> Result<Self, ScopeError> {
        raw.split(' ')
            .filter(|s| !s.is_empty())
            .map(Scope::parse)
            .collect::<Result<BTreeSet<_>, _>>()
            .map(Self)
    }

    pub fn from_strs<'a>(items: impl IntoIterator<Item = &'a str>) -> Result<Self, ScopeError> {
        let mut set = BTreeSet::new();
        for item in items {
            set.insert(Scope::parse(item)?);
            if set.len() > MAX_SCOPES {
                return Err(ScopeError::TooMany);
            }
        }
        Ok(Self(set))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn contains(&self, scope: &Scope) -> bool {
        self.0.contains(scope)
    }

    pub fn has_wildcard(&self) -> bool {
        self.0.iter().any(Scope::is_wildcard)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }

    pub(crate) fn insert(&mut self, scope: Scope) -> bool {
        self.0.insert(scope)
    }

    /// True when this (expanded) set grants `scope`: it holds it, or holds
    /// `*` and `scope` is not a management scope.
    pub fn grants(&self, scope: &Scope) -> bool {
        self.contains(scope) || (!scope.is_management() && self.has_wildcard())
    }

    /// True when every scope of `requested` is granted by this (expanded) set.
    pub fn covers(&self, requested: &ScopeSet) -> bool {
        self.missing(requested).next().is_none()
    }

    /// The scopes of `requested` that this (expanded) set does not grant.
    pub fn missing<'a>(&'a self, requested: &'a ScopeSet) -> impl Iterator<Item = &'a Scope> {
        let wildcard = self.has_wildcard();
        requested
            .iter()
            .filter(move |s| !self.contains(s) && (s.is_management() || !wildcard))
    }
}

impl fmt::Display for ScopeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for scope in &self.0 {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(scope.as_str())?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_the_three_forms() {
        for ok in ["payouts:read", "keyward:clients:write", "admin", "*"] {
            assert!(Scope::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_malformed_scopes() {
        assert_eq!(Scope::parse(""), Err(ScopeError::Empty));
        assert_eq!(Scope::parse("a b"), Err(ScopeError::BadCharacter));
        assert_eq!(Scope::parse("a\"b"), Err(ScopeError::BadCharacter));
        assert_eq!(Scope::parse("it's"), Err(ScopeError::BadCharacter));
        assert_eq!(Scope::parse("é"), Err(ScopeError::BadCharacter));
        assert_eq!(Scope::parse(":read"), Err(ScopeError::EmptySegment));
        assert_eq!(Scope::parse("a::b"), Err(ScopeError::EmptySegment));
        assert_eq!(
            Scope::parse("payouts:*"),
            Err(ScopeError::MisplacedWildcard)
        );
        assert_eq!(Scope::parse(&"a".repeat(129)), Err(ScopeError::TooLong));
    }

    #[test]
    fn write_implies_read() {
        let s = Scope::parse("payouts:write").unwrap();
        assert_eq!(s.implied_read().unwrap().as_str(), "payouts:read");
        assert!(Scope::parse("payouts:read")
            .unwrap()
            .implied_read()
            .is_none());
    }

    #[test]
    fn set_rejects_too_many() {
        let raw: Vec<String> = (0..=MAX_SCOPES).map(|i| format!("s{i}")).collect();
        assert_eq!(ScopeSet::parse(&raw.join(" ")), Err(ScopeError::TooMany));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3_000))]

        #[test]
        fn valid_scopes_round_trip(raw in "[a-z0-9_.-]{1,20}(:[a-z0-9_.-]{1,20}){0,2}") {
            let scope = Scope::parse(&raw).unwrap();
            prop_assert_eq!(scope.as_str(), raw.as_str());
        }

        #[test]
        fn parser_never_accepts_forbidden_bytes(raw in "\\PC{0,40}") {
            if let Ok(scope) = Scope::parse(&raw) {
                prop_assert!(scope.as_str().bytes().all(is_scope_byte));
                prop_assert!(scope.as_str().len() <= MAX_SCOPE_LEN);
            }
        }

        #[test]
        fn sets_of_anything_parse_to_valid_scopes_or_fail(raw in "[ -~]{0,60}|\\PC{0,30}") {
            if let Ok(set) = ScopeSet::parse(&raw) {
                prop_assert!(set.iter().all(|s| Scope::parse(s.as_str()).as_ref() == Ok(s)));
                prop_assert_eq!(ScopeSet::parse(&set.to_string()).unwrap(), set);
            }
        }

        #[test]
        fn each_flaw_has_its_error(
            resource in "[a-z]{1,8}",
            action in "[a-z]{1,8}",
            bad in "[\"'\\\\ \\x00-\\x1f\\x7f-\\u{ff}]",
        ) {
            prop_assert_eq!(
                Scope::parse(&format!("{resource}{bad}{action}")),
                Err(ScopeError::BadCharacter)
            );
            prop_assert_eq!(
                Scope::parse(&format!("{resource}::{action}")),
                Err(ScopeError::EmptySegment)
            );
            prop_assert_eq!(
                Scope::parse(&format!("{resource}:{action}:")),
                Err(ScopeError::EmptySegment)
            );
            prop_assert_eq!(
                Scope::parse(&format!("{resource}:*")),
                Err(ScopeError::MisplacedWildcard)
            );
        }

        #[test]
        fn set_display_parses_back(items in prop::collection::vec("[a-z]{1,8}(:[a-z]{1,8})?", 0..10)) {
            let set = ScopeSet::from_strs(items.iter().map(String::as_str)).unwrap();
            prop_assert_eq!(ScopeSet::parse(&set.to_string()).unwrap(), set);
        }
    }
}

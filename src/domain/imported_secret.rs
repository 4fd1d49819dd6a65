//! A client secret that Keyward did not generate: one an integration brings
//! from another authorization server, so that moving costs it no change.
//! It may have been chosen by a person, so it is stored with argon2id, and
//! a weak one is refused here.

use std::collections::HashSet;

use secrecy::{ExposeSecret, SecretString};

use super::client::ClientSecret;

/// Shorter secrets are refused. Other servers generate longer ones (Hydra
/// 26 characters, Keycloak 32), so a migration never needs less.
pub const MIN_LEN: usize = 24;
/// A secret of so few distinct characters is a pattern, not a secret.
const MIN_DISTINCT: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakSecret {
    #[error("must be at least {MIN_LEN} characters")]
    TooShort,
    #[error("must be at most {} characters", ClientSecret::MAX_LEN)]
    TooLong,
    #[error("must be printable ASCII without spaces")]
    NotPrintable,
    #[error("must use at least {MIN_DISTINCT} different characters")]
    TooRepetitive,
}

/// Its `Debug` is redacted and it has no `Display`.
#[derive(Clone)]
pub struct ImportedSecret(SecretString);

impl ImportedSecret {
    pub fn parse(raw: &str) -> Result<Self, WeakSecret> {
        if raw.len() < MIN_LEN {
            return Err(WeakSecret::TooShort);
        }
        if raw.len() > ClientSecret::MAX_LEN {
            return Err(WeakSecret::TooLong);
        }
        if !raw.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(WeakSecret::NotPrintable);
        }
        if raw.bytes().collect::<HashSet<_>>().len() < MIN_DISTINCT {
            return Err(WeakSecret::TooRepetitive);
        }
        Ok(Self(raw.to_owned().into()))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl std::fmt::Debug for ImportedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ImportedSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn weak_secrets_are_refused_with_the_reason() {
        assert_eq!(
            ImportedSecret::parse("short").unwrap_err(),
            WeakSecret::TooShort
        );
        let long = "a1".repeat(200);
        assert_eq!(
            ImportedSecret::parse(&long).unwrap_err(),
            WeakSecret::TooLong
        );
        let spaced = "correct horse battery staple";
        assert_eq!(
            ImportedSecret::parse(spaced).unwrap_err(),
            WeakSecret::NotPrintable
        );
        let repeated = "abababababababababababababab";
        assert_eq!(
            ImportedSecret::parse(repeated).unwrap_err(),
            WeakSecret::TooRepetitive
        );
        let hydra = "Zq8xV2mLp0R7tYc4NbWk1sDfHg";
        assert_eq!(ImportedSecret::parse(hydra).unwrap().expose(), hydra);
    }

    #[test]
    fn debug_is_redacted() {
        let secret = ImportedSecret::parse("Zq8xV2mLp0R7tYc4NbWk1sDfHg").unwrap();
        assert_eq!(format!("{secret:?}"), "ImportedSecret([redacted])");
    }

    proptest! {
        #[test]
        fn whatever_is_accepted_is_long_printable_and_varied(raw in "\\PC{0,300}") {
            if let Ok(secret) = ImportedSecret::parse(&raw) {
                let s = secret.expose();
                prop_assert!((MIN_LEN..=ClientSecret::MAX_LEN).contains(&s.len()));
                prop_assert!(s.bytes().all(|b| b.is_ascii_graphic()));
            }
        }
    }
}

//! The value of an `Idempotency-Key` header: a UUIDv4, nothing else.

use std::fmt;

use uuid::{Uuid, Variant, Version};

/// A parsed Idempotency-Key, in the lowercase hyphenated form whatever case
/// it came in. It keys the encryption of the stored response, so its `Debug`
/// is redacted and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an Idempotency-Key must be a UUIDv4 such as 4c0f8f0e-7f0b-4d3e-9b1a-2f6f1c8d9e10")]
pub struct InvalidIdempotencyKey;

impl IdempotencyKey {
    /// Accepts only the 36-character hyphenated form of a version 4,
    /// RFC 9562 variant UUID.
    pub fn parse(raw: &str) -> Result<Self, InvalidIdempotencyKey> {
        if raw.len() != 36 {
            return Err(InvalidIdempotencyKey);
        }
        let uuid = Uuid::try_parse(raw).map_err(|_| InvalidIdempotencyKey)?;
        if uuid.get_version() != Some(Version::Random) || uuid.get_variant() != Variant::RFC4122 {
            return Err(InvalidIdempotencyKey);
        }
        Ok(Self(uuid.hyphenated().to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdempotencyKey([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(10_000))]

        #[test]
        fn every_v4_uuid_parses_in_either_case(bytes in any::<[u8; 16]>(), upper in any::<bool>()) {
            let uuid = uuid::Builder::from_random_bytes(bytes).into_uuid();
            let raw = uuid.hyphenated().to_string();
            let sent = if upper { raw.to_uppercase() } else { raw.clone() };
            let key = IdempotencyKey::parse(&sent).unwrap();
            prop_assert_eq!(key.expose(), raw.as_str());
        }

        #[test]
        fn other_versions_and_variants_are_refused(bytes in any::<[u8; 16]>()) {
            let uuid = Uuid::from_bytes(bytes);
            prop_assume!(uuid.get_version() != Some(Version::Random) || uuid.get_variant() != Variant::RFC4122);
            prop_assert_eq!(IdempotencyKey::parse(&uuid.hyphenated().to_string()), Err(InvalidIdempotencyKey));
        }

        #[test]
        fn anything_else_is_refused_without_panic(raw in "[0-9a-fA-F-]{30,40}|\\PC{0,40}") {
            if let Ok(key) = IdempotencyKey::parse(&raw) {
                prop_assert_eq!(key.expose(), raw.to_ascii_lowercase());
            }
        }
    }

    #[test]
    fn accepts_uuid_v4_in_either_case() {
        let key = IdempotencyKey::parse("4C0F8F0E-7F0B-4D3E-9B1A-2F6F1C8D9E10").unwrap();
        assert_eq!(key.expose(), "4c0f8f0e-7f0b-4d3e-9b1a-2f6f1c8d9e10");
        let fresh = Uuid::new_v4().to_string();
        assert_eq!(IdempotencyKey::parse(&fresh).unwrap().expose(), fresh);
    }

    #[test]
    fn refuses_everything_else() {
        for raw in [
            "",
            "not-a-uuid",
            // version 1, version 7, and a v4 with the wrong variant
            "6ba7b810-9dad-11d1-80b4-00c04fd430c8",
            "01890a5d-ac96-774b-bcce-b302099a8057",
            "4c0f8f0e-7f0b-4d3e-cb1a-2f6f1c8d9e10",
            // a v4 in other notations
            "4c0f8f0e7f0b4d3e9b1a2f6f1c8d9e10",
            "{4c0f8f0e-7f0b-4d3e-9b1a-2f6f1c8d9e10}",
            "urn:uuid:4c0f8f0e-7f0b-4d3e-9b1a-2f6f1c8d9e10",
            " 4c0f8f0e-7f0b-4d3e-9b1a-2f6f1c8d9e1",
        ] {
            assert_eq!(
                IdempotencyKey::parse(raw),
                Err(InvalidIdempotencyKey),
                "{raw}"
            );
        }
    }

    #[test]
    fn debug_is_redacted() {
        let key = IdempotencyKey::parse("4c0f8f0e-7f0b-4d3e-9b1a-2f6f1c8d9e10").unwrap();
        assert!(!format!("{key:?}").contains("4c0f"));
    }
}

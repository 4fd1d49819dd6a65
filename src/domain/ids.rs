//! Server-generated identifiers: a type prefix and 128 random bits in hex.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed identifier: expected '{prefix}' followed by 32 lowercase hex digits")]
pub struct InvalidId {
    pub prefix: &'static str,
}

/// A newtype of a server-generated identifier with `prefix`: `generate`,
/// `parse` (which checks the shape), `as_str` and `Display`.
macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub struct $name(String);

        impl $name {
            const PREFIX: &'static str = $prefix;

            pub fn generate() -> Self {
                Self($crate::domain::ids::random_id(Self::PREFIX))
            }

            pub fn parse(raw: &str) -> Result<Self, $crate::domain::InvalidId> {
                $crate::domain::ids::check_id(raw, Self::PREFIX).map(|()| Self(raw.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(crate) use prefixed_id;

pub(crate) fn random_id(prefix: &str) -> String {
    format!("{prefix}{}", uuid::Uuid::new_v4().simple())
}

pub(crate) fn check_id(raw: &str, prefix: &'static str) -> Result<(), InvalidId> {
    let well_formed = raw.strip_prefix(prefix).is_some_and(|hex| {
        hex.len() == 32 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    });
    well_formed.then_some(()).ok_or(InvalidId { prefix })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_check() {
        let id = random_id("cl_");
        assert!(check_id(&id, "cl_").is_ok());
        assert!(check_id(&id, "org_").is_err());
        assert!(check_id("cl_XYZ", "cl_").is_err());
    }
}

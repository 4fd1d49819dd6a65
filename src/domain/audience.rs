use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAudience {
    #[error("an audience must not be empty")]
    Empty,
    #[error("an audience must be at most 512 characters")]
    TooLong,
    #[error("an audience may hold only printable ASCII without spaces")]
    BadCharacter,
}

/// A resource server identifier, as in RFC 8707 `resource` or `audience`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Deserialize)]
#[serde(try_from = "String")]
pub struct Audience(String);

impl TryFrom<String> for Audience {
    type Error = InvalidAudience;

    fn try_from(raw: String) -> Result<Self, Self::Error> {
        Self::parse(&raw)
    }
}

impl Audience {
    pub fn parse(raw: &str) -> Result<Self, InvalidAudience> {
        if raw.is_empty() {
            return Err(InvalidAudience::Empty);
        }
        if raw.len() > 512 {
            return Err(InvalidAudience::TooLong);
        }
        if !raw.bytes().all(|b| matches!(b, 0x21..=0x7e)) {
            return Err(InvalidAudience::BadCharacter);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Audience {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

//! Form fields into what the management core takes. HTML forms send text:
//! a blank field means "not set", lists are separated by spaces or commas,
//! and a `datetime-local` value is read as UTC.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

use super::error::ConsoleError;

/// A form with nothing but its session's token.
#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

/// Deactivates or activates a credential.
#[derive(Deserialize)]
pub struct StatusForm {
    #[serde(default)]
    pub csrf: String,
    pub status: String,
}

/// Rolls a key or rotates a client secret.
#[derive(Deserialize)]
pub struct GraceForm {
    #[serde(default)]
    pub csrf: String,
    pub grace_period_seconds: i64,
}

/// Deletes a credential whose name was typed.
#[derive(Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub confirm: String,
}

impl DeleteForm {
    /// Refuses unless the credential's name was typed exactly.
    pub fn confirms(&self, name: &str, what: &str) -> Result<(), ConsoleError> {
        if self.confirm.trim() == name {
            Ok(())
        } else {
            Err(ConsoleError::Invalid(format!(
                "To delete the {what}, type its name exactly."
            )))
        }
    }
}

/// The entries of a list field.
pub fn entries(raw: &str) -> Vec<String> {
    raw.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A `datetime-local` value (`2026-12-01T09:30`, seconds optional), as UTC;
/// none when blank.
pub fn expiry(raw: &str) -> Result<Option<DateTime<Utc>>, ConsoleError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(raw, format).ok())
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| ConsoleError::Invalid("expires at: not a date and time".into()))
}

/// How `expiry` writes a time back into the field.
pub fn local_time(unix: i64) -> String {
    DateTime::from_timestamp(unix, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M").to_string())
        .unwrap_or_default()
}

/// A rate limit per minute; none when blank.
pub fn rate_limit(raw: &str) -> Result<Option<u32>, ConsoleError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| ConsoleError::Invalid("rate limit: must be a whole number from 1".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_parse_as_a_browser_sends_them() {
        assert_eq!(entries(" a:read, b:write  c "), ["a:read", "b:write", "c"]);
        assert!(entries("  ").is_empty());
        let at = expiry("2026-12-01T09:30").unwrap().unwrap();
        assert_eq!(at.timestamp(), 1_796_117_400);
        assert_eq!(local_time(at.timestamp()), "2026-12-01T09:30");
        assert_eq!(expiry("").unwrap(), None);
        assert!(expiry("tomorrow").is_err());
        assert_eq!(rate_limit(" 100 ").unwrap(), Some(100));
        assert_eq!(rate_limit("").unwrap(), None);
        assert!(rate_limit("-1").is_err());
    }
}

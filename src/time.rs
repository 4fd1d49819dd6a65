//! Time as our APIs write it.

/// A Unix time as RFC 3339, the timestamp format of our JSON APIs.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

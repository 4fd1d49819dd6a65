//! Time as our APIs write it, and the clock it is read from.

/// A Unix time as RFC 3339, the timestamp format of our JSON APIs.
pub fn rfc3339(unix: i64) -> String {
    chrono::DateTime::from_timestamp(unix, 0)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Where the time comes from: the system's, or a test's that it moves.
pub trait Clock: Send + Sync {
    fn now(&self) -> chrono::DateTime<chrono::Utc>;

    /// Now, in Unix seconds.
    fn unix(&self) -> i64 {
        self.now().timestamp()
    }
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }
}

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

/// A clock that moves only when told to: a test's, so that it moves time
/// instead of sleeping.
pub struct ManualClock(parking_lot::Mutex<chrono::DateTime<chrono::Utc>>);

impl ManualClock {
    /// Starts at the system's time.
    pub fn starting_now() -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self(parking_lot::Mutex::new(chrono::Utc::now())))
    }

    pub fn advance(&self, by: std::time::Duration) {
        let by = chrono::Duration::from_std(by).expect("a test moves time by a sane amount");
        *self.0.lock() += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        *self.0.lock()
    }
}

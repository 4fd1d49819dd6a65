//! The bounds of the durations and times a caller gives us. Each value is
//! checked where it is parsed, so none reaches a backend that could not
//! store it or add it to a timestamp: PostgreSQL's BIGINT refuses what
//! SQLite would quietly turn into a float.

/// The longest duration or lifetime we accept: 100 years of 365 days.
pub const MAX_DURATION_SECONDS: i64 = 100 * 365 * 86_400;
/// The same in days, as callers write it (`36500d`).
pub const MAX_DURATION_DAYS: i64 = MAX_DURATION_SECONDS / 86_400;
/// The longest grace period of a rotated secret or a rolled key: 30 days.
pub const MAX_GRACE_SECONDS: i64 = 30 * 86_400;

/// A duration such as `7d`, `12h`, `30m` or `45s`: at least one second, at
/// most [`MAX_DURATION_SECONDS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duration(i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be a duration such as 7d, 12h or 30m, from 1s to {MAX_DURATION_DAYS}d (100 years)")]
pub struct InvalidDuration;

impl Duration {
    pub fn parse(raw: &str) -> Result<Self, InvalidDuration> {
        // The unit is the last character, which need not be a single byte.
        let split = raw.char_indices().last().ok_or(InvalidDuration)?.0;
        let (number, unit) = raw.split_at(split);
        if number.starts_with('+') {
            return Err(InvalidDuration);
        }
        let number: i64 = number.parse().map_err(|_| InvalidDuration)?;
        let unit = match unit {
            "d" => 86_400,
            "h" => 3_600,
            "m" => 60,
            "s" => 1,
            _ => return Err(InvalidDuration),
        };
        number
            .checked_mul(unit)
            .filter(|s| (1..=MAX_DURATION_SECONDS).contains(s))
            .map(Self)
            .ok_or(InvalidDuration)
    }

    pub fn seconds(self) -> i64 {
        self.0
    }
}

/// Why an expiry was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum InvalidExpiry {
    #[error("must be in the future")]
    NotInFuture,
    #[error("must be at most 100 years ({MAX_DURATION_SECONDS} seconds) from now")]
    TooFar,
}

/// A credential's expiry (Unix seconds): after `now`, within 100 years of it.
pub fn expiry(at: i64, now: i64) -> Result<i64, InvalidExpiry> {
    if at <= now {
        return Err(InvalidExpiry::NotInFuture);
    }
    if at
        .checked_sub(now)
        .is_none_or(|ahead| ahead > MAX_DURATION_SECONDS)
    {
        return Err(InvalidExpiry::TooFar);
    }
    Ok(at)
}

/// How long a replaced secret or key keeps working: 0 to 30 days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GracePeriod(i64);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("must be between 0 and {MAX_GRACE_SECONDS} (30 days)")]
pub struct InvalidGracePeriod;

impl GracePeriod {
    pub const DEFAULT: Self = Self(86_400);

    pub fn from_seconds(seconds: i64) -> Result<Self, InvalidGracePeriod> {
        (0..=MAX_GRACE_SECONDS)
            .contains(&seconds)
            .then_some(Self(seconds))
            .ok_or(InvalidGracePeriod)
    }

    pub fn seconds(self) -> i64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn durations_stop_at_100_years() {
        assert_eq!(
            Duration::parse("36500d").unwrap().seconds(),
            MAX_DURATION_SECONDS
        );
        assert_eq!(Duration::parse("45s").unwrap().seconds(), 45);
        for raw in [
            "36501d",
            "876001h",
            "106751991167299d",
            "9223372036854775807s",
            "9223372036854775808s",
            "-1d",
            "0s",
            "+7d",
            "",
            "d",
            "7é",
            "1日",
        ] {
            assert_eq!(Duration::parse(raw), Err(InvalidDuration), "{raw:?}");
        }
    }

    #[test]
    fn an_expiry_is_in_the_future_within_100_years() {
        let now = 1_800_000_000;
        assert_eq!(expiry(now + 1, now), Ok(now + 1));
        assert_eq!(
            expiry(now + MAX_DURATION_SECONDS, now),
            Ok(now + MAX_DURATION_SECONDS)
        );
        assert_eq!(expiry(now, now), Err(InvalidExpiry::NotInFuture));
        assert_eq!(expiry(i64::MIN, now), Err(InvalidExpiry::NotInFuture));
        assert_eq!(
            expiry(now + MAX_DURATION_SECONDS + 1, now),
            Err(InvalidExpiry::TooFar)
        );
        assert_eq!(expiry(i64::MAX, now), Err(InvalidExpiry::TooFar));
    }

    #[test]
    fn grace_periods_are_0_to_30_days() {
        assert_eq!(GracePeriod::from_seconds(0).unwrap().seconds(), 0);
        assert!(GracePeriod::from_seconds(MAX_GRACE_SECONDS).is_ok());
        for bad in [-1, MAX_GRACE_SECONDS + 1, i64::MAX, i64::MIN] {
            assert_eq!(GracePeriod::from_seconds(bad), Err(InvalidGracePeriod));
        }
    }

    proptest! {
        #[test]
        fn any_duration_is_in_bounds_or_refused(raw in "-?[0-9]{0,22}[dhms]?") {
            if let Ok(d) = Duration::parse(&raw) {
                prop_assert!((1..=MAX_DURATION_SECONDS).contains(&d.seconds()));
            }
        }

        #[test]
        fn any_expiry_is_in_bounds_or_refused(at in any::<i64>(), now in 0i64..4_000_000_000) {
            if let Ok(at) = expiry(at, now) {
                prop_assert!(at > now && at - now <= MAX_DURATION_SECONDS);
            }
        }
    }
}

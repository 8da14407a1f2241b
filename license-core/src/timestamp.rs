//! Points in time as JWT NumericDate (whole seconds since the Unix epoch, UTC).
//!
//! This crate never reads the clock: callers pass `now` as a [`Timestamp`].

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The latest time a license may name: the last second of year 9999, so that every
/// timestamp can be shown as a date.
pub const MAX_UNIX_SECONDS: i64 = 253_402_300_799;

/// Seconds in a day.
pub const DAY: i64 = 86_400;

/// A moment in time, in whole seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Timestamp(i64);

/// A time outside the years 1970 to 9999, or text that is not RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    #[error("{0} is outside the years 1970 to 9999")]
    OutOfRange(i64),
    #[error("{0:?} is not an RFC 3339 time such as 2026-12-01T00:00:00Z")]
    Parse(String),
}

impl Timestamp {
    /// The epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// Accepts seconds from 1970 to the end of 9999.
    pub fn from_unix(seconds: i64) -> Result<Self, TimestampError> {
        if (0..=MAX_UNIX_SECONDS).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(TimestampError::OutOfRange(seconds))
        }
    }

    /// Parses RFC 3339 (`2026-12-01T00:00:00Z`, any offset); sub-seconds are dropped.
    pub fn parse_rfc3339(text: &str) -> Result<Self, TimestampError> {
        let parsed = DateTime::parse_from_rfc3339(text.trim())
            .map_err(|_| TimestampError::Parse(text.to_owned()))?;
        Self::from_unix(parsed.timestamp())
    }

    /// Converts from chrono, for callers that read a clock (`chrono::Utc::now()`); sub-seconds
    /// are dropped.
    pub fn from_datetime(at: DateTime<Utc>) -> Result<Self, TimestampError> {
        Self::from_unix(at.timestamp())
    }

    /// This time as a chrono date-time in UTC.
    pub fn to_datetime(self) -> DateTime<Utc> {
        // The range is checked on construction, so this conversion cannot fail; the epoch is
        // an unreachable fallback that keeps this function total.
        DateTime::from_timestamp(self.0, 0).unwrap_or(DateTime::UNIX_EPOCH)
    }

    /// Seconds since the epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// This time plus `seconds` (negative to go back), clamped to the representable range.
    pub fn add_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds).clamp(0, MAX_UNIX_SECONDS))
    }

    /// Seconds from `earlier` to `self` (negative when `earlier` is later).
    pub fn seconds_since(self, earlier: Timestamp) -> i64 {
        self.0 - earlier.0
    }

    /// The calendar date (UTC), `2026-12-01`: how people read license terms.
    pub fn date(self) -> String {
        let d = self.to_datetime();
        format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }

    /// RFC 3339 in UTC, `2026-12-01T00:00:00Z`.
    pub fn rfc3339(self) -> String {
        let t = self.to_datetime();
        format!(
            "{}T{:02}:{:02}:{:02}Z",
            self.date(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl TryFrom<i64> for Timestamp {
    type Error = TimestampError;
    fn try_from(value: i64) -> Result<Self, Self::Error> {
        Self::from_unix(value)
    }
}

impl From<Timestamp> for i64 {
    fn from(value: Timestamp) -> Self {
        value.0
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let t = Timestamp::parse_rfc3339("2026-12-01T10:20:30+01:00").unwrap();
        assert_eq!(t.rfc3339(), "2026-12-01T09:20:30Z");
        assert_eq!(t.date(), "2026-12-01");
        assert_eq!(
            Timestamp::from_unix(MAX_UNIX_SECONDS).unwrap().date(),
            "9999-12-31"
        );
    }

    #[test]
    fn drops_sub_seconds_and_converts_from_chrono() {
        let t = Timestamp::parse_rfc3339(" 2026-12-01T00:00:00.999Z\n").unwrap();
        assert_eq!(t.rfc3339(), "2026-12-01T00:00:00Z");
        let at = DateTime::parse_from_rfc3339("2026-12-01T00:00:01.5-00:30")
            .unwrap()
            .with_timezone(&Utc);
        let t = Timestamp::from_datetime(at).unwrap();
        assert_eq!(t.rfc3339(), "2026-12-01T00:30:01Z");
        assert_eq!(t.to_datetime().timestamp(), t.unix());
        assert_eq!(Timestamp::EPOCH.rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix(MAX_UNIX_SECONDS).unwrap().rfc3339(),
            "9999-12-31T23:59:59Z"
        );
        let before_epoch = DateTime::from_timestamp(-1, 0).unwrap();
        assert_eq!(
            Timestamp::from_datetime(before_epoch),
            Err(TimestampError::OutOfRange(-1))
        );
    }

    #[test]
    fn refuses_out_of_range_and_garbage() {
        assert!(Timestamp::from_unix(-1).is_err());
        assert!(Timestamp::from_unix(MAX_UNIX_SECONDS + 1).is_err());
        assert!(Timestamp::parse_rfc3339("tomorrow").is_err());
        assert!(Timestamp::parse_rfc3339("2026-12-01").is_err());
        assert!(
            Timestamp::parse_rfc3339("2026-12-01T00:00:00").is_err(),
            "no offset"
        );
        assert!(Timestamp::parse_rfc3339("1969-12-31T23:59:59Z").is_err());
        assert!(Timestamp::parse_rfc3339("+10000-01-01T00:00:00Z").is_err());
    }

    #[test]
    fn arithmetic_saturates() {
        let t = Timestamp::from_unix(10).unwrap();
        assert_eq!(t.add_seconds(-100).unix(), 0);
        assert_eq!(t.add_seconds(i64::MAX).unix(), MAX_UNIX_SECONDS);
        assert_eq!(t.add_seconds(5).seconds_since(t), 5);
    }
}

//! Reading stored values back: every conversion that can meet corrupt data says which.

use super::error::{StoreError, StoreResult};
use license_core::Timestamp;

/// A row held something this version cannot read.
pub(crate) fn corrupt(what: &str, value: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {value}"))
}

/// A UUID stored as text.
pub(crate) fn uuid(text: &str) -> StoreResult<uuid::Uuid> {
    uuid::Uuid::parse_str(text).map_err(|e| corrupt("uuid", e))
}

/// An optional UUID stored as text.
pub(crate) fn uuid_opt(text: Option<&str>) -> StoreResult<Option<uuid::Uuid>> {
    text.map(uuid).transpose()
}

/// A time stored as Unix seconds.
pub(crate) fn timestamp(seconds: i64) -> StoreResult<Timestamp> {
    Timestamp::from_unix(seconds).map_err(|e| corrupt("time", e))
}

/// An optional time stored as Unix seconds.
pub(crate) fn timestamp_opt(seconds: Option<i64>) -> StoreResult<Option<Timestamp>> {
    seconds.map(timestamp).transpose()
}

/// A count or sequence stored as `BIGINT`.
pub(crate) fn unsigned(value: i64) -> StoreResult<u64> {
    u64::try_from(value).map_err(|e| corrupt("count", e))
}

/// A count or sequence to store as `BIGINT`.
pub(crate) fn signed(value: u64) -> StoreResult<i64> {
    i64::try_from(value).map_err(|e| corrupt("integer", e))
}

/// JSON stored as text.
pub(crate) fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> StoreResult<T> {
    serde_json::from_str(text).map_err(|e| corrupt(what, e))
}

/// A value to store as JSON text.
pub(crate) fn to_json(what: &str, value: &impl serde::Serialize) -> StoreResult<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Database(format!("{what}: {e}")))
}

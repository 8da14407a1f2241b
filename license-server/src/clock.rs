//! The time source, passed in so that nothing deep in the stack reads the clock itself.

use license_core::Timestamp;
use std::fmt::Debug;

/// Tells the time.
pub trait Clock: Send + Sync + Debug {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        // The system clock lies between 1970 and 9999 on any machine that can run this; the
        // epoch fallback keeps the function total.
        Timestamp::from_datetime(time::OffsetDateTime::now_utc()).unwrap_or(Timestamp::EPOCH)
    }
}

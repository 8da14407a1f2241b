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
        Timestamp::from_datetime(chrono::Utc::now()).unwrap_or(Timestamp::EPOCH)
    }
}

/// A clock that moves only when told: for tests and simulations that must make retries come
/// due without waiting.
#[derive(Debug, Clone)]
pub struct ManualClock(std::sync::Arc<std::sync::atomic::AtomicI64>);

impl ManualClock {
    /// A clock reading `at`.
    pub fn new(at: Timestamp) -> Self {
        Self(std::sync::Arc::new(std::sync::atomic::AtomicI64::new(
            at.unix(),
        )))
    }

    /// Sets the clock to `at`, earlier or later: simulations that replay events out of order.
    pub fn set(&self, at: Timestamp) {
        self.0.store(at.unix(), std::sync::atomic::Ordering::SeqCst);
    }

    /// Moves the clock `seconds` forward.
    pub fn advance(&self, seconds: i64) {
        self.0
            .fetch_add(seconds, std::sync::atomic::Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.0.load(std::sync::atomic::Ordering::SeqCst))
            .unwrap_or(Timestamp::EPOCH)
    }
}

//! Sign-in throttling: after a few failures for one account from one address, each further
//! attempt waits twice as long as the last, up to a ceiling. Keyed by account *and* address,
//! so a stranger guessing the admin's password locks out only themselves; bounded, so the
//! real admin is never locked out for longer than [`MAX_LOCK`]. Per process, like the public
//! endpoints' rate limits.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed before the first wait.
pub const FREE_FAILURES: u32 = 5;
/// The longest wait.
pub const MAX_LOCK: Duration = Duration::from_secs(15 * 60);
/// Entries kept at most (the oldest go first).
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    locked_until: Option<Instant>,
    last: Instant,
}

/// Failed sign-ins per (account, address).
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<(String, IpAddr), Failures>>,
}

/// The wait after `count` failures.
pub fn lock_for(count: u32) -> Option<Duration> {
    let over = count.checked_sub(FREE_FAILURES)?;
    let secs = 1u64.checked_shl(over.min(20)).unwrap_or(u64::MAX);
    Some(Duration::from_secs(secs).min(MAX_LOCK))
}

impl LoginThrottle {
    /// How long `name` from `address` must still wait before trying again, if at all.
    pub fn wait(&self, name: &str, address: IpAddr, now: Instant) -> Option<Duration> {
        let failures = self.failures.lock().ok()?;
        let entry = failures.get(&(name.to_owned(), address))?;
        entry
            .locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }

    /// Records a failed attempt.
    pub fn failed(&self, name: &str, address: IpAddr, now: Instant) {
        let Ok(mut failures) = self.failures.lock() else {
            return;
        };
        if failures.len() >= MAX_ENTRIES
            && let Some(oldest) = failures
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| k.clone())
        {
            failures.remove(&oldest);
        }
        let entry = failures
            .entry((name.to_owned(), address))
            .or_insert(Failures {
                count: 0,
                locked_until: None,
                last: now,
            });
        entry.count = entry.count.saturating_add(1);
        entry.last = now;
        entry.locked_until = lock_for(entry.count).map(|wait| now + wait);
    }

    /// Forgets the failures after a successful sign-in.
    pub fn succeeded(&self, name: &str, address: IpAddr) {
        if let Ok(mut failures) = self.failures.lock() {
            failures.remove(&(name.to_owned(), address));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_after_the_free_failures_and_stop_at_the_ceiling() {
        assert_eq!(lock_for(FREE_FAILURES - 1), None);
        assert_eq!(lock_for(FREE_FAILURES), Some(Duration::from_secs(1)));
        assert_eq!(lock_for(FREE_FAILURES + 3), Some(Duration::from_secs(8)));
        assert_eq!(lock_for(FREE_FAILURES + 40), Some(MAX_LOCK));
        assert_eq!(lock_for(u32::MAX), Some(MAX_LOCK));
    }

    #[test]
    fn a_lock_holds_only_for_that_account_and_address() {
        let throttle = LoginThrottle::default();
        let now = Instant::now();
        let attacker: IpAddr = [203, 0, 113, 9].into();
        let admin: IpAddr = [198, 51, 100, 1].into();
        for _ in 0..FREE_FAILURES + 2 {
            throttle.failed("admin", attacker, now);
        }
        assert_eq!(
            throttle.wait("admin", attacker, now),
            Some(Duration::from_secs(4))
        );
        assert_eq!(throttle.wait("admin", admin, now), None);
        assert_eq!(
            throttle.wait("admin", attacker, now + Duration::from_secs(5)),
            None
        );
        throttle.succeeded("admin", attacker);
        assert_eq!(throttle.wait("admin", attacker, now), None);
    }
}

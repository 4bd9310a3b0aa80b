//! Monotonic time as a plain value, so functions are given time and tests can advance it.

use std::time::Duration;

/// Nanoseconds on the monotonic clock. Functions never read the clock: the worker reads it
/// once per round and passes it in [`crate::element::Context::now`]; tests construct any value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The zero instant (tests start here).
    pub const ZERO: Instant = Instant(0);

    /// From nanoseconds.
    pub const fn from_nanos(ns: u64) -> Instant {
        Instant(ns)
    }

    /// From whole seconds.
    pub const fn from_secs(s: u64) -> Instant {
        Instant(s.saturating_mul(1_000_000_000))
    }

    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Instant {
        Instant(ms.saturating_mul(1_000_000))
    }

    /// Nanoseconds since the clock's origin.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Read CLOCK_MONOTONIC (a vDSO call, no syscall).
    pub fn now() -> Instant {
        let mut ts = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC always exists on Linux.
        unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
        Instant((ts.tv_sec as u64).saturating_mul(1_000_000_000) + ts.tv_nsec as u64)
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Instant) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }
}

impl std::ops::Add<Duration> for Instant {
    type Output = Instant;
    fn add(self, d: Duration) -> Instant {
        Instant(
            self.0
                .saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
        )
    }
}

impl std::ops::AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instant_arithmetic_saturates() {
        let t = Instant::from_secs(5);
        assert_eq!(t + Duration::from_millis(1500), Instant::from_millis(6500));
        assert_eq!(Instant::from_secs(1).saturating_since(t), Duration::ZERO);
        assert_eq!(t.saturating_since(Instant::ZERO), Duration::from_secs(5));
        assert!(Instant::now() > Instant::ZERO);
    }
}

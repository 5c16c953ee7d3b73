//! Time as the components see it: a monotonic duration since the clock's own start.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A monotonic clock. Components read it; tests drive a [`ManualClock`].
pub trait Clock: Send + Sync + 'static {
    /// Time since the clock's start; never decreases.
    fn now(&self) -> Duration;

    /// [`Clock::now`] in nanoseconds (saturating): what the hot paths read, without the
    /// detour through `Duration`.
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.now().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// The machine's monotonic clock, read from the CPU's time-stamp counter (calibrated
/// against the OS clock by quanta; where there is no usable counter, the OS clock).
#[derive(Clone, Debug)]
pub struct SystemClock {
    clock: quanta::Clock,
    start: u64,
}

impl SystemClock {
    /// A clock starting now.
    pub fn new() -> Self {
        let clock = quanta::Clock::new();
        let start = clock.raw();
        SystemClock { clock, start }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }

    fn now_nanos(&self) -> u64 {
        self.clock.delta_as_nanos(self.start, self.clock.raw())
    }
}

/// A clock that moves only when told; clones share one time.
#[derive(Clone, Debug, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Move forward by `by`.
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(nanos, Ordering::AcqRel);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }

    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::Acquire)
    }
}

impl<C: Clock> Clock for Arc<C> {
    fn now(&self) -> Duration {
        (**self).now()
    }

    fn now_nanos(&self) -> u64 {
        (**self).now_nanos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_of_a_manual_clock_share_its_time() {
        let a = ManualClock::new();
        let b = a.clone();
        a.advance(Duration::from_millis(5));
        assert_eq!(b.now(), Duration::from_millis(5));
        let s = SystemClock::new();
        assert!(s.now() <= s.now());
    }
}

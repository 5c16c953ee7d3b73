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

/// The machine's monotonic clock read from memory: a background thread stores
/// [`SystemClock`]'s time every `resolution`, and a read is one atomic load. For hot paths
/// that can tolerate time running up to one `resolution` behind: a rate limiter on it
/// admits at the same long-run rate, and over any window at most `rate × resolution`
/// cells more or less than on [`SystemClock`].
///
/// Each clock has its own thread (no process-wide singleton to collide with); it stops
/// within one `resolution` of the last clone being dropped.
#[derive(Clone, Debug)]
pub struct CoarseClock {
    shared: Arc<CoarseTime>,
}

#[derive(Debug)]
struct CoarseTime {
    nanos: AtomicU64,
    source: SystemClock,
}

impl CoarseClock {
    /// A clock refreshed every `resolution` (at least 1 µs). Fails if `resolution` is
    /// shorter, or if the refresh thread cannot be started.
    pub fn new(resolution: Duration) -> Result<CoarseClock, CoarseClockError> {
        if resolution < Duration::from_micros(1) {
            return Err(CoarseClockError::Resolution(resolution));
        }
        let source = SystemClock::new();
        let shared = Arc::new(CoarseTime {
            nanos: AtomicU64::new(source.now_nanos()),
            source,
        });
        // The thread holds only a weak reference, so dropping the last clone ends it.
        let time = Arc::downgrade(&shared);
        std::thread::Builder::new()
            .name("dsys-coarse-clock".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(resolution);
                    let Some(time) = time.upgrade() else { return };
                    time.nanos.store(time.source.now_nanos(), Ordering::Release);
                }
            })
            .map_err(CoarseClockError::Spawn)?;
        Ok(CoarseClock { shared })
    }
}

impl Clock for CoarseClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.now_nanos())
    }

    fn now_nanos(&self) -> u64 {
        self.shared.nanos.load(Ordering::Acquire)
    }
}

/// Why a [`CoarseClock`] could not be made.
#[derive(Debug, thiserror::Error)]
pub enum CoarseClockError {
    /// A resolution below 1 µs would spend a core refreshing the clock.
    #[error("a coarse clock's resolution must be at least 1 µs, not {0:?}")]
    Resolution(Duration),
    /// The refresh thread could not be started.
    #[error("cannot start the coarse clock's thread: {0}")]
    Spawn(#[source] std::io::Error),
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

    #[test]
    fn a_coarse_clock_moves_and_its_thread_stops_with_it() {
        let c = CoarseClock::new(Duration::from_micros(100)).unwrap();
        let start = c.now();
        let weak = Arc::downgrade(&c.shared);
        // Real time: wait (boundedly) for the refresh thread to move the clock on.
        let mut moved = false;
        for _ in 0..1_000 {
            std::thread::sleep(Duration::from_millis(1));
            if c.now() > start {
                moved = true;
                break;
            }
        }
        assert!(moved, "the coarse clock never moved");
        let later = c.clone();
        drop(c);
        assert!(later.now() >= start);
        drop(later);
        // The thread holds a strong reference only while it stores a reading.
        for _ in 0..1_000 {
            if weak.strong_count() == 0 {
                break;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(
            weak.strong_count(),
            0,
            "the refresh thread kept the clock alive"
        );
    }

    #[test]
    fn a_coarse_clock_needs_a_resolution_of_a_microsecond() {
        for bad in [Duration::ZERO, Duration::from_nanos(999)] {
            let err = CoarseClock::new(bad).unwrap_err();
            assert!(matches!(err, CoarseClockError::Resolution(d) if d == bad));
            assert!(err.to_string().contains("at least 1 µs"));
        }
    }
}

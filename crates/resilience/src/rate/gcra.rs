//! The generic cell rate algorithm (GCRA, ITU-T I.371): a token bucket kept as one
//! number, the theoretical arrival time (TAT) of the next cell. A check is one
//! compare-and-swap; no timer, no refill loop.
//!
//! With emission interval `T` (one cell per `T`) and burst `b`, cells are admitted while
//! the new TAT stays within `now + b × T`. Over any window of length `W`, at most
//! `b + W / T` cells are admitted.

use super::{Denied, Limiter, Snapshot};
use crate::sync::{Arc, AtomicU64, Ordering};
use crate::{Clock, ConfigError};
use std::time::Duration;

/// Bits of the packed quota that hold the emission interval (nanoseconds, up to about
/// 18 minutes); the rest hold the burst (up to 16,777,215).
const INTERVAL_BITS: u32 = 40;
const INTERVAL_MAX: u64 = (1 << INTERVAL_BITS) - 1;
const BURST_MAX: u64 = (1 << (64 - INTERVAL_BITS)) - 1;

/// A rate and a burst.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    interval_ns: u64,
    burst: u32,
}

impl Quota {
    /// One cell per `interval`, up to `burst` at once.
    pub fn new(interval: Duration, burst: u32) -> Result<Quota, ConfigError> {
        let interval_ns = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
        if interval_ns == 0 {
            return Err(ConfigError::Zero { name: "interval" });
        }
        if interval_ns > INTERVAL_MAX {
            return Err(ConfigError::OutOfRange {
                name: "interval (ns)",
                value: interval_ns as f64,
                expected: "at most 2^40 ns (about 18 minutes)",
            });
        }
        if burst == 0 {
            return Err(ConfigError::Zero { name: "burst" });
        }
        if u64::from(burst) > BURST_MAX {
            return Err(ConfigError::OutOfRange {
                name: "burst",
                value: f64::from(burst),
                expected: "at most 16,777,215",
            });
        }
        Ok(Quota { interval_ns, burst })
    }

    /// `rate` cells per second (positive, finite), up to `burst` at once.
    pub fn per_second(rate: f64, burst: u32) -> Result<Quota, ConfigError> {
        if !(rate.is_finite() && rate > 0.0) {
            return Err(ConfigError::OutOfRange {
                name: "rate",
                value: rate,
                expected: "a positive number of cells per second",
            });
        }
        Quota::new(Duration::from_secs_f64(1.0 / rate), burst)
    }

    /// One cell per this long.
    pub fn interval(self) -> Duration {
        Duration::from_nanos(self.interval_ns)
    }

    /// The most cells admitted at once.
    pub fn burst(self) -> u32 {
        self.burst
    }

    pub(super) fn interval_ns(self) -> u64 {
        self.interval_ns
    }

    pub(super) fn pack(self) -> u64 {
        (u64::from(self.burst) << INTERVAL_BITS) | self.interval_ns
    }

    pub(super) fn unpack(word: u64) -> Quota {
        Quota {
            interval_ns: word & INTERVAL_MAX,
            burst: (word >> INTERVAL_BITS) as u32,
        }
    }
}

#[derive(Debug)]
struct Inner {
    /// Theoretical arrival time of the next cell, nanoseconds on the clock.
    tat: AtomicU64,
    /// The packed [`Quota`], so a reconfiguration is one store; on its own cache line, so
    /// checks on other cores, which write the TAT, do not take it away from a reader.
    quota: OwnLine<AtomicU64>,
}

/// A value alone on its cache line (128 bytes: two 64-byte lines, as adjacent-line
/// prefetchers fetch them in pairs).
#[derive(Debug)]
#[repr(align(128))]
struct OwnLine<T>(T);

/// A GCRA rate limiter. Clones share one limit.
#[derive(Clone, Debug)]
pub struct Gcra<C> {
    inner: Arc<Inner>,
    clock: C,
}

impl<C: Clock> Gcra<C> {
    /// A limiter with `quota`, full at start.
    pub fn new(quota: Quota, clock: C) -> Self {
        Gcra {
            inner: Arc::new(Inner {
                tat: AtomicU64::new(0),
                quota: OwnLine(AtomicU64::new(quota.pack())),
            }),
            clock,
        }
    }

    /// The quota in force.
    pub fn quota(&self) -> Quota {
        Quota::unpack(self.inner.quota.0.load(Ordering::Acquire))
    }

    /// Change the quota, keeping what has been admitted: cells already counted stay
    /// counted under the new rate.
    pub fn set_quota(&self, quota: Quota) {
        self.inner.quota.0.store(quota.pack(), Ordering::Release);
    }
}

impl<C: Clock> Limiter for Gcra<C> {
    fn check_n(&self, n: u32) -> Result<Snapshot, Denied> {
        let quota = || Quota::unpack(self.inner.quota.0.load(Ordering::Acquire));
        admit(&self.inner.tat, quota, self.clock.now_nanos(), n)
    }
}

/// One GCRA decision on the TAT in `tat` at time `now`, for `n` cells: a compare-and-swap
/// loop. `quota` is read on every attempt, so a reconfiguration takes effect at once.
pub(super) fn admit(
    tat: &AtomicU64,
    quota: impl Fn() -> Quota,
    now: u64,
    n: u32,
) -> Result<Snapshot, Denied> {
    let mut current = tat.load(Ordering::Acquire);
    loop {
        let q = quota();
        if n > q.burst {
            return Err(Denied::ExceedsBurst {
                requested: n,
                burst: q.burst,
            });
        }
        let limit = now.saturating_add(q.interval_ns * u64::from(q.burst));
        let new_tat = current
            .max(now)
            .saturating_add(q.interval_ns * u64::from(n));
        if new_tat > limit {
            return Err(Denied::NotUntil {
                retry_after: Duration::from_nanos(new_tat - limit),
            });
        }
        match tat.compare_exchange_weak(current, new_tat, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Ok(Snapshot::new(limit - new_tat, q.interval_ns, new_tat - now)),
            Err(seen) => current = seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use crate::rate::testing::{arrivals, within};
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_full_burst_then_one_per_interval() {
        let clock = ManualClock::new();
        let g = Gcra::new(Quota::new(ms(100), 3).unwrap(), clock.clone());
        let s = g.check().unwrap();
        assert_eq!((s.remaining(), s.reset_after()), (2, ms(100)));
        g.check().unwrap();
        assert_eq!(g.check().unwrap().remaining(), 0);
        assert_eq!(
            g.check(),
            Err(Denied::NotUntil {
                retry_after: ms(100)
            })
        );
        clock.advance(ms(60));
        assert_eq!(
            g.check(),
            Err(Denied::NotUntil {
                retry_after: ms(40)
            })
        );
        clock.advance(ms(40));
        assert!(g.check().is_ok());
        assert_eq!(
            g.check_n(4),
            Err(Denied::ExceedsBurst {
                requested: 4,
                burst: 3
            })
        );
        // A long quiet spell refills to the burst, no further.
        clock.advance(ms(10_000));
        assert_eq!(g.check_n(3).unwrap().remaining(), 0);
    }

    #[test]
    fn clones_share_one_limit() {
        let clock = ManualClock::new();
        let a = Gcra::new(Quota::per_second(10.0, 5).unwrap(), clock);
        let handles: Vec<_> = (0..4).map(|_| a.clone()).collect();
        let admitted = (0..40).filter(|i| handles[i % 4].check().is_ok()).count();
        assert_eq!(admitted, 5);
    }

    #[test]
    fn reconfiguring_keeps_what_was_admitted() {
        let clock = ManualClock::new();
        let g = Gcra::new(Quota::new(ms(100), 2).unwrap(), clock.clone());
        g.check_n(2).unwrap();
        // Ten times faster, ten times the burst: the two cells admitted carry their
        // 200 ms of TAT over, which fills the new 200 ms window exactly.
        g.set_quota(Quota::new(ms(10), 20).unwrap());
        assert_eq!(g.quota().burst, 20);
        assert_eq!(
            g.check(),
            Err(Denied::NotUntil {
                retry_after: ms(10)
            })
        );
        clock.advance(ms(10));
        assert_eq!(g.check().unwrap().remaining(), 0);
    }

    #[test]
    fn until_ready_sleeps_exactly_the_wait() {
        let clock = ManualClock::new();
        let g = Gcra::new(Quota::new(ms(100), 1).unwrap(), clock.clone());
        g.check().unwrap();
        let sleeper = clock.clone();
        let fut = g.until_n_ready(1, move |d| {
            sleeper.advance(d);
            std::future::ready(())
        });
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        assert_eq!(clock.now(), ms(100));
        let never = g.until_n_ready(2, |_| std::future::ready(()));
        let mut never = std::pin::pin!(never);
        assert_eq!(
            never.as_mut().poll(&mut cx),
            std::task::Poll::Ready(Err(Denied::ExceedsBurst {
                requested: 2,
                burst: 1
            }))
        );
    }

    #[test]
    fn bad_quotas_are_errors() {
        assert_eq!(
            Quota::new(Duration::ZERO, 1),
            Err(ConfigError::Zero { name: "interval" })
        );
        assert_eq!(
            Quota::new(ms(1), 0),
            Err(ConfigError::Zero { name: "burst" })
        );
        assert!(Quota::per_second(-1.0, 1).is_err());
        assert!(Quota::per_second(f64::INFINITY, 1).is_err());
        assert!(Quota::per_second(0.0, 1).is_err());
        assert!(Quota::new(Duration::from_secs(3_600), 1).is_err());
        assert!(Quota::new(ms(1), 1 << 24).is_err());
    }

    proptest! {
        /// Random arrivals through cloned handles: in every window between two admitted
        /// cells, no more than `burst + window / interval` were admitted.
        #[test]
        fn no_window_admits_more_than_rate_times_interval_plus_burst(
            interval_us in 1u64..5_000,
            burst in 1u32..20,
            steps in proptest::collection::vec((0u64..10_000, 0usize..4, 1u32..4), 1..300),
        ) {
            let clock = ManualClock::new();
            let g = Gcra::new(Quota::new(Duration::from_micros(interval_us), burst).unwrap(), clock.clone());
            let admitted = arrivals(&g, &clock, &steps);
            let interval = interval_us * 1_000;
            within(&admitted, |span| u64::from(burst) + span / interval)?;
        }
    }
}

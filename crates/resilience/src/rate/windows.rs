//! Counting limiters: a fixed window, a sliding log (exact), a sliding window counter
//! (approximate, constant memory), and a token bucket refilled in steps. Each keeps a
//! little state under a mutex: their decisions need several fields at once.

use super::{Denied, Limiter, Snapshot};
use crate::sync::{Mutex, lock};
use crate::{Clock, ConfigError};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

fn period_ns(period: Duration) -> Result<u64, ConfigError> {
    let ns = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
    if ns == 0 {
        return Err(ConfigError::Zero { name: "period" });
    }
    Ok(ns)
}

fn positive(limit: u32, name: &'static str) -> Result<u32, ConfigError> {
    if limit == 0 {
        Err(ConfigError::Zero { name })
    } else {
        Ok(limit)
    }
}

fn exceeds(n: u32, limit: u32) -> Result<(), Denied> {
    if n > limit {
        Err(Denied::ExceedsBurst {
            requested: n,
            burst: limit,
        })
    } else {
        Ok(())
    }
}

/// At most `limit` cells per period, periods aligned on the clock; cheap, but up to twice
/// the limit can pass around a period's boundary.
#[derive(Clone, Debug)]
pub struct FixedWindow<C> {
    limit: u32,
    period: u64,
    /// (period index, cells admitted in it).
    state: Arc<Mutex<(u64, u32)>>,
    clock: C,
}

impl<C: Clock> FixedWindow<C> {
    /// `limit` cells per `period`.
    pub fn new(limit: u32, period: Duration, clock: C) -> Result<Self, ConfigError> {
        Ok(FixedWindow {
            limit: positive(limit, "limit")?,
            period: period_ns(period)?,
            state: Arc::new(Mutex::new((0, 0))),
            clock,
        })
    }
}

impl<C: Clock> Limiter for FixedWindow<C> {
    fn check_n(&self, n: u32) -> Result<Snapshot, Denied> {
        exceeds(n, self.limit)?;
        let now = self.clock.now_nanos();
        let window = now / self.period;
        let next = (window + 1).saturating_mul(self.period) - now;
        let mut s = lock(&self.state);
        if s.0 != window {
            *s = (window, 0);
        }
        if s.1 + n > self.limit {
            return Err(Denied::NotUntil {
                retry_after: Duration::from_nanos(next),
            });
        }
        s.1 += n;
        Ok(Snapshot::counted(self.limit - s.1, next))
    }
}

/// At most `limit` cells in any `period`, exactly: the time of every admitted cell is
/// kept until it is a period old (memory grows with the limit).
#[derive(Clone, Debug)]
pub struct SlidingLog<C> {
    limit: u32,
    period: u64,
    log: Arc<Mutex<VecDeque<u64>>>,
    clock: C,
}

/// The largest limit a sliding log accepts (it keeps one time per cell).
pub const SLIDING_LOG_MAX: u32 = 1 << 20;

impl<C: Clock> SlidingLog<C> {
    /// `limit` cells (at most [`SLIDING_LOG_MAX`]) in any `period`.
    pub fn new(limit: u32, period: Duration, clock: C) -> Result<Self, ConfigError> {
        if limit > SLIDING_LOG_MAX {
            return Err(ConfigError::OutOfRange {
                name: "limit",
                value: f64::from(limit),
                expected: "at most 1,048,576 (a sliding log keeps one time per cell)",
            });
        }
        Ok(SlidingLog {
            limit: positive(limit, "limit")?,
            period: period_ns(period)?,
            log: Arc::new(Mutex::new(VecDeque::new())),
            clock,
        })
    }
}

impl<C: Clock> Limiter for SlidingLog<C> {
    fn check_n(&self, n: u32) -> Result<Snapshot, Denied> {
        exceeds(n, self.limit)?;
        let now = self.clock.now_nanos();
        let mut log = lock(&self.log);
        while log.front().is_some_and(|&t| t + self.period <= now) {
            log.pop_front();
        }
        let (len, n, limit) = (log.len(), n as usize, self.limit as usize);
        if len + n > limit {
            // The cells that must expire first: the oldest `len + n - limit`.
            let last_to_go = log[len + n - limit - 1];
            return Err(Denied::NotUntil {
                retry_after: Duration::from_nanos(last_to_go + self.period - now),
            });
        }
        log.extend(std::iter::repeat_n(now, n));
        let reset = log.back().map_or(0, |&t| t + self.period - now);
        Ok(Snapshot::counted((limit - log.len()) as u32, reset))
    }
}

/// About `limit` cells per `period`, in constant memory: the count of the current period
/// plus the previous period's, weighted by how much of it the sliding window still
/// covers (the estimate Cloudflare describes; it assumes the previous period's cells
/// were spread evenly).
#[derive(Clone, Debug)]
pub struct SlidingWindowCounter<C> {
    limit: u32,
    period: u64,
    /// (period index, cells in it, cells in the period before).
    state: Arc<Mutex<(u64, u32, u32)>>,
    clock: C,
}

impl<C: Clock> SlidingWindowCounter<C> {
    /// About `limit` cells per `period`.
    pub fn new(limit: u32, period: Duration, clock: C) -> Result<Self, ConfigError> {
        Ok(SlidingWindowCounter {
            limit: positive(limit, "limit")?,
            period: period_ns(period)?,
            state: Arc::new(Mutex::new((0, 0, 0))),
            clock,
        })
    }
}

impl<C: Clock> Limiter for SlidingWindowCounter<C> {
    fn check_n(&self, n: u32) -> Result<Snapshot, Denied> {
        exceeds(n, self.limit)?;
        let now = self.clock.now_nanos();
        let window = now / self.period;
        let into = now % self.period;
        let mut s = lock(&self.state);
        if s.0 != window {
            let previous = if s.0 + 1 == window { s.1 } else { 0 };
            *s = (window, 0, previous);
        }
        // The previous period's share still inside the window, in cells (rounded up, so
        // the estimate never undercounts by rounding).
        let weight = self.period - into;
        let carried =
            (u128::from(s.2) * u128::from(weight)).div_ceil(u128::from(self.period)) as u64;
        let estimate = carried + u64::from(s.1);
        let next = self.period - into;
        if estimate + u64::from(n) > u64::from(self.limit) {
            return Err(Denied::NotUntil {
                retry_after: Duration::from_nanos(next.min(self.period)),
            });
        }
        s.1 += n;
        let remaining = u64::from(self.limit) - estimate - u64::from(n);
        Ok(Snapshot::counted(remaining as u32, next + self.period))
    }
}

/// A bucket of `capacity` tokens that gains `refill` tokens every `period` (in steps, as
/// many quota systems grant them); each cell takes one.
#[derive(Clone, Debug)]
pub struct TokenBucket<C> {
    capacity: u32,
    refill: u32,
    period: u64,
    /// (tokens, period index of the last refill).
    state: Arc<Mutex<(u32, u64)>>,
    clock: C,
}

impl<C: Clock> TokenBucket<C> {
    /// Full at start.
    pub fn new(
        capacity: u32,
        refill: u32,
        period: Duration,
        clock: C,
    ) -> Result<Self, ConfigError> {
        let capacity = positive(capacity, "capacity")?;
        let refill = positive(refill, "refill")?;
        let period = period_ns(period)?;
        let start = clock.now_nanos() / period;
        Ok(TokenBucket {
            capacity,
            refill,
            period,
            state: Arc::new(Mutex::new((capacity, start))),
            clock,
        })
    }
}

impl<C: Clock> Limiter for TokenBucket<C> {
    fn check_n(&self, n: u32) -> Result<Snapshot, Denied> {
        exceeds(n, self.capacity)?;
        let now = self.clock.now_nanos();
        let step = now / self.period;
        let mut s = lock(&self.state);
        let gained = (step - s.1.min(step)).saturating_mul(u64::from(self.refill));
        s.0 = (u64::from(s.0) + gained).min(u64::from(self.capacity)) as u32;
        s.1 = step;
        let next_step = (step + 1) * self.period - now;
        if s.0 < n {
            let steps = u64::from(n - s.0).div_ceil(u64::from(self.refill));
            return Err(Denied::NotUntil {
                retry_after: Duration::from_nanos(next_step + (steps - 1) * self.period),
            });
        }
        s.0 -= n;
        let missing = u64::from(self.capacity - s.0);
        let full = if missing == 0 {
            0
        } else {
            next_step + (missing.div_ceil(u64::from(self.refill)) - 1) * self.period
        };
        Ok(Snapshot::counted(s.0, full))
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

    fn wait(d: Result<Snapshot, Denied>) -> Duration {
        match d {
            Err(Denied::NotUntil { retry_after }) => retry_after,
            other => panic!("expected a wait, got {other:?}"),
        }
    }

    #[test]
    fn a_fixed_window_resets_on_its_boundary() {
        let clock = ManualClock::new();
        let l = FixedWindow::new(2, ms(100), clock.clone()).unwrap();
        clock.advance(ms(90));
        l.check_n(2).unwrap();
        assert_eq!(wait(l.check()), ms(10));
        clock.advance(ms(10));
        // A new window: two more, 10 ms after the first two (the boundary burst).
        assert_eq!(l.check_n(2).unwrap().remaining(), 0);
    }

    #[test]
    fn a_sliding_log_is_exact() {
        let clock = ManualClock::new();
        let l = SlidingLog::new(2, ms(100), clock.clone()).unwrap();
        l.check().unwrap();
        clock.advance(ms(30));
        l.check().unwrap();
        assert_eq!(wait(l.check()), ms(70));
        clock.advance(ms(70));
        assert_eq!(l.check().unwrap().remaining(), 0);
        assert_eq!(wait(l.check_n(2)), ms(100));
    }

    #[test]
    fn a_sliding_window_counter_weighs_the_previous_period() {
        let clock = ManualClock::new();
        let l = SlidingWindowCounter::new(10, ms(100), clock.clone()).unwrap();
        l.check_n(10).unwrap();
        // A quarter into the next period, three quarters of the 10 still count: 8
        // (rounded up), so 2 more fit.
        clock.advance(ms(125));
        assert_eq!(l.check_n(2).unwrap().remaining(), 0);
        assert!(l.check().is_err());
        // Two periods on, the old count is gone.
        clock.advance(ms(200));
        assert_eq!(l.check().unwrap().remaining(), 9);
    }

    #[test]
    fn a_token_bucket_refills_in_steps() {
        let clock = ManualClock::new();
        let l = TokenBucket::new(4, 2, ms(100), clock.clone()).unwrap();
        l.check_n(4).unwrap();
        clock.advance(ms(40));
        assert_eq!(wait(l.check()), ms(60));
        assert_eq!(wait(l.check_n(3)), ms(160));
        clock.advance(ms(60));
        let s = l.check().unwrap();
        assert_eq!((s.remaining(), s.reset_after()), (1, ms(200)));
        clock.advance(ms(10_000));
        assert_eq!(l.check_n(4).unwrap().remaining(), 0, "capped at capacity");
    }

    #[test]
    fn bad_settings_are_errors() {
        let c = ManualClock::new();
        assert!(FixedWindow::new(0, ms(1), c.clone()).is_err());
        assert!(FixedWindow::new(1, Duration::ZERO, c.clone()).is_err());
        assert!(SlidingLog::new(SLIDING_LOG_MAX + 1, ms(1), c.clone()).is_err());
        assert!(SlidingWindowCounter::new(0, ms(1), c.clone()).is_err());
        assert!(TokenBucket::new(1, 0, ms(1), c.clone()).is_err());
        assert!(TokenBucket::new(0, 1, ms(1), c).is_err());
        let l = FixedWindow::new(2, ms(1), ManualClock::new()).unwrap();
        assert_eq!(
            l.check_n(3),
            Err(Denied::ExceedsBurst {
                requested: 3,
                burst: 2
            })
        );
    }

    proptest! {
        #[test]
        fn no_limiter_admits_more_than_its_bound(
            limit in 1u32..12,
            period_us in 100u64..5_000,
            steps in proptest::collection::vec((0u64..3_000, 0usize..4, 1u32..4), 1..200),
        ) {
            let period = period_us * 1_000;
            let p = Duration::from_micros(period_us);
            let (l64, periods) = (u64::from(limit), |span: u64| span / period);
            // Sliding log: exact, `limit` in any period.
            let clock = ManualClock::new();
            let a = arrivals(&SlidingLog::new(limit, p, clock.clone()).unwrap(), &clock, &steps);
            within(&a, |span| l64 * (periods(span) + 1))?;
            for w in a.windows(limit as usize + 1) {
                prop_assert!(w[limit as usize] - w[0] >= period);
            }
            // Fixed window: a span touches at most periods + 2 windows.
            let clock = ManualClock::new();
            let a = arrivals(&FixedWindow::new(limit, p, clock.clone()).unwrap(), &clock, &steps);
            within(&a, |span| l64 * (periods(span) + 2))?;
            // Sliding window counter: never more than the fixed window's bound either.
            let clock = ManualClock::new();
            let a = arrivals(&SlidingWindowCounter::new(limit, p, clock.clone()).unwrap(), &clock, &steps);
            within(&a, |span| l64 * (periods(span) + 2))?;
            // Token bucket: the capacity plus one refill per step the span touches.
            let clock = ManualClock::new();
            let a = arrivals(&TokenBucket::new(limit, 1, p, clock.clone()).unwrap(), &clock, &steps);
            within(&a, |span| l64 + periods(span) + 1)?;
        }
    }
}

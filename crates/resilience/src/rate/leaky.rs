//! The leaky bucket as a queue and as a shaper. Cells join a bounded queue that drains at
//! one per interval; each learns when it leaves, so the output is evenly spaced whatever
//! the arrivals. The queue's state is one number, the time the queue will be empty: the
//! same word, and the same admission step, as [`Gcra`](super::Gcra) — the leaky bucket
//! as a meter *is* GCRA (ITU-T I.371 defines them as equivalent). What the bucket adds is
//! the wait: a cell admitted while `k` cells are ahead of it leaves `k` intervals later.

use super::gcra::admit;
use super::{Denied, Limiter, Quota, Snapshot};
use crate::sync::{Arc, AtomicU64};
use crate::{Clock, ConfigError};
use std::time::Duration;

/// A place in a leaky bucket's queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Departure {
    /// How long the first of the cells waits before it leaves; the rest follow one per
    /// interval.
    pub after: Duration,
    /// The queue after these cells joined it.
    pub snapshot: Snapshot,
}

/// A leaky bucket holding at most `capacity` cells, draining one per `interval`. Clones
/// share one queue.
#[derive(Clone, Debug)]
pub struct LeakyBucket<C> {
    /// When the queue will be empty, nanoseconds on the clock.
    empty_at: Arc<AtomicU64>,
    quota: Quota,
    clock: C,
}

impl<C: Clock> LeakyBucket<C> {
    /// A bucket that drains one cell per `interval` and queues up to `capacity`.
    pub fn new(interval: Duration, capacity: u32, clock: C) -> Result<Self, ConfigError> {
        let quota = Quota::new(interval, capacity).map_err(|e| match e {
            ConfigError::Zero { name: "burst" } => ConfigError::Zero { name: "capacity" },
            other => other,
        })?;
        Ok(LeakyBucket {
            empty_at: Arc::new(AtomicU64::new(0)),
            quota,
            clock,
        })
    }

    /// Queue `n` cells: when the first leaves, or why they cannot join (the queue is too
    /// full now, or `n` exceeds its capacity).
    pub fn enqueue_n(&self, n: u32) -> Result<Departure, Denied> {
        let snapshot = admit(&self.empty_at, || self.quota, self.clock.now_nanos(), n)?;
        // The queue now empties `reset_after` from now, and these `n` cells are the last
        // to leave: the first of them leaves `n` intervals before that.
        let queued_behind = snapshot.reset_after().saturating_sub(self.interval() * n);
        Ok(Departure {
            after: queued_behind,
            snapshot,
        })
    }

    /// The shaper: queue `n` cells and wait (on `sleep`, for the caller's runtime) until
    /// the first may leave.
    pub async fn shape_n<S, F>(&self, n: u32, sleep: S) -> Result<Snapshot, Denied>
    where
        S: FnOnce(Duration) -> F,
        F: std::future::Future<Output = ()>,
    {
        let departure = self.enqueue_n(n)?;
        if !departure.after.is_zero() {
            sleep(departure.after).await;
        }
        Ok(departure.snapshot)
    }

    /// Cells that drain per interval: one per this long.
    pub fn interval(&self) -> Duration {
        Duration::from_nanos(self.quota.interval_ns())
    }
}

/// As a [`Limiter`], the bucket is a meter: a check admits what fits in the queue,
/// without waiting for its turn. Use [`LeakyBucket::enqueue_n`] or
/// [`LeakyBucket::shape_n`] for the spacing.
impl<C: Clock> Limiter for LeakyBucket<C> {
    fn check_n(&self, n: u32) -> Result<Snapshot, Denied> {
        self.enqueue_n(n).map(|d| d.snapshot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_burst_is_queued_and_leaves_one_per_interval() {
        let clock = ManualClock::new();
        let b = LeakyBucket::new(ms(100), 3, clock.clone()).unwrap();
        let waits: Vec<_> = (0..3).map(|_| b.enqueue_n(1).unwrap().after).collect();
        assert_eq!(waits, [ms(0), ms(100), ms(200)]);
        // Full: the next place opens when the first cell has left.
        assert_eq!(
            b.enqueue_n(1),
            Err(Denied::NotUntil {
                retry_after: ms(100)
            })
        );
        clock.advance(ms(150));
        // One left at 0 and one at 100; the third leaves at 200, this one at 300.
        let d = b.enqueue_n(1).unwrap();
        assert_eq!(d.after, ms(150));
        assert_eq!(d.snapshot.remaining(), 0);
        assert_eq!(
            b.enqueue_n(4),
            Err(Denied::ExceedsBurst {
                requested: 4,
                burst: 3
            })
        );
    }

    #[test]
    fn the_shaper_sleeps_until_its_turn() {
        let clock = ManualClock::new();
        let b = LeakyBucket::new(ms(10), 5, clock.clone()).unwrap();
        b.enqueue_n(2).unwrap();
        let slept = std::cell::Cell::new(Duration::ZERO);
        let fut = b.shape_n(1, |d| {
            slept.set(d);
            std::future::ready(())
        });
        let mut fut = std::pin::pin!(fut);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_ready());
        assert_eq!(slept.get(), ms(20));
    }

    #[test]
    fn bad_configuration_is_an_error() {
        assert_eq!(
            LeakyBucket::new(ms(1), 0, ManualClock::new()).err(),
            Some(ConfigError::Zero { name: "capacity" })
        );
        assert_eq!(
            LeakyBucket::new(Duration::ZERO, 1, ManualClock::new()).err(),
            Some(ConfigError::Zero { name: "interval" })
        );
    }

    proptest! {
        /// Whatever the arrivals, through cloned handles: the cells leave at least one
        /// interval apart, never more than `capacity` wait at once, and none waits longer
        /// than the queue ahead of it takes to drain.
        #[test]
        fn output_is_evenly_spaced_and_the_queue_bounded(
            interval_us in 1u64..5_000,
            capacity in 1u32..20,
            steps in proptest::collection::vec((0u64..10_000, 0usize..4, 1u32..4), 1..300),
        ) {
            let clock = ManualClock::new();
            let bucket = LeakyBucket::new(Duration::from_micros(interval_us), capacity, clock.clone()).unwrap();
            let handles: Vec<_> = (0..4).map(|_| bucket.clone()).collect();
            let interval = interval_us * 1_000;
            let mut leaves: Vec<u64> = Vec::new();
            for &(gap_us, h, n) in &steps {
                clock.advance(Duration::from_micros(gap_us));
                let now = clock.now_nanos();
                if let Ok(d) = handles[h].enqueue_n(n) {
                    let first = now + d.after.as_nanos() as u64;
                    let waiting = leaves.iter().filter(|&&t| t >= now).count() as u64;
                    prop_assert!(waiting + u64::from(n) <= u64::from(capacity));
                    // It waits for those ahead, and for the rest of the spacing after the
                    // last cell that left.
                    prop_assert!((d.after.as_nanos() as u64) < (waiting + 1) * interval);
                    leaves.extend((0..u64::from(n)).map(|i| first + i * interval));
                }
            }
            for pair in leaves.windows(2) {
                prop_assert!(pair[1] >= pair[0] + interval, "{pair:?}");
            }
        }
    }
}

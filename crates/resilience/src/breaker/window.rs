//! The record a closed breaker keeps of recent calls: the last `n` calls, or the calls of
//! a time span in buckets, or a run of failures.

use super::config::{Trip, Window};
use crate::sync::{AtomicU32, Mutex, Ordering, lock};

/// How one call went, as the breaker counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Call {
    /// It failed (by error or by the caller's classification of its result).
    pub failed: bool,
    /// It took longer than the slow-call threshold.
    pub slow: bool,
}

/// Totals over a window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Totals {
    calls: u32,
    failures: u32,
    slow: u32,
}

impl Totals {
    fn add(&mut self, c: Call) {
        self.calls += 1;
        self.failures += u32::from(c.failed);
        self.slow += u32::from(c.slow);
    }

    fn remove(&mut self, c: Call) {
        self.calls -= 1;
        self.failures -= u32::from(c.failed);
        self.slow -= u32::from(c.slow);
    }
}

#[derive(Debug)]
struct Ring {
    slots: Vec<Option<Call>>,
    next: usize,
    totals: Totals,
}

#[derive(Debug)]
struct Buckets {
    /// Per bucket: its index in time (`now / bucket_ns`) and its totals.
    slots: Vec<(u64, Totals)>,
    bucket_ns: u64,
}

impl Buckets {
    /// The totals of the buckets still inside the span ending at `now_bucket`.
    fn totals(&self, now_bucket: u64) -> Totals {
        let n = self.slots.len() as u64;
        let mut t = Totals::default();
        for (at, b) in &self.slots {
            if now_bucket.saturating_sub(*at) < n {
                t.calls += b.calls;
                t.failures += b.failures;
                t.slow += b.slow;
            }
        }
        t
    }
}

#[derive(Debug)]
enum Kind {
    Count(Mutex<Ring>),
    Time(Mutex<Buckets>),
    /// The current run of failures, and the run that trips.
    Consecutive(AtomicU32, u32),
}

/// The rule that trips and the record it reads.
#[derive(Debug)]
pub(super) struct Record {
    kind: Kind,
    trip: Trip,
}

impl Record {
    /// An empty record for `trip` (validated).
    pub(super) fn new(trip: Trip) -> Self {
        let kind = match trip {
            Trip::Consecutive(limit) => Kind::Consecutive(AtomicU32::new(0), limit),
            Trip::Rates {
                window: Window::Count(n),
                ..
            } => Kind::Count(Mutex::new(Ring {
                slots: vec![None; n as usize],
                next: 0,
                totals: Totals::default(),
            })),
            Trip::Rates {
                window: Window::Time { span, buckets },
                ..
            } => Kind::Time(Mutex::new(Buckets {
                slots: vec![(0, Totals::default()); buckets as usize],
                bucket_ns: (u64::try_from(span.as_nanos()).unwrap_or(u64::MAX)
                    / u64::from(buckets))
                .max(1),
            })),
        };
        Record { kind, trip }
    }

    /// Count `call`, made at `now_ns`; whether the breaker should open.
    #[inline]
    pub(super) fn add(&self, call: Call, now_ns: u64) -> bool {
        let totals = match &self.kind {
            Kind::Consecutive(run, limit) => {
                if call.failed {
                    return run.fetch_add(1, Ordering::AcqRel) + 1 >= *limit;
                }
                // Reset only if set: a success in a healthy run writes nothing.
                if run.load(Ordering::Relaxed) != 0 {
                    run.store(0, Ordering::Release);
                }
                return false;
            }
            Kind::Count(ring) => {
                let mut r = lock(ring);
                let i = r.next;
                if let Some(old) = r.slots[i].replace(call) {
                    r.totals.remove(old);
                }
                r.totals.add(call);
                r.next = (i + 1) % r.slots.len();
                r.totals
            }
            Kind::Time(buckets) => {
                let mut b = lock(buckets);
                let now_bucket = now_ns / b.bucket_ns;
                let n = b.slots.len();
                let slot = &mut b.slots[(now_bucket % n as u64) as usize];
                if slot.0 != now_bucket {
                    *slot = (now_bucket, Totals::default());
                }
                slot.1.add(call);
                b.totals(now_bucket)
            }
        };
        let Trip::Rates {
            min_calls,
            failure_rate,
            slow,
            ..
        } = self.trip
        else {
            return false;
        };
        if totals.calls < min_calls {
            return false;
        }
        let share = |k: u32| f64::from(k) / f64::from(totals.calls);
        share(totals.failures) >= failure_rate || slow.is_some_and(|s| share(totals.slow) >= s.rate)
    }

    /// Forget every call (the breaker closed again).
    pub(super) fn clear(&self) {
        match &self.kind {
            Kind::Consecutive(run, _) => run.store(0, Ordering::Release),
            Kind::Count(ring) => {
                let mut r = lock(ring);
                r.slots.iter_mut().for_each(|s| *s = None);
                r.next = 0;
                r.totals = Totals::default();
            }
            Kind::Time(buckets) => {
                let mut b = lock(buckets);
                b.slots.iter_mut().for_each(|s| *s = (0, Totals::default()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::breaker::config::SlowCalls;
    use std::time::Duration;

    const OK: Call = Call {
        failed: false,
        slow: false,
    };
    const FAIL: Call = Call {
        failed: true,
        slow: false,
    };
    const SLOW: Call = Call {
        failed: false,
        slow: true,
    };

    fn rates(window: Window, min_calls: u32, slow_rate: Option<f64>) -> Record {
        Record::new(Trip::Rates {
            window,
            min_calls,
            failure_rate: 0.5,
            slow: slow_rate.map(|rate| SlowCalls {
                after: Duration::from_secs(1),
                rate,
            }),
        })
    }

    #[test]
    fn a_count_window_slides_over_the_last_n_calls() {
        let r = rates(Window::Count(4), 4, None);
        assert!(!r.add(FAIL, 0));
        assert!(!r.add(FAIL, 0), "below the minimum of 4 calls");
        assert!(!r.add(OK, 0));
        assert!(r.add(OK, 0), "2 of 4 failed");
        // The first failure slides out: 1 of the last 4.
        assert!(!r.add(OK, 0));
        r.clear();
        assert!(!r.add(FAIL, 0), "cleared: below the minimum again");
    }

    #[test]
    fn consecutive_failures_reset_on_success() {
        let r = Record::new(Trip::Consecutive(3));
        assert!(!r.add(FAIL, 0));
        assert!(!r.add(FAIL, 0));
        assert!(!r.add(OK, 0));
        assert!(!r.add(FAIL, 0));
        assert!(!r.add(FAIL, 0));
        assert!(r.add(FAIL, 0));
    }

    #[test]
    fn a_time_window_forgets_old_buckets_and_slow_calls_count() {
        let r = rates(
            Window::Time {
                span: Duration::from_secs(10),
                buckets: 10,
            },
            2,
            Some(0.5),
        );
        let s = |secs: u64| secs * 1_000_000_000;
        assert!(!r.add(FAIL, s(0)));
        // Ten seconds later the failure has left the window.
        assert!(!r.add(OK, s(10)));
        assert!(!r.add(OK, s(11)));
        assert!(!r.add(SLOW, s(11)), "1 slow of 3");
        assert!(r.add(SLOW, s(11)), "2 slow of 4");
        r.clear();
        assert!(!r.add(FAIL, s(12)));
    }
}

//! Load shedding: refuse work early, cheaply, when accepting it would only make it late.
//!
//! - [`QueueTimeShedder`]: judge work by how long it queued, CoDel-style (Nichols and
//!   Jacobson, 2012, as adapted for server queues by Facebook's "adaptive LIFO + CoDel").
//!   A queue that empties now and then is absorbing bursts and is left alone; a queue
//!   that has not dropped below `target` for a whole `interval` is standing, and while it
//!   stands, work that queued longer than `target` is shed.
//! - [`SuccessRatioAdmission`]: client-side throttling (Google SRE book, "Handling
//!   Overload"): when the backend accepts only a fraction of requests, refuse locally the
//!   excess, with probability `max(0, (requests − k × accepts) / (requests + 1))` over a
//!   sliding window — so a backend that is down stops receiving requests it would refuse,
//!   and sees them again as soon as it accepts some. That formula alone can lock a client
//!   out of a backend that has recovered: local refusals count as requests, so with
//!   nearly everything refused the few that get through can never earn enough accepts to
//!   bring the ratio back. The probability is capped (as Envoy's admission control caps
//!   it) so a share of requests always reaches the backend and sees it recover.

use crate::error::{at_least_one, open_fraction};
use crate::random::draw;
use crate::sync::{AtomicU64, Mutex, lock};
use crate::{Clock, ConfigError};
use std::sync::Arc;
use std::time::Duration;

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// What to do with a piece of work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Do it.
    Run,
    /// Refuse it now (answer 503, say): it is already late or would make others so.
    Shed,
}

#[derive(Debug)]
struct CoDelState {
    /// When the current interval began, nanoseconds on the clock.
    interval_start: u64,
    /// The least queue time seen in it.
    least: u64,
    /// The last interval never saw the queue below target.
    standing: bool,
}

/// Sheds work that queued too long while a queue stands. Clones share state.
#[derive(Clone, Debug)]
pub struct QueueTimeShedder<C> {
    target: u64,
    interval: u64,
    state: Arc<Mutex<CoDelState>>,
    clock: C,
}

impl<C: Clock> QueueTimeShedder<C> {
    /// Work may queue `target` (5 ms is CoDel's) while a queue stands, and up to
    /// `interval` (100 ms) otherwise; a queue stands when it stays above `target` for an
    /// `interval`.
    pub fn new(target: Duration, interval: Duration, clock: C) -> Result<Self, ConfigError> {
        let (target, interval) = (nanos(target), nanos(interval));
        if target == 0 {
            return Err(ConfigError::Zero { name: "target" });
        }
        if interval < target {
            return Err(ConfigError::Inconsistent(
                "the interval must be at least the target",
            ));
        }
        let start = clock.now_nanos();
        Ok(QueueTimeShedder {
            target,
            interval,
            state: Arc::new(Mutex::new(CoDelState {
                interval_start: start,
                least: u64::MAX,
                standing: false,
            })),
            clock,
        })
    }

    /// Judge work taken off the queue after waiting `queued` in it.
    pub fn on_dequeue(&self, queued: Duration) -> Admission {
        let queued = nanos(queued);
        let now = self.clock.now_nanos();
        let mut s = lock(&self.state);
        if now.saturating_sub(s.interval_start) >= self.interval {
            s.standing = s.least > self.target;
            s.interval_start = now;
            s.least = u64::MAX;
        }
        s.least = s.least.min(queued);
        let allowed = if s.standing {
            self.target
        } else {
            self.interval
        };
        if queued > allowed {
            Admission::Shed
        } else {
            Admission::Run
        }
    }

    /// Whether the queue was standing over the last interval.
    pub fn standing(&self) -> bool {
        lock(&self.state).standing
    }
}

#[derive(Debug)]
struct Counts {
    /// The bucket each slot counts, by index since the clock's start.
    bucket: Vec<u64>,
    requests: Vec<u64>,
    accepts: Vec<u64>,
}

/// Client-side throttling by the backend's recent acceptance ratio. Clones share state.
#[derive(Clone, Debug)]
pub struct SuccessRatioAdmission<C> {
    k: f64,
    max_refusal: f64,
    bucket_ns: u64,
    counts: Arc<Mutex<Counts>>,
    /// The SplitMix counter the refusals draw from.
    draws: Arc<AtomicU64>,
    clock: C,
}

/// Refused locally: the backend has been refusing most requests.
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error(
    "throttled locally: the backend accepted too few recent requests (refusing {probability:.2} of them)"
)]
pub struct Throttled {
    /// The chance of refusal at the time.
    pub probability: f64,
}

impl<C: Clock> SuccessRatioAdmission<C> {
    /// Allow up to `k` requests per accepted one (2 is usual: at least 1; lower refuses
    /// sooner), refusing at most `max_refusal` of them (in `(0, 1)`; 0.9 leaves a tenth
    /// to notice a recovery), counted over `window` in `buckets` slices; refusals are
    /// drawn from `seed`.
    pub fn new(
        k: f64,
        max_refusal: f64,
        window: Duration,
        buckets: u32,
        seed: u64,
        clock: C,
    ) -> Result<Self, ConfigError> {
        let k = at_least_one("k", k)?;
        let max_refusal = open_fraction("max_refusal", max_refusal)?;
        if buckets == 0 {
            return Err(ConfigError::Zero { name: "buckets" });
        }
        let bucket_ns = nanos(window) / u64::from(buckets);
        if bucket_ns == 0 {
            return Err(ConfigError::Zero { name: "window" });
        }
        let n = buckets as usize;
        Ok(SuccessRatioAdmission {
            k,
            max_refusal,
            bucket_ns,
            counts: Arc::new(Mutex::new(Counts {
                bucket: vec![u64::MAX; n],
                requests: vec![0; n],
                accepts: vec![0; n],
            })),
            draws: Arc::new(AtomicU64::new(seed)),
            clock,
        })
    }

    /// The slot for now, cleared if it held an older bucket; its index.
    fn slot(&self, c: &mut Counts) -> usize {
        let bucket = self.clock.now_nanos() / self.bucket_ns;
        let i = (bucket % c.bucket.len() as u64) as usize;
        if c.bucket[i] != bucket {
            c.bucket[i] = bucket;
            c.requests[i] = 0;
            c.accepts[i] = 0;
        }
        i
    }

    /// The chance a request is refused now.
    pub fn refusal_probability(&self) -> f64 {
        let mut c = lock(&self.counts);
        self.slot(&mut c);
        self.probability(&c)
    }

    fn probability(&self, c: &Counts) -> f64 {
        let current = self.clock.now_nanos() / self.bucket_ns;
        let window = c.bucket.len() as u64;
        let (mut requests, mut accepts) = (0u64, 0u64);
        for i in 0..c.bucket.len() {
            if c.bucket[i] != u64::MAX && current - c.bucket[i] < window {
                requests += c.requests[i];
                accepts += c.accepts[i];
            }
        }
        let requests = requests as f64;
        ((requests - self.k * accepts as f64) / (requests + 1.0)).clamp(0.0, self.max_refusal)
    }

    /// Ask to send a request. Every ask counts as a request, refused or not — that is
    /// what lets the ratio see a backend that is down.
    pub fn admit(&self) -> Result<(), Throttled> {
        let mut c = lock(&self.counts);
        let i = self.slot(&mut c);
        let probability = self.probability(&c);
        c.requests[i] += 1;
        drop(c);
        // No draw when nothing is refused, so a healthy backend costs no randomness.
        if probability > 0.0 && draw(&self.draws) < probability {
            return Err(Throttled { probability });
        }
        Ok(())
    }

    /// The backend accepted a request (whatever its answer, it was not refused for
    /// overload).
    pub fn accepted(&self) {
        let mut c = lock(&self.counts);
        let i = self.slot(&mut c);
        c.accepts[i] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_standing_queue_is_shed_and_a_burst_is_not() {
        let clock = ManualClock::new();
        let shed = QueueTimeShedder::new(ms(5), ms(100), clock.clone()).unwrap();
        // A burst: queue times up to 50 ms, but the queue empties within the interval.
        for q in [50, 40, 0, 30] {
            assert_eq!(shed.on_dequeue(ms(q)), Admission::Run);
            clock.advance(ms(30));
        }
        assert!(!shed.standing());
        // A standing queue: never under 20 ms for a whole interval.
        for _ in 0..4 {
            assert_eq!(shed.on_dequeue(ms(20)), Admission::Run);
            clock.advance(ms(30));
        }
        assert_eq!(shed.on_dequeue(ms(20)), Admission::Shed);
        assert!(shed.standing());
        assert_eq!(shed.on_dequeue(ms(5)), Admission::Run, "within target");
        // Still, past the interval, nothing waits longer than the interval.
        assert_eq!(shed.on_dequeue(ms(101)), Admission::Shed);
    }

    #[test]
    fn shedding_stops_once_the_queue_drains() {
        let clock = ManualClock::new();
        let shed = QueueTimeShedder::new(ms(5), ms(100), clock.clone()).unwrap();
        for _ in 0..5 {
            shed.on_dequeue(ms(50));
            clock.advance(ms(30));
        }
        assert_eq!(shed.on_dequeue(ms(50)), Admission::Shed);
        // Shedding worked: the queue is short again for a whole interval.
        for _ in 0..4 {
            shed.on_dequeue(ms(1));
            clock.advance(ms(30));
        }
        assert_eq!(shed.on_dequeue(ms(50)), Admission::Run);
        assert!(!shed.standing());
    }

    #[test]
    fn a_backend_that_refuses_everything_stops_getting_requests() {
        let clock = ManualClock::new();
        let admission =
            SuccessRatioAdmission::new(2.0, 0.9, ms(1_000), 10, 7, clock.clone()).unwrap();
        let mut sent = 0;
        for _ in 0..1_000 {
            if admission.admit().is_ok() {
                sent += 1; // and the backend refuses it: no `accepted`
            }
            clock.advance(ms(1));
        }
        // Refusal probability climbs to its cap at once: about a tenth get through.
        assert!(
            (80..=130).contains(&sent),
            "{sent} sent to a backend refusing all"
        );
        assert_eq!(admission.refusal_probability(), 0.9);
    }

    #[test]
    fn a_backend_accepting_half_is_not_throttled_at_k_2() {
        let clock = ManualClock::new();
        let admission =
            SuccessRatioAdmission::new(2.0, 0.9, ms(1_000), 10, 7, clock.clone()).unwrap();
        for i in 0..1_000 {
            admission.admit().unwrap();
            if i % 2 == 0 {
                admission.accepted();
            }
            clock.advance(ms(1));
        }
        assert_eq!(admission.refusal_probability(), 0.0);
    }

    #[test]
    fn requests_flow_again_once_the_backend_recovers() {
        let clock = ManualClock::new();
        let admission =
            SuccessRatioAdmission::new(2.0, 0.9, ms(1_000), 10, 7, clock.clone()).unwrap();
        for _ in 0..500 {
            let _ = admission.admit();
            clock.advance(ms(1));
        }
        assert_eq!(admission.refusal_probability(), 0.9);
        // The backend is back: the tenth that get through are accepted, which lowers the
        // refusals, which lets more through. Refusals per 100 ms:
        let mut refused = [0; 40];
        for t in 0..4_000 {
            match admission.admit() {
                Ok(()) => admission.accepted(),
                Err(_) => refused[t / 100] += 1,
            }
            clock.advance(ms(1));
        }
        assert!(refused[0] > 50, "{refused:?}");
        // Within three windows, none.
        assert!(refused[30..].iter().all(|&r| r == 0), "{refused:?}");
        assert_eq!(admission.refusal_probability(), 0.0);
    }

    #[test]
    fn bad_configuration_is_an_error() {
        let clock = ManualClock::new();
        assert_eq!(
            QueueTimeShedder::new(Duration::ZERO, ms(100), clock.clone()).err(),
            Some(ConfigError::Zero { name: "target" })
        );
        assert!(QueueTimeShedder::new(ms(10), ms(5), clock.clone()).is_err());
        for k in [0.5, f64::NAN, f64::INFINITY, -1.0] {
            assert!(SuccessRatioAdmission::new(k, 0.9, ms(1_000), 10, 0, clock.clone()).is_err());
        }
        for cap in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(SuccessRatioAdmission::new(2.0, cap, ms(1_000), 10, 0, clock.clone()).is_err());
        }
        assert!(SuccessRatioAdmission::new(2.0, 0.9, ms(1_000), 0, 0, clock.clone()).is_err());
        assert!(
            SuccessRatioAdmission::new(2.0, 0.9, Duration::from_nanos(5), 10, 0, clock).is_err()
        );
    }
}

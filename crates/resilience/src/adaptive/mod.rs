//! Adaptive concurrency: a limit on calls in flight that follows what the dependency can
//! take, learnt from each call's round-trip time and from drops (timeouts, overload
//! replies). The limit is the lever Little's law gives: in flight = throughput × latency,
//! so holding it near the dependency's capacity keeps its queue short.
//!
//! Three algorithms ([`LimitAlgorithm`]):
//! - [`Aimd`]: additive increase, multiplicative decrease on drops only — TCP Reno's rule.
//! - [`Vegas`]: estimates the queue from the round-trip time against the no-load time
//!   (TCP Vegas), and keeps it between two small bounds.
//! - [`Gradient`]: the ratio of long-term to current round-trip time (Netflix's Gradient2),
//!   without its two known faults — see its docs.
//!
//! [`AdaptiveLimiter`] applies one to real calls: a token per call, a sample when it ends,
//! and a revision of the limit per window of samples ([`Windowed`]).

mod aimd;
mod gradient;
mod vegas;

#[cfg(test)]
mod tests;

pub use aimd::Aimd;
pub use gradient::Gradient;
pub use vegas::Vegas;

use crate::events::{Event, Events};
use crate::sync::{AtomicU32, Mutex, Ordering, lock};
use crate::{Clock, ConfigError};
use std::time::Duration;

/// What one finished call tells the limiter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sample {
    /// Its round-trip time.
    pub rtt: Duration,
    /// Calls in flight when it started, itself included.
    pub in_flight: u32,
    /// It timed out or the dependency said it was overloaded.
    pub dropped: bool,
}

/// A window of samples, about one round trip's worth: what an algorithm revises its limit
/// on. Revising per window rather than per call is what keeps the loop stable: a change
/// of limit shows in round-trip times only a round trip later, so acting on every call
/// would act on the same stale news many times over (a limit of 100 would cut itself 100
/// times for one stall, or double in one round trip) — TCP adjusts its window once per
/// round trip for the same reason.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Window {
    /// Calls in the window.
    pub calls: u32,
    /// Of which dropped.
    pub dropped: u32,
    /// The mean round-trip time of the calls not dropped, nanoseconds (0 if none).
    pub mean_rtt_ns: f64,
    /// The least round-trip time of the calls not dropped, nanoseconds (`u64::MAX` if none).
    pub min_rtt_ns: u64,
    /// The most calls in flight any of them saw.
    pub max_in_flight: u32,
}

/// A concurrency-limit algorithm: a limit, revised once per [`Window`].
pub trait LimitAlgorithm: Send + 'static {
    /// The limit in force.
    fn limit(&self) -> u32;

    /// Revise the limit on one window's evidence; the new limit.
    fn update(&mut self, window: &Window) -> u32;

    /// While the limit is lowered for a window to measure the dependency unloaded (see
    /// [`Vegas`]), the limit it will resume.
    fn probing(&self) -> Option<u32> {
        None
    }
}

/// An algorithm chosen at run time (from configuration, say).
impl<A: LimitAlgorithm + ?Sized> LimitAlgorithm for Box<A> {
    fn limit(&self) -> u32 {
        (**self).limit()
    }

    fn update(&mut self, window: &Window) -> u32 {
        (**self).update(window)
    }

    fn probing(&self) -> Option<u32> {
        (**self).probing()
    }
}

/// Gathers samples into windows of about one round trip (as many calls as the limit) and
/// hands each full window to the algorithm.
#[derive(Clone, Debug)]
pub struct Windowed<A> {
    algorithm: A,
    open: Window,
    rtt_sum_ns: f64,
}

impl<A: LimitAlgorithm> Windowed<A> {
    /// Windows for `algorithm`.
    pub fn new(algorithm: A) -> Self {
        Windowed {
            algorithm,
            open: Window::EMPTY,
            rtt_sum_ns: 0.0,
        }
    }

    /// The limit in force.
    pub fn limit(&self) -> u32 {
        self.algorithm.limit()
    }

    /// The algorithm (for its figures: [`Vegas::rtt_noload`], say).
    pub fn algorithm(&self) -> &A {
        &self.algorithm
    }

    /// Add a sample; when it completes a window, the algorithm revises the limit. The
    /// limit in force afterwards.
    pub fn record(&mut self, sample: Sample) -> u32 {
        let w = &mut self.open;
        w.calls += 1;
        w.max_in_flight = w.max_in_flight.max(sample.in_flight);
        if sample.dropped {
            w.dropped += 1;
        } else {
            let rtt = u64::try_from(sample.rtt.as_nanos()).unwrap_or(u64::MAX);
            w.min_rtt_ns = w.min_rtt_ns.min(rtt);
            self.rtt_sum_ns += rtt as f64;
        }
        if w.calls < self.algorithm.limit().max(1) {
            return self.algorithm.limit();
        }
        let succeeded = w.calls - w.dropped;
        if succeeded > 0 {
            w.mean_rtt_ns = self.rtt_sum_ns / f64::from(succeeded);
        }
        let window = std::mem::replace(&mut self.open, Window::EMPTY);
        self.rtt_sum_ns = 0.0;
        self.algorithm.update(&window)
    }
}

impl Window {
    const EMPTY: Window = Window {
        calls: 0,
        dropped: 0,
        mean_rtt_ns: 0.0,
        min_rtt_ns: u64::MAX,
        max_in_flight: 0,
    };

    /// A limit not in use should not grow: with fewer than half of `limit` in flight, fast
    /// replies say nothing about what more load would do.
    fn app_limited(&self, limit: f64) -> bool {
        f64::from(self.max_in_flight) * 2.0 < limit
    }
}

/// Where a limit starts and the range it stays in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// The limit before any sample.
    pub initial: u32,
    /// Never below this (at least 1: a limit of 0 would stop every call for good).
    pub min: u32,
    /// Never above this.
    pub max: u32,
}

impl Bounds {
    /// Checked bounds: `1 <= min <= initial <= max`.
    pub fn new(initial: u32, min: u32, max: u32) -> Result<Bounds, ConfigError> {
        if min == 0 {
            return Err(ConfigError::Zero { name: "min limit" });
        }
        if !(min <= initial && initial <= max) {
            return Err(ConfigError::Inconsistent(
                "the limits must satisfy min <= initial <= max",
            ));
        }
        Ok(Bounds { initial, min, max })
    }

    fn clamp(&self, limit: f64) -> f64 {
        limit.clamp(f64::from(self.min), f64::from(self.max))
    }
}

impl Default for Bounds {
    /// Start at 20, between 1 and 1,000.
    fn default() -> Self {
        Bounds {
            initial: 20,
            min: 1,
            max: 1_000,
        }
    }
}

/// Rejected: the calls in flight are at the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("concurrency limit of {limit} reached")]
pub struct Overloaded {
    /// The limit at the time.
    pub limit: u32,
}

#[derive(Debug)]
struct Shared<A> {
    in_flight: AtomicU32,
    /// A copy of the algorithm's limit, so admission reads one atomic.
    limit: AtomicU32,
    algorithm: Mutex<Windowed<A>>,
    events: Events,
}

/// A concurrency limiter driven by an algorithm. Clones share one limit.
#[derive(Debug)]
pub struct AdaptiveLimiter<A, C> {
    shared: crate::sync::Arc<Shared<A>>,
    clock: C,
}

impl<A, C: Clone> Clone for AdaptiveLimiter<A, C> {
    fn clone(&self) -> Self {
        AdaptiveLimiter {
            shared: self.shared.clone(),
            clock: self.clock.clone(),
        }
    }
}

/// One admitted call. End it with [`Token::success`], [`Token::dropped`] or
/// [`Token::ignore`]; dropped unfinished, it frees its place without a sample.
#[derive(Debug)]
#[must_use = "a token holds a place until it is finished or dropped"]
pub struct Token<'a, A: LimitAlgorithm, C: Clock> {
    limiter: &'a AdaptiveLimiter<A, C>,
    started_ns: u64,
    in_flight: u32,
    finished: bool,
}

impl<A: LimitAlgorithm, C: Clock> AdaptiveLimiter<A, C> {
    /// A limiter run by `algorithm`, timing calls on `clock`.
    pub fn new(algorithm: A, clock: C) -> Self {
        Self::observed(algorithm, clock, Events::default())
    }

    /// As [`AdaptiveLimiter::new`], telling `events` of every change of the limit.
    pub fn observed(algorithm: A, clock: C, events: Events) -> Self {
        AdaptiveLimiter {
            shared: crate::sync::Arc::new(Shared {
                in_flight: AtomicU32::new(0),
                limit: AtomicU32::new(algorithm.limit()),
                algorithm: Mutex::new(Windowed::new(algorithm)),
                events,
            }),
            clock,
        }
    }

    /// The limit in force.
    pub fn limit(&self) -> u32 {
        self.shared.limit.load(Ordering::Acquire)
    }

    /// Calls in flight.
    pub fn in_flight(&self) -> u32 {
        self.shared.in_flight.load(Ordering::Acquire)
    }

    /// Admit a call if fewer than the limit are in flight.
    pub fn try_acquire(&self) -> Result<Token<'_, A, C>, Overloaded> {
        let mut current = self.shared.in_flight.load(Ordering::Acquire);
        loop {
            let limit = self.limit();
            if current >= limit {
                return Err(Overloaded { limit });
            }
            match self.shared.in_flight.compare_exchange_weak(
                current,
                current + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Ok(Token {
                        limiter: self,
                        started_ns: self.clock.now_nanos(),
                        in_flight: current + 1,
                        finished: false,
                    });
                }
                Err(seen) => current = seen,
            }
        }
    }

    fn finish(&self, sample: Option<Sample>) {
        self.shared.in_flight.fetch_sub(1, Ordering::AcqRel);
        if let Some(sample) = sample {
            let limit = lock(&self.shared.algorithm).record(sample);
            let from = self.shared.limit.swap(limit, Ordering::AcqRel);
            if from != limit {
                self.shared
                    .events
                    .emit(|| Event::LimitChanged { from, to: limit });
            }
        }
    }
}

impl<A: LimitAlgorithm, C: Clock> Token<'_, A, C> {
    fn end(mut self, dropped: Option<bool>) {
        self.finished = true;
        let sample = dropped.map(|dropped| Sample {
            rtt: Duration::from_nanos(
                self.limiter
                    .clock
                    .now_nanos()
                    .saturating_sub(self.started_ns),
            ),
            in_flight: self.in_flight,
            dropped,
        });
        self.limiter.finish(sample);
    }

    /// The call succeeded: its round-trip time is a sample.
    pub fn success(self) {
        self.end(Some(false));
    }

    /// The call timed out or was refused for overload: a drop.
    pub fn dropped(self) {
        self.end(Some(true));
    }

    /// The call ended in a way that says nothing about load (a bad request, say).
    pub fn ignore(self) {
        self.end(None);
    }
}

#[cfg(feature = "tower")] // the layers hold these in their futures
/// A [`Token`] parted from its limiter's borrow (see the breaker's detached permit).
#[derive(Clone, Copy, Debug)]
pub(crate) struct DetachedToken {
    started_ns: u64,
    in_flight: u32,
}

#[cfg(feature = "tower")]
impl<A: LimitAlgorithm, C: Clock> Token<'_, A, C> {
    pub(crate) fn detach(mut self) -> DetachedToken {
        self.finished = true; // the reattached token finishes instead
        DetachedToken {
            started_ns: self.started_ns,
            in_flight: self.in_flight,
        }
    }
}

#[cfg(feature = "tower")]
impl<A: LimitAlgorithm, C: Clock> AdaptiveLimiter<A, C> {
    pub(crate) fn reattach(&self, d: DetachedToken) -> Token<'_, A, C> {
        Token {
            limiter: self,
            started_ns: d.started_ns,
            in_flight: d.in_flight,
            finished: false,
        }
    }
}

impl<A: LimitAlgorithm, C: Clock> Drop for Token<'_, A, C> {
    fn drop(&mut self) {
        if !self.finished {
            self.limiter.finish(None);
        }
    }
}

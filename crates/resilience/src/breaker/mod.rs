//! A circuit breaker: stop calling a dependency that keeps failing, give it time, then
//! let a few probe calls through to see whether it has recovered.
//!
//! ```text
//!            failures trip it                 open time passes
//!   Closed ────────────────────▶ Open ───────────────────────▶ HalfOpen
//!     ▲                           ▲                               │
//!     │                           └── a probe fails, or half-open ┤
//!     │                               lasts too long              │
//!     └────────────────── all probes succeed ─────────────────────┘
//! ```
//!
//! The whole state (which state, its generation, the probes left and won, and a time)
//! is one 64-bit word changed by compare-and-swap, so every transition is atomic and a
//! closed breaker costs one load per call. Exactly `probes` calls are let through in
//! half-open; a probe dropped without a result gives its slot back. Results of calls
//! from an earlier generation are ignored.

mod config;
mod window;

pub use config::{BreakerConfig, SlowCalls, Trip, Window};
use window::{Call, Record};

use crate::events::{Event, Events};
use crate::sync::{Arc, AtomicU8, AtomicU32, AtomicU64, Ordering};
use crate::{Clock, ConfigError, random};
use std::time::Duration;

/// The state a breaker is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Calls go through and are counted.
    Closed,
    /// Calls are rejected until the open time has passed.
    Open,
    /// A limited number of probe calls go through.
    HalfOpen,
}

impl State {
    /// Its name in logs and metrics: `closed`, `open` or `half_open`.
    pub fn name(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
        }
    }

    fn of(word_state: u64) -> State {
        match word_state {
            CLOSED => State::Closed,
            OPEN => State::Open,
            _ => State::HalfOpen,
        }
    }
}

/// An operator's override of the state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The state machine decides.
    Normal,
    /// Every call goes through and nothing is counted.
    Disabled,
    /// Every call is rejected.
    ForcedOpen,
    /// Calls are counted and states change as usual, but nothing is rejected: to watch
    /// what a breaker would do before letting it act.
    MetricsOnly,
}

/// A call the breaker did not let through.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("circuit open{}", retry_after.map(|d| format!(": retry after {d:?}")).unwrap_or_default())]
pub struct Rejected {
    /// When a call may be let through again, if known: the rest of the open time, or of
    /// half-open while its probes are all out.
    pub retry_after: Option<Duration>,
}

// The state word: [state:2][generation:14][probes left:8][probes won:8][time ms:32].
// The time is, when open, when it ends; when half-open, when it began (milliseconds on
// the clock, wrapping: differences stay far below 2^31 ms).
const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
const GEN_MASK: u64 = (1 << 14) - 1;
/// The most probes a breaker lets through in half-open.
pub const MAX_PROBES: u32 = 255;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Word {
    state: u64,
    generation: u64,
    left: u64,
    won: u64,
    ms: u32,
}

impl Word {
    fn pack(self) -> u64 {
        self.state
            | (self.generation & GEN_MASK) << 2
            | (self.left & 0xff) << 16
            | (self.won & 0xff) << 24
            | u64::from(self.ms) << 32
    }

    fn unpack(w: u64) -> Word {
        Word {
            state: w & 3,
            generation: (w >> 2) & GEN_MASK,
            left: (w >> 16) & 0xff,
            won: (w >> 24) & 0xff,
            ms: (w >> 32) as u32,
        }
    }

    /// The next state, one generation on.
    fn next(self, state: u64, ms: u32, left: u64) -> Word {
        Word {
            state,
            generation: (self.generation + 1) & GEN_MASK,
            left,
            won: 0,
            ms,
        }
    }
}

/// Milliseconds from `now` to `then` on the wrapping clock (negative: in the past).
fn ms_until(now: u32, then: u32) -> i64 {
    i64::from(then.wrapping_sub(now) as i32)
}

#[derive(Debug)]
struct Inner {
    config: BreakerConfig,
    record: Record,
    /// Whether counting a call needs the time (slow calls, or a time window): if not,
    /// a closed breaker never reads the clock.
    needs_time: bool,
    /// A call slower than this (ns) counts as slow; `None` without a slow-call rate.
    /// Kept apart from the configuration so the fast path reads one word, not the trip.
    slow_after_ns: Option<u64>,
    word: AtomicU64,
    mode: AtomicU8,
    /// Openings since the breaker last closed (how far the open time has grown).
    openings: AtomicU32,
    /// The last open time, milliseconds (for decorrelated jitter).
    last_open_ms: AtomicU64,
    /// SplitMix64 state for jitter.
    rng: AtomicU64,
    opened: AtomicU64,
    events: Events,
}

/// A circuit breaker. Clones share one state.
#[derive(Clone, Debug)]
pub struct CircuitBreaker<C> {
    inner: Arc<Inner>,
    clock: C,
}

/// Counters of what a breaker did. (Rejections are not counted here: a shared counter
/// written on every rejection would make an open breaker contended across cores.)
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BreakerMetrics {
    /// Times it opened.
    pub opened: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PermitKind {
    Closed,
    Probe,
    Untracked,
}

/// Leave to make one call. Report how it went with [`Permit::success`],
/// [`Permit::failure`] or [`Permit::record`]; dropping it unreported (a cancelled call)
/// counts nothing and, for a probe, frees the probe's slot.
#[derive(Debug)]
#[must_use = "report the call's outcome, or drop the permit if the call was abandoned"]
pub struct Permit<'a, C: Clock> {
    breaker: &'a CircuitBreaker<C>,
    generation: u64,
    kind: PermitKind,
    started_ns: u64,
    reported: bool,
}

impl<C: Clock> Permit<'_, C> {
    /// The call succeeded.
    #[inline]
    pub fn success(self) {
        self.record(false);
    }

    /// The call failed.
    pub fn failure(self) {
        self.record(true);
    }

    /// The call failed or not (by whatever the caller's classification says).
    #[inline]
    pub fn record(mut self, failed: bool) {
        self.reported = true;
        let b = self.breaker;
        let now_ns = if b.inner.needs_time { b.now_ns() } else { 0 };
        let slow = b
            .inner
            .slow_after_ns
            .is_some_and(|after| now_ns.saturating_sub(self.started_ns) > after);
        b.report(self.generation, self.kind, Call { failed, slow }, now_ns);
    }
}

#[cfg(feature = "tower")] // the layers hold these in their futures
/// A [`Permit`] parted from its breaker's borrow, so that a `'static` future (a tower
/// service's) can hold it beside an owned clone of the breaker. Reattach it to report or
/// abandon the call; it must go back to the breaker it came from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DetachedPermit {
    generation: u64,
    kind: PermitKind,
    started_ns: u64,
}

#[cfg(feature = "tower")]
impl<'a, C: Clock> Permit<'a, C> {
    pub(crate) fn detach(mut self) -> DetachedPermit {
        self.reported = true; // the reattached permit reports, or releases, instead
        DetachedPermit {
            generation: self.generation,
            kind: self.kind,
            started_ns: self.started_ns,
        }
    }
}

#[cfg(feature = "tower")]
impl<C: Clock> CircuitBreaker<C> {
    pub(crate) fn reattach(&self, d: DetachedPermit) -> Permit<'_, C> {
        Permit {
            breaker: self,
            generation: d.generation,
            kind: d.kind,
            started_ns: d.started_ns,
            reported: false,
        }
    }
}

impl<C: Clock> Drop for Permit<'_, C> {
    fn drop(&mut self) {
        if !self.reported && self.kind == PermitKind::Probe {
            self.breaker.release_probe(self.generation);
        }
    }
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

impl<C: Clock> CircuitBreaker<C> {
    /// A closed breaker with `config`, on `clock`.
    pub fn new(config: BreakerConfig, clock: C) -> Result<Self, ConfigError> {
        Self::observed(config, clock, Events::default())
    }

    /// As [`CircuitBreaker::new`], telling `events` of every change of state.
    pub fn observed(config: BreakerConfig, clock: C, events: Events) -> Result<Self, ConfigError> {
        config.validate()?;
        if config.probes > MAX_PROBES {
            return Err(ConfigError::OutOfRange {
                name: "probes",
                value: f64::from(config.probes),
                expected: "at most 255",
            });
        }
        Ok(CircuitBreaker {
            inner: Arc::new(Inner {
                record: Record::new(config.trip),
                needs_time: matches!(
                    config.trip,
                    Trip::Rates { slow: Some(_), .. }
                        | Trip::Rates {
                            window: Window::Time { .. },
                            ..
                        }
                ),
                slow_after_ns: match config.trip {
                    Trip::Rates { slow: Some(s), .. } => Some(nanos(s.after)),
                    _ => None,
                },
                config,
                word: AtomicU64::new(0),
                mode: AtomicU8::new(0),
                openings: AtomicU32::new(0),
                last_open_ms: AtomicU64::new(0),
                rng: AtomicU64::new(0x5eed),
                opened: AtomicU64::new(0),
                events,
            }),
            clock,
        })
    }

    fn now_ns(&self) -> u64 {
        self.clock.now_nanos()
    }

    fn now_ms(&self) -> u32 {
        // Wrapping on purpose: only differences are used.
        (self.clock.now_nanos() / 1_000_000) as u32
    }

    /// The state now.
    pub fn state(&self) -> State {
        State::of(Word::unpack(self.inner.word.load(Ordering::Acquire)).state)
    }

    /// The operator's override in force.
    pub fn mode(&self) -> Mode {
        match self.inner.mode.load(Ordering::Acquire) {
            1 => Mode::Disabled,
            2 => Mode::ForcedOpen,
            3 => Mode::MetricsOnly,
            _ => Mode::Normal,
        }
    }

    /// Override the state machine (or hand control back with [`Mode::Normal`]).
    pub fn set_mode(&self, mode: Mode) {
        let m = match mode {
            Mode::Normal => 0,
            Mode::Disabled => 1,
            Mode::ForcedOpen => 2,
            Mode::MetricsOnly => 3,
        };
        self.inner.mode.store(m, Ordering::Release);
    }

    /// What it has done so far.
    pub fn metrics(&self) -> BreakerMetrics {
        BreakerMetrics {
            opened: self.inner.opened.load(Ordering::Relaxed),
        }
    }

    #[inline]
    fn permit(&self, generation: u64, kind: PermitKind) -> Permit<'_, C> {
        let started_ns = match (kind, self.inner.slow_after_ns) {
            (PermitKind::Untracked, _) | (_, None) => 0,
            (_, Some(_)) => self.now_ns(),
        };
        Permit {
            breaker: self,
            generation,
            kind,
            started_ns,
            reported: false,
        }
    }

    fn reject(&self, retry_after: Option<Duration>) -> Result<Permit<'_, C>, Rejected> {
        if self.mode() == Mode::MetricsOnly {
            return Ok(self.permit(0, PermitKind::Untracked));
        }
        Err(Rejected { retry_after })
    }

    /// Leave to make a call, or a rejection with a hint of when to try again.
    #[inline]
    pub fn try_acquire(&self) -> Result<Permit<'_, C>, Rejected> {
        // The fast path — no override, closed — inlined into the caller: the permit is
        // built in place rather than returned through memory from a call (which cost a
        // stalled load of the returned struct, about a third of the call).
        let w = self.inner.word.load(Ordering::Acquire);
        if w & 3 == CLOSED && self.inner.mode.load(Ordering::Acquire) == 0 {
            return Ok(self.permit(Word::unpack(w).generation, PermitKind::Closed));
        }
        self.try_acquire_slow()
    }

    #[inline(never)]
    fn try_acquire_slow(&self) -> Result<Permit<'_, C>, Rejected> {
        match self.mode() {
            Mode::Disabled => return Ok(self.permit(0, PermitKind::Untracked)),
            Mode::ForcedOpen => return Err(Rejected { retry_after: None }),
            Mode::Normal | Mode::MetricsOnly => {}
        }
        let word = &self.inner.word;
        let mut w = word.load(Ordering::Acquire);
        loop {
            let s = Word::unpack(w);
            match s.state {
                CLOSED => return Ok(self.permit(s.generation, PermitKind::Closed)),
                OPEN => {
                    let now = self.now_ms();
                    let wait = ms_until(now, s.ms);
                    if wait > 0 {
                        return self.reject(Some(Duration::from_millis(wait as u64)));
                    }
                    let probes = u64::from(self.inner.config.probes);
                    let half_open = s.next(HALF_OPEN, now, probes).pack();
                    match word.compare_exchange(w, half_open, Ordering::AcqRel, Ordering::Acquire) {
                        Ok(_) => {
                            self.inner.events.emit(|| Event::Transition {
                                from: State::Open,
                                to: State::HalfOpen,
                            });
                            w = half_open;
                        }
                        Err(current) => w = current,
                    }
                }
                _ => {
                    let now = self.now_ms();
                    let max = self.inner.config.max_half_open.as_millis() as i64;
                    let elapsed = -ms_until(now, s.ms);
                    if elapsed > max {
                        // Half-open went on too long: count it as a failed probe.
                        self.open_from(w, now);
                        w = word.load(Ordering::Acquire);
                        continue;
                    }
                    if s.left == 0 {
                        let rest = Duration::from_millis((max - elapsed).max(0) as u64);
                        return self.reject(Some(rest));
                    }
                    let taken = Word {
                        left: s.left - 1,
                        ..s
                    }
                    .pack();
                    match word.compare_exchange(w, taken, Ordering::AcqRel, Ordering::Acquire) {
                        Ok(_) => return Ok(self.permit(s.generation, PermitKind::Probe)),
                        Err(current) => w = current,
                    }
                }
            }
        }
    }

    /// Run `call`, judging its result with `failed`; a rejection comes back as
    /// [`CallError::Rejected`] and the call is not made. If the future is dropped before
    /// it completes, nothing is counted and a probe's slot is freed.
    pub async fn call<T, E, F>(
        &self,
        call: F,
        failed: impl FnOnce(&Result<T, E>) -> bool,
    ) -> Result<T, CallError<E>>
    where
        F: std::future::Future<Output = Result<T, E>>,
    {
        let permit = self.try_acquire().map_err(CallError::Rejected)?;
        let result = call.await;
        permit.record(failed(&result));
        result.map_err(CallError::Inner)
    }

    /// Open from word `w` (closed or half-open), unless another thread moved it first.
    fn open_from(&self, w: u64, now: u32) {
        let s = Word::unpack(w);
        let i = &self.inner;
        let attempt = i.openings.load(Ordering::Acquire);
        let previous = Duration::from_millis(i.last_open_ms.load(Ordering::Acquire));
        let unit = self.unit();
        let open_for = i.config.open_for.delay(attempt, previous, unit);
        let ms = open_for.as_millis().clamp(1, i32::MAX as u128) as u32;
        let open = s.next(OPEN, now.wrapping_add(ms), 0).pack();
        if i.word
            .compare_exchange(w, open, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            i.openings.fetch_add(1, Ordering::AcqRel);
            i.last_open_ms.store(u64::from(ms), Ordering::Release);
            i.opened.fetch_add(1, Ordering::Relaxed);
            i.events.emit(|| Event::Transition {
                from: State::of(s.state),
                to: State::Open,
            });
        }
    }

    /// A uniform number in [0, 1) for jitter, from the breaker's shared counter.
    fn unit(&self) -> f64 {
        random::draw(&self.inner.rng)
    }

    #[inline]
    fn report(&self, generation: u64, kind: PermitKind, call: Call, now_ns: u64) {
        let i = &self.inner;
        let w = i.word.load(Ordering::Acquire);
        let s = Word::unpack(w);
        if s.generation != generation || kind == PermitKind::Untracked {
            // A call from an earlier generation, or one not counted.
            return;
        }
        match kind {
            PermitKind::Closed => {
                if i.record.add(call, now_ns) && s.state == CLOSED {
                    self.open_from(w, self.now_ms());
                }
            }
            PermitKind::Probe if call.failed || call.slow => self.open_from(w, self.now_ms()),
            PermitKind::Probe => self.probe_won(generation),
            PermitKind::Untracked => {}
        }
    }

    /// A probe of `generation` succeeded: count it; the last one closes the breaker.
    fn probe_won(&self, generation: u64) {
        let i = &self.inner;
        let mut w = i.word.load(Ordering::Acquire);
        loop {
            let s = Word::unpack(w);
            if s.state != HALF_OPEN || s.generation != generation {
                return;
            }
            let won = s.won + 1;
            let next = if won >= u64::from(i.config.probes) {
                // Forget the calls that tripped it before anyone counts new ones.
                i.record.clear();
                s.next(CLOSED, self.now_ms(), 0)
            } else {
                Word { won, ..s }
            };
            match i
                .word
                .compare_exchange(w, next.pack(), Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => {
                    if next.state == CLOSED {
                        i.openings.store(0, Ordering::Release);
                        i.events.emit(|| Event::Transition {
                            from: State::HalfOpen,
                            to: State::Closed,
                        });
                    }
                    return;
                }
                Err(current) => w = current,
            }
        }
    }

    /// A probe of `generation` was abandoned: give its slot back.
    fn release_probe(&self, generation: u64) {
        let word = &self.inner.word;
        let mut w = word.load(Ordering::Acquire);
        loop {
            let s = Word::unpack(w);
            if s.state != HALF_OPEN || s.generation != generation {
                return;
            }
            let back = Word {
                left: s.left + 1,
                ..s
            }
            .pack();
            match word.compare_exchange(w, back, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return,
                Err(current) => w = current,
            }
        }
    }
}

/// What [`CircuitBreaker::call`] returns on failure.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallError<E> {
    /// The breaker did not let the call through.
    #[error(transparent)]
    Rejected(Rejected),
    /// The call was made and failed.
    #[error("the call failed")]
    Inner(E),
}

#[cfg(test)]
mod model;
#[cfg(test)]
mod tests;

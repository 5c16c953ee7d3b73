//! The resilience patterns against a flaky in-process service, on virtual time: the same
//! traffic and the same incidents for each pattern, one row each of what the callers saw
//! and what the service had to bear. `dsys resilience` prints the table.
//!
//! The service serves 40 calls at once at 10 ms plus an exponential 10 ms, slowing in
//! proportion beyond that; 1% of calls fail anyway. From 20 s to 35 s it is sick: half
//! its calls hang for a second and then fail. Callers arrive at random (Poisson) at the
//! given rate. Every pattern but `none` gives up on an attempt after 200 ms (a timeout
//! frees the caller, not the service: the service works on until its own reply).

use crate::adaptive::{AdaptiveLimiter, Bounds, Gradient, Token};
use crate::breaker::{BreakerConfig, CircuitBreaker, Permit, Trip, Window};
use crate::bulkhead::{Bulkhead, BulkheadPermit};
use crate::rate::{Gcra, Limiter, Quota};
use crate::retry::{Backoff, Delays, Jitter, RetryBudget, RetryPermit};
use crate::shed::SuccessRatioAdmission;
use crate::{Clock, ManualClock};
use dsys_check::stats::percentile;
use dsys_node::{DetRng, Instant};
use dsys_sim::queue::EventQueue;
use serde::Serialize;
use std::time::Duration;

/// A pattern in front of the service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pattern {
    /// No protection, no timeout: callers wait for whatever the service does.
    None,
    /// A 200 ms timeout per attempt.
    Timeout,
    /// Timeout, and up to two retries with decorrelated jitter, within a 20% budget.
    Retry,
    /// Timeout, and a breaker: opens at 50% failures over the last 20 calls.
    Breaker,
    /// Timeout, and at most 20 calls in flight, none waiting.
    Bulkhead,
    /// Timeout, and GCRA at 250 calls a second, bursts of 50.
    RateLimit,
    /// Timeout, and an adaptive concurrency limit (the gradient limit).
    Adaptive,
    /// Timeout, and client-side admission by the service's success ratio.
    Shed,
}

impl Pattern {
    /// Every pattern, in table order.
    pub const ALL: [Pattern; 8] = [
        Pattern::None,
        Pattern::Timeout,
        Pattern::Retry,
        Pattern::Breaker,
        Pattern::Bulkhead,
        Pattern::RateLimit,
        Pattern::Adaptive,
        Pattern::Shed,
    ];

    /// Its name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Pattern::None => "none",
            Pattern::Timeout => "timeout",
            Pattern::Retry => "retry",
            Pattern::Breaker => "breaker",
            Pattern::Bulkhead => "bulkhead",
            Pattern::RateLimit => "rate-limit",
            Pattern::Adaptive => "adaptive",
            Pattern::Shed => "shed",
        }
    }

    /// The pattern called `name`.
    pub fn parse(name: &str) -> Option<Pattern> {
        Pattern::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// The traffic.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Traffic {
    /// Seed for arrivals, latencies and failures (the same for every pattern).
    pub seed: u64,
    /// Calls per second.
    pub rate: u32,
    /// Seconds of traffic.
    pub seconds: u32,
}

/// What one pattern did with the traffic.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The pattern.
    pub pattern: Pattern,
    /// Calls made by callers.
    pub calls: u64,
    /// Calls that succeeded.
    pub ok: u64,
    /// Calls that failed (an error or a timeout, after any retries).
    pub failed: u64,
    /// Calls refused by the pattern without reaching the service (on a first attempt).
    pub rejected: u64,
    /// Attempts that reached the service.
    pub service_calls: u64,
    /// The most calls the service had in hand at once.
    pub service_peak: u32,
    /// What callers waited, refusals included: median and 99th percentile, ms.
    pub p50_ms: f64,
    /// The 99th percentile.
    pub p99_ms: f64,
    /// The 99th percentile of the calls that succeeded.
    pub ok_p99_ms: f64,
}

const TIMEOUT_NS: u64 = 200_000_000;
const CAPACITY: f64 = 40.0;
const SICK: (u64, u64) = (20_000_000_000, 35_000_000_000);

/// What a call holds while an attempt is out.
enum Held<'a> {
    Nothing,
    Breaker(Permit<'a, ManualClock>),
    Slot(BulkheadPermit),
    Token(Token<'a, Gradient, ManualClock>),
    Admitted,
}

enum Event<'a> {
    /// A caller arrives (and the next one is scheduled).
    Arrive,
    /// An attempt of call `call` starts; a retry holds its budget's permit until then.
    Attempt {
        call: usize,
        retry: Option<RetryPermit>,
    },
    /// The caller hears how its attempt went (or gives up on it).
    Answer {
        call: usize,
        ok: bool,
        held: Held<'a>,
    },
    /// The service finishes a piece of work.
    ServiceDone,
}

struct Call {
    arrived: u64,
    attempts: u32,
    delays: Delays,
}

/// Pending events by virtual time, ties in the order they were scheduled: the
/// simulator's own event queue, keyed in nanoseconds since the start of the traffic.
#[derive(Default)]
struct Agenda<'a>(EventQueue<Event<'a>>);

impl<'a> Agenda<'a> {
    fn at(&mut self, time: u64, event: Event<'a>) {
        self.0.push(Instant::from_nanos(time), event);
    }

    fn next(&mut self) -> Option<(u64, Event<'a>)> {
        self.0.pop().map(|(at, event)| (at.as_nanos(), event))
    }
}

/// The pattern's machinery.
struct Guards {
    breaker: CircuitBreaker<ManualClock>,
    bulkhead: Bulkhead,
    gcra: Gcra<ManualClock>,
    adaptive: AdaptiveLimiter<Gradient, ManualClock>,
    admission: SuccessRatioAdmission<ManualClock>,
    budget: RetryBudget,
    backoff: Backoff,
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

impl Guards {
    fn new(clock: &ManualClock, seed: u64) -> Guards {
        // Constants known to be valid; `expect` documents the invariant.
        #[allow(clippy::expect_used)]
        let built = (|| -> Result<Guards, crate::ConfigError> {
            Ok(Guards {
                breaker: CircuitBreaker::new(
                    BreakerConfig::default()
                        .with_trip(Trip::Rates {
                            window: Window::Count(20),
                            min_calls: 10,
                            failure_rate: 0.5,
                            slow: None,
                        })
                        .with_open_for(Backoff::new(ms(1_000), ms(8_000), Jitter::Equal)?),
                    clock.clone(),
                )?,
                bulkhead: Bulkhead::new(20, 0)?,
                gcra: Gcra::new(Quota::per_second(250.0, 50)?, clock.clone()),
                adaptive: AdaptiveLimiter::new(
                    Gradient::new(Bounds::new(20, 2, 200)?, 1.5, 0.2, 60)?,
                    clock.clone(),
                ),
                admission: SuccessRatioAdmission::new(
                    2.0,
                    0.9,
                    ms(2_000),
                    20,
                    seed,
                    clock.clone(),
                )?,
                budget: RetryBudget::new(0.2, 50, 100)?,
                backoff: Backoff::new(ms(20), ms(200), Jitter::Decorrelated)?,
            })
        })();
        built.expect("the demo's settings are valid")
    }
}

/// Run `pattern` over `traffic`.
pub fn run(pattern: Pattern, traffic: Traffic) -> Row {
    let clock = ManualClock::new();
    let guards = Guards::new(&clock, traffic.seed);
    let mut rng = DetRng::from_seed(traffic.seed);
    let end = u64::from(traffic.seconds) * 1_000_000_000;
    let mean_gap = 1e9 / f64::from(traffic.rate.max(1));

    let mut agenda = Agenda::default();
    // Callers and the service draw from separate streams, so a pattern's choices do not
    // change the traffic the next pattern sees.
    let mut arrivals = DetRng::from_seed(rng.next_u64());
    agenda.at(0, Event::Arrive);

    let mut calls: Vec<Call> = Vec::new();
    let mut waits: Vec<u64> = Vec::new();
    let mut ok_waits: Vec<u64> = Vec::new();
    let (mut failed, mut rejected, mut service_calls) = (0u64, 0u64, 0u64);
    let (mut in_service, mut service_peak) = (0u32, 0u32);

    while let Some((now, event)) = agenda.next() {
        clock.advance(Duration::from_nanos(now.saturating_sub(clock.now_nanos())));
        match event {
            Event::Arrive => {
                let id = calls.len();
                calls.push(Call {
                    arrived: now,
                    attempts: 0,
                    delays: guards.backoff.delays(traffic.seed ^ id as u64),
                });
                if pattern == Pattern::Retry {
                    guards.budget.deposit();
                }
                agenda.at(
                    now,
                    Event::Attempt {
                        call: id,
                        retry: None,
                    },
                );
                let gap = (-(1.0 - arrivals.unit_f64()).ln() * mean_gap) as u64;
                if now + gap < end {
                    agenda.at(now + gap, Event::Arrive);
                }
            }
            Event::Attempt { call, retry } => {
                drop(retry);
                calls[call].attempts += 1;
                let held = match pattern {
                    Pattern::Breaker => guards.breaker.try_acquire().ok().map(Held::Breaker),
                    Pattern::Bulkhead => guards.bulkhead.try_acquire().ok().map(Held::Slot),
                    Pattern::RateLimit => guards.gcra.check().ok().map(|_| Held::Nothing),
                    Pattern::Adaptive => guards.adaptive.try_acquire().ok().map(Held::Token),
                    Pattern::Shed => guards.admission.admit().ok().map(|()| Held::Admitted),
                    Pattern::None | Pattern::Timeout | Pattern::Retry => Some(Held::Nothing),
                };
                let Some(held) = held else {
                    // Refused by the pattern: the caller hears at once.
                    if calls[call].attempts == 1 {
                        rejected += 1;
                    } else {
                        failed += 1;
                    }
                    waits.push(now - calls[call].arrived);
                    continue;
                };
                service_calls += 1;
                in_service += 1;
                service_peak = service_peak.max(in_service);
                let (took, ok) = serve(&mut rng, now, in_service);
                agenda.at(now + took, Event::ServiceDone);
                let (heard, ok) = if pattern != Pattern::None && took > TIMEOUT_NS {
                    (TIMEOUT_NS, false)
                } else {
                    (took, ok)
                };
                agenda.at(now + heard, Event::Answer { call, ok, held });
            }
            Event::Answer { call, ok, held } => {
                match held {
                    Held::Breaker(p) => p.record(!ok),
                    Held::Token(t) if ok => t.success(),
                    Held::Token(t) => t.dropped(),
                    Held::Admitted if ok => guards.admission.accepted(),
                    Held::Slot(slot) => drop(slot),
                    Held::Nothing | Held::Admitted => {}
                }
                let c = &mut calls[call];
                if ok {
                    waits.push(now - c.arrived);
                    ok_waits.push(now - c.arrived);
                } else if pattern == Pattern::Retry && c.attempts < 3 {
                    match guards.budget.try_withdraw() {
                        Some(permit) => {
                            let delay = c.delays.next().unwrap_or_default();
                            let at = now + u64::try_from(delay.as_nanos()).unwrap_or(0);
                            let retry = Some(permit);
                            agenda.at(at, Event::Attempt { call, retry });
                        }
                        None => {
                            failed += 1;
                            waits.push(now - c.arrived);
                        }
                    }
                } else {
                    failed += 1;
                    waits.push(now - c.arrived);
                }
            }
            Event::ServiceDone => in_service -= 1,
        }
    }
    let n = calls.len() as u64;
    waits.sort_unstable();
    ok_waits.sort_unstable();
    let ms_of = |ns: u64| ns as f64 / 1e6;
    Row {
        pattern,
        calls: n,
        ok: ok_waits.len() as u64,
        failed,
        rejected,
        service_calls,
        service_peak,
        p50_ms: ms_of(percentile(&waits, 50.0)),
        p99_ms: ms_of(percentile(&waits, 99.0)),
        ok_p99_ms: ms_of(percentile(&ok_waits, 99.0)),
    }
}

/// The service's answer to a call arriving at `now` with `load` calls in hand: how long
/// it takes and whether it succeeds.
fn serve(rng: &mut DetRng, now: u64, load: u32) -> (u64, bool) {
    let base = 10e6 + -(1.0 - rng.unit_f64()).ln() * 10e6;
    let slowed = base * (f64::from(load) / CAPACITY).max(1.0);
    let sick = (SICK.0..SICK.1).contains(&now);
    if sick && rng.chance(0.5) {
        return (1_000_000_000, false);
    }
    (slowed as u64, !rng.chance(0.01))
}

/// Run every pattern in `patterns` over the same traffic.
pub fn run_all(patterns: &[Pattern], traffic: Traffic) -> Vec<Row> {
    patterns.iter().map(|&p| run(p, traffic)).collect()
}

/// The rows as a table.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<11} {:>7} {:>7} {:>7} {:>8} {:>8} {:>5} {:>8} {:>8} {:>8}\n",
        "pattern",
        "calls",
        "ok",
        "failed",
        "rejected",
        "service",
        "peak",
        "p50 ms",
        "p99 ms",
        "ok p99"
    );
    for r in rows {
        out += &format!(
            "{:<11} {:>7} {:>7} {:>7} {:>8} {:>8} {:>5} {:>8.1} {:>8.1} {:>8.1}\n",
            r.pattern.name(),
            r.calls,
            r.ok,
            r.failed,
            r.rejected,
            r.service_calls,
            r.service_peak,
            r.p50_ms,
            r.p99_ms,
            r.ok_p99_ms
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    const TRAFFIC: Traffic = Traffic {
        seed: 1,
        rate: 300,
        seconds: 60,
    };

    fn rows() -> BTreeMap<Pattern, Row> {
        run_all(&Pattern::ALL, TRAFFIC)
            .into_iter()
            .map(|r| (r.pattern, r))
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_table() {
        assert_eq!(
            run_all(&Pattern::ALL, TRAFFIC),
            run_all(&Pattern::ALL, TRAFFIC)
        );
    }

    #[test]
    fn every_call_is_accounted_for() {
        for r in rows().values() {
            assert_eq!(r.ok + r.failed + r.rejected, r.calls, "{r:?}");
        }
    }

    #[test]
    fn each_pattern_does_what_it_says() {
        let r = rows();
        let none = &r[&Pattern::None];
        // Timeouts cap what callers wait.
        assert!(none.p99_ms >= 1_000.0, "{none:?}");
        assert!(r[&Pattern::Timeout].p99_ms <= 200.0);
        // Retries turn some failures into successes, at the price of more service calls,
        // held to the budget's 20% plus what quiet times saved (at most 100).
        let (timeout, retry) = (&r[&Pattern::Timeout], &r[&Pattern::Retry]);
        assert!(retry.ok > timeout.ok, "{retry:?} vs {timeout:?}");
        assert!(retry.service_calls > timeout.service_calls);
        assert!(
            retry.service_calls <= retry.calls + retry.calls / 5 + 100,
            "{retry:?}"
        );
        // The breaker spares the sick service most of its calls.
        let breaker = &r[&Pattern::Breaker];
        assert!(breaker.rejected > 0);
        assert!(breaker.service_calls < timeout.service_calls);
        // The bulkhead never lets more than 20 in at once (the service may still be
        // finishing calls whose callers timed out).
        assert!(r[&Pattern::Bulkhead].rejected > 0);
        // The rate limit admits no more than rate × time + burst.
        let rate = &r[&Pattern::RateLimit];
        assert!(rate.service_calls <= 250 * 60 + 50, "{rate:?}");
        // The adaptive limit and admission control both refuse during the incident.
        assert!(r[&Pattern::Adaptive].rejected > 0);
        assert!(r[&Pattern::Shed].rejected > 0);
    }
}

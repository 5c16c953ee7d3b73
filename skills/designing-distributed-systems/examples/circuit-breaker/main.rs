//! A circuit breaker in front of a payment service that goes down for 15 seconds.
//!
//! ```text
//! cargo run -p dsys-resilience --example circuit_breaker
//! ```
//!
//! A client calls every 100 ms for 40 s, on a manual clock (virtual time: the example
//! runs in milliseconds and prints the same story every time). The service fails every
//! call from 10 s to 25 s. The breaker opens when half of the last 20 calls failed,
//! stays open 2 s (doubling on each reopening, up to 8 s), then lets 3 probes through:
//! all three must succeed to close it. The service is spared most of the calls it would
//! have failed, and the callers hear "circuit open" at once instead of waiting.

use dsys_resilience::breaker::{BreakerConfig, CircuitBreaker, State, Trip, Window};
use dsys_resilience::retry::{Backoff, Jitter};
use dsys_resilience::{ConfigError, ManualClock};
use std::fmt::Write as _;
use std::time::Duration;

#[path = "../support/story.rs"]
mod story;

const STEP_MS: u64 = 100;
const END_MS: u64 = 40_000;
/// When the service is down.
const OUTAGE_MS: std::ops::Range<u64> = 10_000..25_000;

/// What happened, as the example prints it.
fn narrative() -> Result<String, ConfigError> {
    let clock = ManualClock::new();
    let config = BreakerConfig::new()
        .with_trip(Trip::Rates {
            window: Window::Count(20),
            min_calls: 10,
            failure_rate: 0.5,
            slow: None,
        })
        .with_open_for(Backoff::new(
            Duration::from_secs(2),
            Duration::from_secs(8),
            Jitter::None,
        )?)
        .with_probes(3);
    let breaker = CircuitBreaker::new(config, clock.clone())?;
    let mut out = String::new();
    let (mut sent, mut failed_in_outage, mut rejected, mut state) = (0, 0, 0, State::Closed);
    let mut now = 0;
    while now < END_MS {
        let down = OUTAGE_MS.contains(&now);
        match breaker.try_acquire() {
            Ok(permit) => {
                let probing = "the open time is over: probes go through";
                note(&mut out, &mut state, breaker.state(), now, probing);
                sent += 1;
                failed_in_outage += u32::from(down);
                permit.record(down);
                let what = match (state, down) {
                    (State::HalfOpen, true) => "a probe failed: open again, for longer",
                    (_, true) => "half of the last 20 calls failed",
                    (_, false) => "3 probes succeeded",
                };
                note(&mut out, &mut state, breaker.state(), now, what);
            }
            Err(_) => rejected += 1,
        }
        clock.advance(Duration::from_millis(STEP_MS));
        now += STEP_MS;
    }
    let outage_calls = (OUTAGE_MS.end - OUTAGE_MS.start) / STEP_MS;
    let _ = writeln!(
        out,
        "the service was down for {outage_calls} calls' worth of time; it received {failed_in_outage} of them \
         (the breaker answered {rejected} calls at once with \"circuit open\")"
    );
    let _ = writeln!(
        out,
        "calls sent: {sent} of {}; final state: {}",
        END_MS / STEP_MS,
        breaker.state().name()
    );
    Ok(out)
}

/// A line for each change of state: when, the new state, and why.
fn note(out: &mut String, shown: &mut State, now_state: State, now_ms: u64, why: &str) {
    if now_state != *shown {
        *shown = now_state;
        let at = now_ms as f64 / 1e3;
        let _ = writeln!(out, "{at:>5.1} s  {:<9}  {why}", now_state.name());
    }
}

fn main() {
    story::tell(narrative());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_opens_probes_and_closes() {
        let text = narrative().expect("the example's settings are valid");
        print!("{text}");
        let states: Vec<&str> = text
            .lines()
            .filter_map(|l| l.split_whitespace().nth(2))
            .filter(|w| ["open", "half_open", "closed"].contains(w))
            .collect();
        assert_eq!(states.first(), Some(&"open"), "{text}");
        assert_eq!(states.last(), Some(&"closed"), "{text}");
        assert!(states.contains(&"half_open"), "{text}");
        assert!(text.contains("final state: closed"), "{text}");
    }
}

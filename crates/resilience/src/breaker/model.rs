//! Model checks: every interleaving of a few threads on one breaker, explored by loom.
//! Run with `scripts/model-check.sh` (a `--cfg loom` build; the normal test run skips
//! this module).
#![cfg(loom)]

use super::*;
use crate::ManualClock;
use crate::retry::{Backoff, Jitter};
use loom::sync::atomic::AtomicUsize;
use loom::thread;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Opens on one failure, for 10 ms; `probes` probes.
fn tripped(probes: u32) -> (CircuitBreaker<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    let config = BreakerConfig::new()
        .with_trip(Trip::Consecutive(1))
        .with_open_for(
            Backoff::new(ms(10), ms(10), Jitter::None).unwrap_or_else(|_| unreachable!()),
        )
        .with_probes(probes);
    let b = CircuitBreaker::new(config, clock.clone()).unwrap_or_else(|_| unreachable!());
    if let Ok(p) = b.try_acquire() {
        p.failure();
    }
    clock.advance(ms(10));
    (b, clock)
}

#[test]
fn never_more_probes_out_than_allowed_and_cancelled_ones_come_back() {
    loom::model(|| {
        let (b, _clock) = tripped(1);
        let out = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (b, out) = (b.clone(), Arc::clone(&out));
                thread::spawn(move || {
                    if let Ok(p) = b.try_acquire() {
                        assert_eq!(out.fetch_add(1, Ordering::SeqCst), 0, "two probes out");
                        out.fetch_sub(1, Ordering::SeqCst);
                        drop(p);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap_or_else(|_| unreachable!());
        }
        // Every probe was abandoned: the slot is free again.
        assert!(b.try_acquire().is_ok());
    });
}

#[test]
fn a_win_and_a_cancel_racing_lose_neither() {
    loom::model(|| {
        let (b, _clock) = tripped(2);
        let (b1, b2) = (b.clone(), b.clone());
        let won = thread::spawn(move || {
            if let Ok(p) = b1.try_acquire() {
                p.success();
            }
        });
        let cancelled = thread::spawn(move || drop(b2.try_acquire()));
        won.join().unwrap_or_else(|_| unreachable!());
        cancelled.join().unwrap_or_else(|_| unreachable!());
        // One win counted, one slot back: one more success closes the breaker.
        b.try_acquire().unwrap_or_else(|_| unreachable!()).success();
        assert_eq!(b.state(), State::Closed);
    });
}

#[test]
fn failures_racing_open_the_breaker_once() {
    loom::model(|| {
        let clock = ManualClock::new();
        let config = BreakerConfig::new().with_trip(Trip::Consecutive(1));
        let b = CircuitBreaker::new(config, clock).unwrap_or_else(|_| unreachable!());
        let permits_taken: Vec<_> = (0..2)
            .map(|_| {
                let b = b.clone();
                thread::spawn(move || {
                    if let Ok(p) = b.try_acquire() {
                        p.failure();
                    }
                })
            })
            .collect();
        for t in permits_taken {
            t.join().unwrap_or_else(|_| unreachable!());
        }
        assert_eq!(b.state(), State::Open);
        assert_eq!(b.metrics().opened, 1);
    });
}

//! The breaker on virtual time. (Under `--cfg loom` the breaker runs on loom's types,
//! which work only inside a model: then `model.rs` runs instead.)
#![cfg(not(loom))]

use super::*;
use crate::ManualClock;
use crate::retry::{Backoff, Jitter};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Opens after 3 failures in a row; open 1 s, doubling to 8 s, no jitter; 2 probes.
fn breaker(clock: &ManualClock) -> CircuitBreaker<ManualClock> {
    let config = BreakerConfig::new()
        .with_trip(Trip::Consecutive(3))
        .with_open_for(Backoff::new(ms(1_000), ms(8_000), Jitter::None).unwrap())
        .with_probes(2)
        .with_max_half_open(ms(5_000));
    CircuitBreaker::new(config, clock.clone()).unwrap()
}

fn fail(b: &CircuitBreaker<ManualClock>, times: usize) {
    for _ in 0..times {
        b.try_acquire().unwrap().failure();
    }
}

#[test]
fn it_opens_rejects_with_the_wait_then_probes_and_closes() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    fail(&b, 3);
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(ms(1_000)));
    clock.advance(ms(400));
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(ms(600)));
    clock.advance(ms(600));
    let p1 = b.try_acquire().unwrap();
    assert_eq!(b.state(), State::HalfOpen);
    let p2 = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err(), "only two probes");
    p1.success();
    assert_eq!(b.state(), State::HalfOpen);
    p2.success();
    assert_eq!(b.state(), State::Closed);
    assert_eq!(b.metrics(), BreakerMetrics { opened: 1 });
    // Closed again with a clean slate: two failures do not reopen it.
    fail(&b, 2);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_failed_probe_reopens_for_longer() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    fail(&b, 3);
    clock.advance(ms(1_000));
    b.try_acquire().unwrap().failure();
    assert_eq!(b.state(), State::Open);
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(ms(2_000)));
    clock.advance(ms(2_000));
    b.try_acquire().unwrap().failure();
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(ms(4_000)));
}

#[test]
fn a_dropped_probe_frees_its_slot_and_a_stale_result_is_ignored() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    // A call that starts while closed and reports only after the breaker opened.
    let late = b.try_acquire().unwrap();
    fail(&b, 3);
    late.failure();
    clock.advance(ms(1_000));
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    drop(p2);
    let p3 = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err(), "two probes out again");
    p1.success();
    p3.success();
    assert_eq!(b.state(), State::Closed);
    // Its failure counted for nothing: one opening only.
    assert_eq!(b.metrics().opened, 1);
}

#[test]
fn half_open_too_long_reopens() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    fail(&b, 3);
    clock.advance(ms(1_000));
    let stuck = b.try_acquire().unwrap();
    let _also = b.try_acquire().unwrap();
    assert_eq!(b.try_acquire().unwrap_err().retry_after, Some(ms(5_000)));
    clock.advance(ms(5_001));
    assert!(b.try_acquire().is_err());
    assert_eq!(b.state(), State::Open);
    // The stuck probe's late success belongs to the old generation.
    stuck.success();
    assert_eq!(b.state(), State::Open);
}

#[test]
fn exactly_n_probes_across_64_threads() {
    let clock = ManualClock::new();
    let config = BreakerConfig::new()
        .with_trip(Trip::Consecutive(1))
        .with_open_for(Backoff::new(ms(10), ms(10), Jitter::None).unwrap())
        .with_probes(5);
    let b = CircuitBreaker::new(config, clock.clone()).unwrap();
    b.try_acquire().unwrap().failure();
    clock.advance(ms(10));
    for round in 0..2 {
        let barrier = std::sync::Barrier::new(64);
        let granted = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..64 {
                s.spawn(|| {
                    barrier.wait();
                    let mut held = Vec::new();
                    for _ in 0..100 {
                        if let Ok(p) = b.try_acquire() {
                            held.push(p);
                        }
                    }
                    granted.fetch_add(held.len() as u32, Ordering::Relaxed);
                    // Keep them until every thread has tried, then abandon them.
                    barrier.wait();
                });
            }
        });
        assert_eq!(granted.load(Ordering::Relaxed), 5, "round {round}");
        assert_eq!(b.state(), State::HalfOpen);
    }
}

#[test]
fn failure_and_slow_rates_over_a_count_window() {
    let clock = ManualClock::new();
    let config = BreakerConfig::new().with_trip(Trip::Rates {
        window: Window::Count(10),
        min_calls: 10,
        failure_rate: 0.5,
        slow: Some(SlowCalls {
            after: ms(100),
            rate: 0.3,
        }),
    });
    let b = CircuitBreaker::new(config, clock.clone()).unwrap();
    for i in 0..9 {
        let p = b.try_acquire().unwrap();
        if i < 3 {
            clock.advance(ms(150));
        }
        p.success();
    }
    assert_eq!(b.state(), State::Closed, "nine calls: below the minimum");
    b.try_acquire().unwrap().success();
    assert_eq!(b.state(), State::Open, "3 of 10 slow");
}

#[test]
fn overrides_disable_force_or_only_watch() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    b.set_mode(Mode::Disabled);
    fail(&b, 10);
    assert_eq!(b.state(), State::Closed, "disabled: nothing counted");
    b.set_mode(Mode::ForcedOpen);
    assert_eq!(b.try_acquire().unwrap_err(), Rejected { retry_after: None });
    b.set_mode(Mode::MetricsOnly);
    fail(&b, 3);
    assert_eq!(b.state(), State::Open, "counted and opened");
    assert!(b.try_acquire().is_ok(), "but lets calls through");
    b.set_mode(Mode::Normal);
    assert!(b.try_acquire().is_err());
}

/// Poll a future that is ready at once.
fn ready<T>(f: impl std::future::Future<Output = T>) -> T {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(t) => t,
        std::task::Poll::Pending => unreachable!("only ready futures here"),
    }
}

#[test]
fn the_async_call_classifies_results() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    // An Ok(0) counts as a failure by this classification.
    for _ in 0..3 {
        assert_eq!(
            ready(b.call(async { Ok::<u32, &str>(0) }, |r| r == &Ok(0))),
            Ok(0)
        );
    }
    let rejected = ready(b.call(async { Ok::<u32, &str>(1) }, |r| r.is_err()));
    assert!(matches!(rejected, Err(CallError::Rejected(_))));
}

#[test]
fn bad_settings_are_errors() {
    let clock = ManualClock::new();
    let bad = |c: BreakerConfig| CircuitBreaker::new(c, clock.clone()).unwrap_err();
    assert_eq!(
        bad(BreakerConfig::new().with_probes(0)),
        ConfigError::Zero { name: "probes" }
    );
    assert!(matches!(
        bad(BreakerConfig::new().with_probes(256)),
        ConfigError::OutOfRange { .. }
    ));
    assert_eq!(
        bad(BreakerConfig::new().with_trip(Trip::Consecutive(0))),
        ConfigError::Zero {
            name: "consecutive failures"
        }
    );
    let rates = |window, min_calls, failure_rate| Trip::Rates {
        window,
        min_calls,
        failure_rate,
        slow: None,
    };
    assert!(matches!(
        bad(BreakerConfig::new().with_trip(rates(Window::Count(10), 20, 0.5))),
        ConfigError::Inconsistent(_)
    ));
    assert!(matches!(
        bad(BreakerConfig::new().with_trip(rates(Window::Count(10), 5, 1.5))),
        ConfigError::OutOfRange { .. }
    ));
    assert!(matches!(
        bad(BreakerConfig::new().with_trip(rates(Window::Count(0), 5, 0.5))),
        ConfigError::Zero { .. }
    ));
    assert!(matches!(
        bad(BreakerConfig::new().with_trip(rates(
            Window::Time {
                span: ms(0),
                buckets: 4
            },
            5,
            0.5
        ))),
        ConfigError::Zero { .. }
    ));
    assert!(matches!(
        bad(BreakerConfig::new().with_max_half_open(ms(0))),
        ConfigError::Zero { .. }
    ));
}

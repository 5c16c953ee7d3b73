//! The algorithms against a modelled dependency, on virtual time: each round, as many
//! calls as the limit allows (or the demand asks) go out together; each takes the
//! dependency's base time, stretched in proportion once more than its capacity are in
//! flight, and is dropped past the timeout.

use super::*;
use crate::ManualClock;
use proptest::prelude::*;

#[derive(Clone, Copy)]
struct Dependency {
    capacity: u32,
    base_ms: f64,
    timeout_ms: f64,
}

impl Dependency {
    const HEALTHY: Dependency = Dependency {
        capacity: 50,
        base_ms: 10.0,
        timeout_ms: 100.0,
    };

    fn call(&self, in_flight: u32) -> (Duration, bool) {
        let stretch = (f64::from(in_flight) / f64::from(self.capacity)).max(1.0);
        let rtt = self.base_ms * stretch;
        if rtt > self.timeout_ms {
            (Duration::from_secs_f64(self.timeout_ms / 1e3), true)
        } else {
            (Duration::from_secs_f64(rtt / 1e3), false)
        }
    }
}

/// Run `rounds` rounds; the limit after each, apart from probes (a round that ends with
/// the limit lowered to probe the no-load time shows the limit it will resume).
fn drive(
    algo: &mut Windowed<Box<dyn LimitAlgorithm>>,
    dep: Dependency,
    demand: u32,
    rounds: usize,
) -> Vec<u32> {
    (0..rounds)
        .map(|_| {
            let in_flight = algo.limit().min(demand);
            let (rtt, dropped) = dep.call(in_flight);
            for _ in 0..in_flight {
                algo.record(Sample {
                    rtt,
                    in_flight,
                    dropped,
                });
            }
            algo.algorithm().probing().unwrap_or(algo.limit())
        })
        .collect()
}

fn bounds() -> Bounds {
    Bounds::new(20, 1, 2_000).unwrap()
}

fn algorithms() -> Vec<(&'static str, Windowed<Box<dyn LimitAlgorithm>>)> {
    let all: [(&'static str, Box<dyn LimitAlgorithm>); 3] = [
        ("aimd", Box::new(Aimd::new(bounds(), 0.9).unwrap())),
        ("vegas", Box::new(Vegas::new(bounds(), 20).unwrap())),
        (
            "gradient",
            Box::new(Gradient::new(bounds(), 1.5, 0.2, 60).unwrap()),
        ),
    ];
    all.into_iter()
        .map(|(name, a)| (name, Windowed::new(a)))
        .collect()
}

const MANY: u32 = 100_000;

#[test]
fn each_finds_a_limit_that_keeps_calls_from_timing_out() {
    // The dependency serves 50 at 10 ms; past 500 in flight calls time out. AIMD hears
    // only the timeouts, so it settles below 500; the latency-led ones settle near 50.
    for (name, mut algo) in algorithms() {
        let limits = drive(&mut algo, Dependency::HEALTHY, MANY, 400);
        let settled = &limits[300..];
        let (lo, hi) = (settled.iter().min().unwrap(), settled.iter().max().unwrap());
        let ceiling = if name == "aimd" { 500 } else { 150 };
        assert!(*lo >= 25 && *hi <= ceiling, "{name}: {lo}..{hi}");
    }
}

#[test]
fn each_recovers_after_an_overload_ends() {
    let degraded = Dependency {
        capacity: 2,
        ..Dependency::HEALTHY
    };
    for (name, mut algo) in algorithms() {
        drive(&mut algo, Dependency::HEALTHY, MANY, 200);
        let during = drive(&mut algo, degraded, MANY, 200);
        // Past 20 in flight, every call to the degraded dependency times out.
        assert!(
            *during.last().unwrap() <= 20,
            "{name} under overload: {during:?}"
        );
        let after = drive(&mut algo, Dependency::HEALTHY, MANY, 200);
        assert!(
            after[150..].iter().all(|&l| l >= 25),
            "{name} after: {after:?}"
        );
    }
}

#[test]
fn a_limit_not_in_use_does_not_grow() {
    for (name, mut algo) in algorithms() {
        let before = *drive(&mut algo, Dependency::HEALTHY, MANY, 300)
            .last()
            .unwrap();
        // Load drops to 3 calls at a time: fast replies, but they say nothing about more.
        let quiet = drive(&mut algo, Dependency::HEALTHY, 3, 1_000);
        assert!(
            quiet.iter().all(|&l| l <= before),
            "{name}: {before} then {quiet:?}"
        );
        // And when load returns, the limit is where it was, not inflated.
        let back = drive(&mut algo, Dependency::HEALTHY, MANY, 300);
        assert!(back[250..].iter().all(|&l| l >= 25), "{name}: {back:?}");
    }
}

#[test]
fn steady_timeouts_never_raise_the_limit() {
    for (name, mut algo) in algorithms() {
        let mut algo_limit = algo.limit();
        for (i, _) in (0..5_000).enumerate() {
            let limit = algo.record(Sample {
                rtt: Duration::from_millis(100),
                in_flight: algo_limit,
                dropped: true,
            });
            assert!(limit <= algo_limit, "{name} grew at sample {i}");
            algo_limit = limit;
        }
        assert_eq!(algo_limit, 1, "{name}");
    }
}

#[test]
fn a_lasting_rise_in_base_latency_does_not_pin_the_limit_at_its_minimum() {
    // The dependency serves 300 at once; then every call takes five times as long, for
    // good (a slower disk, a longer route). A baseline that never learnt the new times
    // would read a standing queue forever and hold the limit at its minimum.
    let before = Dependency {
        capacity: 300,
        base_ms: 10.0,
        timeout_ms: 1_000.0,
    };
    let slower = Dependency {
        base_ms: 50.0,
        ..before
    };
    for (name, mut algo) in algorithms() {
        let settled = drive(&mut algo, before, MANY, 300);
        assert!(
            settled[250..].iter().all(|&l| l >= 150),
            "{name}: {settled:?}"
        );
        let after = drive(&mut algo, slower, MANY, 600);
        assert!(after[500..].iter().all(|&l| l >= 150), "{name}: {after:?}");
    }
}

#[test]
fn bad_configuration_is_an_error() {
    assert_eq!(
        Bounds::new(1, 0, 5),
        Err(ConfigError::Zero { name: "min limit" })
    );
    assert!(matches!(
        Bounds::new(10, 20, 30),
        Err(ConfigError::Inconsistent(_))
    ));
    assert!(Bounds::new(40, 20, 30).is_err());
    for bad in [0.0, 1.0, -0.5, f64::NAN] {
        assert!(Aimd::new(bounds(), bad).is_err(), "{bad}");
        assert!(Gradient::new(bounds(), 1.5, bad, 600).is_err(), "{bad}");
    }
    assert!(Gradient::new(bounds(), 0.9, 0.2, 600).is_err());
    assert!(Gradient::new(bounds(), f64::INFINITY, 0.2, 600).is_err());
    assert_eq!(
        Gradient::new(bounds(), 1.5, 0.2, 0).err(),
        Some(ConfigError::Zero { name: "window" })
    );
    assert!(Vegas::new(bounds(), 0).is_err());
    assert!(Vegas::new(bounds(), 1).is_err());
}

#[test]
fn the_limiter_admits_up_to_the_limit_and_learns_from_each_window() {
    let clock = ManualClock::new();
    let limiter = AdaptiveLimiter::new(
        Aimd::new(Bounds::new(1, 1, 10).unwrap(), 0.5).unwrap(),
        clock.clone(),
    );
    let other = limiter.clone();
    let a = limiter.try_acquire().unwrap();
    assert_eq!(other.try_acquire().err(), Some(Overloaded { limit: 1 }));
    clock.advance(Duration::from_millis(5));
    a.success();
    // A window of one call, at the limit: in use, so it grows by one.
    assert_eq!(limiter.limit(), 2);
    let a = limiter.try_acquire().unwrap();
    let b = other.try_acquire().unwrap();
    assert_eq!(limiter.try_acquire().err(), Some(Overloaded { limit: 2 }));
    drop(b);
    assert_eq!(
        limiter.in_flight(),
        1,
        "a token dropped unfinished frees its place"
    );
    a.dropped();
    assert_eq!(limiter.limit(), 2, "half a window: no revision yet");
    limiter.try_acquire().unwrap().dropped();
    assert_eq!(limiter.limit(), 1);
    let d = limiter.try_acquire().unwrap();
    assert!(other.try_acquire().is_err());
    d.ignore();
    assert_eq!((limiter.limit(), limiter.in_flight()), (1, 0));
}

#[test]
fn the_limiter_never_lets_more_than_the_limit_in_across_threads() {
    let limiter = AdaptiveLimiter::new(
        Aimd::new(Bounds::new(8, 8, 8).unwrap(), 0.9).unwrap(),
        ManualClock::new(),
    );
    let peak = std::sync::atomic::AtomicU32::new(0);
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                for _ in 0..2_000 {
                    if let Ok(t) = limiter.try_acquire() {
                        peak.fetch_max(limiter.in_flight(), std::sync::atomic::Ordering::Relaxed);
                        t.success();
                    }
                }
            });
        }
    });
    assert!(peak.into_inner() <= 8);
    assert_eq!(limiter.in_flight(), 0);
}

proptest! {
    /// Whatever the samples, every algorithm keeps its limit within bounds, and a drop
    /// never raises it — but for the end of a Vegas probe, which hands back the limit it
    /// lowered, and then no higher than before the probe.
    #[test]
    fn limits_stay_in_bounds_and_drops_never_raise_them(
        samples in proptest::collection::vec((0u64..200_000, 1u32..300, proptest::bool::weighted(0.2)), 1..400),
    ) {
        for (name, mut algo) in algorithms() {
            for &(rtt_us, in_flight, dropped) in &samples {
                let (before, resume) = (algo.limit(), algo.algorithm().probing());
                let after = algo.record(Sample { rtt: Duration::from_micros(rtt_us), in_flight, dropped });
                prop_assert!((1..=2_000).contains(&after), "{name}: {after}");
                let ceiling = resume.unwrap_or(before);
                prop_assert!(!dropped || after <= ceiling, "{name}: {before} -> {after} on a drop");
            }
        }
    }
}

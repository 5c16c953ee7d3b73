//! dsys-resilience against its peers, in one run: the circuit breaker against failsafe,
//! the GCRA limiter against governor.
//!
//! cargo bench -p dsys-resilience --bench resilience

use divan::Bencher;
use dsys_resilience::SystemClock;
use dsys_resilience::breaker::{BreakerConfig, CircuitBreaker, Trip};
use dsys_resilience::rate::{Gcra, Limiter, Quota};
use dsys_resilience::retry::{Backoff, Jitter};
use std::num::NonZeroU32;
use std::time::Duration;

/// Counts allocations per benchmark (divan reports them beside the times): the closed
/// breaker's call must make none.
#[global_allocator]
static ALLOC: divan::AllocProfiler = divan::AllocProfiler::system();

fn main() {
    divan::main();
}

fn consecutive_breaker() -> CircuitBreaker<SystemClock> {
    let config = BreakerConfig::new()
        .with_trip(Trip::Consecutive(5))
        .with_open_for(
            Backoff::new(
                Duration::from_secs(3_600),
                Duration::from_secs(3_600),
                Jitter::None,
            )
            .expect("valid"),
        );
    CircuitBreaker::new(config, SystemClock::new()).expect("valid")
}

/// failsafe's breaker with the same policy: open after 5 failures in a row, for an hour.
fn failsafe_breaker() -> impl failsafe::CircuitBreaker {
    failsafe::Config::new()
        .failure_policy(failsafe::failure_policy::consecutive_failures(
            5,
            failsafe::backoff::constant(Duration::from_secs(3_600)),
        ))
        .build()
}

/// A successful call through a closed breaker (consecutive-failure mode).
#[divan::bench(threads = [1, 2], sample_size = 10_000)]
fn breaker_closed_call_dsys(bencher: Bencher) {
    let b = consecutive_breaker();
    bencher.bench(|| b.try_acquire().map(|p| p.success()).is_ok());
}

#[divan::bench(threads = [1, 2], sample_size = 10_000)]
fn breaker_closed_call_failsafe(bencher: Bencher) {
    use failsafe::CircuitBreaker as _;
    let b = failsafe_breaker();
    bencher.bench(|| b.call(|| Ok::<(), ()>(())).is_ok());
}

/// A call rejected by an open breaker.
#[divan::bench(threads = [1, 2], sample_size = 10_000)]
fn breaker_open_reject_dsys(bencher: Bencher) {
    let b = consecutive_breaker();
    for _ in 0..5 {
        b.try_acquire().expect("closed").failure();
    }
    bencher.bench(|| b.try_acquire().is_err());
}

#[divan::bench(threads = [1, 2], sample_size = 10_000)]
fn breaker_open_reject_failsafe(bencher: Bencher) {
    use failsafe::CircuitBreaker as _;
    let b = failsafe_breaker();
    for _ in 0..5 {
        let _ = b.call(|| Err::<(), ()>(()));
    }
    bencher.bench(|| b.call(|| Ok::<(), ()>(())).is_err());
}

/// One admitted GCRA check (a limit far above the benchmark's rate).
#[divan::bench(threads = [1, 2], sample_size = 10_000)]
fn gcra_check_dsys(bencher: Bencher) {
    let g = Gcra::new(
        Quota::new(Duration::from_nanos(1), 1 << 20).expect("valid"),
        SystemClock::new(),
    );
    bencher.bench(|| g.check().is_ok());
}

#[divan::bench(threads = [1, 2], sample_size = 10_000)]
fn gcra_check_governor(bencher: Bencher) {
    let quota = governor::Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"))
        .allow_burst(NonZeroU32::new(1 << 20).expect("non-zero"));
    let g = governor::RateLimiter::direct(quota);
    bencher.bench(|| g.check().is_ok());
}

/// Keys the keyed benchmarks spread over, all remembered before timing starts.
const KEYS: u64 = 1 << 20;

/// The i-th key of a fixed pseudo-random walk over `KEYS` keys.
fn key(i: u64) -> u64 {
    (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 7) % KEYS
}

/// A keyed check, 1M keys remembered, keys in pseudo-random order.
#[divan::bench(sample_size = 10_000)]
fn keyed_check_dsys(bencher: Bencher) {
    use dsys_resilience::rate::KeyedGcra;
    let quota = Quota::new(Duration::from_nanos(1), 1 << 20).expect("valid");
    let l = KeyedGcra::new(quota, KEYS as usize, SystemClock::new()).expect("valid");
    for k in 0..KEYS {
        let _ = l.check(&k);
    }
    let mut i = 0u64;
    bencher.bench_local(|| {
        i += 1;
        l.check(&key(i)).is_ok()
    });
}

#[divan::bench(sample_size = 10_000)]
fn keyed_check_governor(bencher: Bencher) {
    let quota = governor::Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"))
        .allow_burst(NonZeroU32::new(1 << 20).expect("non-zero"));
    let l = governor::RateLimiter::keyed(quota);
    for k in 0..KEYS {
        let _ = l.check_key(&k);
    }
    let mut i = 0u64;
    bencher.bench_local(|| {
        i += 1;
        l.check_key(&key(i)).is_ok()
    });
}

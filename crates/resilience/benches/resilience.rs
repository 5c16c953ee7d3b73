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

/// How often the coarse clocks of both limiters are refreshed.
const COARSE: Duration = Duration::from_micros(100);

/// One admitted GCRA check with time read from memory (a refresh thread per clock).
#[divan::bench(threads = [1, 2], sample_size = 10_000)]
fn gcra_check_coarse_dsys(bencher: Bencher) {
    let g = Gcra::new(
        Quota::new(Duration::from_nanos(1), 1 << 20).expect("valid"),
        dsys_resilience::CoarseClock::new(COARSE).expect("clock"),
    );
    bencher.bench(|| g.check().is_ok());
}

#[divan::bench(threads = [1, 2], sample_size = 10_000)]
fn gcra_check_coarse_governor(bencher: Bencher) {
    let quota = governor::Quota::per_second(NonZeroU32::new(1_000_000_000).expect("non-zero"))
        .allow_burst(NonZeroU32::new(1 << 20).expect("non-zero"));
    let clock = governor::clock::QuantaUpkeepClock::from_interval(COARSE).expect("clock");
    let g = governor::RateLimiter::direct_with_clock(quota, clock);
    bencher.bench(|| g.check().is_ok());
}

/// Reading each clock.
#[divan::bench]
fn clock_read_system(bencher: Bencher) {
    use dsys_resilience::Clock;
    let c = SystemClock::new();
    bencher.bench(|| c.now_nanos());
}

#[divan::bench]
fn clock_read_coarse(bencher: Bencher) {
    use dsys_resilience::Clock;
    let c = dsys_resilience::CoarseClock::new(COARSE).expect("clock");
    bencher.bench(|| c.now_nanos());
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
    // Room for a quarter more keys than the walk uses, so no shard reaches its share of
    // the bound and every key stays remembered (checked below), as in governor's
    // unbounded map.
    let l = KeyedGcra::new(quota, (KEYS + KEYS / 4) as usize, SystemClock::new()).expect("valid");
    for k in 0..KEYS {
        let _ = l.check(&k);
    }
    assert_eq!(l.len(), KEYS as usize, "every key remembered");
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

// ---- tower layers ---------------------------------------------------------------------

/// The cheapest service: answers at once, never fails.
#[derive(Clone, Copy)]
struct Echo;

impl tower::Service<u64> for Echo {
    type Response = u64;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<u64, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u64) -> Self::Future {
        std::future::ready(Ok(req))
    }
}

/// One call as a caller makes it: `poll_ready`, `call`, and the response future polled
/// to its end (all of them ready at once). Whether it succeeded.
fn call_once<S: tower::Service<u64, Response = u64>>(svc: &mut S) -> bool {
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    if !matches!(svc.poll_ready(&mut cx), Poll::Ready(Ok(()))) {
        return false;
    }
    let fut = std::pin::pin!(svc.call(1));
    matches!(fut.poll(&mut cx), Poll::Ready(Ok(1)))
}

/// A call through a concurrency limit of 1,024 (never reached): our bulkhead layer
/// against tower's `ConcurrencyLimit`.
#[divan::bench(sample_size = 10_000)]
fn concurrency_limit_call_dsys(bencher: Bencher) {
    use dsys_resilience::bulkhead::Bulkhead;
    use dsys_resilience::layer::{BulkheadLayer, Layer};
    let mut svc = BulkheadLayer::new(Bulkhead::new(1_024, 0).expect("valid")).layer(Echo);
    bencher.bench_local(|| call_once(&mut svc));
}

#[divan::bench(sample_size = 10_000)]
fn concurrency_limit_call_tower(bencher: Bencher) {
    use tower::Layer;
    let mut svc = tower::limit::ConcurrencyLimitLayer::new(1_024).layer(Echo);
    bencher.bench_local(|| call_once(&mut svc));
}

/// A call through a rate limit far above the benchmark's rate: our rate-limit layer on
/// GCRA (shared by clones) against tower's `RateLimit` (a counter per service instance,
/// timed by tokio, so it runs inside a runtime).
#[divan::bench(sample_size = 10_000)]
fn rate_limit_call_dsys(bencher: Bencher) {
    use dsys_resilience::layer::{Layer, RateLimitLayer};
    let g = Gcra::new(
        Quota::new(Duration::from_nanos(1), 1 << 20).expect("valid"),
        SystemClock::new(),
    );
    let mut svc = RateLimitLayer::new(g).layer(Echo);
    bencher.bench_local(|| call_once(&mut svc));
}

#[divan::bench(sample_size = 10_000)]
fn rate_limit_call_tower(bencher: Bencher) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _inside = runtime.enter();
    let rate = tower::limit::rate::Rate::new(u64::MAX, Duration::from_secs(1));
    let mut svc = tower::limit::RateLimit::new(Echo, rate);
    bencher.bench_local(|| call_once(&mut svc));
}

/// A call through our breaker and retry layers (tower has neither a breaker nor, in
/// these features, a retry): what each adds to a successful call, and that neither
/// allocates.
#[divan::bench(sample_size = 10_000)]
fn breaker_layer_call_dsys(bencher: Bencher) {
    use dsys_resilience::layer::{CircuitBreakerLayer, Layer};
    let mut svc = CircuitBreakerLayer::new(consecutive_breaker()).layer(Echo);
    bencher.bench_local(|| call_once(&mut svc));
}

#[divan::bench(sample_size = 10_000)]
fn retry_layer_call_dsys(bencher: Bencher) {
    use dsys_resilience::layer::{Layer, RetryLayer};
    use dsys_resilience::retry::Retry;
    let backoff = Backoff::new(
        Duration::from_millis(10),
        Duration::from_secs(1),
        Jitter::Full,
    )
    .expect("valid");
    let policy = Retry::new(backoff, 3, SystemClock::new()).expect("valid");
    let never = |_: Duration| std::future::pending::<()>();
    let mut svc = RetryLayer::new(policy, never).layer(Echo);
    bencher.bench_local(|| call_once(&mut svc));
}

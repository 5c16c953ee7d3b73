//! The cost of choosing an endpoint: dsys's power of two choices over peak EWMA beside
//! tower's own (`tower::balance::p2c` over `tower::load::PeakEwma`), in one run, over
//! ten ready endpoints. Each iteration picks one endpoint and completes a request to it
//! at once, so the latency estimates and requests in flight stay live in both.
//!
//! cargo bench -p dsys-discovery --bench balance

use divan::Bencher;
use dsys_discovery::balance::{Balancer, Policy, Settings};
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tower::Service;
use tower::balance::p2c::Balance;
use tower::discover::ServiceList;
use tower::load::{CompleteOnResponse, PeakEwma};

fn main() {
    divan::main();
}

const ENDPOINTS: usize = 10;

/// dsys: pick, then finish the request a microsecond later. On the real clock, read
/// once per pick, as tower's balancer reads it.
#[divan::bench(sample_size = 10_000)]
#[allow(clippy::disallowed_methods)] // the real clock: a benchmark, not the simulated world
fn dsys_p2c_peak_ewma(bencher: Bencher) {
    let mut balancer: Balancer<usize> =
        Balancer::new(Settings::new(Policy::PeakEwma)).expect("settings");
    for id in 0..ENDPOINTS {
        balancer.insert(id, 0);
    }
    let start = Instant::now();
    let mut state = 0x5eed_u64;
    bencher.bench_local(|| {
        let now = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        let id = balancer
            .pick(now, || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            })
            .expect("an endpoint");
        balancer.finish(&id, Duration::from_micros(1), now + 1_000);
        id
    });
}

/// An endpoint that answers at once.
#[derive(Clone, Copy)]
struct Answer(usize);

impl Service<()> for Answer {
    type Response = usize;
    type Error = Infallible;
    type Future = std::future::Ready<Result<usize, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, (): ()) -> Self::Future {
        std::future::ready(Ok(self.0))
    }
}

/// tower: `poll_ready` (where p2c picks), `call`, and the response future driven to its
/// end (which records the latency).
#[divan::bench(sample_size = 10_000)]
fn tower_p2c_peak_ewma(bencher: Bencher) {
    let endpoints = (0..ENDPOINTS).map(|i| {
        PeakEwma::new(
            Answer(i),
            Duration::from_millis(30),
            Duration::from_secs(10).as_nanos() as f64,
            CompleteOnResponse::default(),
        )
    });
    let mut balance: Balance<_, ()> = Balance::new(ServiceList::new(endpoints));
    let mut cx = Context::from_waker(Waker::noop());
    bencher.bench_local(|| {
        match balance.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => {}
            _ => unreachable!("every endpoint is ready"),
        }
        let future = pin!(balance.call(()));
        match future.poll(&mut cx) {
            Poll::Ready(Ok(id)) => id,
            _ => unreachable!("the endpoint answers at once"),
        }
    });
}

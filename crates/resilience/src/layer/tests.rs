use super::*;
use crate::ManualClock;
use crate::adaptive::{Aimd, Bounds};
use crate::breaker::{BreakerConfig, State, Trip};
use crate::bulkhead::BulkheadError;
use crate::rate::{Gcra, Quota};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

/// A backend that counts its calls, fails while `fail` is set, and never answers while
/// `hang` is set.
#[derive(Clone, Default)]
struct Backend {
    calls: Arc<AtomicU32>,
    fail: Arc<AtomicBool>,
    hang: Arc<AtomicBool>,
    /// Calls still to fail before `fail` decides again.
    fail_next: Arc<AtomicU32>,
}

type Reply = Pin<Box<dyn Future<Output = Result<u32, &'static str>> + Send>>;

impl Service<u32> for Backend {
    type Response = u32;
    type Error = &'static str;
    type Future = Reply;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: u32) -> Reply {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if self.hang.load(Ordering::SeqCst) {
            return Box::pin(std::future::pending());
        }
        let fail = self.fail.load(Ordering::SeqCst)
            || self
                .fail_next
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_ok();
        Box::pin(std::future::ready(if fail {
            Err("backend failed")
        } else {
            Ok(req)
        }))
    }
}

fn cx() -> Context<'static> {
    Context::from_waker(std::task::Waker::noop())
}

/// `poll_ready` then `call`, polled once.
fn call<S: Service<u32, Error = BoxError>>(
    svc: &mut S,
    req: u32,
) -> Poll<Result<S::Response, BoxError>> {
    match svc.poll_ready(&mut cx()) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
        Poll::Pending => return Poll::Pending,
    }
    let mut fut = std::pin::pin!(svc.call(req));
    fut.as_mut().poll(&mut cx())
}

fn refusal<T: std::error::Error + 'static>(p: Poll<Result<u32, BoxError>>) -> bool {
    matches!(p, Poll::Ready(Err(e)) if e.is::<T>())
}

fn breaker(clock: &ManualClock) -> CircuitBreaker<ManualClock> {
    let config = BreakerConfig {
        trip: Trip::Consecutive(2),
        probes: 1,
        ..BreakerConfig::default()
    };
    CircuitBreaker::new(config, clock.clone()).unwrap()
}

#[test]
fn the_breaker_layer_opens_on_failures_and_spares_the_backend() {
    let clock = ManualClock::new();
    let backend = Backend::default();
    let mut svc = CircuitBreakerLayer::new(breaker(&clock)).layer(backend.clone());
    assert!(matches!(call(&mut svc, 1), Poll::Ready(Ok(1))));
    backend.fail.store(true, Ordering::SeqCst);
    for _ in 0..2 {
        assert!(
            matches!(call(&mut svc, 1), Poll::Ready(Err(e)) if e.to_string() == "backend failed")
        );
    }
    let before = backend.calls.load(Ordering::SeqCst);
    assert!(refusal::<Rejected>(call(&mut svc, 1)));
    assert_eq!(
        backend.calls.load(Ordering::SeqCst),
        before,
        "not called while open"
    );
}

#[test]
fn an_abandoned_probe_through_the_layer_frees_its_slot() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let backend = Backend::default();
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(backend.clone());
    backend.fail.store(true, Ordering::SeqCst);
    let _ = call(&mut svc, 1);
    let _ = call(&mut svc, 1);
    assert_eq!(b.state(), State::Open);
    clock.advance(Duration::from_secs(3_600));
    backend.fail.store(false, Ordering::SeqCst);
    backend.hang.store(true, Ordering::SeqCst);
    // The probe hangs and its caller gives up (call polls once, then drops it).
    assert!(call(&mut svc, 1).is_pending());
    backend.hang.store(false, Ordering::SeqCst);
    // Its slot came back: the next call is a probe, and closes the breaker.
    assert!(matches!(call(&mut svc, 2), Poll::Ready(Ok(2))));
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_classifier_can_count_an_ok_as_a_failure() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let layer = CircuitBreakerLayer::new(b.clone())
        .classify(|r: &Result<u32, &'static str>| matches!(r, Ok(503) | Err(_)));
    let mut svc = layer.layer(Backend::default());
    let _ = call(&mut svc, 503);
    let _ = call(&mut svc, 503);
    assert_eq!(b.state(), State::Open);
}

#[test]
fn the_rate_limit_layer_refuses_past_the_burst() {
    let clock = ManualClock::new();
    let gcra = Gcra::new(
        Quota::new(Duration::from_secs(1), 2).unwrap(),
        clock.clone(),
    );
    let layer = RateLimitLayer::new(gcra);
    let mut a = layer.layer(Backend::default());
    let mut b = layer.layer(Backend::default());
    assert!(matches!(call(&mut a, 1), Poll::Ready(Ok(1))));
    assert!(matches!(call(&mut b, 1), Poll::Ready(Ok(1))));
    // Two services from one layer share one limit.
    assert!(refusal::<Denied>(call(&mut a, 1)));
    clock.advance(Duration::from_secs(1));
    assert!(matches!(call(&mut b, 1), Poll::Ready(Ok(1))));
}

#[test]
fn the_bulkhead_layer_holds_a_slot_until_the_call_ends() {
    let backend = Backend::default();
    let layer = BulkheadLayer::new(Bulkhead::new(1, 0).unwrap());
    let mut a = layer.layer(backend.clone());
    let mut b = a.clone();
    backend.hang.store(true, Ordering::SeqCst);
    assert!(a.poll_ready(&mut cx()).is_ready());
    let mut running = Box::pin(a.call(1));
    assert!(running.as_mut().poll(&mut cx()).is_pending());
    // The one slot is taken and nobody may queue: refused at once.
    assert!(matches!(b.poll_ready(&mut cx()), Poll::Ready(Err(e)) if e.is::<BulkheadError>()));
    drop(running);
    backend.hang.store(false, Ordering::SeqCst);
    assert!(matches!(call(&mut b, 7), Poll::Ready(Ok(7))));
    // Called without poll_ready: refused, not a panic.
    assert!(matches!(
        Pin::new(&mut b.call(1)).poll(&mut cx()),
        Poll::Ready(Err(_))
    ));
}

#[test]
fn the_adaptive_layer_keeps_calls_within_the_limit() {
    let clock = ManualClock::new();
    let limiter = AdaptiveLimiter::new(
        Aimd::new(Bounds::new(1, 1, 10).unwrap(), 0.5).unwrap(),
        clock.clone(),
    );
    let backend = Backend::default();
    let layer = AdaptiveLimitLayer::new(limiter.clone());
    let mut a = layer.layer(backend.clone());
    backend.hang.store(true, Ordering::SeqCst);
    assert!(a.poll_ready(&mut cx()).is_ready());
    let mut running = Box::pin(a.call(1));
    assert!(running.as_mut().poll(&mut cx()).is_pending());
    assert!(refusal::<Overloaded>(call(&mut a, 2)));
    drop(running);
    assert_eq!(limiter.in_flight(), 0);
    backend.hang.store(false, Ordering::SeqCst);
    // A success at the limit raises it.
    assert!(matches!(call(&mut a, 3), Poll::Ready(Ok(3))));
    assert_eq!(limiter.limit(), 2);
}

#[test]
fn the_admission_layer_throttles_a_failing_backend() {
    let clock = ManualClock::new();
    let admission =
        SuccessRatioAdmission::new(2.0, 0.9, Duration::from_secs(10), 10, 1, clock.clone())
            .unwrap();
    let backend = Backend::default();
    backend.fail.store(true, Ordering::SeqCst);
    let mut svc = AdmissionLayer::new(admission.clone()).layer(backend.clone());
    let throttled = (0..200)
        .filter(|_| refusal::<Throttled>(call(&mut svc, 1)))
        .count();
    assert!(throttled > 100, "{throttled}");
    assert_eq!(
        backend.calls.load(Ordering::SeqCst) as usize + throttled,
        200
    );
}

#[test]
fn the_timeout_layer_gives_up_on_a_hanging_call() {
    use crate::timeout::Elapsed;
    let backend = Backend::default();
    // A timer that has already run out: a call that answers at once still wins (it is
    // polled first), one that hangs times out.
    let layer = TimeoutLayer::new(Duration::from_millis(50), |_| std::future::ready(()));
    let mut svc = layer.layer(backend.clone());
    assert!(matches!(call(&mut svc, 4), Poll::Ready(Ok(4))));
    backend.hang.store(true, Ordering::SeqCst);
    match call(&mut svc, 5) {
        Poll::Ready(Err(e)) => {
            assert_eq!(
                e.downcast_ref::<Elapsed>(),
                Some(&Elapsed(Duration::from_millis(50)))
            )
        }
        other => panic!("{other:?}"),
    }
    // A timer still running leaves a hanging call pending.
    let mut patient =
        TimeoutLayer::new(Duration::from_secs(1), |_| std::future::pending::<()>()).layer(backend);
    assert!(call(&mut patient, 6).is_pending());
}

// ---- retry ---------------------------------------------------------------------------

/// A retry policy on `clock`: up to 4 attempts, 100 ms doubling to 1 s, no jitter.
fn retry_policy(clock: &ManualClock) -> crate::retry::Retry<ManualClock> {
    use crate::retry::{Backoff, Jitter, Retry};
    let backoff = Backoff::new(
        Duration::from_millis(100),
        Duration::from_secs(1),
        Jitter::None,
    );
    Retry::new(backoff.unwrap(), 4, clock.clone()).unwrap()
}

/// A sleep on the manual clock that moves it when first polled (a timer that loses its
/// race is never polled, so takes no time).
fn manual_sleep(
    clock: &ManualClock,
) -> impl Fn(Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> + Clone {
    let clock = clock.clone();
    move |d| {
        let clock = clock.clone();
        Box::pin(async move { clock.advance(d) })
    }
}

/// Drive a call to completion when every wait is a manual-clock sleep.
fn call_to_end<S: Service<u32, Error = BoxError>>(
    svc: &mut S,
    req: u32,
) -> Result<S::Response, BoxError> {
    match call(svc, req) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("a wait that is not a clock sleep"),
    }
}

#[test]
fn the_retry_layer_retries_errors_with_backoff_until_one_succeeds() {
    let clock = ManualClock::new();
    let backend = Backend::default();
    backend.fail_next.store(2, Ordering::SeqCst);
    let mut svc =
        RetryLayer::new(retry_policy(&clock), manual_sleep(&clock)).layer(backend.clone());
    assert_eq!(call_to_end(&mut svc, 7).unwrap(), 7);
    assert_eq!(backend.calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        clock.now(),
        Duration::from_millis(300),
        "waited 100 ms, then 200 ms"
    );
}

#[test]
fn the_retry_layer_fails_with_the_last_error_when_out_of_attempts() {
    let clock = ManualClock::new();
    let backend = Backend::default();
    backend.fail.store(true, Ordering::SeqCst);
    let mut svc =
        RetryLayer::new(retry_policy(&clock), manual_sleep(&clock)).layer(backend.clone());
    let err = call_to_end(&mut svc, 1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "backend failed",
        "transparent: the inner error"
    );
    assert_eq!(backend.calls.load(Ordering::SeqCst), 4);
    assert_eq!(clock.now(), Duration::from_millis(700));
}

#[test]
fn the_retry_layer_times_out_hanging_attempts_within_the_deadline() {
    let clock = ManualClock::new();
    let backend = Backend::default();
    backend.hang.store(true, Ordering::SeqCst);
    let policy = retry_policy(&clock)
        .with_attempt_timeout(Duration::from_millis(50))
        .with_deadline(Duration::from_millis(400));
    let mut svc = RetryLayer::new(policy, manual_sleep(&clock)).layer(backend.clone());
    let err = call_to_end(&mut svc, 1).unwrap_err();
    assert_eq!(
        err.downcast_ref::<Elapsed>(),
        Some(&Elapsed(Duration::from_millis(50)))
    );
    // 50 + 100 + 50 + 200 = 400 ms: a third attempt would start at the deadline.
    assert_eq!(backend.calls.load(Ordering::SeqCst), 2);
    assert_eq!(
        clock.now(),
        Duration::from_millis(200),
        "the second wait is not taken"
    );
}

#[test]
fn the_retry_layer_retries_what_its_judge_says_and_honours_retry_after() {
    use crate::retry::RetryDecision;
    let clock = ManualClock::new();
    let backend = Backend::default();
    // Replies of 503 are retried after the 250 ms the "server" asks for.
    let judge = |r: &Result<u32, BoxError>| match r {
        Ok(503) => RetryDecision::RetryAfter(Duration::from_millis(250)),
        _ => RetryDecision::Done,
    };
    let mut svc =
        RetryLayer::when(retry_policy(&clock), judge, manual_sleep(&clock)).layer(backend.clone());
    assert_eq!(
        call_to_end(&mut svc, 503).unwrap(),
        503,
        "the last reply, as it was"
    );
    assert_eq!(backend.calls.load(Ordering::SeqCst), 4);
    // The server's 250 ms, or the backoff's own delay once that is longer: 250, 250, 400.
    assert_eq!(clock.now(), Duration::from_millis(900));
    backend.fail.store(true, Ordering::SeqCst);
    assert!(call_to_end(&mut svc, 1).is_err());
    assert_eq!(
        backend.calls.load(Ordering::SeqCst),
        5,
        "errors are final to this judge"
    );
}

#[test]
fn the_retry_layer_spends_a_shared_budget() {
    use crate::retry::RetryBudget;
    let clock = ManualClock::new();
    let backend = Backend::default();
    backend.fail.store(true, Ordering::SeqCst);
    // Half a retry per request: two failing calls earn one retry between them.
    let budget = RetryBudget::new(0.5, 10, 10).unwrap();
    let layer = RetryLayer::new(
        retry_policy(&clock).with_budget(budget),
        manual_sleep(&clock),
    );
    let mut a = layer.layer(backend.clone());
    let mut b = layer.clone().layer(backend.clone());
    assert!(call_to_end(&mut a, 1).is_err());
    assert!(call_to_end(&mut b, 1).is_err());
    assert_eq!(
        backend.calls.load(Ordering::SeqCst),
        3,
        "two calls and one retry"
    );
}

/// Ready once, then never again (its calls fail): a retry meets a refusal in
/// `poll_ready`.
#[derive(Clone, Default)]
struct ReadyOnce {
    readies: Arc<AtomicU32>,
    calls: Arc<AtomicU32>,
}

impl Service<u32> for ReadyOnce {
    type Response = u32;
    type Error = &'static str;
    type Future = std::future::Ready<Result<u32, &'static str>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), &'static str>> {
        match self.readies.fetch_add(1, Ordering::SeqCst) {
            0 => Poll::Ready(Ok(())),
            _ => Poll::Ready(Err("not ready")),
        }
    }

    fn call(&mut self, _: u32) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::ready(Err("failed"))
    }
}

#[test]
fn a_service_not_ready_for_a_retry_fails_that_attempt() {
    let clock = ManualClock::new();
    let backend = ReadyOnce::default();
    let mut svc =
        RetryLayer::new(retry_policy(&clock), manual_sleep(&clock)).layer(backend.clone());
    let err = call_to_end(&mut svc, 1).unwrap_err();
    assert_eq!(err.to_string(), "not ready");
    assert_eq!(
        backend.calls.load(Ordering::SeqCst),
        1,
        "only the first attempt was made"
    );
    assert_eq!(
        backend.readies.load(Ordering::SeqCst),
        4,
        "and three refused"
    );
}

#[test]
fn a_dropped_retried_call_stops_retrying() {
    let clock = ManualClock::new();
    let backend = Backend::default();
    backend.fail.store(true, Ordering::SeqCst);
    // A sleep that never ends: the call waits after its first failure, then is dropped.
    let never = |_: Duration| std::future::pending::<()>();
    let mut svc = RetryLayer::new(retry_policy(&clock), never).layer(backend.clone());
    assert!(call(&mut svc, 1).is_pending());
    assert_eq!(backend.calls.load(Ordering::SeqCst), 1);
}

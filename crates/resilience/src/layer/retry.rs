//! Retries as a tower layer: a [`Retry`] policy (attempts, backoff, deadline, per-attempt
//! timeout, budget, events) around any service whose requests can be cloned. The steps
//! of an operation are the policy's own, shared with [`Retry::run`]; the future here is a
//! state machine over them, so a call through the layer allocates nothing.
//!
//! The layer is transparent: a call that ends in failure fails with the last attempt's
//! error (or [`Elapsed`] if it ran out of time), as if there had been one attempt.

use super::{BoxError, Layer, Service};
use crate::Clock;
use crate::retry::{Progress, Retry, RetryDecision};
use crate::timeout::Elapsed;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

/// Which outcomes to retry: any `Fn(&Result<T, BoxError>) -> RetryDecision` (a 503 in an `Ok`
/// response, say, or a `Retry-After` read from it), or [`RetryErrors`].
pub trait RetryWhen<T> {
    /// What to do after an attempt ended with `result`.
    fn decide(&self, result: &Result<T, BoxError>) -> RetryDecision;
}

/// Retry every `Err`, never an `Ok`.
#[derive(Clone, Copy, Debug, Default)]
pub struct RetryErrors;

impl<T> RetryWhen<T> for RetryErrors {
    fn decide(&self, result: &Result<T, BoxError>) -> RetryDecision {
        match result {
            Ok(_) => RetryDecision::Done,
            Err(_) => RetryDecision::Retry,
        }
    }
}

impl<T, F: Fn(&Result<T, BoxError>) -> RetryDecision> RetryWhen<T> for F {
    fn decide(&self, result: &Result<T, BoxError>) -> RetryDecision {
        self(result)
    }
}

/// What every call through one layer shares.
#[derive(Debug)]
struct Shared<C, W, Sl> {
    policy: Retry<C>,
    when: W,
    sleep: Sl,
}

/// Calls retried by a [`Retry`] policy; waits (backoff and per-attempt timeouts) on
/// `sleep`, the caller's timer (`tokio::time::sleep`, say), so no runtime is assumed.
#[derive(Debug)]
pub struct RetryLayer<C, W, Sl> {
    shared: Arc<Shared<C, W, Sl>>,
}

impl<C, W, Sl> Clone for RetryLayer<C, W, Sl> {
    fn clone(&self) -> Self {
        RetryLayer {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C, Sl> RetryLayer<C, RetryErrors, Sl> {
    /// Retry errors under `policy`, waiting on `sleep`.
    pub fn new(policy: Retry<C>, sleep: Sl) -> Self {
        RetryLayer::when(policy, RetryErrors, sleep)
    }
}

impl<C, W, Sl> RetryLayer<C, W, Sl> {
    /// Retry what `when` says to under `policy`, waiting on `sleep`.
    pub fn when(policy: Retry<C>, when: W, sleep: Sl) -> Self {
        RetryLayer {
            shared: Arc::new(Shared {
                policy,
                when,
                sleep,
            }),
        }
    }
}

impl<S, C, W, Sl> Layer<S> for RetryLayer<C, W, Sl> {
    type Service = RetryService<S, C, W, Sl>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`RetryLayer`] makes.
#[derive(Debug)]
pub struct RetryService<S, C, W, Sl> {
    inner: S,
    shared: Arc<Shared<C, W, Sl>>,
}

impl<S: Clone, C, W, Sl> Clone for RetryService<S, C, W, Sl> {
    fn clone(&self) -> Self {
        RetryService {
            inner: self.inner.clone(),
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<S, C, W, Sl, SF, Req> Service<Req> for RetryService<S, C, W, Sl>
where
    S: Service<Req> + Clone,
    S::Error: Into<BoxError>,
    Req: Clone,
    C: Clock,
    W: RetryWhen<S::Response>,
    Sl: Fn(Duration) -> SF,
    SF: Future<Output = ()>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = RetryFuture<S, Req, C, W, Sl, S::Future, SF>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        // The service made ready by `poll_ready` makes the first attempt; a clone takes
        // its place for the next caller (tower's rule for a service moved into a future).
        let clone = self.inner.clone();
        let mut service = std::mem::replace(&mut self.inner, clone);
        let shared = Arc::clone(&self.shared);
        let progress = shared.policy.begin();
        let state = attempt(&shared, &progress, service.call(req.clone()));
        RetryFuture {
            service,
            req,
            shared,
            progress,
            state,
        }
    }
}

/// An attempt's future and, if it has a time limit, its timer.
fn attempt<C: Clock, W, Sl, SF, Fut>(
    shared: &Shared<C, W, Sl>,
    progress: &Progress,
    call: Fut,
) -> State<Fut, SF>
where
    Sl: Fn(Duration) -> SF,
{
    let (_, limit) = shared.policy.attempt(progress);
    State::Calling {
        call,
        timer: match limit {
            Some(max) => Timer::On {
                sleep: (shared.sleep)(max),
                max,
            },
            None => Timer::Off,
        },
    }
}

pin_project_lite::pin_project! {
    /// An attempt's time limit, if it has one.
    #[project = TimerProjected]
    enum Timer<SF> {
        Off,
        On { #[pin] sleep: SF, max: Duration },
    }
}

pin_project_lite::pin_project! {
    /// Where a retried call is.
    #[project = StateProjected]
    enum State<Fut, SF> {
        /// An attempt under way.
        Calling { #[pin] call: Fut, #[pin] timer: Timer<SF> },
        /// Waiting before the next attempt.
        Waiting { #[pin] sleep: SF },
        /// Waiting for the service to be ready for the next attempt.
        Readying,
    }
}

pin_project_lite::pin_project! {
    /// The future of a call through [`RetryLayer`].
    pub struct RetryFuture<S, Req, C, W, Sl, Fut, SF> {
        service: S,
        req: Req,
        shared: Arc<Shared<C, W, Sl>>,
        progress: Progress,
        #[pin]
        state: State<Fut, SF>,
    }
}

impl<S, Req, C, W, Sl, SF> Future for RetryFuture<S, Req, C, W, Sl, S::Future, SF>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    Req: Clone,
    C: Clock,
    W: RetryWhen<S::Response>,
    Sl: Fn(Duration) -> SF,
    SF: Future<Output = ()>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            // The attempt's outcome, or a timeout; or on to the next state.
            let outcome = match this.state.as_mut().project() {
                StateProjected::Calling { call, timer } => match call.poll(cx) {
                    Poll::Ready(result) => Ok(result.map_err(Into::into)),
                    Poll::Pending => match timer.project() {
                        TimerProjected::On { sleep, max } => {
                            ready!(sleep.poll(cx));
                            Err(Elapsed(*max))
                        }
                        TimerProjected::Off => return Poll::Pending,
                    },
                },
                StateProjected::Waiting { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Readying);
                    continue;
                }
                StateProjected::Readying => match ready!(this.service.poll_ready(cx)) {
                    Ok(()) => {
                        let call = this.service.call(this.req.clone());
                        let next = attempt(this.shared, this.progress, call);
                        this.state.set(next);
                        continue;
                    }
                    // A service that cannot take the attempt fails it.
                    Err(e) => Ok(Err(e.into())),
                },
            };
            let verdict = match &outcome {
                Ok(result) => this.shared.when.decide(result),
                Err(Elapsed(_)) => RetryDecision::Retry,
            };
            match this.shared.policy.after(this.progress, verdict) {
                Some(wait) => this.state.set(State::Waiting {
                    sleep: (this.shared.sleep)(wait),
                }),
                None => {
                    return Poll::Ready(match outcome {
                        Ok(result) => result,
                        Err(elapsed) => Err(Box::new(elapsed)),
                    });
                }
            }
        }
    }
}

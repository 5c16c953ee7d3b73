//! The patterns as tower [`Layer`]s, for any [`Service`]: a circuit breaker, a rate
//! limiter, a bulkhead, an adaptive concurrency limit, client-side admission by success
//! ratio, a timeout on the caller's own timer, and retries ([`RetryLayer`]). Each decides at `call` time (the bulkhead, which may queue, in
//! `poll_ready`), refuses with its own error boxed into a [`BoxError`] (downcast to
//! [`Rejected`], [`Denied`], [`BulkheadError`], [`Overloaded`] or [`Throttled`] to tell
//! them apart), and learns from the outcome when the inner future completes. A future
//! dropped before it completes counts as an abandoned call: a breaker's probe is freed,
//! a concurrency slot released, nothing recorded.
//!
//! Which outcomes count as failures is a [`Classify`]: by default every `Err` does
//! ([`ErrorsFail`]); any `Fn(&Result<T, E>) -> bool` will do as well (to count a 503 in
//! an `Ok` response, say).

use crate::Clock;
use crate::adaptive::{AdaptiveLimiter, DetachedToken, LimitAlgorithm, Overloaded};
use crate::breaker::{CircuitBreaker, DetachedPermit, Rejected};
#[cfg(doc)]
use crate::bulkhead::BulkheadError;
use crate::bulkhead::{Acquire, Bulkhead, BulkheadPermit};
use crate::rate::{Denied, Limiter};
use crate::shed::{SuccessRatioAdmission, Throttled};
use crate::timeout::Elapsed;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
pub use tower_layer::Layer;
pub use tower_service::Service;

/// The error every layer returns: the inner service's error, or its own refusal.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Whether an outcome counts as a failure.
pub trait Classify<T, E> {
    /// `true` if `result` is a failure.
    fn failed(&self, result: &Result<T, E>) -> bool;
}

/// Every `Err` is a failure, every `Ok` a success.
#[derive(Clone, Copy, Debug, Default)]
pub struct ErrorsFail;

impl<T, E> Classify<T, E> for ErrorsFail {
    fn failed(&self, result: &Result<T, E>) -> bool {
        result.is_err()
    }
}

impl<T, E, F: Fn(&Result<T, E>) -> bool> Classify<T, E> for F {
    fn failed(&self, result: &Result<T, E>) -> bool {
        self(result)
    }
}

/// What a layer holds while a call runs, told the outcome when it completes; dropped
/// without being told, the call was abandoned.
pub trait Guard<T, E> {
    /// The call completed with `result`.
    fn complete(self, result: &Result<T, E>);
}

/// Nothing to learn (a rate limit: the cell was spent when admitted).
impl<T, E> Guard<T, E> for () {
    fn complete(self, _: &Result<T, E>) {}
}

/// A bulkhead slot: freed when the call ends, however it ends.
impl<T, E> Guard<T, E> for BulkheadPermit {
    fn complete(self, _: &Result<T, E>) {}
}

pin_project_lite::pin_project! {
    /// The future of every layer's service: refused at once, or the inner call with its
    /// guard.
    #[project = Projected]
    #[allow(missing_docs)] // the variants' fields are private in all but name
    pub enum GuardedFuture<Fut, G> {
        /// Refused before the inner service was called.
        Refused { error: Option<BoxError> },
        /// The inner call.
        Running { #[pin] inner: Fut, guard: Option<G> },
    }
}

impl<Fut, G> GuardedFuture<Fut, G> {
    fn refused(error: impl Into<BoxError>) -> Self {
        GuardedFuture::Refused {
            error: Some(error.into()),
        }
    }

    fn running(inner: Fut, guard: G) -> Self {
        GuardedFuture::Running {
            inner,
            guard: Some(guard),
        }
    }
}

impl<Fut, G, T, E> Future for GuardedFuture<Fut, G>
where
    Fut: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    G: Guard<T, E>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            Projected::Refused { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| "polled after completion".into()))),
            Projected::Running { inner, guard } => {
                let result = std::task::ready!(inner.poll(cx));
                if let Some(g) = guard.take() {
                    g.complete(&result);
                }
                Poll::Ready(result.map_err(Into::into))
            }
        }
    }
}

// ---- circuit breaker ----------------------------------------------------------------

/// Calls through a [`CircuitBreaker`].
#[derive(Clone, Debug)]
pub struct CircuitBreakerLayer<C, F = ErrorsFail> {
    breaker: CircuitBreaker<C>,
    classify: F,
}

impl<C> CircuitBreakerLayer<C> {
    /// Through `breaker` (clones share it), every `Err` a failure.
    pub fn new(breaker: CircuitBreaker<C>) -> Self {
        CircuitBreakerLayer {
            breaker,
            classify: ErrorsFail,
        }
    }
}

impl<C, F> CircuitBreakerLayer<C, F> {
    /// Classify outcomes with `classify` instead.
    pub fn classify<G>(self, classify: G) -> CircuitBreakerLayer<C, G> {
        CircuitBreakerLayer {
            breaker: self.breaker,
            classify,
        }
    }
}

impl<S, C: Clone, F: Clone> Layer<S> for CircuitBreakerLayer<C, F> {
    type Service = Guarded<S, CircuitBreakerLayer<C, F>>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            inner,
            gate: self.clone(),
        }
    }
}

/// A call through a breaker: its permit, to report the outcome.
#[derive(Debug)]
pub struct BreakerGuard<C: Clock, F> {
    breaker: CircuitBreaker<C>,
    permit: Option<DetachedPermit>,
    classify: F,
}

impl<C: Clock, F, T, E> Guard<T, E> for BreakerGuard<C, F>
where
    F: Classify<T, E>,
{
    fn complete(mut self, result: &Result<T, E>) {
        if let Some(p) = self.permit.take() {
            self.breaker
                .reattach(p)
                .record(self.classify.failed(result));
        }
    }
}

impl<C: Clock, F> Drop for BreakerGuard<C, F> {
    fn drop(&mut self) {
        if let Some(p) = self.permit.take() {
            drop(self.breaker.reattach(p)); // abandoned: a probe's slot comes back
        }
    }
}

/// How a layer decides on a call: refuse it, or let it run under a guard.
pub trait Gate {
    /// What the call runs under.
    type Guard;
    /// Why it was refused.
    type Refusal: Into<BoxError>;
    /// Decide.
    fn admit(&mut self) -> Result<Self::Guard, Self::Refusal>;
}

impl<C: Clock + Clone, F: Clone> Gate for CircuitBreakerLayer<C, F> {
    type Guard = BreakerGuard<C, F>;
    type Refusal = Rejected;

    fn admit(&mut self) -> Result<Self::Guard, Rejected> {
        let permit = self.breaker.try_acquire()?.detach();
        Ok(BreakerGuard {
            breaker: self.breaker.clone(),
            permit: Some(permit),
            classify: self.classify.clone(),
        })
    }
}

/// A service behind a [`Gate`] that decides at `call` time.
#[derive(Clone, Debug)]
pub struct Guarded<S, G> {
    inner: S,
    gate: G,
}

impl<S, G, Req> Service<Req> for Guarded<S, G>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    G: Gate,
    G::Guard: Guard<S::Response, S::Error>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = GuardedFuture<S::Future, G::Guard>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        match self.gate.admit() {
            Ok(guard) => GuardedFuture::running(self.inner.call(req), guard),
            Err(refusal) => GuardedFuture::refused(refusal),
        }
    }
}

// ---- rate limit ----------------------------------------------------------------------

/// Calls admitted by a [`Limiter`], one cell each; refused with [`Denied`] (whose
/// `retry_after` suits a 429's `Retry-After`).
#[derive(Clone, Debug)]
pub struct RateLimitLayer<L> {
    limiter: L,
}

impl<L> RateLimitLayer<L> {
    /// Admit by `limiter` (clones share its limit, so the layer can be cloned freely).
    pub fn new(limiter: L) -> Self {
        RateLimitLayer { limiter }
    }
}

impl<L: Limiter> Gate for RateLimitLayer<L> {
    type Guard = ();
    type Refusal = Denied;

    fn admit(&mut self) -> Result<(), Denied> {
        self.limiter.check().map(drop)
    }
}

impl<S, L: Clone> Layer<S> for RateLimitLayer<L> {
    type Service = Guarded<S, RateLimitLayer<L>>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            inner,
            gate: self.clone(),
        }
    }
}

// ---- adaptive concurrency -----------------------------------------------------------

/// Calls within an [`AdaptiveLimiter`]'s limit; refused with [`Overloaded`]. Outcomes the
/// classifier calls failures are drops (timeouts, overload replies); others are samples.
#[derive(Debug)]
pub struct AdaptiveLimitLayer<A, C, F = ErrorsFail> {
    limiter: AdaptiveLimiter<A, C>,
    classify: F,
}

impl<A, C: Clone, F: Clone> Clone for AdaptiveLimitLayer<A, C, F> {
    fn clone(&self) -> Self {
        AdaptiveLimitLayer {
            limiter: self.limiter.clone(),
            classify: self.classify.clone(),
        }
    }
}

impl<A, C> AdaptiveLimitLayer<A, C> {
    /// Within `limiter` (clones share it), every `Err` a drop.
    pub fn new(limiter: AdaptiveLimiter<A, C>) -> Self {
        AdaptiveLimitLayer {
            limiter,
            classify: ErrorsFail,
        }
    }

    /// Classify outcomes with `classify` instead (`true`: a drop).
    pub fn classify<G>(self, classify: G) -> AdaptiveLimitLayer<A, C, G> {
        AdaptiveLimitLayer {
            limiter: self.limiter,
            classify,
        }
    }
}

/// A call within an adaptive limit: its token.
#[derive(Debug)]
pub struct AdaptiveGuard<A: LimitAlgorithm, C: Clock, F> {
    limiter: AdaptiveLimiter<A, C>,
    token: Option<DetachedToken>,
    classify: F,
}

impl<A: LimitAlgorithm, C: Clock, F: Classify<T, E>, T, E> Guard<T, E> for AdaptiveGuard<A, C, F> {
    fn complete(mut self, result: &Result<T, E>) {
        if let Some(t) = self.token.take() {
            let token = self.limiter.reattach(t);
            if self.classify.failed(result) {
                token.dropped();
            } else {
                token.success();
            }
        }
    }
}

impl<A: LimitAlgorithm, C: Clock, F> Drop for AdaptiveGuard<A, C, F> {
    fn drop(&mut self) {
        if let Some(t) = self.token.take() {
            drop(self.limiter.reattach(t)); // abandoned: the place is freed, no sample
        }
    }
}

impl<A: LimitAlgorithm, C: Clock + Clone, F: Clone> Gate for AdaptiveLimitLayer<A, C, F> {
    type Guard = AdaptiveGuard<A, C, F>;
    type Refusal = Overloaded;

    fn admit(&mut self) -> Result<Self::Guard, Overloaded> {
        let token = self.limiter.try_acquire()?.detach();
        Ok(AdaptiveGuard {
            limiter: self.limiter.clone(),
            token: Some(token),
            classify: self.classify.clone(),
        })
    }
}

impl<S, A, C: Clone, F: Clone> Layer<S> for AdaptiveLimitLayer<A, C, F> {
    type Service = Guarded<S, AdaptiveLimitLayer<A, C, F>>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            inner,
            gate: self.clone(),
        }
    }
}

// ---- success-ratio admission ---------------------------------------------------------

/// Client-side throttling by the backend's success ratio; refused with [`Throttled`].
/// Outcomes the classifier calls failures are the backend's refusals.
#[derive(Clone, Debug)]
pub struct AdmissionLayer<C, F = ErrorsFail> {
    admission: SuccessRatioAdmission<C>,
    classify: F,
}

impl<C> AdmissionLayer<C> {
    /// Admit by `admission` (clones share it), every `Err` a refusal by the backend.
    pub fn new(admission: SuccessRatioAdmission<C>) -> Self {
        AdmissionLayer {
            admission,
            classify: ErrorsFail,
        }
    }

    /// Classify outcomes with `classify` instead (`true`: the backend refused).
    pub fn classify<G>(self, classify: G) -> AdmissionLayer<C, G> {
        AdmissionLayer {
            admission: self.admission,
            classify,
        }
    }
}

/// A call let through by success-ratio admission.
#[derive(Debug)]
pub struct AdmissionGuard<C, F> {
    admission: SuccessRatioAdmission<C>,
    classify: F,
}

impl<C: Clock, F: Classify<T, E>, T, E> Guard<T, E> for AdmissionGuard<C, F> {
    fn complete(self, result: &Result<T, E>) {
        if !self.classify.failed(result) {
            self.admission.accepted();
        }
    }
}

impl<C: Clock + Clone, F: Clone> Gate for AdmissionLayer<C, F> {
    type Guard = AdmissionGuard<C, F>;
    type Refusal = Throttled;

    fn admit(&mut self) -> Result<Self::Guard, Throttled> {
        self.admission.admit()?;
        Ok(AdmissionGuard {
            admission: self.admission.clone(),
            classify: self.classify.clone(),
        })
    }
}

impl<S, C: Clone, F: Clone> Layer<S> for AdmissionLayer<C, F> {
    type Service = Guarded<S, AdmissionLayer<C, F>>;

    fn layer(&self, inner: S) -> Self::Service {
        Guarded {
            inner,
            gate: self.clone(),
        }
    }
}

mod bulkhead;
mod timeout;
pub use bulkhead::{BulkheadLayer, BulkheadService};
pub use timeout::{TimeoutLayer, TimeoutService};

mod retry;
pub use retry::{RetryErrors, RetryFuture, RetryLayer, RetryService, RetryWhen};

#[cfg(test)]
mod tests;

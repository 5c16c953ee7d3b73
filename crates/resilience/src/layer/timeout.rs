//! The timeout as a tower layer, on a clock you choose.

use super::*;

/// Calls given at most `max` from the moment `call` is made; past it the inner future is
/// dropped (which cancels it) and the call fails with [`Elapsed`]. `sleep` makes a timer
/// on the caller's runtime (`tokio::time::sleep`, say), so no runtime is assumed.
#[derive(Clone, Debug)]
pub struct TimeoutLayer<Sl> {
    max: Duration,
    sleep: Sl,
}

impl<Sl> TimeoutLayer<Sl> {
    /// At most `max` per call, timed by `sleep`.
    pub fn new(max: Duration, sleep: Sl) -> Self {
        TimeoutLayer { max, sleep }
    }
}

impl<S, Sl: Clone> Layer<S> for TimeoutLayer<Sl> {
    type Service = TimeoutService<S, Sl>;

    fn layer(&self, inner: S) -> Self::Service {
        TimeoutService {
            inner,
            max: self.max,
            sleep: self.sleep.clone(),
        }
    }
}

/// The service [`TimeoutLayer`] makes.
#[derive(Clone, Debug)]
pub struct TimeoutService<S, Sl> {
    inner: S,
    max: Duration,
    sleep: Sl,
}

impl<S, Sl, SF, Req> Service<Req> for TimeoutService<S, Sl>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    Sl: Fn(Duration) -> SF,
    SF: Future<Output = ()>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = TimeoutFuture<S::Future, SF>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        TimeoutFuture {
            inner: self.inner.call(req),
            timer: (self.sleep)(self.max),
            max: self.max,
        }
    }
}

pin_project_lite::pin_project! {
    /// A call racing its timer.
    pub struct TimeoutFuture<Fut, Timer> {
        #[pin]
        inner: Fut,
        #[pin]
        timer: Timer,
        max: Duration,
    }
}

impl<Fut, Timer, T, E> Future for TimeoutFuture<Fut, Timer>
where
    Fut: Future<Output = Result<T, E>>,
    E: Into<BoxError>,
    Timer: Future<Output = ()>,
{
    type Output = Result<T, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.inner.poll(cx) {
            return Poll::Ready(result.map_err(Into::into));
        }
        this.timer
            .poll(cx)
            .map(|()| Err(Box::new(Elapsed(*this.max)) as BoxError))
    }
}

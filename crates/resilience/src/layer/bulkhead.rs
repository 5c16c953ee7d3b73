//! The bulkhead as a tower layer: calls wait for a slot (or are refused), and the slot
//! is freed when the call ends, however it ends.

use super::*;

/// Calls through a [`Bulkhead`]: `poll_ready` waits in its queue for a slot (or fails at
/// once with [`BulkheadError::Full`] when the queue is full), and the slot is held until
/// the call's future completes or is dropped.
#[derive(Clone, Debug)]
pub struct BulkheadLayer {
    bulkhead: Bulkhead,
}

impl BulkheadLayer {
    /// Through `bulkhead` (clones share its slots).
    pub fn new(bulkhead: Bulkhead) -> Self {
        BulkheadLayer { bulkhead }
    }
}

impl<S> Layer<S> for BulkheadLayer {
    type Service = BulkheadService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BulkheadService {
            inner,
            bulkhead: self.bulkhead.clone(),
            acquiring: None,
            permit: None,
        }
    }
}

/// The service [`BulkheadLayer`] makes.
#[derive(Debug)]
pub struct BulkheadService<S> {
    inner: S,
    bulkhead: Bulkhead,
    acquiring: Option<Acquire>,
    permit: Option<BulkheadPermit>,
}

/// A clone starts without a slot of its own.
impl<S: Clone> Clone for BulkheadService<S> {
    fn clone(&self) -> Self {
        BulkheadService {
            inner: self.inner.clone(),
            bulkhead: self.bulkhead.clone(),
            acquiring: None,
            permit: None,
        }
    }
}

impl<S, Req> Service<Req> for BulkheadService<S>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = GuardedFuture<S::Future, BulkheadPermit>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        if self.permit.is_none() && self.acquiring.is_none() {
            // A free slot, without making a future to wait for one.
            self.permit = self.bulkhead.try_acquire().ok();
        }
        if self.permit.is_none() {
            let bulkhead = &self.bulkhead;
            let acquiring = self.acquiring.get_or_insert_with(|| bulkhead.acquire());
            let got = std::task::ready!(Pin::new(acquiring).poll(cx));
            self.acquiring = None;
            self.permit = Some(got?);
        }
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Req) -> Self::Future {
        match self.permit.take() {
            Some(permit) => GuardedFuture::running(self.inner.call(req), permit),
            None => GuardedFuture::refused("BulkheadService called before poll_ready"),
        }
    }
}

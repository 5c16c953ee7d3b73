//! Timeouts without a runtime of their own: race a future against the caller's sleep.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

/// The future did not finish in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("timed out after {0:?}")]
pub struct Elapsed(pub Duration);

/// `fut`'s output, or [`Elapsed`] if `sleep(max)` finishes first (the future is then
/// dropped, which cancels it).
pub async fn timeout<F, S, SF>(max: Duration, fut: F, sleep: S) -> Result<F::Output, Elapsed>
where
    F: Future,
    S: FnOnce(Duration) -> SF,
    SF: Future<Output = ()>,
{
    let mut fut = pin!(fut);
    let mut timer = pin!(sleep(max));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Ok(out));
        }
        timer.as_mut().poll(cx).map(|()| Err(Elapsed(max)))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::{Context, Waker};

    fn poll_once<F: Future>(f: F) -> Poll<F::Output> {
        pin!(f)
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn the_first_to_finish_wins() {
        let done = poll_once(timeout(Duration::from_secs(1), async { 7 }, |_| {
            std::future::pending()
        }));
        assert_eq!(done, Poll::Ready(Ok(7)));
        let late = poll_once(timeout(
            Duration::from_secs(1),
            std::future::pending::<u8>(),
            |_| std::future::ready(()),
        ));
        assert_eq!(late, Poll::Ready(Err(Elapsed(Duration::from_secs(1)))));
        let both_waiting = poll_once(timeout(
            Duration::from_secs(1),
            std::future::pending::<u8>(),
            |_| std::future::pending(),
        ));
        assert_eq!(both_waiting, Poll::Pending);
    }
}

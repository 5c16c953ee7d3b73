//! A bulkhead: at most `max_concurrent` calls at once, at most `max_queued` waiting, served
//! first come first served, so one slow dependency cannot take every thread or task.
//! Also: [`PartitionedBulkhead`], with a guaranteed share per class of caller, and
//! [`BlockingPool`], threads of its own for blocking work.
//!
//! Runtime-agnostic: waiting is a future woken when a slot is handed over, and a bounded
//! wait takes the caller's own sleep (`acquire_within`). A slot freed while others wait
//! goes straight to the first of them, never to a newcomer. A waiter that gives up (its
//! future dropped) leaves the queue; if a slot had just been handed to it, the slot moves
//! on to the next.

mod blocking;
#[cfg(test)]
mod model;
mod partitioned;

pub use blocking::{BlockingPool, JobHandle, Panicked};
pub use partitioned::{PartitionPermit, PartitionedBulkhead, Share};

use crate::ConfigError;
use crate::sync::{AtomicU64, Mutex, MutexGuard, Ordering};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Why no slot was had.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BulkheadError {
    /// Every slot busy and the queue full: rejected at once.
    #[error("bulkhead full: {in_flight} calls running and {queued} waiting")]
    Full {
        /// Calls running.
        in_flight: u32,
        /// Calls waiting.
        queued: u32,
    },
    /// Waited the longest allowed without a slot.
    #[error("no bulkhead slot within {0:?}")]
    TimedOut(Duration),
    /// A partitioned bulkhead has no class with this number.
    #[error("no class number {0} in this bulkhead")]
    NoSuchClass(usize),
}

#[derive(Debug)]
struct Waiter {
    id: u64,
    waker: Option<Waker>,
    /// A slot was handed to it; it has not picked it up yet.
    granted: bool,
}

#[derive(Debug)]
struct Queue {
    waiters: VecDeque<Waiter>,
    next_id: u64,
}

/// One waiter in [`Inner::slots`]' high half.
const WAITER: u64 = 1 << 32;

fn free(slots: u64) -> u32 {
    slots as u32
}

fn waiting(slots: u64) -> u32 {
    (slots >> 32) as u32
}

#[derive(Debug)]
struct Inner {
    max_concurrent: u32,
    max_queued: u32,
    /// Free slots (low half) and waiters not yet handed one (high half), in one word, so
    /// that taking or returning a slot while nobody waits is one compare-and-swap, with
    /// no lock. Free slots and waiters never coexist: a slot returned while someone waits
    /// goes to them, and a caller queues only when no slot is free. The waiter count
    /// changes only under the queue's lock, so it always equals the queue's ungranted
    /// waiters.
    slots: AtomicU64,
    queue: Mutex<Queue>,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        crate::sync::lock(&self.queue)
    }

    /// Take a free slot, if there is one and nobody waits for it.
    fn try_take(&self) -> bool {
        let mut slots = self.slots.load(Ordering::Acquire);
        while free(slots) > 0 && waiting(slots) == 0 {
            match self.slots.compare_exchange_weak(
                slots,
                slots - 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(seen) => slots = seen,
            }
        }
        false
    }

    /// A slot comes back: free, unless someone waits for it.
    fn release(&self) {
        let mut slots = self.slots.load(Ordering::Acquire);
        while waiting(slots) == 0 {
            match self.slots.compare_exchange_weak(
                slots,
                slots + 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(seen) => slots = seen,
            }
        }
        let mut queue = self.lock();
        self.hand_on(&mut queue);
    }

    /// Under the queue's lock: give a slot to the first waiter without one, or free it
    /// (the waiters may have left since the caller looked).
    fn hand_on(&self, queue: &mut Queue) {
        match queue.waiters.iter_mut().find(|w| !w.granted) {
            Some(w) => {
                w.granted = true;
                self.slots.fetch_sub(WAITER, Ordering::AcqRel);
                if let Some(waker) = w.waker.take() {
                    waker.wake();
                }
            }
            None => {
                self.slots.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

/// A bulkhead. Clones share the slots.
#[derive(Clone, Debug)]
pub struct Bulkhead {
    inner: Arc<Inner>,
}

/// A slot; dropping it frees the slot.
#[derive(Debug)]
#[must_use = "the slot is held until the permit is dropped"]
pub struct BulkheadPermit {
    inner: Arc<Inner>,
}

impl Drop for BulkheadPermit {
    fn drop(&mut self) {
        self.inner.release();
    }
}

impl Bulkhead {
    /// At most `max_concurrent` calls (at least 1) and `max_queued` waiting (0: reject
    /// at once when full).
    pub fn new(max_concurrent: u32, max_queued: u32) -> Result<Self, ConfigError> {
        if max_concurrent == 0 {
            return Err(ConfigError::Zero {
                name: "max concurrent calls",
            });
        }
        Ok(Bulkhead {
            inner: Arc::new(Inner {
                max_concurrent,
                max_queued,
                slots: AtomicU64::new(u64::from(max_concurrent)),
                queue: Mutex::new(Queue {
                    waiters: VecDeque::new(),
                    next_id: 0,
                }),
            }),
        })
    }

    fn permit(&self) -> BulkheadPermit {
        BulkheadPermit {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Calls running (holding or handed a slot) and waiting now.
    pub fn load(&self) -> (u32, u32) {
        let slots = self.inner.slots.load(Ordering::Acquire);
        (self.inner.max_concurrent - free(slots), waiting(slots))
    }

    /// A slot now, without waiting (and without jumping the queue).
    pub fn try_acquire(&self) -> Result<BulkheadPermit, BulkheadError> {
        if self.inner.try_take() {
            return Ok(self.permit());
        }
        let (in_flight, queued) = self.load();
        Err(BulkheadError::Full { in_flight, queued })
    }

    /// A slot, waiting in line for it if need be; rejected at once if the queue is full.
    pub fn acquire(&self) -> Acquire {
        Acquire {
            bulkhead: self.clone(),
            id: None,
        }
    }

    /// As [`Bulkhead::acquire`], giving up after `max_wait` (slept by `sleep`, on the
    /// caller's runtime).
    pub async fn acquire_within<S, F>(
        &self,
        max_wait: Duration,
        sleep: S,
    ) -> Result<BulkheadPermit, BulkheadError>
    where
        S: FnOnce(Duration) -> F,
        F: Future<Output = ()>,
    {
        let acquire = self.acquire();
        let timer = sleep(max_wait);
        let mut acquire = std::pin::pin!(acquire);
        let mut timer = std::pin::pin!(timer);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(result) = acquire.as_mut().poll(cx) {
                return Poll::Ready(result);
            }
            match timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(BulkheadError::TimedOut(max_wait))),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

/// The future of [`Bulkhead::acquire`]. Dropping it gives up the place in line.
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Acquire {
    bulkhead: Bulkhead,
    /// Its place in line, once queued.
    id: Option<u64>,
}

impl Future for Acquire {
    type Output = Result<BulkheadPermit, BulkheadError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Acquire {
            bulkhead,
            id: place,
        } = self.get_mut();
        let inner = &bulkhead.inner;
        match *place {
            None => {
                if inner.try_take() {
                    return Poll::Ready(Ok(bulkhead.permit()));
                }
                let mut queue = inner.lock();
                let mut slots = inner.slots.load(Ordering::Acquire);
                loop {
                    // A slot may have come back since `try_take` looked.
                    let (next, take) = match free(slots) > 0 && waiting(slots) == 0 {
                        true => (slots - 1, true),
                        false if queue.waiters.len() as u32 >= inner.max_queued => {
                            return Poll::Ready(Err(BulkheadError::Full {
                                in_flight: inner.max_concurrent - free(slots),
                                queued: queue.waiters.len() as u32,
                            }));
                        }
                        false => (slots + WAITER, false),
                    };
                    match inner.slots.compare_exchange_weak(
                        slots,
                        next,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    ) {
                        Ok(_) if take => return Poll::Ready(Ok(bulkhead.permit())),
                        Ok(_) => break,
                        Err(seen) => slots = seen,
                    }
                }
                let id = queue.next_id;
                queue.next_id += 1;
                queue.waiters.push_back(Waiter {
                    id,
                    waker: Some(cx.waker().clone()),
                    granted: false,
                });
                *place = Some(id);
                Poll::Pending
            }
            Some(id) => {
                let mut queue = inner.lock();
                let Some(pos) = queue.waiters.iter().position(|w| w.id == id) else {
                    return Poll::Pending;
                };
                if queue.waiters[pos].granted {
                    queue.waiters.remove(pos);
                    *place = None;
                    // The slot was counted as taken when it was handed over.
                    return Poll::Ready(Ok(bulkhead.permit()));
                }
                queue.waiters[pos].waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        let Some(id) = self.id else {
            return;
        };
        let inner = &self.bulkhead.inner;
        let mut queue = inner.lock();
        let Some(pos) = queue.waiters.iter().position(|w| w.id == id) else {
            return;
        };
        if let Some(w) = queue.waiters.remove(pos) {
            if w.granted {
                // A slot had just been handed to us: it moves on.
                inner.hand_on(&mut queue);
            } else {
                inner.slots.fetch_sub(WAITER, Ordering::AcqRel);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    /// A waker that counts its wakes.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll<F: Future + Unpin>(f: &mut F, waker: &Waker) -> Poll<F::Output> {
        Pin::new(f).poll(&mut Context::from_waker(waker))
    }

    #[test]
    fn slots_go_to_waiters_first_come_first_served() {
        let b = Bulkhead::new(1, 2).unwrap();
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(Arc::clone(&count));
        let held = b.try_acquire().unwrap();
        let (mut first, mut second, mut third) = (b.acquire(), b.acquire(), b.acquire());
        assert!(poll(&mut first, &waker).is_pending());
        assert!(poll(&mut second, &waker).is_pending());
        assert!(matches!(
            poll(&mut third, &waker),
            Poll::Ready(Err(BulkheadError::Full {
                in_flight: 1,
                queued: 2
            }))
        ));
        assert_eq!(b.load(), (1, 2));
        // A newcomer cannot jump the line.
        assert!(b.try_acquire().is_err());
        drop(held);
        assert_eq!(
            count.0.load(Ordering::SeqCst),
            1,
            "the first waiter was woken"
        );
        assert!(poll(&mut second, &waker).is_pending(), "not the second");
        let Poll::Ready(Ok(p1)) = poll(&mut first, &waker) else {
            panic!("the first waiter gets the slot");
        };
        drop(p1);
        assert!(matches!(poll(&mut second, &waker), Poll::Ready(Ok(_))));
        assert_eq!(b.load(), (0, 0));
    }

    #[test]
    fn a_waiter_that_gives_up_passes_its_slot_on() {
        let b = Bulkhead::new(1, 4).unwrap();
        let waker = Waker::noop();
        let held = b.try_acquire().unwrap();
        let (mut quitter, mut patient) = (b.acquire(), b.acquire());
        assert!(poll(&mut quitter, waker).is_pending());
        assert!(poll(&mut patient, waker).is_pending());
        drop(held);
        // The slot went to the quitter, who leaves without taking it.
        drop(quitter);
        assert!(matches!(poll(&mut patient, waker), Poll::Ready(Ok(_))));
        // Nothing leaked: after the permit (already dropped above) one slot is free.
        assert_eq!(b.load(), (0, 0));
        assert!(b.try_acquire().is_ok());
    }

    #[test]
    fn a_bounded_wait_times_out() {
        let b = Bulkhead::new(1, 1).unwrap();
        let _held = b.try_acquire().unwrap();
        let mut f = std::pin::pin!(
            b.acquire_within(Duration::from_millis(50), |_| { std::future::ready(()) })
        );
        assert_eq!(
            f.as_mut()
                .poll(&mut Context::from_waker(Waker::noop()))
                .map(|r| r.err()),
            Poll::Ready(Some(BulkheadError::TimedOut(Duration::from_millis(50))))
        );
        // The timed-out waiter left the queue.
        assert_eq!(b.load(), (1, 0));
    }

    /// Run a future on this thread, parking while it waits (the blocking pool's tests
    /// use it too).
    pub(super) fn block_on<F: Future>(f: F) -> F::Output {
        struct Unpark(std::thread::Thread);
        impl Wake for Unpark {
            fn wake(self: Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
        let mut f = std::pin::pin!(f);
        loop {
            if let Poll::Ready(out) = f.as_mut().poll(&mut Context::from_waker(&waker)) {
                return out;
            }
            std::thread::park();
        }
    }

    #[test]
    fn sixteen_threads_never_exceed_the_slots() {
        let b = Bulkhead::new(3, 16).unwrap();
        let (running, most) = (AtomicUsize::new(0), AtomicUsize::new(0));
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    for _ in 0..200 {
                        let permit = block_on(b.acquire()).unwrap();
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        std::thread::yield_now();
                        running.fetch_sub(1, Ordering::SeqCst);
                        drop(permit);
                    }
                });
            }
        });
        assert!(
            most.load(Ordering::SeqCst) <= 3,
            "{}",
            most.load(Ordering::SeqCst)
        );
        assert_eq!(b.load(), (0, 0));
    }

    #[test]
    fn zero_slots_is_an_error() {
        assert_eq!(
            Bulkhead::new(0, 1).unwrap_err(),
            ConfigError::Zero {
                name: "max concurrent calls"
            }
        );
    }
}

//! A dedicated pool for blocking work — a synchronous driver, a file system call, a
//! CPU-heavy step — so it runs on threads of its own, never on the async runtime's
//! workers, and at most `threads` at once with at most `max_queued` waiting. Work beyond
//! that is refused at once, which is the point of a bulkhead: a slow dependency ties up
//! this pool, not the service.
//!
//! The result comes back as a [`JobHandle`]: a future for async callers, or
//! [`JobHandle::wait`] for threads. A job that panics reports it; the pool carries on.
//! When the last handle to the pool is dropped, the queued jobs still run, and then the
//! threads end.

use super::BulkheadError;
use crate::sync::{Condvar, Mutex, MutexGuard, lock, wait};
use crate::{ConfigError, panic_message};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::thread::JoinHandle as ThreadHandle;

/// A job, given what to call once it has finished and before it hands its result over (so
/// that a caller who has the result sees the pool's load without it).
type Job = Box<dyn FnOnce(&dyn Fn()) + Send>;

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    running: u32,
    closing: bool,
}

struct Shared {
    queue: Mutex<Queue>,
    work: Condvar,
    max_queued: u32,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        lock(&self.queue)
    }

    /// A worker: take jobs until the pool closes and the queue is empty.
    fn work(&self) {
        let mut q = self.lock();
        loop {
            if let Some(job) = q.jobs.pop_front() {
                q.running += 1;
                drop(q);
                job(&|| self.lock().running -= 1);
                q = self.lock();
            } else if q.closing {
                return;
            } else {
                q = wait(&self.work, q);
            }
        }
    }
}

/// Closes the pool when the last [`BlockingPool`] handle goes.
struct Owner {
    shared: Arc<Shared>,
    threads: Vec<ThreadHandle<()>>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.shared.lock().closing = true;
        self.shared.work.notify_all();
        for t in self.threads.drain(..) {
            // A worker cannot panic (jobs are caught), so there is nothing to report.
            let _ = t.join();
        }
    }
}

/// A pool of threads for blocking work. Clones share the pool.
#[derive(Clone)]
pub struct BlockingPool {
    owner: Arc<Owner>,
    threads: u32,
}

impl std::fmt::Debug for BlockingPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (running, queued) = self.load();
        f.debug_struct("BlockingPool")
            .field("threads", &self.threads)
            .field("running", &running)
            .field("queued", &queued)
            .finish()
    }
}

/// The job panicked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the blocking job panicked: {0}")]
pub struct Panicked(pub String);

struct Slot<T> {
    result: Option<Result<T, Panicked>>,
    waker: Option<Waker>,
}

/// The result of a job on a [`BlockingPool`]: await it, or [`JobHandle::wait`].
/// Dropping it discards the result; the job still runs.
#[must_use = "the job's result is only had through its handle"]
pub struct JobHandle<T> {
    slot: Arc<(Mutex<Slot<T>>, Condvar)>,
}

impl<T> std::fmt::Debug for JobHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobHandle").finish_non_exhaustive()
    }
}

impl<T> JobHandle<T> {
    fn lock(&self) -> MutexGuard<'_, Slot<T>> {
        lock(&self.slot.0)
    }

    /// Block this thread until the job is done.
    pub fn wait(self) -> Result<T, Panicked> {
        let mut slot = self.lock();
        loop {
            if let Some(result) = slot.result.take() {
                return result;
            }
            slot = wait(&self.slot.1, slot);
        }
    }
}

impl<T> Future for JobHandle<T> {
    type Output = Result<T, Panicked>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut slot = self.lock();
        match slot.result.take() {
            Some(result) => Poll::Ready(result),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl BlockingPool {
    /// `threads` threads (at least 1), named `name-N`, and at most `max_queued` jobs
    /// waiting for one (0: refuse when all are busy).
    pub fn new(name: &str, threads: u32, max_queued: u32) -> Result<Self, ConfigError> {
        if threads == 0 {
            return Err(ConfigError::Zero { name: "threads" });
        }
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            work: Condvar::new(),
            max_queued,
        });
        let mut handles = Vec::with_capacity(threads as usize);
        for i in 0..threads {
            let worker = Arc::clone(&shared);
            let spawned = std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || worker.work());
            match spawned {
                Ok(h) => handles.push(h),
                Err(_) => {
                    // Dropping the owner closes the pool and joins those started.
                    drop(Owner {
                        shared,
                        threads: handles,
                    });
                    return Err(ConfigError::Inconsistent(
                        "the operating system would not start the pool's threads",
                    ));
                }
            }
        }
        Ok(BlockingPool {
            owner: Arc::new(Owner {
                shared,
                threads: handles,
            }),
            threads,
        })
    }

    /// Jobs running and waiting now.
    pub fn load(&self) -> (u32, u32) {
        let q = self.owner.shared.lock();
        (q.running, q.jobs.len() as u32)
    }

    /// Run `job` on the pool, or refuse it at once if every thread is busy and the queue
    /// is full.
    pub fn spawn<T, F>(&self, job: F) -> Result<JobHandle<T>, BulkheadError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let shared = &self.owner.shared;
        let slot = Arc::new((
            Mutex::new(Slot {
                result: None,
                waker: None,
            }),
            Condvar::new(),
        ));
        let done = Arc::clone(&slot);
        let run: Job = Box::new(move |finished| {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job))
                .map_err(|payload| Panicked(panic_message(payload.as_ref())));
            finished();
            let mut s = lock(&done.0);
            s.result = Some(result);
            let waker = s.waker.take();
            drop(s);
            done.1.notify_all();
            if let Some(w) = waker {
                w.wake();
            }
        });
        let mut q = shared.lock();
        // Every job taken is either running, about to run on an idle thread, or waiting:
        // refuse when threads and queue are all spoken for.
        let taken = u64::from(q.running) + q.jobs.len() as u64;
        if taken >= u64::from(self.threads) + u64::from(shared.max_queued) {
            return Err(BulkheadError::Full {
                in_flight: q.running,
                queued: q.jobs.len() as u32,
            });
        }
        q.jobs.push_back(run);
        drop(q);
        shared.work.notify_one();
        Ok(JobHandle { slot })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulkhead::tests::block_on;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::mpsc;

    #[test]
    fn jobs_run_on_the_pools_own_threads() {
        let pool = BlockingPool::new("disk", 2, 4).unwrap();
        let name = pool
            .spawn(|| std::thread::current().name().map(str::to_string))
            .unwrap()
            .wait()
            .unwrap();
        assert!(name.is_some_and(|n| n.starts_with("disk-")));
        assert_eq!(block_on(pool.spawn(|| 6 * 7).unwrap()), Ok(42));
    }

    #[test]
    fn no_more_than_the_threads_run_and_the_queue_is_bounded() {
        let pool = BlockingPool::new("b", 2, 3).unwrap();
        let (release, gate) = mpsc::channel::<()>();
        let gate = Arc::new(Mutex::new(gate));
        let running = Arc::new(AtomicU32::new(0));
        let peak = Arc::new(AtomicU32::new(0));
        let mut handles = Vec::new();
        for _ in 0..5 {
            let (gate, running, peak) = (gate.clone(), running.clone(), peak.clone());
            handles.push(
                pool.spawn(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    gate.lock().unwrap().recv().unwrap();
                    running.fetch_sub(1, Ordering::SeqCst);
                })
                .unwrap(),
            );
        }
        // Two running, three queued: the sixth is refused.
        assert!(matches!(pool.spawn(|| ()), Err(BulkheadError::Full { .. })));
        for _ in 0..5 {
            release.send(()).unwrap();
        }
        for h in handles {
            h.wait().unwrap();
        }
        assert!(peak.load(Ordering::SeqCst) <= 2);
        assert_eq!(pool.load(), (0, 0));
        assert!(pool.spawn(|| ()).is_ok(), "room again");
    }

    #[test]
    fn a_panicking_job_reports_it_and_the_pool_carries_on() {
        let pool = BlockingPool::new("p", 1, 1).unwrap();
        let err = pool.spawn(|| panic!("disk on fire")).unwrap().wait();
        assert_eq!(err, Err(Panicked("disk on fire".into())));
        assert_eq!(pool.spawn(|| 1).unwrap().wait(), Ok(1));
    }

    #[test]
    fn dropping_the_pool_finishes_queued_jobs() {
        let pool = BlockingPool::new("q", 1, 10).unwrap();
        let done = Arc::new(AtomicU32::new(0));
        for _ in 0..10 {
            let done = done.clone();
            let _ = pool.spawn(move || {
                done.fetch_add(1, Ordering::SeqCst);
            });
        }
        drop(pool);
        assert_eq!(done.load(Ordering::SeqCst), 10);
    }

    #[test]
    fn zero_threads_is_an_error() {
        assert_eq!(
            BlockingPool::new("z", 0, 1).err(),
            Some(ConfigError::Zero { name: "threads" })
        );
    }
}

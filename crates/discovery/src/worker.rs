//! A background thread that sleeps between rounds of work and is stopped, woken and
//! joined when its handle is dropped: what the registry watch, the health checker and the
//! sidecar's lease each run on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// The worker's side: whether to stop, and a sleep its handle's drop cuts short.
#[derive(Debug)]
pub(crate) struct Stop(Arc<AtomicBool>);

impl Stop {
    /// Sleep up to `d`; `true` if the worker should stop now.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        if self.stopped() {
            return true;
        }
        std::thread::park_timeout(d);
        self.stopped()
    }

    /// Whether the worker should stop.
    pub(crate) fn stopped(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// A running worker; dropping it stops the thread and waits for it.
#[derive(Debug)]
pub(crate) struct Worker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Run `work` on a thread called `name`.
    pub(crate) fn spawn(
        name: String,
        work: impl FnOnce(Stop) + Send + 'static,
    ) -> std::io::Result<Worker> {
        let stop = Arc::new(AtomicBool::new(false));
        let theirs = Stop(Arc::clone(&stop));
        let thread = std::thread::Builder::new()
            .name(name)
            .spawn(move || work(theirs))?;
        Ok(Worker {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

//! The synchronisation types the concurrent state machines use: std's, or loom's in a
//! test build with `--cfg loom` (loom is a dev-dependency), so that
//! `scripts/model-check.sh` can explore every interleaving of their threads.

#[cfg(all(loom, test))]
pub(crate) use loom::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicU64, Ordering};
#[cfg(all(loom, test))]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

#[cfg(not(all(loom, test)))]
pub(crate) use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU32, AtomicU64, Ordering};
#[cfg(not(all(loom, test)))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

/// Lock `m`, going on if another thread panicked while holding it: what these locks guard
/// is counters and queues that stay usable whatever state the panic left them in.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Wait on `c`, going on past a poisoned lock as [`lock`] does.
pub(crate) fn wait<'a, T>(c: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    c.wait(guard)
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

//! Single-flight: concurrent misses for one key share one load.
//!
//! The first caller for a key runs the load; callers that arrive while it runs wait for
//! its outcome and get a copy of it. The outcome is not kept: once the load has
//! finished, the next call for the key loads again (what to keep is the cache's job). A
//! load that fails or panics gives every waiter the error (a panic as
//! [`LoadError::Panicked`], never a poisoned lock or a hang), and the next call retries.

use dsys_resilience::panic_message;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Why a shared load gave no value.
#[derive(Debug, thiserror::Error)]
pub enum LoadError<E> {
    /// The load returned an error (shared by every caller that waited for it).
    #[error("the load failed: {0}")]
    Failed(Arc<E>),
    /// The load panicked; the message, if it had one.
    #[error("the load panicked: {0}")]
    Panicked(String),
}

impl<E> Clone for LoadError<E> {
    fn clone(&self) -> Self {
        match self {
            LoadError::Failed(e) => LoadError::Failed(Arc::clone(e)),
            LoadError::Panicked(m) => LoadError::Panicked(m.clone()),
        }
    }
}

/// Whether a caller ran the load or waited for another's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// It ran the load.
    Loaded,
    /// It waited for a load another caller ran.
    Waited,
}

/// A load in flight: its outcome once there is one, and how many callers wait for it.
#[derive(Debug)]
struct Flight<V, E> {
    outcome: Mutex<Option<Result<V, LoadError<E>>>>,
    landed: Condvar,
    waiting: std::sync::atomic::AtomicUsize,
}

/// Loads in flight, by key.
#[derive(Debug)]
pub struct SingleFlight<K, V, E> {
    flights: Mutex<BTreeMap<K, Arc<Flight<V, E>>>>,
}

impl<K, V, E> Default for SingleFlight<K, V, E> {
    fn default() -> Self {
        SingleFlight {
            flights: Mutex::new(BTreeMap::new()),
        }
    }
}

/// A lock whose holder panicked: the data under these locks is replaced whole, never
/// left half-written, so it is still good.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

// Keys in order, not hashed: only the loads in flight are kept, a handful at a time.
impl<K: Ord + Clone, V: Clone, E> SingleFlight<K, V, E> {
    /// No loads in flight.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many keys have a load in flight.
    pub fn in_flight(&self) -> usize {
        lock(&self.flights).len()
    }

    /// How many callers wait for the load of `key` in flight (none if there is none).
    pub fn waiting(&self, key: &K) -> usize {
        lock(&self.flights)
            .get(key)
            .map_or(0, |f| f.waiting.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// The value of `key`: loaded by `load` if no load of it is in flight, else the
    /// outcome of the one in flight. And whether this caller ran the load.
    pub fn load(
        &self,
        key: &K,
        load: impl FnOnce() -> Result<V, E>,
    ) -> (Result<V, LoadError<E>>, Role) {
        let (flight, leader) = {
            let mut flights = lock(&self.flights);
            match flights.get(key) {
                Some(f) => {
                    f.waiting.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    (Arc::clone(f), false)
                }
                None => {
                    let f = Arc::new(Flight {
                        outcome: Mutex::new(None),
                        landed: Condvar::new(),
                        waiting: std::sync::atomic::AtomicUsize::new(0),
                    });
                    flights.insert(key.clone(), Arc::clone(&f));
                    (f, true)
                }
            }
        };
        if !leader {
            let mut outcome = lock(&flight.outcome);
            loop {
                if let Some(shared) = outcome.as_ref() {
                    return (shared.clone(), Role::Waited);
                }
                outcome = flight
                    .landed
                    .wait(outcome)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        }
        let result = match catch_unwind(AssertUnwindSafe(load)) {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(LoadError::Failed(Arc::new(e))),
            Err(payload) => Err(LoadError::Panicked(panic_message(payload.as_ref()))),
        };
        // Land first, then leave the table: a caller that found the flight still gets
        // its outcome; one that comes after loads afresh.
        *lock(&flight.outcome) = Some(result.clone());
        flight.landed.notify_all();
        lock(&self.flights).remove(key);
        (result, Role::Loaded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[test]
    fn a_thousand_concurrent_misses_load_once() {
        let flights: SingleFlight<&str, u64, ()> = SingleFlight::new();
        let loads = AtomicUsize::new(0);
        let start = Barrier::new(1000);
        let roles: Vec<Role> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..1000)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let (value, role) = flights.load(&"hot", || {
                            loads.fetch_add(1, Ordering::SeqCst);
                            // Run until the 999 others wait for this load (at most a
                            // minute, so a bug cannot hang the suite).
                            for _ in 0..60_000 {
                                if flights.waiting(&"hot") == 999 {
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(1));
                            }
                            Ok(42)
                        });
                        assert_eq!(value.ok(), Some(42));
                        role
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or(Role::Loaded))
                .collect()
        });
        assert_eq!(
            roles.iter().filter(|r| **r == Role::Loaded).count(),
            loads.load(Ordering::SeqCst)
        );
        assert_eq!(
            loads.load(Ordering::SeqCst),
            1,
            "one load for a thousand misses"
        );
        assert_eq!(flights.in_flight(), 0);
    }

    #[test]
    fn an_error_or_a_panic_reaches_every_waiter_and_the_next_call_retries() {
        let flights: SingleFlight<u32, u64, String> = SingleFlight::new();
        let go = Barrier::new(8);
        let outcomes: Vec<String> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        go.wait();
                        let (r, _) = flights.load(&1, || {
                            std::thread::sleep(Duration::from_millis(100));
                            Err("source down".to_string())
                        });
                        r.map_err(|e| e.to_string()).err().unwrap_or_default()
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_default())
                .collect()
        });
        assert!(
            outcomes.iter().all(|o| o == "the load failed: source down"),
            "{outcomes:?}"
        );
        // A panicking load: every caller gets the panic as an error, nothing is poisoned.
        let (r, role) = flights.load(&1, || -> Result<u64, String> { panic!("loader bug") });
        assert_eq!(role, Role::Loaded);
        assert!(
            matches!(r, Err(LoadError::Panicked(ref m)) if m == "loader bug"),
            "{r:?}"
        );
        // Nothing kept: the next call loads again, and succeeds.
        let (r, role) = flights.load(&1, || Ok(7));
        assert_eq!((r.ok(), role), (Some(7), Role::Loaded));
    }
}

//! A registry's watch as a tower `Discover` stream: what [`crate::balance::Balance`]
//! balances over.
//!
//! A thread keeps a [`Watcher`] up to date (every `interval`, or sooner when the
//! registry is slow to answer) and turns each change into an insert or a remove of an
//! [`Endpoint`] with a service made for it. When the registry cannot be reached, the
//! endpoints stay as last heard (last-known-good) and the thread tries again after a
//! backoff that doubles up to a ceiling; the watcher resumes from the last revision it
//! heard, or lists again if that was compacted, so nothing is lost across the outage.
//! The first listing happens before `spawn` returns: a registry unreachable at start-up
//! is an error then, not a hang or an empty pool.

use super::{Change, Instance, Registry, RegistryError, Watcher};
use crate::balance::Zoned;
use crate::worker::Worker;
use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tower::discover::Change as Discovered;

/// A discovered endpoint: the key a balancer knows it by.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// The instance's id.
    pub id: String,
    /// Its zone, if it registered one.
    pub zone: Option<String>,
    /// Where it listens.
    pub address: SocketAddr,
}

impl From<&Instance> for Endpoint {
    fn from(i: &Instance) -> Endpoint {
        Endpoint {
            id: i.id.clone(),
            zone: i.zone.clone(),
            address: i.address,
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.id)
    }
}

impl Zoned for Endpoint {
    fn zone(&self) -> Option<&str> {
        self.zone.as_deref()
    }
}

/// How often a watch asks and how it backs off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WatchSettings {
    /// Between polls while the registry answers.
    pub interval: Duration,
    /// The longest wait between tries while it does not (the wait starts at `interval`
    /// and doubles).
    pub max_backoff: Duration,
}

impl Default for WatchSettings {
    /// Every 200 ms; at most 5 s between tries during an outage.
    fn default() -> Self {
        WatchSettings {
            interval: Duration::from_millis(200),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// How a watch is doing, shared with its thread.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchHealth {
    /// Failed polls in a row (0: the last one answered).
    pub failures: u32,
    /// The last failure, if any since start.
    pub last_error: Option<String>,
    /// The last revision heard.
    pub revision: u64,
    /// Times the watcher listed again after a compaction.
    pub relists: u64,
}

struct Inbox<S> {
    changes: VecDeque<Discovered<Endpoint, S>>,
    waker: Option<Waker>,
    health: WatchHealth,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// A registry watch as a stream of endpoint inserts and removes (a tower `Discover`).
pub struct WatchStream<S> {
    inbox: Arc<Mutex<Inbox<S>>>,
    /// The thread polling the registry; stopped when the stream is dropped.
    _worker: Worker,
}

impl<S> fmt::Debug for WatchStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WatchStream")
            .field("health", &lock(&self.inbox).health)
            .finish_non_exhaustive()
    }
}

impl<S: Send + 'static> WatchStream<S> {
    /// Watch `service` in `registry`, making a service for each endpoint with `make`.
    /// Lists the service before returning (an unreachable registry is an error now).
    pub fn spawn<R, M>(
        registry: R,
        service: &str,
        settings: WatchSettings,
        make: M,
    ) -> Result<WatchStream<S>, RegistryError>
    where
        R: Registry + Send + 'static,
        M: Fn(&Instance) -> S + Send + 'static,
    {
        let mut watcher = Watcher::start(&registry, service)?;
        let mut known: BTreeMap<String, Endpoint> = BTreeMap::new();
        let mut first = VecDeque::new();
        for instance in watcher.instances() {
            let endpoint = Endpoint::from(instance);
            known.insert(instance.id.clone(), endpoint.clone());
            first.push_back(Discovered::Insert(endpoint, make(instance)));
        }
        let inbox = Arc::new(Mutex::new(Inbox {
            changes: first,
            waker: None,
            health: WatchHealth {
                revision: watcher.revision(),
                ..WatchHealth::default()
            },
        }));
        let worker = {
            let inbox = Arc::clone(&inbox);
            Worker::spawn(format!("dsys-watch-{service}"), move |stop| {
                let mut wait = settings.interval;
                while !stop.sleep(wait) {
                    let polled = watcher.poll(&registry);
                    let mut inbox = lock(&inbox);
                    match polled {
                        Ok(changes) => {
                            wait = settings.interval;
                            inbox.health.failures = 0;
                            inbox.health.revision = watcher.revision();
                            inbox.health.relists = watcher.relists();
                            for change in changes {
                                translate(change, &mut known, &make, &mut inbox.changes);
                            }
                        }
                        Err(e) => {
                            wait = (wait * 2).min(settings.max_backoff);
                            inbox.health.failures = inbox.health.failures.saturating_add(1);
                            inbox.health.last_error = Some(e.to_string());
                        }
                    }
                    if !inbox.changes.is_empty() {
                        if let Some(w) = inbox.waker.take() {
                            w.wake();
                        }
                    }
                }
            })
            .map_err(|e| RegistryError::Unavailable(format!("cannot start a watch: {e}")))?
        };
        Ok(WatchStream {
            inbox,
            _worker: worker,
        })
    }

    /// How the watch is doing.
    pub fn health(&self) -> WatchHealth {
        lock(&self.inbox).health.clone()
    }
}

/// `change` as the inserts and removes a balancer understands: a changed instance (a new
/// address or zone is a new key) removes the old endpoint before inserting the new one.
fn translate<S>(
    change: Change,
    known: &mut BTreeMap<String, Endpoint>,
    make: &impl Fn(&Instance) -> S,
    out: &mut VecDeque<Discovered<Endpoint, S>>,
) {
    match change {
        Change::Put(instance) => {
            let endpoint = Endpoint::from(&instance);
            if let Some(old) = known.insert(instance.id.clone(), endpoint.clone()) {
                if old != endpoint {
                    out.push_back(Discovered::Remove(old));
                }
            }
            out.push_back(Discovered::Insert(endpoint, make(&instance)));
        }
        Change::Delete { id } => {
            // A delete of an instance never heard of changes nothing.
            if let Some(old) = known.remove(&id) {
                out.push_back(Discovered::Remove(old));
            }
        }
    }
}

impl<S> futures_core::Stream for WatchStream<S> {
    type Item = Result<Discovered<Endpoint, S>, RegistryError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut inbox = lock(&self.inbox);
        match inbox.changes.pop_front() {
            Some(change) => Poll::Ready(Some(Ok(change))),
            None => {
                inbox.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

#[cfg(test)]
#[path = "stream_tests.rs"]
mod tests;

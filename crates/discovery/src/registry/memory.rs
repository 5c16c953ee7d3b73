//! The registry in process: leases on a clock, a revision per change, and a bounded
//! history of changes for watchers.

use super::{Change, Instance, LeaseId, Listing, Registry, RegistryError};
use dsys_resilience::Clock;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// (service, instance id).
type Key = (String, String);

#[derive(Debug)]
struct Lease {
    key: Key,
    ttl: Duration,
    expires: Duration,
}

#[derive(Debug, Default)]
struct State {
    revision: u64,
    instances: BTreeMap<Key, (Instance, LeaseId)>,
    leases: BTreeMap<LeaseId, Lease>,
    next_lease: u64,
    /// Changes after `compacted`, oldest first: (revision, service, change).
    log: VecDeque<(u64, String, Change)>,
    /// Changes up to this revision are forgotten.
    compacted: u64,
}

/// A registry in process, on clock `C`, keeping the last `history` changes for watchers.
#[derive(Debug)]
pub struct MemoryRegistry<C> {
    clock: C,
    history: usize,
    state: Mutex<State>,
}

impl<C: Clock> MemoryRegistry<C> {
    /// Empty, on `clock`, keeping the last `history` changes (at least one).
    pub fn new(clock: C, history: usize) -> MemoryRegistry<C> {
        MemoryRegistry {
            clock,
            history: history.max(1),
            state: Mutex::new(State::default()),
        }
    }

    /// Forget every change so far (as `etcdctl compact` does): watchers behind must list
    /// again.
    pub fn compact(&self) {
        let mut state = self.state();
        state.log.clear();
        state.compacted = state.revision;
    }

    /// How many registrations and leases it holds (to check nothing is left behind).
    pub fn held(&self) -> (usize, usize) {
        let state = self.state_now();
        (state.instances.len(), state.leases.len())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every change is applied whole under the lock: a panic elsewhere leaves it valid.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state with every lease due by now lapsed.
    fn state_now(&self) -> MutexGuard<'_, State> {
        let now = self.clock.now();
        let mut state = self.state();
        let lapsed: Vec<LeaseId> = state
            .leases
            .iter()
            .filter(|(_, l)| l.expires <= now)
            .map(|(&id, _)| id)
            .collect();
        for lease in lapsed {
            self.end_lease(&mut state, lease);
        }
        state
    }

    fn end_lease(&self, state: &mut State, lease: LeaseId) {
        let Some(ended) = state.leases.remove(&lease) else {
            return;
        };
        if state
            .instances
            .get(&ended.key)
            .is_some_and(|(_, l)| *l == lease)
        {
            state.instances.remove(&ended.key);
            let (service, id) = ended.key;
            self.record(state, service, Change::Delete { id });
        }
    }

    fn record(&self, state: &mut State, service: String, change: Change) {
        state.revision += 1;
        let revision = state.revision;
        state.log.push_back((revision, service, change));
        while state.log.len() > self.history {
            if let Some((gone, _, _)) = state.log.pop_front() {
                state.compacted = gone;
            }
        }
    }
}

impl<C: Clock> Registry for MemoryRegistry<C> {
    fn register(&self, instance: Instance, ttl: Duration) -> Result<LeaseId, RegistryError> {
        if ttl.is_zero() {
            return Err(RegistryError::ZeroTtl);
        }
        let now = self.clock.now();
        let mut state = self.state_now();
        let key = (instance.service.clone(), instance.id.clone());
        // A second registration of the same instance takes its place (and its lease ends).
        if let Some((_, old)) = state.instances.get(&key) {
            let old = *old;
            state.leases.remove(&old);
        }
        state.next_lease += 1;
        let lease = LeaseId(state.next_lease);
        state.leases.insert(
            lease,
            Lease {
                key: key.clone(),
                ttl,
                expires: now.saturating_add(ttl),
            },
        );
        state
            .instances
            .insert(key.clone(), (instance.clone(), lease));
        self.record(&mut state, key.0, Change::Put(instance));
        Ok(lease)
    }

    fn keep_alive(&self, lease: LeaseId) -> Result<(), RegistryError> {
        let now = self.clock.now();
        let mut state = self.state_now();
        let held = state
            .leases
            .get_mut(&lease)
            .ok_or(RegistryError::LeaseGone(lease))?;
        held.expires = now.saturating_add(held.ttl);
        Ok(())
    }

    fn deregister(&self, lease: LeaseId) -> Result<(), RegistryError> {
        let mut state = self.state_now();
        if !state.leases.contains_key(&lease) {
            return Err(RegistryError::LeaseGone(lease));
        }
        self.end_lease(&mut state, lease);
        Ok(())
    }

    fn list(&self, service: &str) -> Result<Listing, RegistryError> {
        let state = self.state_now();
        let instances = state
            .instances
            .range((service.to_string(), String::new())..)
            .take_while(|((s, _), _)| s == service)
            .map(|(_, (instance, _))| instance.clone())
            .collect();
        Ok(Listing {
            revision: state.revision,
            instances,
        })
    }

    fn changes(&self, service: &str, after: u64) -> Result<(Vec<Change>, u64), RegistryError> {
        let state = self.state_now();
        if after < state.compacted {
            return Err(RegistryError::Compacted {
                oldest: state.compacted + 1,
            });
        }
        let changes = state
            .log
            .iter()
            .filter(|(revision, s, _)| *revision > after && s == service)
            .map(|(_, _, change)| change.clone())
            .collect();
        Ok((changes, state.revision))
    }
}

//! Where the instances of each service are: registrations under leases, and watches that
//! never lose a change.
//!
//! An instance registers under a lease with a time to live and keeps it alive; if it
//! stops (crashed, partitioned away), the lease lapses and the registration goes with
//! it, so no zombie outlives its lease. Every change to a service (an instance added,
//! changed or removed) takes the next revision of the registry. A watcher asks for the
//! changes after the last revision it saw; if the registry has compacted its history past
//! that point, it says so, and the watcher lists the service afresh and works out the
//! changes itself ([`Watcher`]). Either way the watcher ends with the registry's view and
//! misses nothing in between — the two failures users of etcd watches meet most: silently
//! lost events after a compaction, and a watch that never resumes after a reconnect.
//!
//! [`MemoryRegistry`] keeps all this in process, on a clock you choose; the gateway can
//! serve one over HTTP to the processes of its machine ([`RemoteRegistry`], protocol in
//! `wire`); [`EtcdRegistry`] keeps it in etcd, for services on many machines.

mod etcd;
mod memory;
mod remote;
mod stream;
mod watcher;
pub mod wire;

pub use etcd::EtcdRegistry;
pub use memory::MemoryRegistry;
pub use remote::RemoteRegistry;
pub use stream::{Endpoint, WatchHealth, WatchSettings, WatchStream};
pub use watcher::Watcher;

use std::net::SocketAddr;
use std::time::Duration;

/// One instance of a service.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Instance {
    /// The service it serves.
    pub service: String,
    /// Its name, unique within the service.
    pub id: String,
    /// Where it listens.
    pub address: SocketAddr,
    /// Its zone, for zone-aware balancing.
    pub zone: Option<String>,
}

impl Instance {
    /// Instance `id` of `service` at `address` (text: `IP:PORT`), checked: a name that
    /// is empty or not printable, or an address that cannot be routed to (not `IP:PORT`,
    /// port 0, an unspecified or multicast IP), is refused.
    pub fn new(service: &str, id: &str, address: &str) -> Result<Instance, RegistryError> {
        for (what, name) in [("service", service), ("instance id", id)] {
            if name.is_empty() || name.len() > 253 || !name.chars().all(|c| c.is_ascii_graphic()) {
                return Err(RegistryError::BadName(format!("{what} {name:?}")));
            }
        }
        let parsed: SocketAddr = address
            .parse()
            .map_err(|_| RegistryError::BadAddress(format!("{address:?} is not IP:PORT")))?;
        if parsed.port() == 0 || parsed.ip().is_unspecified() || parsed.ip().is_multicast() {
            return Err(RegistryError::BadAddress(format!(
                "{address} cannot be routed to"
            )));
        }
        Ok(Instance {
            service: service.to_string(),
            id: id.to_string(),
            address: parsed,
            zone: None,
        })
    }

    /// The same, in `zone`.
    pub fn in_zone(self, zone: impl Into<String>) -> Instance {
        Instance {
            zone: Some(zone.into()),
            ..self
        }
    }
}

/// A lease a registration lives under.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeaseId(pub u64);

/// One change to a service.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// An instance was added or changed.
    Put(Instance),
    /// The instance with this id left (deregistered, or its lease lapsed).
    Delete {
        /// Its id.
        id: String,
    },
}

/// A service's instances at a revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listing {
    /// The registry's revision when listed.
    pub revision: u64,
    /// The instances, by id.
    pub instances: Vec<Instance>,
}

/// What can go wrong with a registry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// An instance's address cannot be routed to.
    #[error("bad address: {0}")]
    BadAddress(String),
    /// A service or instance name is empty or not printable.
    #[error("bad name: {0}")]
    BadName(String),
    /// A time to live of zero would lapse at once.
    #[error("a lease needs a time to live of more than zero")]
    ZeroTtl,
    /// The lease lapsed or was revoked.
    #[error("lease {0:?} is gone")]
    LeaseGone(LeaseId),
    /// The changes after this revision were compacted away: list again.
    #[error("changes before revision {oldest} were compacted; list again")]
    Compacted {
        /// The oldest revision whose changes are still kept.
        oldest: u64,
    },
    /// The registry could not be reached.
    #[error("registry unavailable: {0}")]
    Unavailable(String),
}

/// A registry of services.
pub trait Registry {
    /// Register `instance` under a new lease lasting `ttl` unless kept alive.
    fn register(&self, instance: Instance, ttl: Duration) -> Result<LeaseId, RegistryError>;
    /// Keep `lease` alive for another time to live.
    fn keep_alive(&self, lease: LeaseId) -> Result<(), RegistryError>;
    /// Remove the registration under `lease` now (an orderly shutdown).
    fn deregister(&self, lease: LeaseId) -> Result<(), RegistryError>;
    /// `service`'s instances now.
    fn list(&self, service: &str) -> Result<Listing, RegistryError>;
    /// `service`'s changes after revision `after`, in order, and the revision they reach;
    /// [`RegistryError::Compacted`] if some were forgotten.
    fn changes(&self, service: &str, after: u64) -> Result<(Vec<Change>, u64), RegistryError>;
}

/// A shared registry is a registry (a watch thread holds one clone, the service's
/// registrations another).
impl<R: Registry + ?Sized> Registry for std::sync::Arc<R> {
    fn register(&self, instance: Instance, ttl: Duration) -> Result<LeaseId, RegistryError> {
        (**self).register(instance, ttl)
    }
    fn keep_alive(&self, lease: LeaseId) -> Result<(), RegistryError> {
        (**self).keep_alive(lease)
    }
    fn deregister(&self, lease: LeaseId) -> Result<(), RegistryError> {
        (**self).deregister(lease)
    }
    fn list(&self, service: &str) -> Result<Listing, RegistryError> {
        (**self).list(service)
    }
    fn changes(&self, service: &str, after: u64) -> Result<(Vec<Change>, u64), RegistryError> {
        (**self).changes(service, after)
    }
}

#[cfg(test)]
mod tests;

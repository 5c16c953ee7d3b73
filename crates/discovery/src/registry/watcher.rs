//! A watcher's view of one service, kept up to date from a registry's changes, and made
//! whole again by listing when the changes it needs were compacted away.

use super::{Change, Instance, Registry, RegistryError};
use std::collections::BTreeMap;

/// One service's instances as a watcher last heard.
#[derive(Clone, Debug)]
pub struct Watcher {
    service: String,
    revision: u64,
    view: BTreeMap<String, Instance>,
    relists: u64,
}

impl Watcher {
    /// Watch `service`, starting from a listing.
    pub fn start(registry: &impl Registry, service: &str) -> Result<Watcher, RegistryError> {
        let listing = registry.list(service)?;
        Ok(Watcher {
            service: service.to_string(),
            revision: listing.revision,
            view: listing
                .instances
                .into_iter()
                .map(|i| (i.id.clone(), i))
                .collect(),
            relists: 0,
        })
    }

    /// Catch up: the changes since the last revision heard, applied to the view and
    /// returned. If they were compacted away, list again and return the difference
    /// instead (nothing is lost either way). A registry that cannot be reached leaves the
    /// view as it was: the next poll resumes from the same revision.
    pub fn poll(&mut self, registry: &impl Registry) -> Result<Vec<Change>, RegistryError> {
        match registry.changes(&self.service, self.revision) {
            Ok((changes, revision)) => {
                for change in &changes {
                    self.apply(change);
                }
                self.revision = revision;
                Ok(changes)
            }
            Err(RegistryError::Compacted { .. }) => self.relist(registry),
            Err(e) => Err(e),
        }
    }

    fn relist(&mut self, registry: &impl Registry) -> Result<Vec<Change>, RegistryError> {
        let listing = registry.list(&self.service)?;
        self.relists += 1;
        let fresh: BTreeMap<String, Instance> = listing
            .instances
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect();
        let mut changes: Vec<Change> = self
            .view
            .keys()
            .filter(|id| !fresh.contains_key(*id))
            .map(|id| Change::Delete { id: id.clone() })
            .collect();
        changes.extend(
            fresh
                .iter()
                .filter(|(id, i)| self.view.get(*id) != Some(*i))
                .map(|(_, i)| Change::Put(i.clone())),
        );
        self.view = fresh;
        self.revision = listing.revision;
        Ok(changes)
    }

    fn apply(&mut self, change: &Change) {
        match change {
            Change::Put(instance) => {
                self.view.insert(instance.id.clone(), instance.clone());
            }
            Change::Delete { id } => {
                self.view.remove(id);
            }
        }
    }

    /// The instances, by id.
    pub fn instances(&self) -> impl Iterator<Item = &Instance> {
        self.view.values()
    }

    /// The last revision heard.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Times it had to list again because changes were compacted.
    pub fn relists(&self) -> u64 {
        self.relists
    }
}

//! The in-memory event store: the contract with nothing durable, for tests and for
//! services whose events live only as long as the process.

use crate::snapshot::check_snapshot;
use crate::store::{Decision, EventStore, StreamAppend, check_append, decide, resend_of};
use crate::{Appended, EventId, RecordedEvent, Snapshot, SnapshotStore, StoreError};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Debug, Default)]
struct Log {
    /// Every event, at index = global position.
    events: Vec<RecordedEvent>,
    /// Each stream's events' positions, at index = stream version.
    streams: BTreeMap<String, Vec<u64>>,
    /// Where each event id was put.
    ids: BTreeMap<EventId, u64>,
    /// The latest snapshot per stream and schema.
    snapshots: BTreeMap<(String, u32), Snapshot>,
}

/// An event store in memory. One lock orders every append, so positions are commit
/// order.
#[derive(Debug, Default)]
pub struct MemoryStore {
    log: Mutex<Log>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn lock(&self) -> MutexGuard<'_, Log> {
        // A panic while holding the lock happens before any change is made (every
        // check precedes the first write), so the log is whole.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl EventStore for MemoryStore {
    fn append_all(&self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        check_append(appends)?;
        let mut log = self.lock();
        let resends = appends
            .iter()
            .map(|a| {
                let found: Vec<Option<RecordedEvent>> = a
                    .events
                    .iter()
                    .map(|e| log.ids.get(&e.id).map(|&p| log.events[p as usize].clone()))
                    .collect();
                resend_of(a, &found)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let version = |stream: &str| Ok(log.streams.get(stream).map(|s| s.len() as u64 - 1));
        let starts = match decide(appends, resends, version)? {
            Decision::Resent(first) => return Ok(first),
            Decision::Write(starts) => starts,
        };
        // Every check passed: now write, all of it.
        let mut done = Vec::with_capacity(appends.len());
        for (a, start) in appends.iter().zip(starts) {
            let first_position = log.events.len() as u64;
            for (i, e) in a.events.iter().enumerate() {
                let position = log.events.len() as u64;
                log.events.push(RecordedEvent {
                    position,
                    stream: a.stream.to_string(),
                    version: start + i as u64,
                    event: e.clone(),
                });
                log.streams
                    .entry(a.stream.to_string())
                    .or_default()
                    .push(position);
                log.ids.insert(e.id, position);
            }
            done.push(Appended {
                first_position,
                last_version: start + a.events.len() as u64 - 1,
            });
        }
        Ok(done)
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let log = self.lock();
        Ok(log
            .streams
            .get(stream)
            .map(|positions| {
                positions
                    .iter()
                    .skip(from as usize)
                    .take(max)
                    .map(|&p| log.events[p as usize].clone())
                    .collect()
            })
            .unwrap_or_default())
    }

    fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let log = self.lock();
        Ok(log
            .events
            .iter()
            .skip(from as usize)
            .take(max)
            .cloned()
            .collect())
    }

    fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        Ok(self.lock().streams.get(stream).map(|s| s.len() as u64 - 1))
    }
}

impl SnapshotStore for MemoryStore {
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let mut log = self.lock();
        let current = log
            .streams
            .get(&snapshot.stream)
            .map(|s| s.len() as u64 - 1);
        check_snapshot(snapshot, current)?;
        let key = (snapshot.stream.clone(), snapshot.schema);
        if log
            .snapshots
            .get(&key)
            .is_none_or(|kept| kept.version < snapshot.version)
        {
            log.snapshots.insert(key, snapshot.clone());
        }
        Ok(())
    }

    fn load_snapshot(&self, stream: &str, schema: u32) -> Result<Option<Snapshot>, StoreError> {
        Ok(self
            .lock()
            .snapshots
            .get(&(stream.to_string(), schema))
            .cloned())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_memory_store_keeps_the_contract() {
        crate::conformance::run(super::MemoryStore::new);
    }
}

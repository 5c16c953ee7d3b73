//! The in-memory event store: the contract with nothing durable, for tests and for
//! services whose events live only as long as the process.

use crate::error::Actual;
use crate::store::{EventStore, StreamAppend, check_append, meets};
use crate::{Appended, EventId, RecordedEvent, StoreError};
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

/// What an append is, against the log: new, or a resend of events already stored.
enum Kind {
    Fresh,
    Resend(Appended),
}

/// Classify one stream's append: all its ids new, or all already in that stream in this
/// order (a resend), or a conflict.
fn classify(log: &Log, a: &StreamAppend<'_>) -> Result<Kind, StoreError> {
    let found: Vec<Option<u64>> = a
        .events
        .iter()
        .map(|e| log.ids.get(&e.id).copied())
        .collect();
    if found.iter().all(Option::is_none) {
        return Ok(Kind::Fresh);
    }
    let conflict = |i: usize| StoreError::IdempotencyConflict {
        stream: a.stream.to_string(),
        id: a.events[i].id,
    };
    let Some(first) = found[0] else {
        return Err(conflict(0));
    };
    let first_event = &log.events[first as usize];
    for (i, (pos, e)) in found.iter().zip(a.events).enumerate() {
        let Some(pos) = *pos else {
            return Err(conflict(i));
        };
        let stored = &log.events[pos as usize];
        if stored.stream != a.stream
            || stored.version != first_event.version + i as u64
            || stored.event != *e
        {
            return Err(conflict(i));
        }
    }
    Ok(Kind::Resend(Appended {
        first_position: first,
        last_version: first_event.version + a.events.len() as u64 - 1,
    }))
}

impl EventStore for MemoryStore {
    fn append_all(&self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        check_append(appends)?;
        let mut log = self.lock();
        let kinds = appends
            .iter()
            .map(|a| classify(&log, a))
            .collect::<Result<Vec<_>, _>>()?;
        let resent: Vec<Appended> = kinds
            .iter()
            .filter_map(|k| match k {
                Kind::Resend(done) => Some(*done),
                Kind::Fresh => None,
            })
            .collect();
        if resent.len() == appends.len() {
            return Ok(resent);
        }
        if !resent.is_empty() {
            return Err(StoreError::BadAppend(
                "part of this append was made before and part was not".into(),
            ));
        }
        for a in appends {
            let current = log.streams.get(a.stream).map(|s| s.len() as u64 - 1);
            if !meets(a.expected, current) {
                return Err(StoreError::WrongVersion {
                    stream: a.stream.to_string(),
                    expected: a.expected,
                    actual: current.map_or(Actual::NoStream, Actual::At),
                });
            }
        }
        // Every check passed: now write, all of it.
        let mut done = Vec::with_capacity(appends.len());
        for a in appends {
            let first_position = log.events.len() as u64;
            let start = log.streams.get(a.stream).map_or(0, |s| s.len() as u64);
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

#[cfg(test)]
mod tests {
    #[test]
    fn the_memory_store_keeps_the_contract() {
        crate::conformance::run(super::MemoryStore::new);
    }
}

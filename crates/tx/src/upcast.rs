//! Upcasting: old versions of an event's schema read as the current one.
//!
//! Stored events are never rewritten. Each event type declares its current schema
//! version and one step per older version (`v → v + 1`); on read, an event is stepped up
//! until it is current. An event whose type is not declared, whose version is newer than
//! the current one, or whose chain of steps has a hole is [`StoreError::UnknownEvent`]:
//! the reader refuses it rather than guess.

use crate::store::{EventStore, StreamAppend};
use crate::{Appended, RecordedEvent, StoreError};
use std::collections::BTreeMap;

/// One step: an event's data at version `v` to its data at `v + 1`, or why it cannot be.
pub type UpcastStep = Box<dyn Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync>;

/// The current schema version of each event type, and the steps up to it.
#[derive(Default)]
pub struct Upcasters {
    current: BTreeMap<String, u32>,
    /// Per type, the step from each older version.
    steps: BTreeMap<String, BTreeMap<u32, UpcastStep>>,
}

impl std::fmt::Debug for Upcasters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upcasters")
            .field("current", &self.current)
            .field(
                "steps",
                &self
                    .steps
                    .iter()
                    .map(|(kind, from)| (kind, from.keys().collect::<Vec<_>>()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Upcasters {
    /// None declared: every event is unknown until its type is.
    pub fn new() -> Upcasters {
        Upcasters::default()
    }

    /// Events of `kind` are now at schema `version`.
    pub fn current(mut self, kind: impl Into<String>, version: u32) -> Upcasters {
        self.current.insert(kind.into(), version);
        self
    }

    /// How an event of `kind` at version `from` becomes version `from + 1`.
    pub fn step(
        mut self,
        kind: impl Into<String>,
        from: u32,
        step: impl Fn(&[u8]) -> Result<Vec<u8>, String> + Send + Sync + 'static,
    ) -> Upcasters {
        self.steps
            .entry(kind.into())
            .or_default()
            .insert(from, Box::new(step));
        self
    }

    /// `event` at its type's current version.
    pub fn upcast(&self, mut event: RecordedEvent) -> Result<RecordedEvent, StoreError> {
        let unknown = |e: &RecordedEvent| StoreError::UnknownEvent {
            kind: e.event.kind.clone(),
            version: e.event.version,
        };
        let Some(&current) = self.current.get(&event.event.kind) else {
            return Err(unknown(&event));
        };
        if event.event.version > current {
            return Err(unknown(&event));
        }
        let steps = self.steps.get(&event.event.kind);
        while event.event.version < current {
            let Some(step) = steps.and_then(|s| s.get(&event.event.version)) else {
                return Err(unknown(&event));
            };
            event.event.data = step(&event.event.data).map_err(|why| StoreError::Corrupt {
                position: event.position,
                why: format!(
                    "{} version {} does not upcast: {why}",
                    event.event.kind, event.event.version
                ),
            })?;
            event.event.version += 1;
        }
        Ok(event)
    }
}

/// A store whose reads come back upcast: every event at its type's current version, or
/// the read fails with the first event that cannot be.
#[derive(Debug)]
pub struct Upcasting<S> {
    store: S,
    upcasters: Upcasters,
}

impl<S: EventStore> Upcasting<S> {
    /// `store`, read through `upcasters`.
    pub fn new(store: S, upcasters: Upcasters) -> Upcasting<S> {
        Upcasting { store, upcasters }
    }

    /// The store underneath.
    pub fn inner(&self) -> &S {
        &self.store
    }

    fn upcast_all(&self, events: Vec<RecordedEvent>) -> Result<Vec<RecordedEvent>, StoreError> {
        events
            .into_iter()
            .map(|e| self.upcasters.upcast(e))
            .collect()
    }
}

impl<S: EventStore> EventStore for Upcasting<S> {
    fn append_all(&self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        self.store.append_all(appends)
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.upcast_all(self.store.read_stream(stream, from, max)?)
    }

    fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.upcast_all(self.store.read_all(from, max)?)
    }

    fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        self.store.stream_version(stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Expected, MemoryStore, NewEvent};

    fn event(id: u128, kind: &str, version: u32, data: &str) -> NewEvent {
        NewEvent {
            version,
            ..NewEvent::new(id, kind, data)
        }
    }

    fn upcasters() -> Upcasters {
        // Deposited v1 "amount", v2 "amount;EUR", v3 "EUR:amount".
        Upcasters::new()
            .current("Deposited", 3)
            .step("Deposited", 1, |d| Ok([d, b";EUR"].concat()))
            .step("Deposited", 2, |d| {
                let text = std::str::from_utf8(d).map_err(|e| e.to_string())?;
                let (amount, currency) = text.split_once(';').ok_or("no currency")?;
                Ok(format!("{currency}:{amount}").into_bytes())
            })
            .current("Opened", 1)
    }

    #[test]
    fn old_versions_read_as_the_current_one_and_nothing_stored_changes() {
        let store = Upcasting::new(MemoryStore::new(), upcasters());
        store
            .append(
                "a",
                Expected::NoStream,
                &[
                    event(1, "Opened", 1, ""),
                    event(2, "Deposited", 1, "10"),
                    event(3, "Deposited", 2, "20;USD"),
                    event(4, "Deposited", 3, "GBP:30"),
                ],
            )
            .unwrap();
        let read: Vec<(u32, Vec<u8>)> = store
            .read_stream("a", 0, 10)
            .unwrap()
            .into_iter()
            .map(|e| (e.event.version, e.event.data))
            .collect();
        assert_eq!(
            read,
            [
                (1, b"".to_vec()),
                (3, b"EUR:10".to_vec()),
                (3, b"USD:20".to_vec()),
                (3, b"GBP:30".to_vec())
            ]
        );
        assert_eq!(store.read_all(0, 10).unwrap().len(), 4);
        let raw = store.inner().read_stream("a", 1, 1).unwrap();
        assert_eq!(
            (raw[0].event.version, raw[0].event.data.as_slice()),
            (1, &b"10"[..])
        );
    }

    #[test]
    fn unknown_types_future_versions_holes_and_failed_steps_are_refused() {
        let store = Upcasting::new(MemoryStore::new(), upcasters());
        let unknown = |kind: &str, version: u32| {
            store
                .append(
                    kind,
                    Expected::NoStream,
                    &[event(
                        u128::from(version) + 10 * kind.len() as u128,
                        kind,
                        version,
                        "1",
                    )],
                )
                .unwrap();
            store.read_stream(kind, 0, 10)
        };
        assert_eq!(
            unknown("Withdrawn", 1),
            Err(StoreError::UnknownEvent {
                kind: "Withdrawn".into(),
                version: 1
            })
        );
        assert_eq!(
            unknown("Opened", 2),
            Err(StoreError::UnknownEvent {
                kind: "Opened".into(),
                version: 2
            })
        );
        let holes = Upcasting::new(
            MemoryStore::new(),
            Upcasters::new()
                .current("Deposited", 3)
                .step("Deposited", 2, |d| Ok(d.to_vec())),
        );
        holes
            .append("h", Expected::NoStream, &[event(1, "Deposited", 1, "5")])
            .unwrap();
        assert_eq!(
            holes.read_all(0, 10),
            Err(StoreError::UnknownEvent {
                kind: "Deposited".into(),
                version: 1
            })
        );
        store
            .append(
                "bad",
                Expected::NoStream,
                &[event(99, "Deposited", 2, "no-separator")],
            )
            .unwrap();
        assert!(matches!(
            store.read_stream("bad", 0, 10),
            Err(StoreError::Corrupt { .. })
        ));
    }
}

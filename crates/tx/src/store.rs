//! The event store's contract, which every backend keeps (the conformance suite in
//! [`crate::conformance`] checks it).

use crate::{Appended, Expected, NewEvent, RecordedEvent, StoreError};

/// Events for one stream within an append.
#[derive(Clone, Copy, Debug)]
pub struct StreamAppend<'a> {
    /// The stream.
    pub stream: &'a str,
    /// What the writer expects of it.
    pub expected: Expected,
    /// The events, in order.
    pub events: &'a [NewEvent],
}

impl<'a> StreamAppend<'a> {
    /// `events` for `stream`, if it is as `expected`.
    pub fn new(stream: &'a str, expected: Expected, events: &'a [NewEvent]) -> Self {
        StreamAppend {
            stream,
            expected,
            events,
        }
    }
}

/// An event store: streams of events, and one global order over all of them.
///
/// - An append is all or nothing, across every stream it names.
/// - A resent append (the same event ids, in the same order, to the same stream) returns
///   where they were first put and writes nothing; a batch only partly appended before is
///   an [`StoreError::IdempotencyConflict`].
/// - Global positions increase in commit order: a reader following [`EventStore::read_all`]
///   never sees a position appear behind one it has passed.
pub trait EventStore {
    /// Append to several streams at once: all of them, or none.
    fn append_all(&self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError>;

    /// Append `events` to `stream`, if it is as `expected`.
    fn append(
        &self,
        stream: &str,
        expected: Expected,
        events: &[NewEvent],
    ) -> Result<Appended, StoreError> {
        let done = self.append_all(&[StreamAppend::new(stream, expected, events)])?;
        done.into_iter()
            .next()
            .ok_or_else(|| StoreError::Storage("an append returned no result".into()))
    }

    /// Up to `max` events of `stream` from version `from`.
    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError>;

    /// Up to `max` events of the whole store from global position `from`.
    fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError>;

    /// The version of `stream`'s last event, if it has any.
    fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError>;
}

/// Checks every backend makes before writing: names, batches, ids within the append.
pub(crate) fn check_append(appends: &[StreamAppend<'_>]) -> Result<(), StoreError> {
    if appends.is_empty() {
        return Err(StoreError::BadAppend("no streams".into()));
    }
    let mut streams = std::collections::BTreeSet::new();
    let mut ids = std::collections::BTreeSet::new();
    for a in appends {
        if a.stream.is_empty() {
            return Err(StoreError::BadAppend("an empty stream name".into()));
        }
        if a.events.is_empty() {
            return Err(StoreError::BadAppend(format!(
                "no events for stream {:?}",
                a.stream
            )));
        }
        if !streams.insert(a.stream) {
            return Err(StoreError::BadAppend(format!(
                "stream {:?} twice in one append",
                a.stream
            )));
        }
        for e in a.events {
            if !ids.insert(e.id) {
                return Err(StoreError::DuplicateEvent(e.id));
            }
        }
    }
    Ok(())
}

/// Whether a stream at `current` (its last version) is as `expected`.
pub(crate) fn meets(expected: Expected, current: Option<u64>) -> bool {
    match expected {
        Expected::Any => true,
        Expected::NoStream => current.is_none(),
        Expected::StreamExists => current.is_some(),
        Expected::Exact(v) => current == Some(v),
    }
}

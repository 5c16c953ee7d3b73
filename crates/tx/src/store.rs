//! The event store's contract, which every backend keeps (the conformance suite in
//! [`crate::conformance`] checks it).

use crate::error::Actual;
use crate::{Appended, EventId, Expected, NewEvent, RecordedEvent, StoreError};

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
fn meets(expected: Expected, current: Option<u64>) -> bool {
    match expected {
        Expected::Any => true,
        Expected::NoStream => current.is_none(),
        Expected::StreamExists => current.is_some(),
        Expected::Exact(v) => current == Some(v),
    }
}

/// Whether one stream's append was made before, given what the store holds under each of
/// its event ids: `Some` with where it went (every id stored, in this stream, in this
/// order, unchanged), `None` if every id is new, else a conflict.
pub(crate) fn resend_of(
    a: &StreamAppend<'_>,
    found: &[Option<RecordedEvent>],
) -> Result<Option<Appended>, StoreError> {
    if found.iter().all(Option::is_none) {
        return Ok(None);
    }
    let conflict = |i: usize| StoreError::IdempotencyConflict {
        stream: a.stream.to_string(),
        id: a.events[i].id,
    };
    let Some(first) = &found[0] else {
        return Err(conflict(0));
    };
    for (i, (stored, e)) in found.iter().zip(a.events).enumerate() {
        match stored {
            Some(s)
                if s.stream == a.stream
                    && s.version == first.version + i as u64
                    && s.event == *e => {}
            _ => return Err(conflict(i)),
        }
    }
    Ok(Some(Appended {
        first_position: first.position,
        last_version: first.version + a.events.len() as u64 - 1,
    }))
}

/// What to do with an append, once checked.
pub(crate) enum Decision {
    /// A whole resend: where its events went the first time.
    Resent(Vec<Appended>),
    /// Write: each stream's events start at this version.
    Write(Vec<u64>),
}

/// What to do with an append once each stream's resend check is known: return the first
/// results (a whole resend), refuse (a partial resend, or an expectation not met), or
/// write from each stream's next version. `current` reads a stream's last version.
pub(crate) fn decide(
    appends: &[StreamAppend<'_>],
    resends: Vec<Option<Appended>>,
    mut current: impl FnMut(&str) -> Result<Option<u64>, StoreError>,
) -> Result<Decision, StoreError> {
    let count = resends.iter().filter(|r| r.is_some()).count();
    if count == appends.len() {
        return Ok(Decision::Resent(resends.into_iter().flatten().collect()));
    }
    if count > 0 {
        return Err(StoreError::BadAppend(
            "part of this append was made before and part was not".into(),
        ));
    }
    let mut starts = Vec::with_capacity(appends.len());
    for a in appends {
        let now = current(a.stream)?;
        if !meets(a.expected, now) {
            return Err(StoreError::WrongVersion {
                stream: a.stream.to_string(),
                expected: a.expected,
                actual: now.map_or(Actual::NoStream, Actual::At),
            });
        }
        starts.push(now.map_or(0, |v| v + 1));
    }
    Ok(Decision::Write(starts))
}

/// The columns every backend selects for an event, in the order [`decode`] reads them.
pub(crate) const COLUMNS: &str = "position, stream, version, id, kind, schema, data, metadata";

/// A stored row's columns, in the order every backend selects them: position, stream,
/// version, id, kind, schema, data, metadata. Each read says why it failed, as text.
pub(crate) trait Columns {
    /// An integer column.
    fn int(&self, column: usize) -> Result<i64, String>;
    /// A text column.
    fn text(&self, column: usize) -> Result<String, String>;
    /// A binary column.
    fn bytes(&self, column: usize) -> Result<Vec<u8>, String>;
}

/// A row back into an event; a row that does not decode is [`StoreError::Corrupt`].
pub(crate) fn decode(row: &impl Columns) -> Result<RecordedEvent, StoreError> {
    let position = row.int(0).map_err(StoreError::Storage)?;
    let corrupt = |why: String| StoreError::Corrupt {
        position: position as u64,
        why,
    };
    let id: [u8; 16] = row
        .bytes(3)
        .map_err(corrupt)?
        .try_into()
        .map_err(|v: Vec<u8>| corrupt(format!("an event id of {} bytes", v.len())))?;
    let version = row.int(2).map_err(corrupt)?;
    let schema = row.int(5).map_err(corrupt)?;
    Ok(RecordedEvent {
        position: position as u64,
        stream: row.text(1).map_err(corrupt)?,
        version: u64::try_from(version).map_err(|_| corrupt(format!("version {version}")))?,
        event: NewEvent {
            id: EventId(u128::from_be_bytes(id)),
            kind: row.text(4).map_err(corrupt)?,
            version: u32::try_from(schema)
                .map_err(|_| corrupt(format!("schema version {schema}")))?,
            data: row.bytes(6).map_err(corrupt)?,
            metadata: row.bytes(7).map_err(corrupt)?,
        },
    })
}

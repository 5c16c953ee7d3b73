//! What an event store can refuse, as values.

use crate::{EventId, Expected};

/// Why an append or a read failed. Nothing is half-written: a failed append appended
/// nothing, in any of its streams.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The stream was not at the version the writer expected (another writer won).
    #[error("stream {stream:?}: expected {expected}, but it is at {actual}")]
    WrongVersion {
        /// The stream.
        stream: String,
        /// What the writer expected.
        expected: Expected,
        /// Where it is: its last event's version, or "no stream".
        actual: Actual,
    },
    /// Some events of a batch were appended before and some were not: a resend that
    /// does not match what was stored.
    #[error("stream {stream:?}: event {id} was appended before, but not with this batch")]
    IdempotencyConflict {
        /// The stream.
        stream: String,
        /// The first event id that does not match.
        id: EventId,
    },
    /// An empty stream name, an empty batch, or one stream twice in an atomic append.
    #[error("bad append: {0}")]
    BadAppend(String),
    /// One event id twice in what was given.
    #[error("event {0} appears twice in one append")]
    DuplicateEvent(EventId),
    /// A stored event that cannot be decoded (a corrupt row).
    #[error("event at position {position} is corrupt: {why}")]
    Corrupt {
        /// Its global position.
        position: u64,
        /// What is wrong.
        why: String,
    },
    /// An event of a type or version no upcaster knows.
    #[error("no upcaster for {kind} version {version}")]
    UnknownEvent {
        /// The event type.
        kind: String,
        /// Its schema version.
        version: u32,
    },
    /// The backend failed (I/O, the database).
    #[error("storage: {0}")]
    Storage(String),
    /// The append may or may not have been written (the writer committing it died in the
    /// middle): read the stream to find out before appending again.
    #[error("outcome unknown: {0}; read the stream to see whether the append was written")]
    Indeterminate(String),
}

/// Where a stream is, as an error reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actual {
    /// The stream has no events.
    NoStream,
    /// Its last event's version (from 0).
    At(u64),
}

impl std::fmt::Display for Actual {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Actual::NoStream => write!(f, "no stream"),
            Actual::At(v) => write!(f, "version {v}"),
        }
    }
}

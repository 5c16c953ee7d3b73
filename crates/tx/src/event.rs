//! Events as written and as read back.

/// An event's id, chosen by the writer (a UUID's 128 bits, say): what makes a resent
/// append idempotent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventId(pub u128);

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// An event to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewEvent {
    /// Unique across the store.
    pub id: EventId,
    /// Its type ("OrderPlaced").
    pub kind: String,
    /// The schema version of `data`, for upcasting on read.
    pub version: u32,
    /// The payload, encoded by the application.
    pub data: Vec<u8>,
    /// Correlation and causation ids, and anything else not part of the event.
    pub metadata: Vec<u8>,
}

impl NewEvent {
    /// An event of `kind` at schema version 1 with `data` and no metadata.
    pub fn new(id: u128, kind: impl Into<String>, data: impl Into<Vec<u8>>) -> NewEvent {
        NewEvent {
            id: EventId(id),
            kind: kind.into(),
            version: 1,
            data: data.into(),
            metadata: Vec::new(),
        }
    }
}

/// An event as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// Its place in the whole store: increasing in commit order, without gaps a reader
    /// could skip.
    pub position: u64,
    /// Its stream.
    pub stream: String,
    /// Its place in the stream, from 0.
    pub version: u64,
    /// What was appended.
    pub event: NewEvent,
}

/// What a writer expects of a stream before appending to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Anything: append regardless.
    Any,
    /// The stream must not exist yet.
    NoStream,
    /// The stream must exist.
    StreamExists,
    /// The stream's last event must be at this version.
    Exact(u64),
}

impl std::fmt::Display for Expected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Any => write!(f, "any version"),
            Expected::NoStream => write!(f, "no stream"),
            Expected::StreamExists => write!(f, "an existing stream"),
            Expected::Exact(v) => write!(f, "version {v}"),
        }
    }
}

/// Where an append put its events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// The global position of its first event.
    pub first_position: u64,
    /// The stream version of its last event.
    pub last_version: u64,
}

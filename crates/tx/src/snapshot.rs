//! Snapshots: a stream's state as of one of its versions, so loading an aggregate reads
//! the snapshot and only the events after it.
//!
//! A snapshot is kept per stream and per schema version of the state it holds. When the
//! state's shape changes, the application bumps its schema: old snapshots are then never
//! returned (they would not decode), and the first load in the new schema replays the
//! stream from the start and saves a new one. Nothing needs migrating.

use crate::StoreError;

/// A stream's state as of one of its versions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// The stream.
    pub stream: String,
    /// The version of the stream's last event the state includes.
    pub version: u64,
    /// The schema version of `data`.
    pub schema: u32,
    /// The state, encoded by the application.
    pub data: Vec<u8>,
}

impl Snapshot {
    /// A kept snapshot as read back from a row: a negative version is corrupt.
    pub(crate) fn from_row(
        stream: &str,
        version: i64,
        schema: u32,
        data: Vec<u8>,
    ) -> Result<Snapshot, StoreError> {
        Ok(Snapshot {
            stream: stream.to_string(),
            version: u64::try_from(version).map_err(|_| StoreError::Corrupt {
                position: 0,
                why: format!("snapshot of {stream:?} at version {version}"),
            })?,
            schema,
            data,
        })
    }
}

/// Keep a snapshot unless a newer one of the same stream and schema is kept (the same
/// statement in SQLite and PostgreSQL).
pub(crate) const SAVE_SNAPSHOT: &str = "
INSERT INTO snapshots (stream, schema, version, data) VALUES ($1, $2, $3, $4)
ON CONFLICT (stream, schema) DO UPDATE SET version = excluded.version, data = excluded.data
WHERE excluded.version > snapshots.version";

/// A stream's kept snapshot in one schema.
pub(crate) const LOAD_SNAPSHOT: &str =
    "SELECT version, data FROM snapshots WHERE stream = $1 AND schema = $2";

/// Where snapshots are kept: beside the events, in the same store.
pub trait SnapshotStore {
    /// Keep `snapshot` as its stream's latest in its schema. An older one than is kept
    /// already is ignored; one past the stream's last event is refused.
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError>;

    /// `stream`'s latest snapshot in `schema`, if there is one.
    fn load_snapshot(&self, stream: &str, schema: u32) -> Result<Option<Snapshot>, StoreError>;
}

/// What every backend checks before keeping a snapshot of a stream now at `current`.
pub(crate) fn check_snapshot(snapshot: &Snapshot, current: Option<u64>) -> Result<(), StoreError> {
    if snapshot.stream.is_empty() {
        return Err(StoreError::BadAppend(
            "a snapshot of an empty stream name".into(),
        ));
    }
    match current {
        Some(last) if snapshot.version <= last => Ok(()),
        _ => Err(StoreError::BadAppend(format!(
            "a snapshot of stream {:?} at version {}, past its last event ({})",
            snapshot.stream,
            snapshot.version,
            current.map_or("none".to_string(), |v| v.to_string())
        ))),
    }
}

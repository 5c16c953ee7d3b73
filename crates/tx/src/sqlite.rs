//! The SQLite event store: the embedded default. One file; every acknowledged append is
//! on disk (`synchronous=FULL` in WAL mode, so a commit is fsynced before it returns).
//!
//! Global positions are SQLite rowids. SQLite admits one writer at a time, and a rolled-
//! back insert gives its rowid back (the table has no AUTOINCREMENT), so positions are
//! gapless and follow commit order: a reader can never see position `p + 1` while `p` is
//! still uncommitted.

use crate::store::{Decision, EventStore, StreamAppend, check_append, decide, resend_of};
use crate::{Appended, EventId, NewEvent, RecordedEvent, StoreError};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    position INTEGER PRIMARY KEY,
    stream   TEXT    NOT NULL,
    version  INTEGER NOT NULL,
    id       BLOB    NOT NULL UNIQUE,
    kind     TEXT    NOT NULL,
    schema   INTEGER NOT NULL,
    data     BLOB    NOT NULL,
    metadata BLOB    NOT NULL,
    UNIQUE (stream, version)
);
";

/// An event store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

fn storage(e: rusqlite::Error) -> StoreError {
    StoreError::Storage(e.to_string())
}

impl SqliteStore {
    /// Open (creating if need be) the store in `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        SqliteStore::with(Connection::open(path).map_err(storage)?)
    }

    /// A store in memory (for tests of code above the store).
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        SqliteStore::with(Connection::open_in_memory().map_err(storage)?)
    }

    fn with(conn: Connection) -> Result<SqliteStore, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(storage)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(storage)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(storage)?;
        conn.execute_batch(SCHEMA).map_err(storage)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // SQLite rolls back a transaction dropped unfinished, so a panic under the lock
        // leaves the database whole.
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A row back into an event; a row that does not decode is [`StoreError::Corrupt`].
fn decode(row: &rusqlite::Row<'_>) -> Result<RecordedEvent, StoreError> {
    let position: i64 = row.get(0).map_err(storage)?;
    let corrupt = |why: String| StoreError::Corrupt {
        position: position as u64,
        why,
    };
    let id: Vec<u8> = row.get(3).map_err(|e| corrupt(e.to_string()))?;
    let id: [u8; 16] = id
        .try_into()
        .map_err(|v: Vec<u8>| corrupt(format!("an event id of {} bytes", v.len())))?;
    let version: i64 = row.get(2).map_err(|e| corrupt(e.to_string()))?;
    let schema: i64 = row.get(5).map_err(|e| corrupt(e.to_string()))?;
    Ok(RecordedEvent {
        position: position as u64,
        stream: row.get(1).map_err(|e| corrupt(e.to_string()))?,
        version: u64::try_from(version).map_err(|_| corrupt(format!("version {version}")))?,
        event: NewEvent {
            id: EventId(u128::from_be_bytes(id)),
            kind: row.get(4).map_err(|e| corrupt(e.to_string()))?,
            version: u32::try_from(schema)
                .map_err(|_| corrupt(format!("schema version {schema}")))?,
            data: row.get(6).map_err(|e| corrupt(e.to_string()))?,
            metadata: row.get(7).map_err(|e| corrupt(e.to_string()))?,
        },
    })
}

const COLUMNS: &str = "position, stream, version, id, kind, schema, data, metadata";

/// `stream`'s last version (read inside the append's transaction when an append asks).
fn current_version(conn: &Connection, stream: &str) -> Result<Option<u64>, StoreError> {
    let v: Option<i64> = conn
        .query_row(
            "SELECT MAX(version) FROM events WHERE stream = ?1",
            params![stream],
            |r| r.get(0),
        )
        .map_err(storage)?;
    Ok(v.map(|v| v as u64))
}

/// What `tx` holds under each of the append's event ids.
fn stored(
    tx: &rusqlite::Transaction<'_>,
    a: &StreamAppend<'_>,
) -> Result<Vec<Option<RecordedEvent>>, StoreError> {
    let mut q = tx
        .prepare_cached(&format!("SELECT {COLUMNS} FROM events WHERE id = ?1"))
        .map_err(storage)?;
    a.events
        .iter()
        .map(|e| {
            q.query_row(params![e.id.0.to_be_bytes()], |r| Ok(decode(r)))
                .optional()
                .map_err(storage)?
                .transpose()
        })
        .collect()
}

impl EventStore for SqliteStore {
    fn append_all(&self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        check_append(appends)?;
        let mut conn = self.lock();
        // IMMEDIATE: take the write lock now, so the checks below see what the writes
        // will be made against.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage)?;
        let resends = appends
            .iter()
            .map(|a| resend_of(a, &stored(&tx, a)?))
            .collect::<Result<Vec<_>, _>>()?;
        let starts = match decide(appends, resends, |stream| current_version(&tx, stream))? {
            Decision::Resent(first) => return Ok(first),
            Decision::Write(starts) => starts,
        };
        let mut done = Vec::with_capacity(appends.len());
        {
            let mut insert = tx
                .prepare_cached(
                    "INSERT INTO events (stream, version, id, kind, schema, data, metadata)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                )
                .map_err(storage)?;
            for (a, start) in appends.iter().zip(starts) {
                let mut first_position = None;
                for (i, e) in a.events.iter().enumerate() {
                    insert
                        .execute(params![
                            a.stream,
                            (start + i as u64) as i64,
                            e.id.0.to_be_bytes(),
                            e.kind,
                            i64::from(e.version),
                            e.data,
                            e.metadata
                        ])
                        .map_err(storage)?;
                    first_position.get_or_insert(tx.last_insert_rowid() as u64);
                }
                done.push(Appended {
                    first_position: first_position.unwrap_or_default(),
                    last_version: start + a.events.len() as u64 - 1,
                });
            }
        }
        tx.commit().map_err(storage)?;
        Ok(done)
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let conn = self.lock();
        let mut q = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE stream = ?1 AND version >= ?2
                 ORDER BY version LIMIT ?3"
            ))
            .map_err(storage)?;
        let rows = q
            .query_map(
                params![stream, from as i64, max.min(i64::MAX as usize) as i64],
                |r| Ok(decode(r)),
            )
            .map_err(storage)?;
        rows.map(|r| r.map_err(storage)?).collect()
    }

    fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        let conn = self.lock();
        let mut q = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM events WHERE position >= ?1 ORDER BY position LIMIT ?2"
            ))
            .map_err(storage)?;
        let rows = q
            .query_map(
                params![
                    from.min(i64::MAX as u64) as i64,
                    max.min(i64::MAX as usize) as i64
                ],
                |r| Ok(decode(r)),
            )
            .map_err(storage)?;
        rows.map(|r| r.map_err(storage)?).collect()
    }

    fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        current_version(&self.lock(), stream)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Expected;

    /// A fresh database file per store, removed with the directory.
    fn dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("dsys-tx-{}-{}", std::process::id(), unique()));
        std::fs::create_dir_all(&dir).ok();
        dir
    }

    fn unique() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        NEXT.fetch_add(1, Ordering::Relaxed)
    }

    #[test]
    fn the_sqlite_store_keeps_the_contract() {
        let root = dir();
        crate::conformance::run(|| {
            SqliteStore::open(root.join(format!("{}.db", unique()))).expect("open")
        });
        std::fs::remove_dir_all(root).ok();
    }

    #[test]
    fn events_survive_reopening_and_a_corrupt_row_is_an_error() {
        let root = dir();
        let path = root.join("events.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            store
                .append(
                    "s",
                    Expected::NoStream,
                    &[NewEvent::new(1, "A", b"x".to_vec())],
                )
                .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(store.stream_version("s").unwrap(), Some(0));
        store
            .lock()
            .execute("UPDATE events SET id = x'00' WHERE stream = 's'", [])
            .unwrap();
        assert!(matches!(
            store.read_all(0, 10),
            Err(StoreError::Corrupt { .. })
        ));
        std::fs::remove_dir_all(root).ok();
    }
}

//! The SQLite event store: the embedded default. One file; every acknowledged append is
//! on disk (`synchronous=FULL` in WAL mode, so a commit is fsynced before it returns).
//!
//! Concurrent appends commit in groups: a writer queues its append, and if no writer is
//! committing, it becomes the one that does: it writes every queued append in one
//! transaction, each in its own savepoint (so one refused append does not undo the
//! others), commits them with one fsync, and wakes the rest, which find their results
//! (or, if theirs came too late for that group, one of them commits the next).
//!
//! Reads use a second connection: in WAL mode they see the last commit without waiting
//! for a writer's fsync.
//!
//! Global positions are SQLite rowids. SQLite admits one writer at a time, and a rolled-
//! back insert gives its rowid back (the table has no AUTOINCREMENT), so positions are
//! gapless and follow commit order: a reader can never see position `p + 1` while `p` is
//! still uncommitted.

use crate::group_commit::{GroupCommit, Outcome};
use crate::snapshot::{LOAD_SNAPSHOT, SAVE_SNAPSHOT, check_snapshot};
use crate::sql::{Cell, Database, Dialect, Row, Sql, Value, pattern_schema};
use crate::store::{
    COLUMNS, Columns, Decision, EventStore, StreamAppend, check_append, decide, decode, resend_of,
};
use crate::{Appended, NewEvent, RecordedEvent, Snapshot, SnapshotStore, StoreError};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::borrow::Cow;
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
CREATE TABLE IF NOT EXISTS snapshots (
    stream  TEXT    NOT NULL,
    schema  INTEGER NOT NULL,
    version INTEGER NOT NULL,
    data    BLOB    NOT NULL,
    PRIMARY KEY (stream, schema)
);
";

/// An event store in one SQLite file.
#[derive(Debug)]
pub struct SqliteStore {
    /// The writing connection, held by the writer committing a group.
    conn: Mutex<Connection>,
    /// Appends waiting for the next group, one writer committing.
    group: GroupCommit<Vec<OwnedAppend>, AppendResult>,
    /// The reading connection.
    reader: Mutex<Connection>,
}

type AppendResult = Result<Vec<Appended>, StoreError>;

/// A [`StreamAppend`] the committing writer can hold for another thread.
#[derive(Debug)]
struct OwnedAppend {
    stream: String,
    expected: crate::Expected,
    events: Vec<NewEvent>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // SQLite rolls back a transaction dropped unfinished, and the queue and result slots
    // are whole between statements, so a panic under a lock leaves nothing half-done.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

fn storage(e: rusqlite::Error) -> StoreError {
    StoreError::Storage(e.to_string())
}

impl SqliteStore {
    /// Open (creating if need be) the store in `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStore, StoreError> {
        let path = path.as_ref();
        let conn = configure(Connection::open(path).map_err(storage)?)?;
        conn.execute_batch(SCHEMA).map_err(storage)?;
        conn.execute_batch(&pattern_schema(Dialect::Sqlite))
            .map_err(storage)?;
        let reader = configure(Connection::open(path).map_err(storage)?)?;
        Ok(SqliteStore::with(conn, reader))
    }

    fn with(conn: Connection, reader: Connection) -> SqliteStore {
        SqliteStore {
            conn: Mutex::new(conn),
            group: GroupCommit::new(),
            reader: Mutex::new(reader),
        }
    }

    /// The writing connection (for tests that need to reach under the store).
    #[cfg(test)]
    fn lock(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }

    /// Commit every queued append, each in its own savepoint, in one transaction; one
    /// result per append.
    fn commit_group(conn: &mut Connection, group: &[&Vec<OwnedAppend>]) -> Vec<AppendResult> {
        match write_group(conn, group) {
            Ok(results) => results,
            // The transaction failed as a whole (say, the disk is full): every append in
            // it failed, and nothing of any of them was written.
            Err(e) => group.iter().map(|_| Err(e.clone())).collect(),
        }
    }
}

/// WAL, fsync on every commit, and a wait rather than an error if another process holds
/// the database.
fn configure(conn: Connection) -> Result<Connection, StoreError> {
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(storage)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(storage)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(storage)?;
    Ok(conn)
}

/// One transaction for a group of appends: each in a savepoint, rolled back alone if it
/// is refused. The outer error is the transaction's own failure.
#[allow(clippy::type_complexity)]
fn write_group(
    conn: &mut Connection,
    group: &[&Vec<OwnedAppend>],
) -> Result<Vec<AppendResult>, StoreError> {
    // IMMEDIATE: take the write lock now, so the checks below see what the writes will be
    // made against.
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(storage)?;
    let mut results = Vec::with_capacity(group.len());
    for q in group {
        let appends: Vec<StreamAppend<'_>> = q
            .iter()
            .map(|a| StreamAppend::new(&a.stream, a.expected, &a.events))
            .collect();
        let sp = tx.savepoint().map_err(storage)?;
        let result = write_one(&sp, &appends);
        if result.is_ok() {
            sp.commit().map_err(storage)?;
        }
        // A savepoint dropped uncommitted rolls back to where it began.
        results.push(result);
    }
    tx.commit().map_err(storage)?;
    Ok(results)
}

impl Columns for rusqlite::Row<'_> {
    fn int(&self, column: usize) -> Result<i64, String> {
        self.get(column).map_err(|e| e.to_string())
    }

    fn text(&self, column: usize) -> Result<String, String> {
        self.get(column).map_err(|e| e.to_string())
    }

    fn bytes(&self, column: usize) -> Result<Vec<u8>, String> {
        self.get(column).map_err(|e| e.to_string())
    }
}

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
fn stored(tx: &Connection, a: &StreamAppend<'_>) -> Result<Vec<Option<RecordedEvent>>, StoreError> {
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

/// One append within the group's transaction: resend check, expectations, inserts.
fn write_one(tx: &Connection, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
    let resends = appends
        .iter()
        .map(|a| resend_of(a, &stored(tx, a)?))
        .collect::<Result<Vec<_>, _>>()?;
    let starts = match decide(appends, resends, |stream| current_version(tx, stream))? {
        Decision::Resent(first) => return Ok(first),
        Decision::Write(starts) => starts,
    };
    let mut done = Vec::with_capacity(appends.len());
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
    Ok(done)
}

impl EventStore for SqliteStore {
    fn append_all(&self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        check_append(appends)?;
        let mine: Vec<OwnedAppend> = appends
            .iter()
            .map(|a| OwnedAppend {
                stream: a.stream.to_string(),
                expected: a.expected,
                events: a.events.to_vec(),
            })
            .collect();
        let outcome = self.group.submit(mine, |group| {
            SqliteStore::commit_group(&mut lock(&self.conn), group)
        });
        match outcome {
            Outcome::Done(result) => result,
            Outcome::Unknown => Err(StoreError::Indeterminate(
                "the writer committing this append's group panicked".to_string(),
            )),
        }
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let conn = lock(&self.reader);
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
        let conn = lock(&self.reader);
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
        current_version(&lock(&self.reader), stream)
    }
}

impl Database for SqliteStore {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn transact<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = lock(&self.conn);
        // IMMEDIATE: the write lock from the start, so what the work reads is what its
        // writes are made against (SQLite has one writer; this is it until commit).
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(storage)?;
        let done = work(&mut SqliteSql { tx: &tx })?;
        tx.commit().map_err(storage)?;
        Ok(done)
    }
}

/// [`Sql`] on an open SQLite transaction.
struct SqliteSql<'a> {
    tx: &'a Connection,
}

/// `$1`, `$2`, ... as SQLite's explicitly numbered `?1`, `?2`, ...: SQLite would read
/// `$1` as a *named* parameter, numbered by where it first appears.
fn numbered(sql: &str) -> Cow<'_, str> {
    if !sql.contains('$') {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

impl rusqlite::ToSql for Value<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Value::Null => ValueRef::Null,
            Value::Int(v) => ValueRef::Integer(v),
            Value::Text(v) => ValueRef::Text(v.as_bytes()),
            Value::Bytes(v) => ValueRef::Blob(v),
        }))
    }
}

fn cell(value: ValueRef<'_>) -> Cell {
    match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(v) => Cell::Int(v),
        // The patterns store no floating point; an application's column reads as text.
        ValueRef::Real(v) => Cell::Text(v.to_string()),
        ValueRef::Text(v) => Cell::Text(String::from_utf8_lossy(v).into_owned()),
        ValueRef::Blob(v) => Cell::Bytes(v.to_vec()),
    }
}

impl Sql for SqliteSql<'_> {
    fn dialect(&self) -> Dialect {
        Dialect::Sqlite
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let mut q = self.tx.prepare_cached(&numbered(sql)).map_err(storage)?;
        let changed = q
            .execute(rusqlite::params_from_iter(params.iter()))
            .map_err(storage)?;
        Ok(changed as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, StoreError> {
        let mut q = self.tx.prepare_cached(&numbered(sql)).map_err(storage)?;
        let columns = q.column_count();
        let rows = q
            .query_map(rusqlite::params_from_iter(params.iter()), |r| {
                (0..columns)
                    .map(|i| r.get_ref(i).map(cell))
                    .collect::<rusqlite::Result<Vec<Cell>>>()
                    .map(Row::new)
            })
            .map_err(storage)?;
        rows.map(|r| r.map_err(storage)).collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.tx.execute_batch(sql).map_err(storage)
    }

    fn append_all(&mut self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        check_append(appends)?;
        // A savepoint, so a refused append leaves the rest of the transaction as it was.
        self.tx
            .execute_batch("SAVEPOINT dsys_append")
            .map_err(storage)?;
        let result = write_one(self.tx, appends);
        let end = if result.is_ok() {
            "RELEASE dsys_append"
        } else {
            "ROLLBACK TO dsys_append; RELEASE dsys_append"
        };
        self.tx.execute_batch(end).map_err(storage)?;
        result
    }
}

impl SnapshotStore for SqliteStore {
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let conn = lock(&self.conn);
        check_snapshot(snapshot, current_version(&conn, &snapshot.stream)?)?;
        conn.prepare_cached(SAVE_SNAPSHOT)
            .and_then(|mut q| {
                q.execute(params![
                    snapshot.stream,
                    i64::from(snapshot.schema),
                    snapshot.version as i64,
                    snapshot.data
                ])
            })
            .map_err(storage)?;
        Ok(())
    }

    fn load_snapshot(&self, stream: &str, schema: u32) -> Result<Option<Snapshot>, StoreError> {
        let conn = lock(&self.reader);
        let row = conn
            .prepare_cached(LOAD_SNAPSHOT)
            .and_then(|mut q| {
                q.query_row(params![stream, i64::from(schema)], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()
            })
            .map_err(storage)?;
        row.map(|(version, data)| Snapshot::from_row(stream, version, schema, data))
            .transpose()
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
    fn the_patterns_keep_their_contract_on_sqlite() {
        let root = dir();
        crate::conformance::patterns(|| {
            SqliteStore::open(root.join(format!("{}.db", unique()))).expect("open")
        });
        std::fs::remove_dir_all(root).ok();
    }

    #[test]
    fn numbered_parameters_become_sqlites_own() {
        assert_eq!(numbered("a = $1 AND b = $12"), "a = ?1 AND b = ?12");
        assert_eq!(numbered("'$' || $2"), "'$' || ?2");
        assert!(matches!(numbered("no parameters"), Cow::Borrowed(_)));
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

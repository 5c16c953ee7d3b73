//! The PostgreSQL event store: for systems that outgrow one machine's file.
//!
//! Positions are gapless and in commit order, as in SQLite, and for the same reason:
//! appends are serialised. Every append takes one transaction-scoped advisory lock (keyed
//! by the events table, so stores in other schemas do not contend), reads the last
//! position under it, and releases it only at commit. A transaction that has appended and
//! not yet committed therefore holds back every later append, and a reader can never see
//! position `p + 1` while `p` is uncommitted: the gap a sequence leaves (`p` allocated,
//! `p + 1` committed first, a subscriber moving past `p`) cannot open.
//!
//! An append is one round trip in the common case. The server holds one primitive,
//! `dsys_insert_at`: under the lock, insert these events at exactly these stream
//! versions if every stream is where the writer believes and no event id is stored yet,
//! else insert nothing and say so. Where the versions follow from the expectation
//! ([`Expected::NoStream`], [`Expected::Exact`]), the store calls it straight away. When
//! it refuses, or the expectation gives no version ([`Expected::Any`],
//! [`Expected::StreamExists`]), the store reads what is stored under the ids and each
//! stream's version, decides as every backend does ([`crate::store::decide`]), and calls
//! it again with what it found; if another writer moved in between, it reads again.
//!
//! The commonest append of all, one event at a known version, first tries
//! [`INSERT_ONE`]: the same check and insert as one plain statement, which spares the
//! server the call into `dsys_insert_at`.
//!
//! Durability is PostgreSQL's: with `synchronous_commit = on` (the default) an
//! acknowledged append is in the server's fsynced WAL.

use crate::snapshot::{LOAD_SNAPSHOT, SAVE_SNAPSHOT, check_snapshot};
use crate::sql::{Cell, Database, Dialect, Sql, Value, pattern_schema};
use crate::store::{
    COLUMNS, Columns, Decision, EventStore, StreamAppend, check_append, decide, decode, resend_of,
};
use crate::{Appended, Expected, NewEvent, RecordedEvent, Snapshot, SnapshotStore, StoreError};
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, GenericClient, NoTls, Row, Statement};
use std::cell::OnceCell;
use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

/// An event store in a PostgreSQL database (in the connection's `search_path` schema).
pub struct PostgresStore {
    config: postgres::Config,
    /// Idle connections; an operation takes one, or opens one if none is idle.
    idle: Mutex<Vec<Conn>>,
}

/// A pooled connection with the store's statements prepared on it: a statement sent as
/// text costs a round trip of its own to prepare, as much again as running it.
struct Conn {
    client: Client,
    statements: Statements,
    /// Statements [`Sql`] ran on this connection, by their text.
    prepared: BTreeMap<String, Statement>,
}

mod append;
mod schema;
mod sql;

use append::*;
use schema::*;
use sql::*;

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

fn storage(e: postgres::Error) -> StoreError {
    StoreError::Storage(describe(&e))
}

/// `e` with its causes: the client's own text for a server's error is only "db error",
/// and the server's message is the cause.
fn describe(e: &postgres::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

impl PostgresStore {
    /// Connect with a libpq-style string (`host=127.0.0.1 port=5432 user=dsys
    /// dbname=postgres`; `options='-c search_path=myschema'` to keep the store in a
    /// schema) and create the store's table and function if they are missing.
    pub fn open(params: &str) -> Result<PostgresStore, StoreError> {
        let config: postgres::Config = params.parse().map_err(|e: postgres::Error| {
            StoreError::Storage(format!("{params:?}: {}", describe(&e)))
        })?;
        let store = PostgresStore {
            config,
            idle: Mutex::new(Vec::new()),
        };
        let mut client = store.config.connect(NoTls).map_err(storage)?;
        // Two stores opening one schema at once would race to create the same table: a
        // session lock on a fixed key makes the second wait and then find it.
        client
            .batch_execute(&format!(
                "SELECT pg_advisory_lock(7471203); {SCHEMA}; {}; SELECT pg_advisory_unlock(7471203);",
                pattern_schema(Dialect::Postgres)
            ))
            .map_err(storage)?;
        let statements = Statements::prepare(&mut client)?;
        store.release(Conn {
            client,
            statements,
            prepared: BTreeMap::new(),
        });
        Ok(store)
    }

    /// A connection of the pool, opened if none is idle; [`PostgresStore::release`] it
    /// after.
    fn take(&self) -> Result<Conn, StoreError> {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match idle {
            Some(c) => Ok(c),
            None => {
                let mut client = self.config.connect(NoTls).map_err(storage)?;
                let statements = Statements::prepare(&mut client)?;
                Ok(Conn {
                    client,
                    statements,
                    prepared: BTreeMap::new(),
                })
            }
        }
    }

    /// Run `f` on a connection of the pool. A connection that failed is dropped rather
    /// than returned.
    fn with_conn<T>(
        &self,
        f: impl FnOnce(&mut Client, &Statements) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut conn = self.take()?;
        let result = f(&mut conn.client, &conn.statements);
        self.release(conn);
        result
    }

    fn release(&self, conn: Conn) {
        if !conn.client.is_closed() {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(conn);
        }
    }
}

impl Columns for Row {
    fn int(&self, column: usize) -> Result<i64, String> {
        // Positions and versions are BIGINT, the schema version INTEGER.
        self.try_get::<_, i64>(column)
            .or_else(|_| self.try_get::<_, i32>(column).map(i64::from))
            .map_err(|e| e.to_string())
    }

    fn text(&self, column: usize) -> Result<String, String> {
        self.try_get(column).map_err(|e| e.to_string())
    }

    fn bytes(&self, column: usize) -> Result<Vec<u8>, String> {
        self.try_get(column).map_err(|e| e.to_string())
    }
}

impl PostgresStore {
    /// Append within `tx`, a transaction of the caller's on this store's database (READ
    /// COMMITTED, PostgreSQL's default): the events commit with whatever else it writes
    /// (a read model, an outbox row), or not at all. Until it commits, every other append
    /// waits.
    pub fn append_in(
        tx: &mut postgres::Transaction<'_>,
        appends: &[StreamAppend<'_>],
    ) -> Result<Vec<Appended>, StoreError> {
        append_with(tx, &AppendStatements::default(), appends)
    }

    /// A connection of the store's own (for work beside the store in one transaction).
    pub fn connect(&self) -> Result<Client, StoreError> {
        self.config.connect(NoTls).map_err(storage)
    }
}

impl EventStore for PostgresStore {
    fn append_all(&self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        self.with_conn(|c, st| append_with(c, &st.append, appends))
    }

    fn read_stream(
        &self,
        stream: &str,
        from: u64,
        max: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.with_conn(|c, st| {
            let rows = c
                .query(
                    &st.read_stream,
                    &[
                        &stream,
                        &(from.min(i64::MAX as u64) as i64),
                        &(max.min(i64::MAX as usize) as i64),
                    ],
                )
                .map_err(storage)?;
            rows.iter().map(decode).collect()
        })
    }

    fn read_all(&self, from: u64, max: usize) -> Result<Vec<RecordedEvent>, StoreError> {
        self.with_conn(|c, st| {
            let rows = c
                .query(
                    &st.read_all,
                    &[
                        &(from.min(i64::MAX as u64) as i64),
                        &(max.min(i64::MAX as usize) as i64),
                    ],
                )
                .map_err(storage)?;
            rows.iter().map(decode).collect()
        })
    }

    fn stream_version(&self, stream: &str) -> Result<Option<u64>, StoreError> {
        self.with_conn(|c, st| current_version(c, &st.append, stream))
    }
}

impl Database for PostgresStore {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn transact<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.take()?;
        let Conn {
            client,
            statements,
            prepared,
        } = &mut conn;
        let result = (|| {
            let mut tx = client.transaction().map_err(storage)?;
            let done = work(&mut PgSql {
                tx: &mut tx,
                prepared,
                append: &statements.append,
            })?;
            tx.commit().map_err(storage)?;
            Ok(done)
        })();
        self.release(conn);
        result
    }
}

impl SnapshotStore for PostgresStore {
    fn save_snapshot(&self, snapshot: &Snapshot) -> Result<(), StoreError> {
        let schema = i32::try_from(snapshot.schema).map_err(|_| {
            StoreError::BadAppend(format!("snapshot schema {} over 2^31", snapshot.schema))
        })?;
        self.with_conn(|c, st| {
            check_snapshot(snapshot, current_version(c, &st.append, &snapshot.stream)?)?;
            c.execute(
                &st.save_snapshot,
                &[
                    &snapshot.stream,
                    &schema,
                    &(snapshot.version as i64),
                    &snapshot.data,
                ],
            )
            .map_err(storage)?;
            Ok(())
        })
    }

    fn load_snapshot(&self, stream: &str, schema: u32) -> Result<Option<Snapshot>, StoreError> {
        let Ok(schema_column) = i32::try_from(schema) else {
            return Ok(None);
        };
        self.with_conn(|c, st| {
            let row = c
                .query_opt(&st.load_snapshot, &[&stream, &schema_column])
                .map_err(storage)?;
            row.map(|r| {
                let version = r.try_get(0).map_err(storage)?;
                Snapshot::from_row(stream, version, schema, r.try_get(1).map_err(storage)?)
            })
            .transpose()
        })
    }
}

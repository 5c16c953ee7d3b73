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

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
    position BIGINT  PRIMARY KEY,
    stream   TEXT    NOT NULL,
    version  BIGINT  NOT NULL,
    id       BYTEA   NOT NULL UNIQUE,
    kind     TEXT    NOT NULL,
    schema   INTEGER NOT NULL,
    data     BYTEA   NOT NULL,
    metadata BYTEA   NOT NULL,
    UNIQUE (stream, version)
);

CREATE TABLE IF NOT EXISTS snapshots (
    stream  TEXT    NOT NULL,
    schema  INTEGER NOT NULL,
    version BIGINT  NOT NULL,
    data    BYTEA   NOT NULL,
    PRIMARY KEY (stream, schema)
);

-- Take the appends' lock, held to commit, and return the next global position. Every
-- insert into events gets its position here, so positions are gapless and in commit
-- order. The position is read after the lock is held, with a snapshot taken then: a
-- volatile function's statements each take their own, even inside a statement whose
-- snapshot is older (INSERT_ONE's).
CREATE OR REPLACE FUNCTION dsys_lock_next_position() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock('events'::regclass::oid::bigint);
    RETURN (SELECT coalesce(max(position), 0) + 1 FROM events);
END
$$;

-- Insert the events at exactly the versions given (per event: its stream and version),
-- if each stream's last version is one below the first version given for it
-- (p_starts, per stream in p_names) and none of the ids is stored; return the first
-- global position, or NULL having written nothing.
--
-- The check is cheap: the event before each stream's first given version must be
-- stored, and the unique keys refuse a version or an id already there (the exception
-- block then undoes the insert).
CREATE OR REPLACE FUNCTION dsys_insert_at(
    p_names text[], p_starts bigint[],
    p_streams text[], p_versions bigint[], p_ids bytea[], p_kinds text[],
    p_schemas integer[], p_data bytea[], p_metadata bytea[]
) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    first bigint;
BEGIN
    first := dsys_lock_next_position();
    IF cardinality(p_names) = 1 THEN
        -- One stream (most appends): no query at all for a new stream.
        IF p_starts[1] > 0 AND NOT EXISTS (
            SELECT 1 FROM events WHERE stream = p_names[1] AND version = p_starts[1] - 1)
        THEN
            RETURN NULL;
        END IF;
    ELSIF EXISTS (
        SELECT 1 FROM unnest(p_names, p_starts) AS want(s, start)
        WHERE want.start > 0 AND NOT EXISTS (
            SELECT 1 FROM events WHERE stream = want.s AND version = want.start - 1)
    ) THEN
        RETURN NULL;
    END IF;
    INSERT INTO events (position, stream, version, id, kind, schema, data, metadata)
    SELECT first + e.n - 1, e.s, e.v, e.i, e.k, e.sc, e.d, e.m
    FROM unnest(p_streams, p_versions, p_ids, p_kinds, p_schemas, p_data, p_metadata)
         WITH ORDINALITY AS e(s, v, i, k, sc, d, m, n);
    RETURN first;
EXCEPTION WHEN unique_violation THEN
    RETURN NULL;
END
$$;
";

/// One event into one stream at version `$2`, if the event before it is stored and
/// neither the version nor the id is taken: the position it went to, or no row having
/// written nothing. The same primitive as `dsys_insert_at` for the commonest append, as
/// a plain statement, because the call into `dsys_insert_at` (its exception block, its
/// arrays) doubles the server's time for the statement: with it a sequential append
/// took 203 µs, without it 155 µs (docs/BENCHMARKS.md).
///
/// The position comes from `dsys_lock_next_position`, which waits for the lock and
/// then reads afresh. The check in `WHERE` reads with the statement's snapshot, taken
/// before any wait, so a writer that waited may miss what the holder committed. That
/// can only make it refuse, never write wrongly: an event the check finds is committed
/// (events are never deleted), and a version or id the holder took is a conflict on a
/// unique key, which looks past the snapshot. `ON CONFLICT DO NOTHING` makes a conflict
/// a refusal rather than an error, so the statement is safe inside a caller's
/// transaction, and resends and races leave no errors in the server's log. On a
/// refusal the store goes the careful way, which finds out why.
const INSERT_ONE: &str = "
INSERT INTO events (position, stream, version, id, kind, schema, data, metadata)
SELECT dsys_lock_next_position(),
       $1::text, $2::bigint, $3::bytea, $4::text, $5::integer, $6::bytea, $7::bytea
WHERE $2::bigint = 0
   OR EXISTS (SELECT 1 FROM events WHERE stream = $1::text AND version = $2::bigint - 1)
ON CONFLICT DO NOTHING
RETURNING position";

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

/// The store's statements, prepared on one connection.
struct Statements {
    append: AppendStatements,
    read_all: Statement,
    read_stream: Statement,
    save_snapshot: Statement,
    load_snapshot: Statement,
}

/// The statements an append uses, each prepared on its connection the first time it is
/// needed: a prepare costs a round trip, [`PostgresStore::append_in`] makes a new set on
/// the caller's transaction for every call, and the commonest append needs only
/// [`INSERT_ONE`].
#[derive(Default)]
struct AppendStatements {
    insert_one: OnceCell<Statement>,
    insert_at: OnceCell<Statement>,
    stored: OnceCell<Statement>,
    version: OnceCell<Statement>,
}

fn prepare(client: &mut impl GenericClient, sql: &str) -> Result<Statement, StoreError> {
    client.prepare(sql).map_err(storage)
}

/// The statement in `cell`, prepared on `client` from `sql()` if it is not yet.
fn prepared_once(
    cell: &OnceCell<Statement>,
    client: &mut impl GenericClient,
    sql: impl FnOnce() -> String,
) -> Result<Statement, StoreError> {
    if let Some(statement) = cell.get() {
        return Ok(statement.clone());
    }
    let statement = prepare(client, &sql())?;
    Ok(cell.get_or_init(|| statement).clone())
}

impl AppendStatements {
    fn insert_one(&self, client: &mut impl GenericClient) -> Result<Statement, StoreError> {
        prepared_once(&self.insert_one, client, || INSERT_ONE.to_string())
    }

    fn insert_at(&self, client: &mut impl GenericClient) -> Result<Statement, StoreError> {
        prepared_once(&self.insert_at, client, || {
            "SELECT dsys_insert_at($1, $2, $3, $4, $5, $6, $7, $8, $9)".to_string()
        })
    }

    fn stored(&self, client: &mut impl GenericClient) -> Result<Statement, StoreError> {
        prepared_once(&self.stored, client, || {
            format!("SELECT {COLUMNS} FROM events WHERE id = ANY ($1)")
        })
    }

    fn version(&self, client: &mut impl GenericClient) -> Result<Statement, StoreError> {
        prepared_once(&self.version, client, || {
            "SELECT max(version) FROM events WHERE stream = $1".to_string()
        })
    }
}

impl Statements {
    fn prepare(client: &mut impl GenericClient) -> Result<Statements, StoreError> {
        Ok(Statements {
            append: AppendStatements::default(),
            read_all: prepare(
                client,
                &format!(
                    "SELECT {COLUMNS} FROM events WHERE position >= $1 ORDER BY position LIMIT $2"
                ),
            )?,
            read_stream: prepare(
                client,
                &format!(
                    "SELECT {COLUMNS} FROM events WHERE stream = $1 AND version >= $2
                     ORDER BY version LIMIT $3"
                ),
            )?,
            save_snapshot: prepare(client, SAVE_SNAPSHOT)?,
            load_snapshot: prepare(client, LOAD_SNAPSHOT)?,
        })
    }
}

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

/// The versions an append's streams start at if its expectations hold, where they say:
/// `None` if any stream's expectation gives no version.
fn starts_from_expectations(appends: &[StreamAppend<'_>]) -> Option<Vec<u64>> {
    appends
        .iter()
        .map(|a| match a.expected {
            Expected::NoStream => Some(0),
            Expected::Exact(v) => v.checked_add(1),
            Expected::Any | Expected::StreamExists => None,
        })
        .collect()
}

/// Call `dsys_insert_at` for `appends` at `starts`: where they went, or `None` if a
/// stream was not where `starts` says or an id was already stored (nothing written).
fn insert_at(
    client: &mut impl GenericClient,
    statements: &AppendStatements,
    appends: &[StreamAppend<'_>],
    starts: &[u64],
) -> Result<Option<Vec<Appended>>, StoreError> {
    let count: usize = appends.iter().map(|a| a.events.len()).sum();
    let mut streams = Vec::with_capacity(count);
    let mut versions = Vec::with_capacity(count);
    let mut ids = Vec::with_capacity(count);
    let mut kinds = Vec::with_capacity(count);
    let mut schemas = Vec::with_capacity(count);
    let mut data = Vec::with_capacity(count);
    let mut metadata = Vec::with_capacity(count);
    for (a, &start) in appends.iter().zip(starts) {
        for (i, e) in a.events.iter().enumerate() {
            let version = i64::try_from(start + i as u64).map_err(|_| {
                StoreError::BadAppend(format!("stream {:?} past version 2^63", a.stream))
            })?;
            let schema = i32::try_from(e.version).map_err(|_| {
                StoreError::BadAppend(format!("schema version {} over 2^31", e.version))
            })?;
            streams.push(a.stream);
            versions.push(version);
            ids.push(e.id.0.to_be_bytes().to_vec());
            kinds.push(e.kind.as_str());
            schemas.push(schema);
            data.push(e.data.as_slice());
            metadata.push(e.metadata.as_slice());
        }
    }
    let names: Vec<&str> = appends.iter().map(|a| a.stream).collect();
    // Below 2^63: every version given was checked above.
    let firsts: Vec<i64> = starts.iter().map(|&v| v as i64).collect();
    let statement = statements.insert_at(client)?;
    let row = client
        .query_one(
            &statement,
            &[
                &names, &firsts, &streams, &versions, &ids, &kinds, &schemas, &data, &metadata,
            ],
        )
        .map_err(storage)?;
    let Some(first) = row.try_get::<_, Option<i64>>(0).map_err(storage)? else {
        return Ok(None);
    };
    let mut next = first as u64;
    Ok(Some(
        appends
            .iter()
            .zip(starts)
            .map(|(a, &start)| {
                let done = Appended {
                    first_position: next,
                    last_version: start + a.events.len() as u64 - 1,
                };
                next += a.events.len() as u64;
                done
            })
            .collect(),
    ))
}

/// Send [`INSERT_ONE`] for `e` into `stream` at version `start`: where it went, or
/// `None` if refused (nothing written; the careful way finds out why).
fn insert_one(
    client: &mut impl GenericClient,
    statements: &AppendStatements,
    stream: &str,
    e: &NewEvent,
    start: u64,
) -> Result<Option<Vec<Appended>>, StoreError> {
    let (Ok(version), Ok(schema)) = (i64::try_from(start), i32::try_from(e.version)) else {
        return Ok(None); // out of range: the careful way says so
    };
    let id = e.id.0.to_be_bytes();
    let statement = statements.insert_one(client)?;
    let rows = client
        .query(
            &statement,
            &[
                &stream,
                &version,
                &id.as_slice(),
                &e.kind.as_str(),
                &schema,
                &e.data.as_slice(),
                &e.metadata.as_slice(),
            ],
        )
        .map_err(storage)?;
    let Some(row) = rows.first() else {
        return Ok(None);
    };
    let position: i64 = row.try_get(0).map_err(storage)?;
    Ok(Some(vec![Appended {
        first_position: position as u64,
        last_version: start,
    }]))
}

/// What the store holds under each of `a`'s event ids.
fn stored(
    client: &mut impl GenericClient,
    statements: &AppendStatements,
    a: &StreamAppend<'_>,
) -> Result<Vec<Option<RecordedEvent>>, StoreError> {
    let ids: Vec<Vec<u8>> = a
        .events
        .iter()
        .map(|e| e.id.0.to_be_bytes().to_vec())
        .collect();
    let statement = statements.stored(client)?;
    let rows = client.query(&statement, &[&ids]).map_err(storage)?;
    let mut found: Vec<Option<RecordedEvent>> = vec![None; a.events.len()];
    for row in &rows {
        let event = decode(row)?;
        if let Some(i) = a.events.iter().position(|e| e.id == event.event.id) {
            found[i] = Some(event);
        }
    }
    Ok(found)
}

fn current_version(
    client: &mut impl GenericClient,
    statements: &AppendStatements,
    stream: &str,
) -> Result<Option<u64>, StoreError> {
    let statement = statements.version(client)?;
    let row = client.query_one(&statement, &[&stream]).map_err(storage)?;
    Ok(row
        .try_get::<_, Option<i64>>(0)
        .map_err(storage)?
        .map(|v| v as u64))
}

/// An append through `client`, which may be a transaction of the caller's: the events
/// then commit (and become visible) with it.
fn append_with(
    client: &mut impl GenericClient,
    statements: &AppendStatements,
    appends: &[StreamAppend<'_>],
) -> Result<Vec<Appended>, StoreError> {
    check_append(appends)?;
    if let Some(starts) = starts_from_expectations(appends) {
        if let (
            [
                StreamAppend {
                    stream,
                    events: [e],
                    ..
                },
            ],
            &[start],
        ) = (appends, &starts[..])
        {
            if let Some(done) = insert_one(client, statements, stream, e, start)? {
                return Ok(done);
            }
        }
        if let Some(done) = insert_at(client, statements, appends, &starts)? {
            return Ok(done);
        }
    }
    // Another writer may move a stream between the read and the insert; each turn round
    // means one did, so this ends when writers stop racing on these streams.
    loop {
        let resends = appends
            .iter()
            .map(|a| resend_of(a, &stored(client, statements, a)?))
            .collect::<Result<Vec<_>, _>>()?;
        let starts = match decide(appends, resends, |s| current_version(client, statements, s))? {
            Decision::Resent(first) => return Ok(first),
            Decision::Write(starts) => starts,
        };
        if let Some(done) = insert_at(client, statements, appends, &starts)? {
            return Ok(done);
        }
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

/// [`Sql`] on an open PostgreSQL transaction of a pooled connection.
struct PgSql<'a, 'c> {
    tx: &'a mut postgres::Transaction<'c>,
    prepared: &'a mut BTreeMap<String, Statement>,
    append: &'a AppendStatements,
}

impl PgSql<'_, '_> {
    /// `sql` prepared on this connection, once.
    fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).map_err(storage)?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Value::Null => Ok(IsNull::Yes),
            // An integer goes into whichever integer column the statement names.
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Bytes(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT2, Type::INT4, Type::INT8].contains(ty)
            || <&str as ToSql>::accepts(ty)
            || <&[u8] as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

/// One column of a row, whichever of the types the patterns use it has.
fn cell(row: &Row, column: usize) -> Result<Cell, StoreError> {
    let ty = row.columns()[column].type_();
    let wrong = |e: postgres::Error| StoreError::Storage(format!("column {column}: {e}"));
    let cell = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(column)
            .map_err(wrong)?
            .map(Cell::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(column)
            .map_err(wrong)?
            .map(|v| Cell::Int(v.into()))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(column)
            .map_err(wrong)?
            .map(|v| Cell::Int(v.into()))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(column)
            .map_err(wrong)?
            .map(|v| Cell::Int(v.into()))
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(column)
            .map_err(wrong)?
            .map(Cell::Bytes)
    } else {
        row.try_get::<_, Option<String>>(column)
            .map_err(wrong)?
            .map(Cell::Text)
    };
    Ok(cell.unwrap_or(Cell::Null))
}

impl Sql for PgSql<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.tx.execute(&statement, &params).map_err(storage)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<Vec<crate::sql::Row>, StoreError> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self.tx.query(&statement, &params).map_err(storage)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| cell(r, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(crate::sql::Row::new)
            })
            .collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.tx.batch_execute(sql).map_err(storage)
    }

    fn append_all(&mut self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        // No savepoint: a refused append writes nothing (the statements refuse rather
        // than fail: `ON CONFLICT DO NOTHING`, the function's exception block).
        append_with(self.tx, self.append, appends)
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

//! The PostgreSQL schema of the event store and the patterns, and the statements each
//! connection prepares once.

use super::*;

pub(super) const SCHEMA: &str = "
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
pub(super) const INSERT_ONE: &str = "
INSERT INTO events (position, stream, version, id, kind, schema, data, metadata)
SELECT dsys_lock_next_position(),
       $1::text, $2::bigint, $3::bytea, $4::text, $5::integer, $6::bytea, $7::bytea
WHERE $2::bigint = 0
   OR EXISTS (SELECT 1 FROM events WHERE stream = $1::text AND version = $2::bigint - 1)
ON CONFLICT DO NOTHING
RETURNING position";

/// The store's statements, prepared on one connection.
pub(super) struct Statements {
    pub(super) append: AppendStatements,
    pub(super) read_all: Statement,
    pub(super) read_stream: Statement,
    pub(super) save_snapshot: Statement,
    pub(super) load_snapshot: Statement,
}

/// The statements an append uses, each prepared on its connection the first time it is
/// needed: a prepare costs a round trip, [`PostgresStore::append_in`] makes a new set on
/// the caller's transaction for every call, and the commonest append needs only
/// [`INSERT_ONE`].
#[derive(Default)]
pub(super) struct AppendStatements {
    pub(super) insert_one: OnceCell<Statement>,
    pub(super) insert_at: OnceCell<Statement>,
    pub(super) stored: OnceCell<Statement>,
    pub(super) version: OnceCell<Statement>,
}

pub(super) fn prepare(client: &mut impl GenericClient, sql: &str) -> Result<Statement, StoreError> {
    client.prepare(sql).map_err(storage)
}

/// The statement in `cell`, prepared on `client` from `sql()` if it is not yet.
pub(super) fn prepared_once(
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
    pub(super) fn insert_one(
        &self,
        client: &mut impl GenericClient,
    ) -> Result<Statement, StoreError> {
        prepared_once(&self.insert_one, client, || INSERT_ONE.to_string())
    }

    pub(super) fn insert_at(
        &self,
        client: &mut impl GenericClient,
    ) -> Result<Statement, StoreError> {
        prepared_once(&self.insert_at, client, || {
            "SELECT dsys_insert_at($1, $2, $3, $4, $5, $6, $7, $8, $9)".to_string()
        })
    }

    pub(super) fn stored(&self, client: &mut impl GenericClient) -> Result<Statement, StoreError> {
        prepared_once(&self.stored, client, || {
            format!("SELECT {COLUMNS} FROM events WHERE id = ANY ($1)")
        })
    }

    pub(super) fn version(&self, client: &mut impl GenericClient) -> Result<Statement, StoreError> {
        prepared_once(&self.version, client, || {
            "SELECT max(version) FROM events WHERE stream = $1".to_string()
        })
    }
}

impl Statements {
    pub(super) fn prepare(client: &mut impl GenericClient) -> Result<Statements, StoreError> {
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

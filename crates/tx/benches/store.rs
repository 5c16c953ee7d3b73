//! Event store throughput: durable appends (one event each, `synchronous=FULL`), from one
//! writer and from sixteen at once, and catch-up reads of the global order. The baseline
//! in the same run is plain SQLite: one INSERT per fsynced transaction, the same schema
//! and pragmas, no group commit.
//!
//! cargo bench -p dsys-tx --bench store
//!
//! The database files go under `DSYS_BENCH_DIR` (default: the system temporary
//! directory); its file system decides what an fsync costs, so state it with the figures.

#![allow(clippy::unwrap_used)] // a benchmark may panic

use divan::{Bencher, counter::ItemsCount};
use dsys_tx::{EventStore, Expected, NewEvent, SqliteStore, Subscription};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

fn main() {
    divan::main();
    let _ = std::fs::remove_dir_all(bench_dir());
}

/// Where this run's database files go; removed when the run ends.
fn bench_dir() -> PathBuf {
    std::env::var_os("DSYS_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("dsys-tx-bench-{}", std::process::id()))
}

fn fresh_path(name: &str) -> PathBuf {
    let dir = bench_dir();
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

/// Ids unique across every thread of a run.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

fn next_event() -> NewEvent {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    NewEvent::new(u128::from(id), "Deposited", id.to_le_bytes().to_vec())
}

/// One event per append, each to its own stream (no contention on a version), durable.
#[divan::bench(threads = [1, 16], sample_count = 20, sample_size = 20)]
fn sqlite_append_one_event(bencher: Bencher) {
    let store = SqliteStore::open(fresh_path("append")).unwrap();
    bencher.bench(|| append_to_a_new_stream(&store));
}

/// One durable append: the next event, to a stream of its own.
fn append_to_a_new_stream(store: &impl EventStore) {
    let e = next_event();
    let stream = format!("account-{}", e.id.0);
    store.append(&stream, Expected::NoStream, &[e]).unwrap();
}

/// The baseline: plain SQLite, one INSERT per transaction, each commit fsynced; sixteen
/// threads share one connection, as without group commit they must.
#[divan::bench(threads = [1, 16], sample_count = 20, sample_size = 20)]
fn plain_sqlite_insert_per_transaction(bencher: Bencher) {
    let conn = rusqlite::Connection::open(fresh_path("plain")).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    conn.pragma_update(None, "synchronous", "FULL").unwrap();
    conn.execute_batch(
        "CREATE TABLE events (position INTEGER PRIMARY KEY, stream TEXT NOT NULL,
         data BLOB NOT NULL)",
    )
    .unwrap();
    let conn = std::sync::Mutex::new(conn);
    bencher.bench(|| {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        let mut conn = conn.lock().unwrap();
        let tx = conn.transaction().unwrap();
        tx.execute(
            "INSERT INTO events (stream, data) VALUES (?1, ?2)",
            rusqlite::params![format!("account-{id}"), id.to_le_bytes()],
        )
        .unwrap();
        tx.commit().unwrap();
    });
}

/// Participants that answer every call done at once: what is left is the orchestrator's
/// own cost, its durable transitions.
struct AlwaysDone;

impl dsys_tx::Participants for AlwaysDone {
    fn call(&mut self, _: &dsys_tx::saga::Call<'_>) -> dsys_tx::saga::Outcome {
        dsys_tx::saga::Outcome::Done(None)
    }
}

/// The 4-step order saga (create order, reserve inventory, charge payment, send
/// confirmation), start to completion: the start in its own transaction, then one durable
/// transition per step (five fsynced commits a saga).
#[divan::bench(threads = [1, 4], sample_count = 20, sample_size = 10)]
fn sqlite_order_saga(bencher: Bencher) {
    use dsys_tx::{
        Database, Orchestrator, SagaDefinition,
        saga::{Status, Step},
    };
    let store = SqliteStore::open(fresh_path("sagas")).unwrap();
    let sagas = Orchestrator::new()
        .define(SagaDefinition::new(
            "order",
            ["create-order", "reserve-inventory", "charge-payment"]
                .into_iter()
                .map(Step::new)
                .chain([Step::new("send-confirmation").without_compensation()])
                .collect(),
        ))
        .unwrap();
    bencher.bench(|| {
        let id = format!("order-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
        store
            .transact(|sql| sagas.start(sql, &id, "order", b"cart", 0))
            .unwrap();
        let saga = sagas.advance(&store, &mut AlwaysDone, &id, 0).unwrap();
        assert_eq!(saga.status, Status::Completed);
    });
}

/// Read the whole store from the start, 1,000 events a page: how many there were.
fn catch_up(store: &impl EventStore) -> u64 {
    let mut sub = Subscription::from(0, 1_000);
    let mut seen = 0;
    loop {
        let page = sub.poll(store).unwrap();
        if page.is_empty() {
            return seen;
        }
        seen += page.len() as u64;
    }
}

/// How many events the catch-up benches read.
const CATCH_UP_EVENTS: u64 = 100_000;

/// Store [`CATCH_UP_EVENTS`] events, 1,000 to a stream.
fn fill_for_catch_up(store: &impl EventStore) {
    for chunk in 0..CATCH_UP_EVENTS / 1_000 {
        let events: Vec<NewEvent> = (0..1_000).map(|_| next_event()).collect();
        store
            .append(&format!("s{chunk}"), Expected::NoStream, &events)
            .unwrap();
    }
}

/// Catch-up: a subscriber reading 100,000 stored events from the start, 1,000 a page.
#[divan::bench(sample_count = 10)]
fn sqlite_catch_up_read(bencher: Bencher) {
    let store = SqliteStore::open(fresh_path("read")).unwrap();
    fill_for_catch_up(&store);
    bencher
        .counter(ItemsCount::new(CATCH_UP_EVENTS))
        .bench(|| assert_eq!(catch_up(&store), CATCH_UP_EVENTS));
}

#[cfg(feature = "postgres")]
/// A PostgreSQL of the bench's own (scripts/services.sh: fsync and synchronous_commit
/// on), with the store in a fresh schema; `None` where PostgreSQL is not installed.
///
/// Settled before it is measured: the test servers are made with `initdb --no-sync`,
/// which leaves ~40 MB for the kernel to write back in the first half minute, and that
/// write-back sits in front of every WAL flush of a benchmark started at once (+30-60
/// µs a commit here). A checkpoint and a `sync` flush it first.
fn postgres_store() -> Option<(dsys_services::Server, dsys_tx::PostgresStore)> {
    let server = dsys_services::Server::start(dsys_services::Kind::Postgres)?;
    let store = dsys_tx::PostgresStore::open(&server.postgres_params()).unwrap();
    store
        .connect()
        .unwrap()
        .batch_execute("CHECKPOINT")
        .unwrap();
    let synced = std::process::Command::new("sync").status();
    assert!(
        synced.as_ref().is_ok_and(|s| s.success()),
        "sync: {synced:?}"
    );
    Some((server, store))
}

#[cfg(feature = "postgres")]
/// Sequential durable appends of one event, each continuing one of 100 existing
/// streams at the version the writer holds (`Expected::Exact`: one round trip each).
#[divan::bench(sample_count = 20, sample_size = 50)]
fn postgres_append_one_event(bencher: Bencher) {
    let Some((_server, store)) = postgres_store() else {
        return;
    };
    let mut versions = vec![None::<u64>; 100];
    let mut turn = 0;
    bencher.bench_local(|| {
        turn = (turn + 1) % versions.len();
        let expected = versions[turn].map_or(Expected::NoStream, Expected::Exact);
        let done = store
            .append(&format!("account-{turn}"), expected, &[next_event()])
            .unwrap();
        versions[turn] = Some(done.last_version);
    });
}

#[cfg(feature = "postgres")]
/// Four writers at once, one event each to a new stream: every append waits for the
/// one before to commit (positions in commit order), so this measures what contention
/// costs, not a bar.
#[divan::bench(threads = 4, sample_count = 20, sample_size = 20)]
fn postgres_append_one_event_4_writers(bencher: Bencher) {
    let Some((_server, store)) = postgres_store() else {
        return;
    };
    bencher.bench(|| append_to_a_new_stream(&store));
}

#[cfg(feature = "postgres")]
/// The floors under `postgres_append_one_event`, on the same server through the same
/// client, so the append's cost reads as a ratio from one run: `table` is the cheapest
/// durable commit (one integer into a table without an index); `events` one event row
/// into a copy of the events table with its three unique keys, its position counted by
/// the client (no check, nothing serialised: what a store that gives up gapless
/// positions and version checks would pay).
#[divan::bench(args = ["table", "events"], sample_count = 20, sample_size = 50)]
fn postgres_plain_insert(bencher: Bencher, into: &str) {
    let Some((_server, store)) = postgres_store() else {
        return;
    };
    let mut client = store.connect().unwrap();
    client
        .batch_execute(
            "CREATE TABLE floor (n BIGINT NOT NULL);
             CREATE TABLE events_copy (LIKE events INCLUDING ALL);",
        )
        .unwrap();
    let insert = client
        .prepare(match into {
            "table" => "INSERT INTO floor VALUES ($1)",
            _ => {
                "INSERT INTO events_copy (position, stream, version, id, kind, schema, data, metadata)
                 VALUES ($1::bigint, 'account-' || $1 % 100, $1 / 100, int8send(0) || int8send($1), 'Deposited', 1,
                         int8send($1), '')"
            }
        })
        .unwrap();
    let mut position = 0i64;
    bencher.bench_local(|| {
        position += 1;
        assert_eq!(client.execute(&insert, &[&position]).unwrap(), 1);
    });
}

#[cfg(feature = "postgres")]
/// One append of 100 events to a new stream.
#[divan::bench(sample_count = 20, sample_size = 5)]
fn postgres_append_batch_of_100(bencher: Bencher) {
    let Some((_server, store)) = postgres_store() else {
        return;
    };
    bencher.counter(ItemsCount::new(100u32)).bench_local(|| {
        let events: Vec<NewEvent> = (0..100).map(|_| next_event()).collect();
        let stream = format!("batch-{}", events[0].id.0);
        store.append(&stream, Expected::NoStream, &events).unwrap();
    });
}

#[cfg(feature = "postgres")]
/// Catch-up on PostgreSQL: 100,000 stored events from the start, 1,000 a page.
#[divan::bench(sample_count = 10)]
fn postgres_catch_up_read(bencher: Bencher) {
    let Some((_server, store)) = postgres_store() else {
        return;
    };
    fill_for_catch_up(&store);
    bencher
        .counter(ItemsCount::new(CATCH_UP_EVENTS))
        .bench_local(|| assert_eq!(catch_up(&store), CATCH_UP_EVENTS));
}

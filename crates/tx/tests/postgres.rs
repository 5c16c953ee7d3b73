//! The PostgreSQL event store against a real server, started by `scripts/services.sh`
//! through `dsys-services` (one per test, on its own port; each store in a fresh schema).

#![cfg(feature = "postgres")]
#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_services::{Kind, Server};
use dsys_tx::{
    EventStore, Expected, NewEvent, PostgresStore, StoreError, StreamAppend, Subscription,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// Connection parameters for a schema of its own on `server`.
fn fresh_schema(server: &Server) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let schema = format!("s{}", NEXT.fetch_add(1, Ordering::Relaxed));
    let mut admin = postgres::Client::connect(&server.postgres_params(), postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    format!(
        "{} options='-c search_path={schema}'",
        server.postgres_params()
    )
}

#[test]
fn the_postgres_store_keeps_the_contract() {
    let Some(server) = Server::start(Kind::Postgres) else {
        return;
    };
    dsys_tx::conformance::run(|| PostgresStore::open(&fresh_schema(&server)).unwrap());
}

#[test]
fn the_patterns_keep_their_contract_on_postgres() {
    let Some(server) = Server::start(Kind::Postgres) else {
        return;
    };
    dsys_tx::conformance::patterns(|| PostgresStore::open(&fresh_schema(&server)).unwrap());
}

#[test]
fn a_subscriber_skips_nothing_while_a_writers_transaction_is_held_open() {
    let Some(server) = Server::start(Kind::Postgres) else {
        return;
    };
    let params = fresh_schema(&server);
    let store = Arc::new(PostgresStore::open(&params).unwrap());
    store
        .append("before", Expected::NoStream, &[NewEvent::new(1, "A", "x")])
        .unwrap();

    // A writer appends inside its own transaction and holds it open.
    let mut holder = store.connect().unwrap();
    let mut tx = holder.transaction().unwrap();
    let held = [NewEvent::new(2, "A", "held")];
    let held_at = PostgresStore::append_in(
        &mut tx,
        &[StreamAppend::new("held", Expected::NoStream, &held)],
    )
    .unwrap();

    // Others append meanwhile: they wait behind it, each on its own connection. Half
    // name the version (one event at a known version: the plain statement first, which
    // finds the lock taken), half leave it to the store.
    let others: Vec<_> = (0..4u128)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..5u128 {
                    let expected = match (w % 2, i) {
                        (0, _) => Expected::Any,
                        (_, 0) => Expected::NoStream,
                        (_, i) => Expected::Exact(i as u64 - 1),
                    };
                    store
                        .append(
                            &format!("other-{w}"),
                            expected,
                            &[NewEvent::new(100 + w * 10 + i, "B", "y")],
                        )
                        .unwrap();
                }
            })
        })
        .collect();

    // The subscriber follows the whole time: while the transaction is open it sees only
    // what committed before it, and nothing past the held position.
    let mut sub = Subscription::from(0, 3);
    let mut seen = Vec::new();
    for _ in 0..20 {
        seen.extend(sub.poll(store.as_ref()).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert_eq!(
        seen.iter().map(|e| e.event.id.0).collect::<Vec<_>>(),
        [1],
        "only the event committed before the held transaction"
    );
    assert!(others.iter().all(|o| !o.is_finished()), "others wait");

    tx.commit().unwrap();
    for o in others {
        o.join().unwrap();
    }
    loop {
        let page = sub.poll(store.as_ref()).unwrap();
        if page.is_empty() {
            break;
        }
        seen.extend(page);
    }
    assert!(
        seen.windows(2).all(|p| p[1].position == p[0].position + 1),
        "gapless, in order"
    );
    let mut ids: Vec<u128> = seen.iter().map(|e| e.event.id.0).collect();
    assert_eq!(
        seen[1].event.id.0, 2,
        "the held event comes next, at its position"
    );
    assert_eq!(seen[1].position, held_at[0].first_position);
    ids.sort_unstable();
    let mut want = vec![1, 2];
    want.extend((0..4u128).flat_map(|w| (0..5).map(move |i| 100 + w * 10 + i)));
    assert_eq!(ids, want, "every event exactly once");
}

#[test]
fn a_rolled_back_transaction_appends_nothing_and_leaves_no_gap() {
    let Some(server) = Server::start(Kind::Postgres) else {
        return;
    };
    let store = PostgresStore::open(&fresh_schema(&server)).unwrap();
    let mut client = store.connect().unwrap();
    let mut tx = client.transaction().unwrap();
    let gone = [NewEvent::new(1, "A", "x")];
    PostgresStore::append_in(
        &mut tx,
        &[StreamAppend::new("s", Expected::NoStream, &gone)],
    )
    .unwrap();
    tx.rollback().unwrap();
    assert_eq!(store.stream_version("s").unwrap(), None);
    let kept = store
        .append("s", Expected::NoStream, &[NewEvent::new(1, "A", "x")])
        .unwrap();
    assert_eq!(kept.first_position, 1, "the rolled-back position is reused");
}

#[test]
fn a_corrupt_row_is_an_error_and_a_bad_connection_string_too() {
    let Some(server) = Server::start(Kind::Postgres) else {
        return;
    };
    let params = fresh_schema(&server);
    let store = PostgresStore::open(&params).unwrap();
    store
        .append("s", Expected::NoStream, &[NewEvent::new(1, "A", "x")])
        .unwrap();
    let mut client = store.connect().unwrap();
    client
        .batch_execute("UPDATE events SET id = '\\x00'::bytea")
        .unwrap();
    assert!(matches!(
        store.read_all(0, 10),
        Err(StoreError::Corrupt { position: 1, .. })
    ));
    client
        .batch_execute("UPDATE events SET schema = -1")
        .unwrap();
    assert!(matches!(
        store.read_stream("s", 0, 10),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        PostgresStore::open("host=127.0.0.1 port=notaport"),
        Err(StoreError::Storage(_))
    ));
    // The server's own words reach the caller, not only the client's "db error".
    let nowhere = format!(
        "host=127.0.0.1 port={} user=dsys dbname=postgres options='-c search_path=nowhere'",
        server.port()
    );
    match PostgresStore::open(&nowhere) {
        Err(StoreError::Storage(why)) => {
            assert!(why.contains("no schema has been selected"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    // A server that is gone is an error, not a hang or a panic.
    drop(client);
    drop(server);
    assert!(matches!(
        store.append("s", Expected::Any, &[NewEvent::new(9, "A", "x")]),
        Err(StoreError::Storage(_))
    ));
}

#[test]
fn concurrent_appends_at_named_versions_get_gapless_positions_in_commit_order() {
    // Many writers appending one event at a known version at once: the plain statement
    // finds the lock taken, or takes it with a snapshot from just before the holder
    // committed (a conflict on a unique key, a refusal), and `dsys_insert_at` waits.
    let Some(server) = Server::start(Kind::Postgres) else {
        return;
    };
    let store = Arc::new(PostgresStore::open(&fresh_schema(&server)).unwrap());
    let writers: Vec<_> = (0..8u128)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                let mut reported = Vec::new();
                for i in 0..40u128 {
                    let stream = format!("w{w}-{}", i % 4);
                    let expected = match i / 4 {
                        0 => Expected::NoStream,
                        v => Expected::Exact(v as u64 - 1),
                    };
                    let id = w * 1_000 + i;
                    let done = store
                        .append(&stream, expected, &[NewEvent::new(id, "E", "x")])
                        .unwrap();
                    reported.push((done.first_position, id));
                }
                reported
            })
        })
        .collect();
    let mut sub = Subscription::from(0, 13);
    let mut seen = Vec::new();
    while !writers.iter().all(|w| w.is_finished()) {
        seen.extend(sub.poll(store.as_ref()).unwrap());
    }
    let mut reported: Vec<(u64, u128)> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    loop {
        let page = sub.poll(store.as_ref()).unwrap();
        if page.is_empty() {
            break;
        }
        seen.extend(page);
    }
    reported.sort();
    let positions: Vec<u64> = seen.iter().map(|e| e.position).collect();
    assert_eq!(
        positions,
        (1..=320).collect::<Vec<u64>>(),
        "gapless, each once, in order"
    );
    let stored: Vec<(u64, u128)> = seen.iter().map(|e| (e.position, e.event.id.0)).collect();
    assert_eq!(reported, stored, "each append reported where its event is");
}

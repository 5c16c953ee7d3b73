//! The conformance suite: what every [`EventStore`] backend must do, as checks a backend's
//! tests run against a fresh store (`conformance::run(|| MyStore::open(...))`). Each
//! check panics with what went wrong.

use crate::error::Actual;
use crate::{EventStore, Expected, NewEvent, Snapshot, SnapshotStore, StoreError, StreamAppend};
use std::sync::Arc;

mod patterns;
pub use patterns::patterns;

/// Run every check, each on a store from `fresh`.
pub fn run<S, F>(fresh: F)
where
    S: EventStore + SnapshotStore + Send + Sync + 'static,
    F: Fn() -> S,
{
    snapshots_are_kept_per_stream_and_schema(&fresh());
    expected_versions_are_enforced(&fresh());
    a_resent_append_returns_where_it_went_and_writes_nothing(&fresh());
    a_failed_append_writes_nothing_in_any_stream(&fresh());
    positions_are_gapless_and_streams_numbered_from_zero(&fresh());
    bad_appends_are_refused(&fresh());
    racing_writers_at_one_version_exactly_one_wins(Arc::new(fresh()));
    a_subscriber_sees_every_event_once_in_order_while_writers_append(Arc::new(fresh()));
}

/// Four writers append while a subscriber follows from the start, catching up and then
/// live: it sees every event exactly once, in increasing position order.
pub fn a_subscriber_sees_every_event_once_in_order_while_writers_append<S>(store: Arc<S>)
where
    S: EventStore + Send + Sync + 'static,
{
    const WRITERS: u128 = 4;
    const EACH: u128 = 50;
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let id = w * 1_000 + i;
                    store
                        .append(&format!("writer-{w}"), Expected::Any, &[event(id)])
                        .expect("append");
                }
            })
        })
        .collect();
    let mut sub = crate::Subscription::from(0, 7);
    let mut seen = Vec::new();
    let mut done = false;
    while !done {
        done = writers.iter().all(|w| w.is_finished());
        // One more poll after the writers finish, to drain what they committed.
        loop {
            let batch = sub.poll(store.as_ref()).expect("poll");
            if batch.is_empty() {
                break;
            }
            seen.extend(batch);
        }
        std::thread::yield_now();
    }
    for w in writers {
        w.join().expect("writer");
    }
    let mut ids: Vec<u128> = seen.iter().map(|e| e.event.id.0).collect();
    assert!(
        seen.windows(2).all(|p| p[0].position < p[1].position),
        "out of order"
    );
    ids.sort_unstable();
    let want: Vec<u128> = (0..WRITERS)
        .flat_map(|w| (0..EACH).map(move |i| w * 1_000 + i))
        .collect();
    assert_eq!(ids, want, "every event exactly once");
    assert_eq!(sub.checkpoint(), seen.last().map_or(0, |e| e.position + 1));
}

fn event(id: u128) -> NewEvent {
    NewEvent::new(id, "Happened", id.to_le_bytes().to_vec())
}

fn wrong_version(r: Result<crate::Appended, StoreError>, actual: Actual) -> bool {
    matches!(r, Err(StoreError::WrongVersion { actual: a, .. }) if a == actual)
}

/// Any, no stream, stream exists, exact: each honoured and each refused as it should be.
pub fn expected_versions_are_enforced(store: &impl EventStore) {
    assert!(wrong_version(
        store.append("s", Expected::StreamExists, &[event(1)]),
        Actual::NoStream
    ));
    assert!(wrong_version(
        store.append("s", Expected::Exact(0), &[event(1)]),
        Actual::NoStream
    ));
    let first = store
        .append("s", Expected::NoStream, &[event(1), event(2)])
        .expect("new stream");
    assert_eq!(first.last_version, 1);
    assert!(wrong_version(
        store.append("s", Expected::NoStream, &[event(3)]),
        Actual::At(1)
    ));
    assert!(wrong_version(
        store.append("s", Expected::Exact(0), &[event(3)]),
        Actual::At(1)
    ));
    assert_eq!(
        store
            .append("s", Expected::Exact(1), &[event(3)])
            .expect("exact")
            .last_version,
        2
    );
    assert_eq!(
        store
            .append("s", Expected::StreamExists, &[event(4)])
            .expect("exists")
            .last_version,
        3
    );
    assert_eq!(
        store
            .append("s", Expected::Any, &[event(5)])
            .expect("any")
            .last_version,
        4
    );
    assert_eq!(
        store
            .append("t", Expected::Any, &[event(6)])
            .expect("any, new")
            .last_version,
        0
    );
    assert_eq!(store.stream_version("s").expect("read"), Some(4));
    assert_eq!(store.stream_version("nothing").expect("read"), None);
}

/// The same ids again return the first positions; a batch only partly stored before is
/// a conflict; neither writes.
pub fn a_resent_append_returns_where_it_went_and_writes_nothing(store: &impl EventStore) {
    store
        .append("other", Expected::Any, &[event(100)])
        .expect("first");
    let batch = [event(1), event(2), event(3)];
    let first = store
        .append("s", Expected::NoStream, &batch)
        .expect("first");
    // A resend, even with an expectation that no longer holds, is the same append.
    let again = store
        .append("s", Expected::NoStream, &batch)
        .expect("resend");
    assert_eq!(again, first);
    // One event at a named version, the commonest append, likewise.
    let one = store
        .append("s", Expected::Exact(2), &[event(10)])
        .expect("one");
    let again = store
        .append("s", Expected::Exact(2), &[event(10)])
        .expect("resend one");
    assert_eq!(again, one);
    let before = store.read_all(0, usize::MAX).expect("read").len();
    let partly = store.append("s", Expected::Any, &[event(3), event(4)]);
    assert!(
        matches!(partly, Err(StoreError::IdempotencyConflict { .. })),
        "{partly:?}"
    );
    let elsewhere = store.append("t", Expected::Any, &[event(1), event(2), event(3)]);
    assert!(
        matches!(elsewhere, Err(StoreError::IdempotencyConflict { .. })),
        "{elsewhere:?}"
    );
    assert_eq!(
        store.read_all(0, usize::MAX).expect("read").len(),
        before,
        "nothing written"
    );
}

/// A multi-stream append whose one expectation fails leaves every stream untouched.
pub fn a_failed_append_writes_nothing_in_any_stream(store: &impl EventStore) {
    store
        .append("a", Expected::NoStream, &[event(1)])
        .expect("a");
    let both = store.append_all(&[
        StreamAppend::new("b", Expected::NoStream, &[event(2)]),
        StreamAppend::new("a", Expected::NoStream, &[event(3)]),
    ]);
    assert!(
        matches!(both, Err(StoreError::WrongVersion { .. })),
        "{both:?}"
    );
    assert_eq!(
        store.stream_version("b").expect("read"),
        None,
        "b untouched"
    );
    assert_eq!(
        store.stream_version("a").expect("read"),
        Some(0),
        "a untouched"
    );
    let done = store
        .append_all(&[
            StreamAppend::new("b", Expected::NoStream, &[event(2)]),
            StreamAppend::new("a", Expected::Exact(0), &[event(3)]),
        ])
        .expect("both");
    assert_eq!(done.len(), 2);
    assert_eq!(store.read_all(0, usize::MAX).expect("read").len(), 3);
}

/// Global positions run on without gaps in append order, within a batch, across
/// batches and across the streams of one append; each append reports where its events
/// went; stream versions count from 0.
pub fn positions_are_gapless_and_streams_numbered_from_zero(store: &impl EventStore) {
    let mut firsts = Vec::new();
    let mut id = 0u128;
    for i in 0..12u128 {
        // Batches of one, two and three events, one stream at a time, round the streams.
        let size = 1 + (i % 3);
        let batch: Vec<NewEvent> = (id..id + size).map(event).collect();
        let stream = format!("s{}", i % 3);
        let done = store
            .append(&stream, Expected::Any, &batch)
            .expect("append");
        firsts.push((id, done.first_position));
        id += size;
    }
    // Then two streams in one append: the second stream's events follow the first's.
    let (a, b) = ([event(id), event(id + 1)], [event(id + 2)]);
    let both = store
        .append_all(&[
            StreamAppend::new("s0", Expected::Any, &a),
            StreamAppend::new("s1", Expected::Any, &b),
        ])
        .expect("append both");
    firsts.push((id, both[0].first_position));
    firsts.push((id + 2, both[1].first_position));
    id += 3;
    let all = store.read_all(0, usize::MAX).expect("read");
    assert_eq!(all.len() as u128, id);
    for (i, e) in all.iter().enumerate() {
        assert_eq!(
            e.position,
            all[0].position + i as u64,
            "a gap or a reorder at {i}"
        );
        assert_eq!(e.event.id.0, i as u128, "append order");
    }
    for (first_id, first_position) in firsts {
        assert_eq!(
            all[first_id as usize].position, first_position,
            "where the append said event {first_id} went"
        );
    }
    positions_follow_stream_versions(store);
}

/// Stream reads: versions from 0, pages, an unknown stream.
fn positions_follow_stream_versions(store: &impl EventStore) {
    for i in 0..30u128 {
        let stream = format!("t{}", i % 3);
        store
            .append(&stream, Expected::Any, &[event(1_000 + i)])
            .expect("append");
    }
    let all = store.read_all(0, usize::MAX).expect("read");
    let all: Vec<_> = all
        .into_iter()
        .filter(|e| e.stream.starts_with('t'))
        .collect();
    let page = store.read_all(all[10].position, 5).expect("read");
    assert_eq!(page, all[10..15].to_vec());
    let t1 = store.read_stream("t1", 0, usize::MAX).expect("read");
    assert_eq!(t1.len(), 10);
    assert!(
        t1.iter()
            .enumerate()
            .all(|(v, e)| e.version == v as u64 && e.stream == "t1")
    );
    assert_eq!(store.read_stream("t1", 8, 10).expect("read").len(), 2);
    assert!(store.read_stream("none", 0, 10).expect("read").is_empty());
}

/// Empty names, empty batches, one stream twice, one id twice: refused, nothing written.
pub fn bad_appends_are_refused(store: &impl EventStore) {
    assert!(matches!(
        store.append("", Expected::Any, &[event(1)]),
        Err(StoreError::BadAppend(_))
    ));
    assert!(matches!(
        store.append("s", Expected::Any, &[]),
        Err(StoreError::BadAppend(_))
    ));
    assert!(matches!(
        store.append_all(&[]),
        Err(StoreError::BadAppend(_))
    ));
    assert!(matches!(
        store.append("s", Expected::Any, &[event(1), event(1)]),
        Err(StoreError::DuplicateEvent(_))
    ));
    let twice = store.append_all(&[
        StreamAppend::new("s", Expected::Any, &[event(1)]),
        StreamAppend::new("s", Expected::Any, &[event(2)]),
    ]);
    assert!(matches!(twice, Err(StoreError::BadAppend(_))), "{twice:?}");
    assert!(store.read_all(0, usize::MAX).expect("read").is_empty());
}

/// Eight writers append to one stream at the same expected version: exactly one wins.
pub fn racing_writers_at_one_version_exactly_one_wins<S>(store: Arc<S>)
where
    S: EventStore + Send + Sync + 'static,
{
    store
        .append("race", Expected::NoStream, &[event(0)])
        .expect("start");
    let writers: Vec<_> = (1..=8u128)
        .map(|w| {
            let store = Arc::clone(&store);
            std::thread::spawn(move || {
                store
                    .append("race", Expected::Exact(0), &[event(w)])
                    .is_ok()
            })
        })
        .collect();
    let wins = writers
        .into_iter()
        .map(|w| w.join().unwrap_or(false))
        .filter(|&won| won)
        .count();
    assert_eq!(wins, 1, "exactly one writer at version 0 wins");
    assert_eq!(store.stream_version("race").expect("read"), Some(1));
}

/// The latest snapshot per stream and schema: a newer one replaces it, an older one does
/// not, another schema's is never returned, one past the stream's end is refused.
pub fn snapshots_are_kept_per_stream_and_schema(store: &(impl EventStore + SnapshotStore)) {
    let snapshot = |version: u64, schema: u32, data: &str| Snapshot {
        stream: "account".into(),
        version,
        schema,
        data: data.as_bytes().to_vec(),
    };
    assert_eq!(store.load_snapshot("account", 1).expect("load"), None);
    assert!(matches!(
        store.save_snapshot(&snapshot(0, 1, "none")),
        Err(StoreError::BadAppend(_))
    ));
    let events: Vec<NewEvent> = (0..5).map(event).collect();
    store
        .append("account", Expected::NoStream, &events)
        .expect("append");
    store.save_snapshot(&snapshot(2, 1, "at 2")).expect("save");
    assert_eq!(
        store.load_snapshot("account", 1).expect("load"),
        Some(snapshot(2, 1, "at 2"))
    );
    store
        .save_snapshot(&snapshot(4, 1, "at 4"))
        .expect("save newer");
    store
        .save_snapshot(&snapshot(3, 1, "at 3"))
        .expect("save older");
    assert_eq!(
        store.load_snapshot("account", 1).expect("load"),
        Some(snapshot(4, 1, "at 4")),
        "the newest is kept"
    );
    assert_eq!(
        store.load_snapshot("account", 2).expect("load"),
        None,
        "another schema"
    );
    store
        .save_snapshot(&snapshot(1, 2, "v2 at 1"))
        .expect("save in schema 2");
    assert_eq!(
        store.load_snapshot("account", 2).expect("load"),
        Some(snapshot(1, 2, "v2 at 1"))
    );
    assert_eq!(
        store.load_snapshot("account", 1).expect("load"),
        Some(snapshot(4, 1, "at 4")),
        "schema 1 untouched"
    );
    assert!(matches!(
        store.save_snapshot(&snapshot(5, 1, "past the end")),
        Err(StoreError::BadAppend(_))
    ));
    assert!(matches!(
        store.save_snapshot(&Snapshot {
            stream: String::new(),
            ..snapshot(0, 1, "")
        }),
        Err(StoreError::BadAppend(_))
    ));
}

//! The patterns built on [`Database`] — projections, outbox and inbox, sagas — checked
//! against a backend: `conformance::patterns(|| MyStore::open(...))`. Each check panics
//! with what went wrong.

use crate::{
    Database, EventStore, Expected, Inbox, MemoryBus, Message, NewEvent, Orchestrator, Outbox,
    Participants, Projection, ProjectionError, Projector, PublishError, Publisher, RecordedEvent,
    Relay, RetryPolicy, SagaDefinition, SagaError, Sql, StoreError, Value,
    projection::Target,
    saga::{Action, Call, Outcome, Status, Step},
};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod sagas;

use sagas::*;

/// Run every check, each on a database from `fresh`.
pub fn patterns<D, F>(fresh: F)
where
    D: Database + 'static,
    F: Fn() -> D,
{
    a_projection_catches_up_and_resumes_from_its_checkpoint(&fresh());
    a_failing_event_is_retried_then_parked_and_replayed(&fresh());
    a_rebuild_builds_beside_and_swaps(&fresh());
    two_projectors_apply_each_event_once(Arc::new(fresh()));
    an_outbox_row_commits_with_the_change_or_not_at_all(&fresh());
    a_refused_append_leaves_its_transaction_usable(&fresh());
    the_relay_keeps_each_keys_order_through_retries(&fresh());
    a_refused_message_is_a_dead_letter_that_holds_its_key(&fresh());
    a_bus_that_is_away_is_waited_for_without_limit(&fresh());
    a_lease_keeps_a_claim_from_other_relays_until_it_runs_out(&fresh());
    the_inbox_takes_each_message_once(&fresh());
    a_saga_completes_calling_each_step_once(&fresh());
    a_step_is_retried_under_a_new_key_only_after_a_definite_failure(&fresh());
    a_failed_saga_compensates_in_reverse_order(&fresh());
    a_failing_compensation_waits_for_an_operator(&fresh());
    a_step_out_of_time_is_compensated_after_a_restart(&fresh());
    saga_bad_input_is_refused(&fresh());
    two_orchestrators_on_one_saga_apply_each_effect_once(Arc::new(fresh()));
}

fn event(id: u128, kind: &str) -> NewEvent {
    NewEvent::new(id, kind, id.to_le_bytes().to_vec())
}

/// Events per stream, as a read model; events whose id is in `fail` are refused.
#[derive(Debug, Default)]
struct Counts {
    fail: Mutex<BTreeSet<u128>>,
}

impl Projection for Counts {
    fn name(&self) -> &str {
        "counts"
    }

    fn create(&self, sql: &mut dyn Sql, target: &Target) -> Result<(), ProjectionError> {
        sql.batch(&format!(
            "CREATE TABLE IF NOT EXISTS {} (stream TEXT PRIMARY KEY, n BIGINT NOT NULL)",
            target.table("counts")
        ))?;
        Ok(())
    }

    fn apply(
        &self,
        sql: &mut dyn Sql,
        target: &Target,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        if self.fail.lock().expect("lock").contains(&event.event.id.0) {
            return Err(ProjectionError::Apply(format!(
                "refused {}",
                event.event.id
            )));
        }
        let t = target.table("counts");
        sql.execute(
            &format!(
                "INSERT INTO {t} (stream, n) VALUES ($1, 1)
                 ON CONFLICT (stream) DO UPDATE SET n = {t}.n + 1"
            ),
            &[Value::Text(&event.stream)],
        )?;
        Ok(())
    }

    fn drop(&self, sql: &mut dyn Sql, target: &Target) -> Result<(), ProjectionError> {
        sql.batch(&format!("DROP TABLE {}", target.table("counts")))?;
        Ok(())
    }
}

fn counts(db: &impl Database, target: &Target) -> Vec<(String, i64)> {
    db.transact(|sql| {
        sql.query(
            &format!(
                "SELECT stream, n FROM {} ORDER BY stream",
                target.table("counts")
            ),
            &[],
        )
    })
    .expect("read the model")
    .iter()
    .map(|r| (r.text(0).expect("stream"), r.int(1).expect("n")))
    .collect()
}

fn append_many(db: &impl EventStore, first_id: u128, count: u128, streams: u128) {
    for i in 0..count {
        let id = first_id + i;
        db.append(
            &format!("s{}", id % streams),
            Expected::Any,
            &[event(id, "E")],
        )
        .expect("append");
    }
}

fn no_wait() -> impl FnMut(Duration) {
    |_| {}
}

/// A projection applies everything once, and a second run applies nothing new.
pub fn a_projection_catches_up_and_resumes_from_its_checkpoint(db: &impl Database) {
    append_many(db, 1, 10, 3);
    let model = Counts::default();
    let projector = Projector::new(&model, RetryPolicy::immediate(3)).page(4);
    let run = projector.run(db, &mut no_wait()).expect("run");
    assert_eq!((run.applied, run.parked), (10, 0));
    let target = Target::active(db, "counts").expect("active");
    assert_eq!(target.generation, 1);
    assert_eq!(
        counts(db, &target),
        [("s0".into(), 3), ("s1".into(), 4), ("s2".into(), 3)]
    );
    let again = projector.run(db, &mut no_wait()).expect("run");
    assert_eq!(again.applied, 0, "a second run applies nothing new");
    append_many(db, 11, 2, 3);
    assert_eq!(projector.run(db, &mut no_wait()).expect("run").applied, 2);
    assert_eq!(counts(db, &target).iter().map(|c| c.1).sum::<i64>(), 12);
}

/// An event that fails is tried as the backoff says, then parked and stepped over; the
/// rest of its page applies; a replay after the fix applies it.
pub fn a_failing_event_is_retried_then_parked_and_replayed(db: &impl Database) {
    append_many(db, 1, 10, 2);
    let model = Counts::default();
    model.fail.lock().expect("lock").insert(5);
    let backoff = RetryPolicy::new(3, Duration::from_millis(10), Duration::from_millis(15));
    let projector = Projector::new(&model, backoff);
    let mut waits = Vec::new();
    let run = projector
        .run(db, &mut |d: Duration| waits.push(d.as_millis()))
        .expect("run");
    assert_eq!((run.applied, run.parked), (9, 1));
    assert_eq!(waits, [10, 15], "two waits between three tries");
    let parked = projector.parked(db).expect("parked");
    assert_eq!(parked.len(), 1);
    assert_eq!(parked[0].attempts, 3);
    assert!(parked[0].error.contains("refused"), "{parked:?}");
    let target = Target::active(db, "counts").expect("active");
    assert_eq!(counts(db, &target).iter().map(|c| c.1).sum::<i64>(), 9);

    // Still failing: stays parked, its tries counted.
    let again = projector.replay_parked(db).expect("replay");
    assert_eq!((again.applied, again.still_parked), (0, 1));
    assert_eq!(projector.parked(db).expect("parked")[0].attempts, 4);
    model.fail.lock().expect("lock").clear();
    let fixed = projector.replay_parked(db).expect("replay");
    assert_eq!((fixed.applied, fixed.still_parked), (1, 0));
    assert!(projector.parked(db).expect("parked").is_empty());
    assert_eq!(counts(db, &target).iter().map(|c| c.1).sum::<i64>(), 10);
    assert_eq!(projector.replay_parked(db).expect("replay").applied, 0);
}

/// A rebuild fills the next generation from the first event, swaps readers to it, drops
/// the old one; later runs feed the new one.
pub fn a_rebuild_builds_beside_and_swaps(db: &impl Database) {
    append_many(db, 1, 20, 4);
    let model = Counts::default();
    let projector = Projector::new(&model, RetryPolicy::immediate(1)).page(3);
    projector.run(db, &mut no_wait()).expect("run");
    let first = Target::active(db, "counts").expect("active");
    let before = counts(db, &first);
    let second = projector.rebuild(db, &mut no_wait()).expect("rebuild");
    assert_eq!(second.generation, 2);
    assert_eq!(Target::active(db, "counts").expect("active"), second);
    assert_eq!(
        counts(db, &second),
        before,
        "the rebuild equals the model it replaces"
    );
    let old = db.transact(|sql| {
        sql.query(
            &format!("SELECT count(*) FROM {}", first.table("counts")),
            &[],
        )
    });
    assert!(old.is_err(), "the old generation's table is dropped");
    append_many(db, 21, 4, 4);
    assert_eq!(projector.run(db, &mut no_wait()).expect("run").applied, 4);
    assert_eq!(counts(db, &second).iter().map(|c| c.1).sum::<i64>(), 24);
}

/// Two projectors of one read model, running at once, apply each event once.
pub fn two_projectors_apply_each_event_once<D: Database + 'static>(db: Arc<D>) {
    append_many(db.as_ref(), 1, 200, 5);
    let model = Arc::new(Counts::default());
    let runners: Vec<_> = (0..2)
        .map(|_| {
            let (db, model) = (Arc::clone(&db), Arc::clone(&model));
            std::thread::spawn(move || {
                let projector = Projector::new(model.as_ref(), RetryPolicy::immediate(1)).page(7);
                projector
                    .run(db.as_ref(), &mut no_wait())
                    .expect("run")
                    .applied
            })
        })
        .collect();
    let applied: u64 = runners.into_iter().map(|r| r.join().expect("runner")).sum();
    assert_eq!(applied, 200, "between them, each event once");
    let target = Target::active(db.as_ref(), "counts").expect("active");
    assert_eq!(
        counts(db.as_ref(), &target)
            .iter()
            .map(|c| c.1)
            .sum::<i64>(),
        200
    );
}

/// A message enqueued in a transaction that rolls back is not in the outbox.
pub fn an_outbox_row_commits_with_the_change_or_not_at_all(db: &impl Database) {
    let rolled_back: Result<(), StoreError> = db.transact(|sql| {
        sql.append_all(&[crate::StreamAppend::new(
            "order-1",
            Expected::NoStream,
            &[event(1, "OrderPlaced")],
        )])?;
        Outbox::enqueue(sql, &Message::new(1, "orders", "order-1", "placed"), 0)?;
        Err(StoreError::Storage("the change failed".into()))
    });
    assert!(rolled_back.is_err());
    assert_eq!(Relay::lag(db, 0).expect("lag").pending, 0);
    assert_eq!(db.stream_version("order-1").expect("version"), None);
    db.transact(|sql| {
        sql.append_all(&[crate::StreamAppend::new(
            "order-1",
            Expected::NoStream,
            &[event(1, "OrderPlaced")],
        )])?;
        let first = Outbox::enqueue(sql, &Message::new(1, "orders", "order-1", "placed"), 5)?;
        let again = Outbox::enqueue(sql, &Message::new(1, "orders", "order-1", "placed"), 5)?;
        assert!(
            first && !again,
            "an id already in the outbox is not added again"
        );
        Ok::<_, StoreError>(())
    })
    .expect("commit");
    let lag = Relay::lag(db, 105).expect("lag");
    assert_eq!((lag.pending, lag.oldest_ms), (1, 100));
    assert_eq!(db.stream_version("order-1").expect("version"), Some(0));
}

/// An append refused inside a transaction (a wrong version) writes nothing, a resend
/// returns where it went, and neither spoils the transaction: the rest of its work
/// commits. (On PostgreSQL a statement that failed would abort the whole transaction.)
pub fn a_refused_append_leaves_its_transaction_usable(db: &impl Database) {
    db.append("account", Expected::NoStream, &[event(1, "Opened")])
        .expect("first");
    fn one(expected: Expected, e: &NewEvent) -> [crate::StreamAppend<'_>; 1] {
        [crate::StreamAppend::new(
            "account",
            expected,
            std::slice::from_ref(e),
        )]
    }
    let deposited = event(2, "Deposited");
    db.transact(|sql| {
        let wrong = sql.append_all(&one(Expected::NoStream, &deposited));
        assert!(
            matches!(wrong, Err(StoreError::WrongVersion { .. })),
            "{wrong:?}"
        );
        let resent = sql.append_all(&one(Expected::NoStream, &event(1, "Opened")))?;
        assert_eq!(
            resent[0].first_position, 1,
            "a resend returns where it went"
        );
        let done = sql.append_all(&one(Expected::Exact(0), &deposited))?;
        assert_eq!(done[0].first_position, 2);
        Outbox::enqueue(sql, &Message::new(2, "accounts", "account", "deposited"), 0)?;
        Ok::<_, StoreError>(())
    })
    .expect("the transaction commits");
    assert_eq!(db.stream_version("account").expect("version"), Some(1));
    assert_eq!(Relay::lag(db, 0).expect("lag").pending, 1);
}

/// Fails the messages in `failing` until they are taken out.
#[derive(Debug, Default)]
struct Flaky {
    bus: MemoryBus,
    failing: BTreeSet<u128>,
    /// Whether the failures are refusals of the message (else the bus is away).
    refuse: bool,
    tries: BTreeMap<u128, u32>,
}

impl Flaky {
    /// The ids on topic `t`, in the order the bus took them.
    fn published(&self) -> Vec<u128> {
        self.bus.read("t", 0, 100).iter().map(|m| m.id).collect()
    }
}

impl Publisher for Flaky {
    fn publish(&mut self, message: &Message) -> Result<(), PublishError> {
        *self.tries.entry(message.id).or_default() += 1;
        if self.failing.contains(&message.id) {
            return Err(if self.refuse {
                PublishError::refused(format!("bus refused {}", message.id))
            } else {
                PublishError::transient(format!("bus away for {}", message.id))
            });
        }
        self.bus.publish(message)
    }
}

fn enqueue_all(db: &impl Database, messages: &[Message], now_ms: u64) {
    db.transact(|sql| {
        for m in messages {
            Outbox::enqueue(sql, m, now_ms)?;
        }
        Ok::<_, StoreError>(())
    })
    .expect("enqueue");
}

/// Messages of one key are published in commit order, a retried one before those after
/// it; other keys are not held up.
pub fn the_relay_keeps_each_keys_order_through_retries(db: &impl Database) {
    let messages = [
        Message::new(1, "t", "a", "a1"),
        Message::new(2, "t", "b", "b1"),
        Message::new(3, "t", "a", "a2"),
        Message::new(4, "t", "a", "a3"),
        Message::new(5, "t", "b", "b2"),
    ];
    enqueue_all(db, &messages, 0);
    let relay = Relay::new(
        "r1",
        Duration::from_secs(30),
        RetryPolicy::new(5, Duration::from_millis(100), Duration::from_secs(1)),
    );
    let mut publisher = Flaky::default();
    publisher.failing.insert(1);
    let first = relay.relay(db, &mut publisher, 0).expect("relay");
    assert_eq!(
        (first.delivered, first.retried),
        (1, 1),
        "a1 fails, b1 goes"
    );
    // Until a1's retry is due, nothing of key a moves; key b does.
    let mut now = 0;
    while now < 99 {
        now += 33;
        relay.relay(db, &mut publisher, now).expect("relay");
    }
    let topic: Vec<_> = publisher.bus.read("t", 0, 10);
    assert_eq!(
        topic
            .iter()
            .map(|m| m.payload.as_slice())
            .collect::<Vec<_>>(),
        [b"b1".as_slice(), b"b2"]
    );
    publisher.failing.clear();
    for _ in 0..4 {
        now += 100;
        relay.relay(db, &mut publisher, now).expect("relay");
    }
    let of_a: Vec<_> = publisher
        .bus
        .read("t", 0, 10)
        .into_iter()
        .filter(|m| m.key == "a")
        .map(|m| m.payload)
        .collect();
    assert_eq!(of_a, [b"a1".to_vec(), b"a2".to_vec(), b"a3".to_vec()]);
    assert_eq!(publisher.tries[&1], 2);
    let lag = Relay::lag(db, now).expect("lag");
    assert_eq!((lag.pending, lag.dead), (0, 0));
}

/// A message the bus refuses is a dead letter, and its key stays blocked behind it (no
/// later message of the key overtakes it); redriven, it is delivered, then the rest.
pub fn a_refused_message_is_a_dead_letter_that_holds_its_key(db: &impl Database) {
    enqueue_all(
        db,
        &[
            Message::new(1, "t", "k", "bad"),
            Message::new(2, "t", "k", "next"),
            Message::new(3, "t", "other", "free"),
        ],
        0,
    );
    let relay = Relay::new("r", Duration::from_secs(5), RetryPolicy::immediate(3));
    let mut publisher = Flaky {
        refuse: true,
        ..Flaky::default()
    };
    publisher.failing.insert(1);
    let first = relay.relay(db, &mut publisher, 0).expect("relay");
    assert_eq!(
        (first.dead, first.delivered),
        (1, 1),
        "refused at once; key `other` goes"
    );
    assert_eq!(publisher.tries[&1], 1);
    let letters = Relay::dead_letters(db).expect("dead letters");
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0].message.id, letters[0].attempts), (1, 1));
    assert!(letters[0].error.contains("refused"));
    assert_eq!(Relay::lag(db, 1).expect("lag").dead, 1);
    // The key stays blocked: message 2 waits behind the dead letter.
    for now in 1..5 {
        let pass = relay.relay(db, &mut publisher, now).expect("relay");
        assert_eq!(pass.delivered, 0, "nothing overtakes the dead letter");
    }
    assert!(!publisher.tries.contains_key(&2));
    publisher.failing.clear();
    assert!(Relay::redrive(db, letters[0].seq, 5).expect("redrive"));
    assert!(
        !Relay::redrive(db, letters[0].seq, 5).expect("redrive"),
        "only a dead letter"
    );
    assert_eq!(
        relay.relay(db, &mut publisher, 5).expect("relay").delivered,
        1
    );
    assert_eq!(
        relay.relay(db, &mut publisher, 6).expect("relay").delivered,
        1
    );
    assert_eq!(
        publisher.published(),
        vec![3, 1, 2],
        "1 before 2, as committed"
    );
    assert_eq!(Relay::lag(db, 6).expect("lag"), crate::Lag::default());
}

/// A bus that is away is waited for, however long: a transient failure never makes a
/// dead letter, and the key's later messages wait.
pub fn a_bus_that_is_away_is_waited_for_without_limit(db: &impl Database) {
    enqueue_all(
        db,
        &[
            Message::new(1, "t", "k", "a"),
            Message::new(2, "t", "k", "b"),
        ],
        0,
    );
    let relay = Relay::new("r", Duration::from_secs(5), RetryPolicy::immediate(3));
    let mut publisher = Flaky::default();
    publisher.failing.insert(1);
    for now in 0..20 {
        let pass = relay.relay(db, &mut publisher, now).expect("relay");
        assert_eq!((pass.dead, pass.delivered), (0, 0), "try {now}");
    }
    assert_eq!(
        publisher.tries[&1], 20,
        "tried at every pass, past the policy's 3"
    );
    publisher.failing.clear();
    relay.relay(db, &mut publisher, 20).expect("relay");
    relay.relay(db, &mut publisher, 21).expect("relay");
    assert_eq!(publisher.published(), vec![1, 2]);
}

/// Claimed messages are another relay's only after the claim's lease runs out.
pub fn a_lease_keeps_a_claim_from_other_relays_until_it_runs_out(db: &impl Database) {
    enqueue_all(
        db,
        &[
            Message::new(1, "t", "a", "1"),
            Message::new(2, "t", "b", "2"),
        ],
        0,
    );
    let lease = Duration::from_millis(1_000);
    let dies = Relay::new("dies", lease, RetryPolicy::immediate(3));
    let takes_over = Relay::new("takes-over", lease, RetryPolicy::immediate(3));
    assert_eq!(dies.claim(db, 0).expect("claim").len(), 2);
    assert!(takes_over.claim(db, 999).expect("claim").is_empty());
    let mut bus = MemoryBus::new();
    let report = takes_over.relay(db, &mut bus, 1_000).expect("relay");
    assert_eq!(report.delivered, 2);
    assert_eq!(bus.read("t", 0, 10).len(), 2);
}

/// The inbox says yes to a message once per consumer.
pub fn the_inbox_takes_each_message_once(db: &impl Database) {
    let taken = |consumer: &str, id: u128| {
        db.transact(|sql| Inbox::receive(sql, consumer, id, 0))
            .expect("receive")
    };
    assert!(taken("billing", 7));
    assert!(!taken("billing", 7));
    assert!(taken("shipping", 7));
    assert!(taken("billing", 8));
}

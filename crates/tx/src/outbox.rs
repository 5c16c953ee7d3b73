//! The transactional outbox, its relay, and the inbox at the receiving end.
//!
//! A service that changes its state and must tell others writes the message into the
//! outbox *in the same transaction* as the change ([`Outbox::enqueue`]): both commit or
//! neither does. A [`Relay`] then publishes what the outbox holds:
//!
//! - it claims messages with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so relays
//!   running side by side claim different messages; SQLite has one writer at a time), so
//!   a relay that dies mid-batch holds its messages only until the lease runs out;
//! - it claims only the oldest undelivered message of each key, so the messages of one
//!   key are published in the order they were committed, retries included;
//! - a message that fails waits before its next try ([`RetryPolicy`]), and is tried for as
//!   long as the bus is away; one the bus refuses ([`PublishError::refused`]) becomes a
//!   dead letter, which keeps its key blocked — no later message of the key overtakes
//!   it — until an operator [`Relay::redrive`]s it (or deletes it);
//! - [`Relay::lag`] says how much is waiting, and for how long.
//!
//! Delivery is at least once: a relay that dies between publishing and recording it
//! publishes again. The receiver drops the second copy with [`Inbox::receive`], in the
//! transaction that applies the message, so each message takes effect once.
//!
//! Times are milliseconds on a clock the caller passes in (`now_ms`), never read here.

use crate::StoreError;
use crate::retry::{RetryPolicy, after};
use crate::sql::{Database, Dialect, Row, Sql, Value, int};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

pub(crate) fn schema(dialect: Dialect) -> String {
    let (seq, bytes) = match dialect {
        Dialect::Sqlite => ("INTEGER PRIMARY KEY", "BLOB"),
        Dialect::Postgres => ("BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY", "BYTEA"),
    };
    format!(
        "
CREATE TABLE IF NOT EXISTS outbox (
    seq             {seq},
    id              {bytes}  NOT NULL UNIQUE,
    topic           TEXT     NOT NULL,
    key             TEXT     NOT NULL,
    payload         {bytes}  NOT NULL,
    correlation     {bytes}  NOT NULL,
    causation       {bytes}  NOT NULL,
    created_ms      BIGINT   NOT NULL,
    state           TEXT     NOT NULL,
    attempts        BIGINT   NOT NULL,
    next_attempt_ms BIGINT   NOT NULL,
    lease_owner     TEXT,
    lease_until_ms  BIGINT,
    last_error      TEXT,
    done_ms         BIGINT
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (key, seq) WHERE state = 'pending';
CREATE TABLE IF NOT EXISTS inbox (
    consumer    TEXT    NOT NULL,
    id          {bytes} NOT NULL,
    received_ms BIGINT  NOT NULL,
    PRIMARY KEY (consumer, id)
);
"
    )
}

/// A message between services.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Unique: what the receiver's inbox recognises a second copy by.
    pub id: u128,
    /// Where it goes (a NATS subject, a topic of the in-process bus).
    pub topic: String,
    /// What it is about (an order id): messages of one key are published in order.
    pub key: String,
    /// The body, encoded by the application.
    pub payload: Vec<u8>,
    /// The flow it belongs to: the id of the message that started it.
    pub correlation: u128,
    /// The message that caused this one (its own id if none did).
    pub causation: u128,
}

impl Message {
    /// A message that starts a flow of its own.
    pub fn new(
        id: u128,
        topic: impl Into<String>,
        key: impl Into<String>,
        payload: impl Into<Vec<u8>>,
    ) -> Message {
        Message {
            id,
            topic: topic.into(),
            key: key.into(),
            payload: payload.into(),
            correlation: id,
            causation: id,
        }
    }

    /// This message as sent because of `cause`: in its flow, caused by it.
    pub fn caused_by(mut self, cause: &Message) -> Message {
        self.correlation = cause.correlation;
        self.causation = cause.id;
        self
    }
}

fn id_bytes(id: u128) -> [u8; 16] {
    id.to_be_bytes()
}

fn id_from(row: &Row, column: usize) -> Result<u128, StoreError> {
    let bytes: [u8; 16] = row
        .bytes(column)?
        .try_into()
        .map_err(|v: Vec<u8>| StoreError::Storage(format!("a message id of {} bytes", v.len())))?;
    Ok(u128::from_be_bytes(bytes))
}

/// Writing into the outbox.
#[derive(Debug)]
pub struct Outbox;

impl Outbox {
    /// Put `message` in the outbox, within the transaction that makes the change it
    /// tells of. A message whose id is already there is not added again: false.
    pub fn enqueue(sql: &mut dyn Sql, message: &Message, now_ms: u64) -> Result<bool, StoreError> {
        let (id, correlation, causation) = (
            id_bytes(message.id),
            id_bytes(message.correlation),
            id_bytes(message.causation),
        );
        let added = sql.execute(
            "INSERT INTO outbox (id, topic, key, payload, correlation, causation, created_ms,
                                 state, attempts, next_attempt_ms)
             VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $7)
             ON CONFLICT (id) DO NOTHING",
            &[
                Value::Bytes(&id),
                Value::Text(&message.topic),
                Value::Text(&message.key),
                Value::Bytes(&message.payload),
                Value::Bytes(&correlation),
                Value::Bytes(&causation),
                int(now_ms),
            ],
        )?;
        Ok(added == 1)
    }
}

/// Why a message could not be published.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("publishing {}: {reason}", if *.permanent { "refused" } else { "failed" })]
pub struct PublishError {
    /// What went wrong.
    pub reason: String,
    /// Whether trying again cannot help (the bus refused this message: a subject it will
    /// not take, a message too large): the relay makes it a dead letter. Otherwise (a
    /// connection lost, a timeout, a server restarting) the relay tries again, for as long
    /// as it takes.
    pub permanent: bool,
}

impl PublishError {
    /// A failure that may pass: the relay tries again.
    pub fn transient(reason: impl Into<String>) -> Self {
        PublishError {
            reason: reason.into(),
            permanent: false,
        }
    }

    /// A refusal of this message: the relay makes it a dead letter.
    pub fn refused(reason: impl Into<String>) -> Self {
        PublishError {
            reason: reason.into(),
            permanent: true,
        }
    }
}

/// Where a relay publishes: a message bus.
pub trait Publisher {
    /// Publish `message`; `Ok` once the bus has it (durably, if the bus is durable).
    fn publish(&mut self, message: &Message) -> Result<(), PublishError>;
}

/// A message the relay has claimed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claimed {
    /// Its place in the outbox (commit order on SQLite; allocation order on PostgreSQL).
    pub seq: u64,
    /// Tries before this one.
    pub attempts: u64,
    /// The message.
    pub message: Message,
}

/// What one pass of the relay did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RelayReport {
    /// Messages published.
    pub delivered: u64,
    /// Messages that failed and will be tried again.
    pub retried: u64,
    /// Messages that failed their last try and are now dead letters.
    pub dead: u64,
}

/// How far the relay is behind.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Lag {
    /// Messages not yet delivered (dead letters not counted).
    pub pending: u64,
    /// How long the oldest of them has waited, in milliseconds.
    pub oldest_ms: u64,
    /// Dead letters.
    pub dead: u64,
}

/// A message that failed every try.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// Its place in the outbox.
    pub seq: u64,
    /// Tries made.
    pub attempts: u64,
    /// The last error.
    pub error: String,
    /// The message.
    pub message: Message,
}

/// Publishes what the outbox holds.
#[derive(Clone, Debug)]
pub struct Relay {
    owner: String,
    lease: Duration,
    batch: usize,
    backoff: RetryPolicy,
}

const MESSAGE_COLUMNS: &str = "seq, attempts, id, topic, key, payload, correlation, causation";

fn claimed(row: &Row) -> Result<Claimed, StoreError> {
    Ok(Claimed {
        seq: row.unsigned(0)?,
        attempts: row.unsigned(1)?,
        message: Message {
            id: id_from(row, 2)?,
            topic: row.text(3)?,
            key: row.text(4)?,
            payload: row.bytes(5)?,
            correlation: id_from(row, 6)?,
            causation: id_from(row, 7)?,
        },
    })
}

impl Relay {
    /// A relay named `owner` (unique among the relays of one outbox), claiming up to 64
    /// messages at a time for `lease`, trying each as `backoff` says.
    pub fn new(owner: impl Into<String>, lease: Duration, backoff: RetryPolicy) -> Relay {
        Relay {
            owner: owner.into(),
            lease,
            batch: 64,
            backoff,
        }
    }

    /// Claim up to `batch` messages at a time (at least 1).
    pub fn batch(mut self, batch: usize) -> Relay {
        self.batch = batch.max(1);
        self
    }

    /// Claim what is due: the oldest pending message of each key, unless it is leased to
    /// another relay or waiting to be retried; each is leased to this relay until
    /// `now_ms` plus the lease.
    pub fn claim<D: Database>(&self, db: &D, now_ms: u64) -> Result<Vec<Claimed>, StoreError> {
        let lock = match db.dialect() {
            Dialect::Sqlite => "",
            Dialect::Postgres => "FOR UPDATE SKIP LOCKED",
        };
        let query = format!(
            "SELECT {MESSAGE_COLUMNS} FROM outbox o
             WHERE state = 'pending' AND next_attempt_ms <= $1
               AND (lease_until_ms IS NULL OR lease_until_ms <= $1)
               AND NOT EXISTS (SELECT 1 FROM outbox e
                               WHERE e.state IN ('pending', 'dead') AND e.key = o.key
                                 AND e.seq < o.seq)
             ORDER BY seq LIMIT $2 {lock}"
        );
        let until = int(after(now_ms, self.lease));
        db.transact(|sql| {
            let rows = sql.query(&query, &[int(now_ms), int(self.batch as u64)])?;
            let claims = rows.iter().map(claimed).collect::<Result<Vec<_>, _>>()?;
            for c in &claims {
                sql.execute(
                    "UPDATE outbox SET lease_owner = $2, lease_until_ms = $3 WHERE seq = $1",
                    &[int(c.seq), Value::Text(&self.owner), until],
                )?;
            }
            Ok(claims)
        })
    }

    /// One pass: claim what is due, publish it in order, and record each outcome.
    pub fn relay<D: Database>(
        &self,
        db: &D,
        publisher: &mut dyn Publisher,
        now_ms: u64,
    ) -> Result<RelayReport, StoreError> {
        let claims = self.claim(db, now_ms)?;
        let outcomes: Vec<Result<(), PublishError>> = claims
            .iter()
            .map(|c| publisher.publish(&c.message))
            .collect();
        db.transact(|sql| {
            let mut report = RelayReport::default();
            for (c, outcome) in claims.iter().zip(&outcomes) {
                let tries = c.attempts + 1;
                let seq = int(c.seq);
                match outcome {
                    Ok(()) => {
                        sql.execute(
                            "UPDATE outbox SET state = 'delivered', attempts = $2, done_ms = $3,
                                    lease_owner = NULL, lease_until_ms = NULL
                             WHERE seq = $1 AND state = 'pending'",
                            &[seq, int(tries), int(now_ms)],
                        )?;
                        report.delivered += 1;
                    }
                    Err(e) if !e.permanent => {
                        // The policy's delays (growing to its longest): a bus that is away
                        // is waited for, never given up on — that would let the key's later
                        // messages overtake this one. Its count of tries is not used here.
                        let wait = self.backoff.delay(u32::try_from(tries).unwrap_or(u32::MAX));
                        sql.execute(
                            "UPDATE outbox SET attempts = $2, next_attempt_ms = $3, last_error = $4,
                                    lease_owner = NULL, lease_until_ms = NULL
                             WHERE seq = $1 AND state = 'pending'",
                            &[
                                seq,
                                int(tries),
                                int(after(now_ms, wait)),
                                Value::Text(&e.reason),
                            ],
                        )?;
                        report.retried += 1;
                    }
                    Err(e) => {
                        sql.execute(
                            "UPDATE outbox SET state = 'dead', attempts = $2, done_ms = $3,
                                    last_error = $4, lease_owner = NULL, lease_until_ms = NULL
                             WHERE seq = $1 AND state = 'pending'",
                            &[seq, int(tries), int(now_ms), Value::Text(&e.reason)],
                        )?;
                        report.dead += 1;
                    }
                }
            }
            Ok(report)
        })
    }

    /// How much waits in the outbox at `now_ms`.
    pub fn lag<D: Database>(db: &D, now_ms: u64) -> Result<Lag, StoreError> {
        db.transact(|sql| {
            let pending = sql.query_opt(
                "SELECT count(*), min(created_ms) FROM outbox WHERE state = 'pending'",
                &[],
            )?;
            let (pending, oldest) = match pending {
                Some(r) => (r.unsigned(0)?, r.opt_unsigned(1)?),
                None => (0, None),
            };
            let dead = sql.query_opt("SELECT count(*) FROM outbox WHERE state = 'dead'", &[])?;
            Ok(Lag {
                pending,
                oldest_ms: oldest.map_or(0, |t| now_ms.saturating_sub(t)),
                dead: dead.map(|r| r.unsigned(0)).transpose()?.unwrap_or(0),
            })
        })
    }

    /// The dead letters, oldest first.
    pub fn dead_letters<D: Database>(db: &D) -> Result<Vec<DeadLetter>, StoreError> {
        db.transact(|sql| {
            let rows = sql.query(
                &format!(
                    "SELECT {MESSAGE_COLUMNS}, last_error FROM outbox
                     WHERE state = 'dead' ORDER BY seq"
                ),
                &[],
            )?;
            rows.iter()
                .map(|r| {
                    let c = claimed(r)?;
                    Ok(DeadLetter {
                        seq: c.seq,
                        attempts: c.attempts,
                        error: r.opt_text(8)?.unwrap_or_default(),
                        message: c.message,
                    })
                })
                .collect()
        })
    }

    /// Send a dead letter again (an operator's decision, once its cause is fixed): it is
    /// pending, due at `now_ms`, with its tries counted from zero. False if `seq` is not
    /// a dead letter.
    pub fn redrive<D: Database>(db: &D, seq: u64, now_ms: u64) -> Result<bool, StoreError> {
        db.transact(|sql| {
            sql.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_ms = $2,
                        done_ms = NULL
                 WHERE seq = $1 AND state = 'dead'",
                &[int(seq), int(now_ms)],
            )
            .map(|n| n == 1)
        })
    }
}

/// The receiving end: what a consumer has already taken.
#[derive(Debug)]
pub struct Inbox;

impl Inbox {
    /// Record that `consumer` takes message `id`, within the transaction that applies
    /// it: true the first time, false for a copy (whose transaction should then apply
    /// nothing).
    pub fn receive(
        sql: &mut dyn Sql,
        consumer: &str,
        id: u128,
        now_ms: u64,
    ) -> Result<bool, StoreError> {
        let id = id_bytes(id);
        let added = sql.execute(
            "INSERT INTO inbox (consumer, id, received_ms) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[Value::Text(consumer), Value::Bytes(&id), int(now_ms)],
        )?;
        Ok(added == 1)
    }
}

/// An in-process message bus: one log per topic, read by position. For tests, examples
/// and services in one process; it is gone when the process is.
#[derive(Clone, Debug, Default)]
pub struct MemoryBus {
    topics: Arc<Mutex<BTreeMap<String, Vec<Message>>>>,
}

impl MemoryBus {
    /// An empty bus.
    pub fn new() -> MemoryBus {
        MemoryBus::default()
    }

    /// Up to `max` messages of `topic` from position `from` (0: the first).
    pub fn read(&self, topic: &str, from: usize, max: usize) -> Vec<Message> {
        let topics = self.topics.lock().unwrap_or_else(PoisonError::into_inner);
        topics
            .get(topic)
            .map(|log| log.iter().skip(from).take(max).cloned().collect())
            .unwrap_or_default()
    }
}

impl Publisher for MemoryBus {
    fn publish(&mut self, message: &Message) -> Result<(), PublishError> {
        self.topics
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(message.topic.clone())
            .or_default()
            .push(message.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Choreography: each service reacts to the message before it and sends its own,
    /// caused by it; the whole flow keeps the first message's id as its correlation.
    #[test]
    fn a_choreographed_flow_keeps_its_correlation_and_each_cause() {
        let mut bus = MemoryBus::new();
        let placed = Message::new(1, "orders", "order-7", "placed");
        bus.publish(&placed).unwrap();
        let reactions = [("orders", "inventory", 2u128), ("inventory", "payments", 3)];
        for (from, to, id) in reactions {
            let cause = bus.read(from, 0, 1).remove(0);
            let reply = Message::new(id, to, cause.key.clone(), format!("after {}", cause.id));
            bus.publish(&reply.caused_by(&cause)).unwrap();
        }
        let reserved = bus.read("inventory", 0, 1).remove(0);
        let charged = bus.read("payments", 0, 1).remove(0);
        assert_eq!((reserved.correlation, reserved.causation), (1, 1));
        assert_eq!((charged.correlation, charged.causation), (1, 2));
        assert_eq!(charged.key, "order-7");
        assert_eq!(
            (placed.correlation, placed.causation),
            (1, 1),
            "a flow's first"
        );
        assert_eq!(bus.read("payments", 1, 5), Vec::new());
        assert_eq!(bus.read("nowhere", 0, 5), Vec::new());
    }
}

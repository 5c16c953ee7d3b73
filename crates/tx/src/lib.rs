//! Transaction patterns for services that cannot share one database transaction: an
//! event store with a global order subscribers can follow, projections, outbox and inbox,
//! and durable sagas, on SQLite (the embedded default) or PostgreSQL.
//!
//! - [`EventStore`]: streams of events with optimistic concurrency ([`Expected`]),
//!   idempotent appends by event id, atomic appends across streams, and one global
//!   position per event, in commit order.
//! - [`MemoryStore`]: the contract in memory.
//! - [`SqliteStore`]: the embedded default, durable (`synchronous=FULL`), committing
//!   concurrent appends in groups.
//! - `PostgresStore` (feature `postgres`, on by default): for systems that outgrow one
//!   machine; appends can join the caller's own transaction.
//! - [`Subscription`]: the global order followed from a checkpoint, catch-up and live
//!   alike.
//! - [`SnapshotStore`]: the latest [`Snapshot`] of each stream per state schema, kept
//!   beside its events.
//! - [`Upcasting`]: reads with old event versions stepped up to the current ones
//!   ([`Upcasters`]); an event no step reaches is a typed error.
//! - [`Database`]: a store whose database also keeps the patterns' state, each step in
//!   one transaction ([`Database::transact`]) with the application's own writes, through
//!   [`Sql`] — the same statements on SQLite and PostgreSQL.
//! - [`Projector`]: read models ([`Projection`]) kept from the global order, the
//!   checkpoint in the same transaction as the update; retries, parked events and
//!   replay; rebuild beside the live generation and swap.
//! - [`Outbox`], [`Relay`], [`Inbox`]: messages committed with the state change they tell
//!   of, published in order per key with leases, retries and dead letters, taken once at
//!   the receiving end; [`MemoryBus`] in process, `JetStream` (feature `nats`, on by
//!   default) across machines.
//! - [`Orchestrator`]: sagas as a state machine in the database — retries before
//!   compensating, durable deadlines, compensations newest first, an operator's retry,
//!   skip or abort when a compensation keeps failing, an idempotency key per (saga,
//!   step, attempt).
//! - `conformance` (feature `conformance`): the checks every backend passes.

// For a backend of your own: feature `conformance`.
#[cfg(any(test, feature = "conformance"))]
pub mod conformance;
mod error;
mod event;
mod group_commit;
mod memory;
#[cfg(feature = "nats")]
mod nats;
mod outbox;
#[cfg(feature = "postgres")]
mod pg;
pub mod projection;
mod retry;
pub mod saga;
mod snapshot;
mod sql;
mod sqlite;
mod store;
mod subscription;
mod upcast;

pub use error::{Actual, StoreError};
pub use event::{Appended, EventId, Expected, NewEvent, RecordedEvent};
pub use memory::MemoryStore;
#[cfg(feature = "nats")]
pub use nats::{JetStream, NatsError, Stored};
pub use outbox::{
    Claimed, DeadLetter, Inbox, Lag, MemoryBus, Message, Outbox, PublishError, Publisher, Relay,
    RelayReport,
};
#[cfg(feature = "postgres")]
pub use pg::PostgresStore;
pub use projection::{Projection, ProjectionError, Projector};
pub use retry::RetryPolicy;
pub use saga::{Orchestrator, Participants, Saga, SagaDefinition, SagaError};
pub use snapshot::{Snapshot, SnapshotStore};
pub use sql::{Cell, Database, Dialect, Row, Sql, Value};
pub use sqlite::SqliteStore;
pub use store::{EventStore, StreamAppend};
pub use subscription::Subscription;
pub use upcast::{UpcastStep, Upcasters, Upcasting};

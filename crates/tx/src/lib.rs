//! Transaction patterns for services that cannot share one database transaction: an
//! event store with a global order subscribers can follow, and (to come) projections,
//! outbox and inbox, and durable sagas.
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
//! - [`conformance`]: the checks every backend passes.

pub mod conformance;
mod error;
mod event;
mod memory;
#[cfg(feature = "postgres")]
mod pg;
mod snapshot;
mod sqlite;
mod store;
mod subscription;
mod upcast;

pub use error::{Actual, StoreError};
pub use event::{Appended, EventId, Expected, NewEvent, RecordedEvent};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use pg::PostgresStore;
pub use snapshot::{Snapshot, SnapshotStore};
pub use sqlite::SqliteStore;
pub use store::{EventStore, StreamAppend};
pub use subscription::Subscription;
pub use upcast::{UpcastStep, Upcasters, Upcasting};

//! Transaction patterns for services that cannot share one database transaction: an
//! event store with a global order subscribers can follow, and (to come) projections,
//! outbox and inbox, and durable sagas.
//!
//! - [`EventStore`]: streams of events with optimistic concurrency ([`Expected`]),
//!   idempotent appends by event id, atomic appends across streams, and one global
//!   position per event, in commit order.
//! - [`MemoryStore`]: the contract in memory.
//! - [`SqliteStore`]: the embedded default, durable (`synchronous=FULL`).
//! - [`Subscription`]: the global order followed from a checkpoint, catch-up and live
//!   alike.
//! - [`conformance`]: the checks every backend passes.

pub mod conformance;
mod error;
mod event;
mod memory;
mod sqlite;
mod store;
mod subscription;

pub use error::{Actual, StoreError};
pub use event::{Appended, EventId, Expected, NewEvent, RecordedEvent};
pub use memory::MemoryStore;
pub use sqlite::SqliteStore;
pub use store::{EventStore, StreamAppend};
pub use subscription::Subscription;

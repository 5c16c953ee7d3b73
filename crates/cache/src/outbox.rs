//! Invalidation from dsys-tx's outbox: a committed change invalidates every consumer's
//! cache, exactly once per consumer.
//!
//! The writer changes the source of truth and enqueues [`message`] in the same
//! transaction ([`enqueue`]), so the invalidation exists if and only if the change
//! committed. dsys-tx's relay publishes it (at least once: a relay that dies after
//! publishing and before recording it publishes again). Each consumer hands what it
//! receives to its [`Invalidator`], which records the message in the consumer's inbox
//! and deletes the key in the same transaction: a copy finds the inbox entry and does
//! nothing. The delete runs before the inbox entry commits, so a consumer that dies in
//! between deletes again when the message comes again, never not at all.

use dsys_tx::{Database, Inbox, Message, Outbox, Sql, StoreError};

/// The topic of cache invalidations.
pub const TOPIC: &str = "dsys.cache.invalidate";

/// The message that tells every consumer `key` changed (`id` unique, as every outbox
/// message's; the key is the message's key, so a key's invalidations stay in order).
pub fn message(id: u128, key: &str) -> Message {
    Message::new(id, TOPIC, key, Vec::new())
}

/// Enqueue the invalidation of `key` within the transaction that changes it (`sql`).
pub fn enqueue(sql: &mut dyn Sql, id: u128, key: &str, now_ms: u64) -> Result<bool, StoreError> {
    Outbox::enqueue(sql, &message(id, key), now_ms)
}

/// One consumer's end: applies each invalidation once, whatever the bus redelivers.
#[derive(Debug)]
pub struct Invalidator<D> {
    inbox: D,
    consumer: String,
}

impl<D: Database> Invalidator<D> {
    /// The consumer `consumer`, its inbox in `inbox`.
    pub fn new(inbox: D, consumer: impl Into<String>) -> Invalidator<D> {
        Invalidator {
            inbox,
            consumer: consumer.into(),
        }
    }

    /// Apply `message`: if it is an invalidation this consumer has not taken yet,
    /// `invalidate` its key and record it, in one transaction. Whether it did; messages
    /// of other topics are not this consumer's (false).
    pub fn apply(
        &self,
        message: &Message,
        now_ms: u64,
        invalidate: impl FnOnce(&str),
    ) -> Result<bool, StoreError> {
        if message.topic != TOPIC {
            return Ok(false);
        }
        self.inbox.transact(|sql| {
            let first = Inbox::receive(sql, &self.consumer, message.id, now_ms)?;
            if first {
                invalidate(&message.key);
            }
            Ok::<_, StoreError>(first)
        })
    }
}

//! Following the store: a subscription reads the global order from a position on, first
//! catching up on what is stored, then taking new events as they commit — the same call
//! throughout, so there is no seam between catch-up and live where an event could be
//! missed or seen twice.

use crate::{EventStore, RecordedEvent, StoreError};

/// Where a reader of the global order is: the next position it has not seen.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Subscription {
    next: u64,
    page: usize,
}

impl Subscription {
    /// From global position `from` (0: the beginning), reading at most `page` events per
    /// poll (at least 1).
    pub fn from(from: u64, page: usize) -> Subscription {
        Subscription {
            next: from,
            page: page.max(1),
        }
    }

    /// The next position this subscription will read: what to store as its checkpoint.
    pub fn checkpoint(&self) -> u64 {
        self.next
    }

    /// The next events, in position order, or none if it has caught up. Positions are
    /// commit order, so an event committed after this poll can only come after the ones
    /// it returns.
    pub fn poll(&mut self, store: &impl EventStore) -> Result<Vec<RecordedEvent>, StoreError> {
        let events = store.read_all(self.next, self.page)?;
        if let Some(last) = events.last() {
            self.next = last.position + 1;
        }
        Ok(events)
    }
}

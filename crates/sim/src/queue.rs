//! The event queue: a min-heap ordered by (virtual time, sequence number).
//!
//! The sequence number breaks ties in insertion order, so two events due at the same
//! instant always run in the same order.
//!
//! The heap holds only small keys; the events themselves wait in a slab and never move
//! until popped. Events carry messages of every size (a Raft append carries its
//! entries), and a heap of whole events spent most of its time moving them.

use dsys_node::Instant;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

/// Where an event sits in the heap order, and in which slab slot it waits.
#[derive(PartialEq, Eq)]
struct Key {
    at: Instant,
    seq: u64,
    slot: u32,
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        // Reversed: BinaryHeap is a max-heap and we want the earliest first. `seq` is
        // unique, so `slot` never decides.
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Pending events of the simulated world.
pub struct EventQueue<E> {
    heap: BinaryHeap<Key>,
    /// Events by slot; `None` for a free slot.
    slab: Vec<Option<E>>,
    /// Free slots, reused last-in first-out.
    free: Vec<u32>,
    next_seq: u64,
}

impl<E> std::fmt::Debug for EventQueue<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventQueue")
            .field("len", &self.heap.len())
            .finish()
    }
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: BinaryHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            next_seq: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// Schedule `event` at `at`.
    pub fn push(&mut self, at: Instant, event: E) {
        let seq = self.next_seq;
        self.next_seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slab[slot as usize] = Some(event);
                slot
            }
            None => {
                self.slab.push(Some(event));
                // More than 4 billion pending events would exhaust memory long before.
                u32::try_from(self.slab.len() - 1).unwrap_or(u32::MAX)
            }
        };
        self.heap.push(Key { at, seq, slot });
    }

    /// Remove and return the earliest event.
    pub fn pop(&mut self) -> Option<(Instant, E)> {
        let key = self.heap.pop()?;
        let event = self.slab.get_mut(key.slot as usize)?.take()?;
        self.free.push(key.slot);
        Some((key.at, event))
    }

    /// Number of pending events.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether no event is pending.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn pops_in_time_then_insertion_order(times in proptest::collection::vec(0u64..20, 0..200)) {
            let mut q = EventQueue::default();
            for (i, t) in times.iter().enumerate() {
                q.push(Instant::from_nanos(*t), i);
            }
            let mut last: Option<(Instant, usize)> = None;
            while let Some((at, i)) = q.pop() {
                if let Some((prev_at, prev_i)) = last {
                    prop_assert!(prev_at < at || (prev_at == at && prev_i < i));
                }
                last = Some((at, i));
            }
        }
    }
}

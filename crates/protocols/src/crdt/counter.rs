//! Counters: grow-only and positive-negative.

use super::Crdt;
use dsys_node::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A grow-only counter: one count per replica; the value is their sum. Zero counts are
/// not stored, so equal counters compare (and hash) equal.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct GCounter {
    counts: BTreeMap<NodeId, u64>,
}

impl GCounter {
    /// Add `by` at replica `node`.
    pub fn increment(&mut self, node: NodeId, by: u64) {
        if by > 0 {
            *self.counts.entry(node).or_insert(0) += by;
        }
    }

    /// The total.
    pub fn value(&self) -> u64 {
        self.counts.values().sum()
    }

    /// Replica `node`'s count.
    pub fn count(&self, node: NodeId) -> u64 {
        self.counts.get(&node).copied().unwrap_or(0)
    }

    /// Raise replica `node`'s count to `count` (a delta-state merge of one component).
    pub fn merge_count(&mut self, node: NodeId, count: u64) {
        if count > 0 {
            let mine = self.counts.entry(node).or_insert(0);
            *mine = (*mine).max(count);
        }
    }
}

impl Crdt for GCounter {
    fn merge(&mut self, other: &Self) {
        for (&node, &c) in &other.counts {
            let mine = self.counts.entry(node).or_insert(0);
            *mine = (*mine).max(c);
        }
    }
}

/// A counter that can go down: increments and decrements kept as two grow-only counters.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct PnCounter {
    up: GCounter,
    down: GCounter,
}

impl PnCounter {
    /// Add `delta` (may be negative) at replica `node`.
    pub fn add(&mut self, node: NodeId, delta: i64) {
        if delta >= 0 {
            self.up.increment(node, delta.unsigned_abs());
        } else {
            self.down.increment(node, delta.unsigned_abs());
        }
    }

    /// The total.
    pub fn value(&self) -> i64 {
        self.up.value() as i64 - self.down.value() as i64
    }

    /// Replica `node`'s component: what it added and what it subtracted.
    pub fn component(&self, node: NodeId) -> (u64, u64) {
        (self.up.count(node), self.down.count(node))
    }

    /// Merge one replica's component (shipping only the changed component is a
    /// delta-state CRDT: idempotent and order-insensitive like a full merge).
    pub fn merge_component(&mut self, node: NodeId, (up, down): (u64, u64)) {
        self.up.merge_count(node, up);
        self.down.merge_count(node, down);
    }
}

impl Crdt for PnCounter {
    fn merge(&mut self, other: &Self) {
        self.up.merge(&other.up);
        self.down.merge(&other.down);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crdt::laws;
    use proptest::prelude::*;

    fn pn(updates: &[(u32, i64)]) -> PnCounter {
        let mut c = PnCounter::default();
        for &(node, d) in updates {
            c.add(NodeId(node), d);
        }
        c
    }

    proptest! {
        #[test]
        fn pn_counter_laws_and_no_lost_updates(
            a in proptest::collection::vec((0u32..3, -5i64..5), 0..8),
            b in proptest::collection::vec((3u32..6, -5i64..5), 0..8),
            c in proptest::collection::vec((6u32..9, -5i64..5), 0..8),
        ) {
            let (x, y, z) = (pn(&a), pn(&b), pn(&c));
            laws::hold(&x, &y, &z)?;
            // Replicas updated apart and merged lose nothing.
            let mut all = x.clone();
            all.merge(&y);
            all.merge(&z);
            let total: i64 = a.iter().chain(&b).chain(&c).map(|(_, d)| d).sum();
            prop_assert_eq!(all.value(), total);
        }

        #[test]
        fn merging_one_component_is_a_full_merge_restricted_to_it(
            a in proptest::collection::vec((0u32..3, -5i64..5), 0..8),
            b in proptest::collection::vec((0u32..3, -5i64..5), 0..8),
            node in 0u32..3,
        ) {
            // What multi-leader ships: only the writer's component. Merging every
            // component one by one equals merging the whole state.
            let (x, y) = (pn(&a), pn(&b));
            let mut whole = x.clone();
            whole.merge(&y);
            let mut by_component = x.clone();
            for n in 0..3 {
                by_component.merge_component(NodeId(n), y.component(NodeId(n)));
            }
            prop_assert_eq!(&by_component, &whole);
            // And merging one component twice changes nothing (idempotent).
            let mut twice = x.clone();
            twice.merge_component(NodeId(node), y.component(NodeId(node)));
            let once = twice.clone();
            twice.merge_component(NodeId(node), y.component(NodeId(node)));
            prop_assert_eq!(twice, once);
        }

        #[test]
        fn g_counter_laws(a in proptest::collection::vec((0u32..4, 0u64..5), 0..8), b in proptest::collection::vec((0u32..4, 0u64..5), 0..8)) {
            let build = |u: &[(u32, u64)]| {
                let mut g = GCounter::default();
                for &(n, by) in u { g.increment(NodeId(n), by); }
                g
            };
            laws::hold(&build(&a), &build(&b), &build(&a[..a.len() / 2]))?;
        }
    }
}

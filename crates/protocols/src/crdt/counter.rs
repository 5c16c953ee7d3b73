//! Counters: grow-only and positive-negative.

use super::Crdt;
use dsys_node::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A grow-only counter: one count per replica; the value is their sum.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct GCounter {
    counts: BTreeMap<NodeId, u64>,
}

impl GCounter {
    /// Add `by` at replica `node`.
    pub fn increment(&mut self, node: NodeId, by: u64) {
        *self.counts.entry(node).or_insert(0) += by;
    }

    /// The total.
    pub fn value(&self) -> u64 {
        self.counts.values().sum()
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

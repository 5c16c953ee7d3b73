//! Version vectors: one counter per node; they tell causally ordered versions from
//! concurrent ones.

use dsys_node::NodeId;
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// How two versions relate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Causality {
    /// Every counter is at most the other's, and one is smaller.
    Before,
    /// The reverse.
    After,
    /// Identical.
    Equal,
    /// Each has seen something the other has not.
    Concurrent,
}

/// A version vector. Absent entries are zero; zero entries are never stored.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default, Serialize, Deserialize)]
pub struct VersionVector {
    counters: BTreeMap<NodeId, u64>,
}

impl VersionVector {
    /// The empty vector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counter of `node`.
    pub fn get(&self, node: NodeId) -> u64 {
        self.counters.get(&node).copied().unwrap_or(0)
    }

    /// Record one more event at `node`; returns its new counter.
    pub fn increment(&mut self, node: NodeId) -> u64 {
        let c = self.counters.entry(node).or_insert(0);
        *c += 1;
        *c
    }

    /// Raise `node`'s counter to at least `counter` (a writer whose counter is global
    /// across keys, rather than per key, records a write this way).
    pub fn raise(&mut self, node: NodeId, counter: u64) {
        if counter > 0 {
            let c = self.counters.entry(node).or_insert(0);
            *c = (*c).max(counter);
        }
    }

    /// Pointwise maximum: the least vector that has seen both.
    pub fn merge(&mut self, other: &VersionVector) {
        for (&node, &c) in &other.counters {
            let mine = self.counters.entry(node).or_insert(0);
            *mine = (*mine).max(c);
        }
    }

    /// How `self` relates to `other`.
    pub fn compare(&self, other: &VersionVector) -> Causality {
        let (mut less, mut greater) = (false, false);
        let nodes = self.counters.keys().chain(other.counters.keys());
        for &node in nodes {
            match self.get(node).cmp(&other.get(node)) {
                Ordering::Less => less = true,
                Ordering::Greater => greater = true,
                Ordering::Equal => {}
            }
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }

    /// Whether `self` has seen everything `other` has.
    pub fn dominates(&self, other: &VersionVector) -> bool {
        matches!(self.compare(other), Causality::After | Causality::Equal)
    }

    /// Nodes with a non-zero counter and their counters, in node order.
    pub fn iter(&self) -> impl Iterator<Item = (NodeId, u64)> + '_ {
        self.counters
            .iter()
            .filter(|(_, c)| **c > 0)
            .map(|(n, c)| (*n, *c))
    }
}

impl FromIterator<(NodeId, u64)> for VersionVector {
    /// A vector with these counters (later entries for the same node win).
    fn from_iter<I: IntoIterator<Item = (NodeId, u64)>>(entries: I) -> Self {
        // Zero counters are not stored, so equal vectors compare equal with `==`.
        VersionVector {
            counters: entries.into_iter().filter(|(_, c)| *c > 0).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn vv() -> impl Strategy<Value = VersionVector> {
        proptest::collection::btree_map(0u32..4, 0u64..4, 0..4).prop_map(|m| VersionVector {
            counters: m.into_iter().map(|(n, c)| (NodeId(n), c)).collect(),
        })
    }

    #[test]
    fn concurrent_increments_are_concurrent() {
        let base = VersionVector::new();
        let (mut a, mut b) = (base.clone(), base.clone());
        a.increment(NodeId(0));
        b.increment(NodeId(1));
        assert_eq!(a.compare(&b), Causality::Concurrent);
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(a.compare(&m), Causality::Before);
        assert_eq!(m.compare(&b), Causality::After);
        // Explicit zeros equal absent entries.
        let mut z = VersionVector::new();
        z.counters.insert(NodeId(7), 0);
        assert_eq!(z.compare(&VersionVector::new()), Causality::Equal);
    }

    proptest! {
        #[test]
        fn compare_is_antisymmetric_and_reflexive(a in vv(), b in vv()) {
            let flip = |c| match c { Causality::Before => Causality::After, Causality::After => Causality::Before, x => x };
            prop_assert_eq!(a.compare(&b), flip(b.compare(&a)));
            prop_assert_eq!(a.compare(&a), Causality::Equal);
        }

        #[test]
        fn before_is_transitive(a in vv(), b in vv(), c in vv()) {
            if a.compare(&b) == Causality::Before && b.compare(&c) == Causality::Before {
                prop_assert_eq!(a.compare(&c), Causality::Before);
            }
        }

        #[test]
        fn merge_is_the_least_upper_bound(a in vv(), b in vv(), c in vv()) {
            let mut m = a.clone();
            m.merge(&b);
            prop_assert!(m.dominates(&a) && m.dominates(&b));
            // Least: anything that dominates both dominates the merge.
            if c.dominates(&a) && c.dominates(&b) {
                prop_assert!(c.dominates(&m));
            }
            // Commutative, associative, idempotent.
            let mut n = b.clone();
            n.merge(&a);
            prop_assert_eq!(m.compare(&n), Causality::Equal);
            let mut ab_c = m.clone();
            ab_c.merge(&c);
            let mut bc = b.clone();
            bc.merge(&c);
            let mut a_bc = a.clone();
            a_bc.merge(&bc);
            prop_assert_eq!(ab_c.compare(&a_bc), Causality::Equal);
            let mut twice = m.clone();
            twice.merge(&m);
            prop_assert_eq!(twice.compare(&m), Causality::Equal);
        }

        #[test]
        fn increment_moves_strictly_after(a in vv(), node in 0u32..4) {
            let mut b = a.clone();
            b.increment(NodeId(node));
            prop_assert_eq!(a.compare(&b), Causality::Before);
        }
    }
}

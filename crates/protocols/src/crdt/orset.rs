//! The observed-remove set (add wins over a concurrent remove).

use super::Crdt;
use crate::clock::VersionVector;
use dsys_node::NodeId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// A unique tag for one add: the replica and its add counter.
pub type Dot = (NodeId, u64);

/// An OR-set. Each add is tagged with a fresh dot; a remove tombstones the dots it has
/// observed, so an add it did not see (a concurrent one) survives.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct OrSet<T: Ord> {
    adds: BTreeSet<(T, Dot)>,
    removed: BTreeSet<Dot>,
    clock: VersionVector,
}

impl<T: Ord> Default for OrSet<T> {
    fn default() -> Self {
        OrSet {
            adds: BTreeSet::new(),
            removed: BTreeSet::new(),
            clock: VersionVector::new(),
        }
    }
}

impl<T: Ord + Clone> OrSet<T> {
    /// Add `element` at replica `node`; returns the dot that tags this add.
    pub fn add(&mut self, node: NodeId, element: T) -> Dot {
        let dot = (node, self.clock.increment(node));
        self.adds.insert((element, dot));
        dot
    }

    /// The dot the next add at `node` would get.
    pub fn next_dot(&self, node: NodeId) -> Dot {
        (node, self.clock.get(node) + 1)
    }

    /// Apply an add made elsewhere with its dot (idempotent; an add whose dot was
    /// already removed stays removed).
    pub fn apply_add(&mut self, element: T, dot: Dot) {
        self.clock.raise(dot.0, dot.1);
        self.adds.insert((element, dot));
    }

    /// Remove `element` as far as this replica has seen it; returns the dots removed.
    pub fn remove(&mut self, element: &T) -> Vec<Dot> {
        let dots = self.observed(element);
        self.apply_remove(&dots);
        dots
    }

    /// The dots of the adds of `element` this replica has seen and not removed: what a
    /// remove here takes out.
    pub fn observed(&self, element: &T) -> Vec<Dot> {
        self.adds
            .iter()
            .filter(|(e, d)| e == element && !self.removed.contains(d))
            .map(|(_, d)| *d)
            .collect()
    }

    /// Apply a remove made elsewhere by the dots it observed (idempotent; an add that
    /// arrives after its remove stays removed).
    pub fn apply_remove(&mut self, dots: &[Dot]) {
        self.removed.extend(dots.iter().copied());
    }

    /// Whether `element` is present.
    pub fn contains(&self, element: &T) -> bool {
        self.adds
            .iter()
            .any(|(e, d)| e == element && !self.removed.contains(d))
    }

    /// The present elements, in order.
    pub fn elements(&self) -> BTreeSet<T> {
        self.adds
            .iter()
            .filter(|(_, d)| !self.removed.contains(d))
            .map(|(e, _)| e.clone())
            .collect()
    }
}

impl<T: Ord + Clone> Crdt for OrSet<T> {
    fn merge(&mut self, other: &Self) {
        self.adds.extend(other.adds.iter().cloned());
        self.removed.extend(other.removed.iter().copied());
        self.clock.merge(&other.clock);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crdt::laws;
    use proptest::prelude::*;

    #[test]
    fn a_concurrent_add_wins_over_a_remove() {
        let mut a = OrSet::default();
        a.add(NodeId(0), "x");
        let mut b = a.clone();
        b.remove(&"x");
        a.add(NodeId(0), "x"); // concurrent with b's remove
        let mut m = a.clone();
        m.merge(&b);
        assert!(m.contains(&"x"));
        // A remove that saw every add wins.
        let mut c = m.clone();
        c.remove(&"x");
        m.merge(&c);
        assert!(!m.contains(&"x"));
    }

    fn replica(node: u32, ops: &[(bool, u8)]) -> OrSet<u8> {
        let mut s = OrSet::default();
        for &(add, e) in ops {
            if add {
                s.add(NodeId(node), e);
            } else {
                s.remove(&e);
            }
        }
        s
    }

    proptest! {
        #[test]
        fn or_set_laws(a in proptest::collection::vec((any::<bool>(), 0u8..4), 0..10), b in proptest::collection::vec((any::<bool>(), 0u8..4), 0..10), c in proptest::collection::vec((any::<bool>(), 0u8..4), 0..10)) {
            laws::hold(&replica(0, &a), &replica(1, &b), &replica(2, &c))?;
        }

        /// Shipping one add with its dot (what multi-leader does) has the effect of
        /// merging the adder's whole state, in any order and any number of times.
        #[test]
        fn applying_an_add_by_its_dot_matches_a_merge(
            base in proptest::collection::vec((any::<bool>(), 0u8..4), 0..10),
            adds in proptest::collection::vec(0u8..4, 1..5),
        ) {
            let receiver = replica(1, &base);
            let mut adder = OrSet::default();
            let mut shipped = Vec::new();
            for e in &adds {
                prop_assert_eq!(adder.next_dot(NodeId(0)), (NodeId(0), shipped.len() as u64 + 1));
                shipped.push((*e, adder.add(NodeId(0), *e)));
            }
            let mut merged = receiver.clone();
            merged.merge(&adder);
            let mut applied = receiver.clone();
            for &(e, dot) in shipped.iter().rev().chain(shipped.iter()) {
                applied.apply_add(e, dot);
            }
            prop_assert_eq!(applied.elements(), merged.elements());
            prop_assert_eq!(applied.next_dot(NodeId(0)), merged.next_dot(NodeId(0)));
        }

        /// Shipping a remove as the dots it observed has the effect of merging the
        /// remover's state, whether it arrives before or after the adds it removes.
        #[test]
        fn applying_a_remove_by_its_dots_matches_a_merge(
            base in proptest::collection::vec((any::<bool>(), 0u8..4), 0..10),
            removed in 0u8..4,
        ) {
            let mut remover = replica(0, &base);
            let dots = remover.remove(&removed);
            let mut receiver = OrSet::default();
            receiver.apply_remove(&dots);
            receiver.merge(&replica(0, &base));
            prop_assert!(!receiver.contains(&removed));
            prop_assert_eq!(receiver.elements(), remover.elements());
        }

        /// Adds that no remove observed are never lost in a merge.
        #[test]
        fn unobserved_adds_survive(a in proptest::collection::vec(0u8..4, 1..6), b in proptest::collection::vec((any::<bool>(), 0u8..4), 0..10)) {
            let mut x = OrSet::default();
            for e in &a { x.add(NodeId(0), *e); }
            let mut m = replica(1, &b);
            m.merge(&x);
            for e in &a { prop_assert!(m.contains(e)); }
        }
    }
}

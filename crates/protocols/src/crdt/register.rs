//! Registers: last-writer-wins, and multi-value (keeps concurrent writes as siblings).

use super::Crdt;
use crate::clock::{Causality, HlcTimestamp, VersionVector};
use dsys_node::NodeId;
use serde::{Deserialize, Serialize};

/// A last-writer-wins register: the write with the greatest (timestamp, node) wins.
/// Concurrent writes are silently dropped, which is the point of comparing it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct LwwRegister<T> {
    latest: Option<(HlcTimestamp, NodeId, T)>,
}

impl<T> Default for LwwRegister<T> {
    fn default() -> Self {
        LwwRegister { latest: None }
    }
}

impl<T: Ord + Clone> LwwRegister<T> {
    /// Write `value` stamped `(at, node)`; an older stamp is ignored.
    pub fn set(&mut self, at: HlcTimestamp, node: NodeId, value: T) {
        let candidate = (at, node, value);
        if self.latest.as_ref().is_none_or(|l| candidate > *l) {
            self.latest = Some(candidate);
        }
    }

    /// The current value.
    pub fn get(&self) -> Option<&T> {
        self.latest.as_ref().map(|(_, _, v)| v)
    }

    /// The winning stamp.
    pub fn stamp(&self) -> Option<(HlcTimestamp, NodeId)> {
        self.latest.as_ref().map(|(t, n, _)| (*t, *n))
    }
}

impl<T: Ord + Clone> Crdt for LwwRegister<T> {
    fn merge(&mut self, other: &Self) {
        if let Some((t, n, v)) = &other.latest {
            self.set(*t, *n, v.clone());
        }
    }
}

/// A multi-value register: concurrent writes survive side by side as siblings; a write
/// made after reading all of them replaces them.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct MvRegister<T> {
    /// Siblings with their versions, none dominating another, in a canonical order.
    siblings: Vec<(Vec<(NodeId, u64)>, T)>,
}

impl<T> Default for MvRegister<T> {
    fn default() -> Self {
        MvRegister {
            siblings: Vec::new(),
        }
    }
}

fn vector(entries: &[(NodeId, u64)]) -> VersionVector {
    entries.iter().copied().collect()
}

impl<T: Ord + Clone> MvRegister<T> {
    /// The version that has seen every sibling (the context a write supersedes).
    pub fn context(&self) -> VersionVector {
        let mut ctx = VersionVector::new();
        for (entries, _) in &self.siblings {
            ctx.merge(&vector(entries));
        }
        ctx
    }

    /// Write `value` at `node`, superseding every sibling this replica holds.
    pub fn write(&mut self, node: NodeId, value: T) {
        let mut version = self.context();
        version.increment(node);
        self.siblings = vec![(version.iter().collect(), value)];
    }

    /// The current siblings.
    pub fn values(&self) -> Vec<&T> {
        self.siblings.iter().map(|(_, v)| v).collect()
    }
}

impl<T: Ord + Clone> Crdt for MvRegister<T> {
    fn merge(&mut self, other: &Self) {
        let mut all: Vec<(Vec<(NodeId, u64)>, T)> = self
            .siblings
            .iter()
            .chain(&other.siblings)
            .cloned()
            .collect();
        all.sort();
        all.dedup();
        let versions: Vec<VersionVector> = all.iter().map(|(e, _)| vector(e)).collect();
        let keep: Vec<bool> = (0..all.len())
            .map(|i| {
                !versions
                    .iter()
                    .enumerate()
                    .any(|(j, v)| j != i && versions[i].compare(v) == Causality::Before)
            })
            .collect();
        self.siblings = all
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(s, _)| s)
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crdt::laws;
    use proptest::prelude::*;

    #[test]
    fn concurrent_writes_become_siblings_until_a_write_supersedes_them() {
        let mut a = MvRegister::default();
        let mut b = MvRegister::default();
        a.write(NodeId(0), 1);
        b.write(NodeId(1), 2);
        let mut m = a.clone();
        m.merge(&b);
        assert_eq!(m.values(), vec![&1, &2]);
        m.write(NodeId(0), 3);
        assert_eq!(m.values(), vec![&3]);
        a.merge(&m);
        assert_eq!(a.values(), vec![&3]);
    }

    #[test]
    fn lww_keeps_the_latest_stamp_and_drops_the_other() {
        let mut a = LwwRegister::default();
        a.set(
            HlcTimestamp {
                wall: 5,
                logical: 0,
            },
            NodeId(0),
            "old",
        );
        let mut b = LwwRegister::default();
        b.set(
            HlcTimestamp {
                wall: 7,
                logical: 0,
            },
            NodeId(1),
            "new",
        );
        a.merge(&b);
        assert_eq!(a.get(), Some(&"new"));
        b.set(
            HlcTimestamp {
                wall: 6,
                logical: 9,
            },
            NodeId(2),
            "late",
        );
        assert_eq!(b.get(), Some(&"new"));
    }

    fn mv(writes: &[(u32, u8)]) -> MvRegister<u8> {
        let mut r = MvRegister::default();
        for &(n, v) in writes {
            r.write(NodeId(n), v);
        }
        r
    }

    proptest! {
        #[test]
        fn mv_register_laws(a in proptest::collection::vec((0u32..1, 0u8..9), 0..4), b in proptest::collection::vec((1u32..2, 0u8..9), 0..4), c in proptest::collection::vec((2u32..3, 0u8..9), 0..4)) {
            // Replicas that also saw each other's state first, so versions interleave.
            let (x, y, z) = (mv(&a), mv(&b), mv(&c));
            let mut y2 = y.clone();
            y2.merge(&x);
            for &(_, v) in b.iter().take(1) { y2.write(NodeId(1), v); }
            laws::hold(&x, &y2, &z)?;
        }

        #[test]
        fn lww_register_laws(a in proptest::collection::vec((0u64..5, 0u32..3, 0u8..9), 0..5), b in proptest::collection::vec((0u64..5, 0u32..3, 0u8..9), 0..5), c in proptest::collection::vec((0u64..5, 0u32..3, 0u8..9), 0..5)) {
            let build = |w: &[(u64, u32, u8)]| {
                let mut r = LwwRegister::default();
                for &(t, n, v) in w { r.set(HlcTimestamp { wall: t, logical: 0 }, NodeId(n), v); }
                r
            };
            laws::hold(&build(&a), &build(&b), &build(&c))?;
        }
    }
}

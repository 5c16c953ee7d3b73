//! Registers: the versions a replica keeps of one key, how they supersede each other,
//! and their stored form. Ordered by timestamp they make a last-writer-wins register
//! ([`LwwRegister`]); ordered by vector clock, a multi-value register ([`MvRegister`])
//! whose concurrent writes survive side by side as siblings until a write that saw them
//! all replaces them. `leaderless` and `multi-leader` both keep their registers here.

use super::Crdt;
use crate::clock::{Causality, HlcTimestamp, VersionVector};
use crate::kv::Fnv;
use dsys_node::{NodeId, Value};
use std::hash::Hasher;

/// How versions of a key are ordered.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum VersionMode {
    /// By hybrid-logical-clock timestamp, then writer: one version survives (LWW).
    Timestamp,
    /// By vector clock: concurrent writes are kept side by side as siblings.
    VectorClock,
}

/// One write of a key.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Version {
    /// The value written.
    pub value: Value,
    /// When the coordinator accepted it.
    pub stamp: HlcTimestamp,
    /// The coordinator; with `stamp` it names the write uniquely.
    pub writer: NodeId,
    /// What the coordinator had seen of the key (vector-clock mode only; empty otherwise).
    pub clock: VersionVector,
}

impl Version {
    fn id(&self) -> (HlcTimestamp, NodeId) {
        (self.stamp, self.writer)
    }

    /// Whether `self` makes `other` obsolete.
    fn supersedes(&self, other: &Version, mode: VersionMode) -> bool {
        match mode {
            VersionMode::Timestamp => self.id() > other.id(),
            VersionMode::VectorClock => match self.clock.compare(&other.clock) {
                Causality::After => true,
                // Two writes never share a clock; break the tie the LWW way regardless.
                Causality::Equal => self.id() > other.id(),
                Causality::Before | Causality::Concurrent => false,
            },
        }
    }
}

/// The versions of a key none of which supersedes another, in `(stamp, writer)` order.
/// In timestamp mode there is at most one.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct Siblings(Vec<Version>);

impl Siblings {
    /// No version.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The versions, oldest stamp first.
    pub fn versions(&self) -> &[Version] {
        &self.0
    }

    /// Add `version` unless a kept one supersedes it; drop those it supersedes. Returns
    /// whether anything changed.
    pub fn insert(&mut self, version: Version, mode: VersionMode) -> bool {
        if self
            .0
            .iter()
            .any(|v| v.id() == version.id() || v.supersedes(&version, mode))
        {
            return false;
        }
        self.0.retain(|v| !version.supersedes(v, mode));
        let at = self.0.partition_point(|v| v.id() < version.id());
        self.0.insert(at, version);
        true
    }

    /// Fold every version of `other` in. Returns whether anything changed.
    pub fn merge(&mut self, other: &Siblings, mode: VersionMode) -> bool {
        let mut changed = false;
        for v in &other.0 {
            changed |= self.insert(v.clone(), mode);
        }
        changed
    }

    /// The values a reader is given, oldest stamp first: one at most in timestamp mode,
    /// every sibling in vector-clock mode.
    pub fn values(&self) -> Vec<Value> {
        self.0.iter().map(|v| v.value).collect()
    }

    /// Every vector clock merged: what a write that read these versions has seen.
    pub fn clock(&self) -> VersionVector {
        let mut clock = VersionVector::new();
        for v in &self.0 {
            clock.merge(&v.clock);
        }
        clock
    }

    /// Equal on two replicas exactly when their versions are (barring collisions).
    pub fn digest(&self) -> u64 {
        let mut h = Fnv::default();
        for v in &self.0 {
            h.write_u64(v.value);
            h.write_u64(v.stamp.wall);
            h.write_u32(v.stamp.logical);
            h.write_u32(v.writer.0);
            for (node, count) in v.clock.iter() {
                h.write_u32(node.0);
                h.write_u64(count);
            }
            h.write_u8(0xff);
        }
        h.finish()
    }

    /// The stored form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&(self.0.len() as u32).to_be_bytes());
        for v in &self.0 {
            out.extend_from_slice(&v.value.to_be_bytes());
            out.extend_from_slice(&v.stamp.wall.to_be_bytes());
            out.extend_from_slice(&v.stamp.logical.to_be_bytes());
            out.extend_from_slice(&v.writer.0.to_be_bytes());
            let entries: Vec<_> = v.clock.iter().collect();
            out.extend_from_slice(&(entries.len() as u32).to_be_bytes());
            for (node, count) in entries {
                out.extend_from_slice(&node.0.to_be_bytes());
                out.extend_from_slice(&count.to_be_bytes());
            }
        }
        out
    }

    /// Parse the stored form; `None` if it is malformed (truncated, trailing bytes).
    pub fn decode(bytes: &[u8]) -> Option<Siblings> {
        let mut r = Reader(bytes);
        let count = r.u32()?;
        let mut versions = Vec::new();
        for _ in 0..count {
            let value = r.u64()?;
            let stamp = HlcTimestamp {
                wall: r.u64()?,
                logical: r.u32()?,
            };
            let writer = NodeId(r.u32()?);
            let entries = r.u32()?;
            let mut clock = VersionVector::new();
            for _ in 0..entries {
                let node = NodeId(r.u32()?);
                clock.raise(node, r.u64()?);
            }
            versions.push(Version {
                value,
                stamp,
                writer,
                clock,
            });
        }
        if !r.0.is_empty() || !versions.is_sorted_by_key(Version::id) {
            return None;
        }
        Some(Siblings(versions))
    }
}

/// A last-writer-wins register: of concurrent writes the one with the greatest
/// `(stamp, writer)` survives and the others are silently dropped.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct LwwRegister(pub Siblings);

/// A multi-value register: writes are ordered by vector clock, concurrent ones are kept
/// as siblings, and a write whose clock covers them all replaces them.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Default)]
pub struct MvRegister(pub Siblings);

impl Crdt for LwwRegister {
    fn merge(&mut self, other: &Self) {
        self.0.merge(&other.0, VersionMode::Timestamp);
    }
}

impl Crdt for MvRegister {
    fn merge(&mut self, other: &Self) {
        self.0.merge(&other.0, VersionMode::VectorClock);
    }
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn take<const K: usize>(&mut self) -> Option<[u8; K]> {
        let (head, rest) = self.0.split_first_chunk::<K>()?;
        self.0 = rest;
        Some(*head)
    }
    fn u32(&mut self) -> Option<u32> {
        self.take::<4>().map(u32::from_be_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take::<8>().map(u64::from_be_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crdt::laws;
    use proptest::prelude::*;

    fn version(value: u64, wall: u64, writer: u32, clock: &[(u32, u64)]) -> Version {
        Version {
            value,
            stamp: HlcTimestamp { wall, logical: 0 },
            writer: NodeId(writer),
            clock: clock.iter().map(|&(n, c)| (NodeId(n), c)).collect(),
        }
    }

    #[test]
    fn timestamp_mode_keeps_the_latest_write() {
        let mut s = Siblings::default();
        assert!(s.insert(version(1, 10, 0, &[]), VersionMode::Timestamp));
        assert!(s.insert(version(2, 20, 1, &[]), VersionMode::Timestamp));
        assert!(!s.insert(version(3, 15, 2, &[]), VersionMode::Timestamp));
        assert_eq!(s.versions().len(), 1);
        assert_eq!(s.values(), vec![2]);
    }

    #[test]
    fn vector_clock_mode_keeps_concurrent_writes() {
        let mut s = Siblings::default();
        let mode = VersionMode::VectorClock;
        assert!(s.insert(version(1, 10, 0, &[(0, 1)]), mode));
        assert!(s.insert(version(2, 5, 1, &[(1, 1)]), mode));
        assert_eq!(s.versions().len(), 2, "concurrent: both kept");
        assert_eq!(s.values(), vec![2, 1], "both are read, oldest stamp first");
        // A write that saw both supersedes both.
        assert!(s.insert(version(3, 30, 2, &[(0, 1), (1, 1), (2, 1)]), mode));
        assert_eq!(s.versions().len(), 1);
        // An old one arriving late changes nothing.
        assert!(!s.insert(version(1, 10, 0, &[(0, 1)]), mode));
    }

    #[test]
    fn decode_rejects_malformed_bytes() {
        assert_eq!(Siblings::decode(&[]), None);
        assert_eq!(Siblings::decode(&[0, 0, 0, 1, 9]), None);
        let mut bytes = Siblings::default().encode();
        bytes.push(0);
        assert_eq!(Siblings::decode(&bytes), None);
    }

    fn arb_version() -> impl Strategy<Value = Version> {
        (
            0u64..20,
            0u64..5,
            0u32..3,
            proptest::collection::vec((0u32..3, 0u64..4), 0..3),
        )
            .prop_map(|(value, wall, writer, clock)| version(value, wall, writer, &clock))
    }

    /// Distinct writes (a write is unique by `(stamp, writer)`), split over three
    /// replicas by `masks`.
    fn three_replicas(pool: Vec<Version>, masks: [u8; 3]) -> [Vec<Version>; 3] {
        let mut writes: Vec<Version> = Vec::new();
        for v in pool {
            if writes.iter().all(|w| w.id() != v.id()) {
                writes.push(v);
            }
        }
        masks.map(|mask| {
            writes
                .iter()
                .enumerate()
                .filter(|(i, _)| mask >> i & 1 == 1)
                .map(|(_, v)| v.clone())
                .collect()
        })
    }

    fn siblings_of(versions: &[Version], mode: VersionMode) -> Siblings {
        let mut s = Siblings::default();
        for v in versions {
            s.insert(v.clone(), mode);
        }
        s
    }

    proptest! {
        #[test]
        fn lww_register_laws(pool in proptest::collection::vec(arb_version(), 0..8), masks: [u8; 3]) {
            let [a, b, c] = three_replicas(pool, masks)
                .map(|vs| LwwRegister(siblings_of(&vs, VersionMode::Timestamp)));
            prop_assert!(a.0.versions().len() <= 1);
            laws::hold(&a, &b, &c)?;
        }

        #[test]
        fn mv_register_laws(pool in proptest::collection::vec(arb_version(), 0..8), masks: [u8; 3]) {
            let [a, b, c] = three_replicas(pool, masks)
                .map(|vs| MvRegister(siblings_of(&vs, VersionMode::VectorClock)));
            laws::hold(&a, &b, &c)?;
        }

        #[test]
        fn encode_then_decode_is_identity(vs in proptest::collection::vec(arb_version(), 0..6)) {
            for mode in [VersionMode::Timestamp, VersionMode::VectorClock] {
                let mut s = Siblings::default();
                for v in &vs {
                    s.insert(v.clone(), mode);
                }
                prop_assert_eq!(Siblings::decode(&s.encode()), Some(s));
            }
        }

        #[test]
        fn merge_reports_change_and_digest_follows_content(pool in proptest::collection::vec(arb_version(), 0..8), masks: [u8; 3]) {
            let [a, b, _] = three_replicas(pool, masks);
            for mode in [VersionMode::Timestamp, VersionMode::VectorClock] {
                let (sa, sb) = (siblings_of(&a, mode), siblings_of(&b, mode));
                let (mut ab, mut ba) = (sa.clone(), sb.clone());
                prop_assert_eq!(ab.merge(&sb, mode), ab != sa, "merge says whether it changed");
                ba.merge(&sa, mode);
                prop_assert_eq!(ab.digest(), ba.digest());
                prop_assert!(!ab.merge(&sa, mode), "nothing new the second time");
            }
        }
    }
}

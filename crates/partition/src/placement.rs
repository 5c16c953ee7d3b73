//! What every hash-placement algorithm answers: which node owns a key, and which nodes
//! hold its replicas (distinct nodes, on distinct zones while there are zones to spare).

use crate::hash::{salted, scale};
use crate::{Nodes, PartitionError};

/// A hash-placement algorithm over a [`Nodes`] set. Keys are 64-bit positions
/// ([`crate::key_hash`] for bytes, [`crate::mix`] for numbers).
pub trait Placement {
    /// The algorithm's name, as `dsys partition` prints it.
    fn name(&self) -> &'static str;

    /// The nodes placed on.
    fn nodes(&self) -> &Nodes;

    /// The index in [`Placement::nodes`] of the node that owns `key`.
    fn locate(&self, key: u64) -> usize;

    /// Offer `key`'s candidate nodes to `picker` in order of preference, the owner first,
    /// until it is satisfied or the algorithm has no more to offer. Algorithms without a
    /// natural order of successors (jump, Maglev, AnchorHash) offer the owners of the
    /// key salted with 1, 2, 3, ...: independent draws from the same distribution.
    fn offer_candidates(&self, key: u64, picker: &mut ReplicaPicker<'_>) {
        if picker.offer(self.locate(key)) {
            return;
        }
        let tries = 64 * picker.wanted() as u64 + 64;
        for salt in 1..tries {
            if picker.offer(self.locate(salted(key, salt))) {
                return;
            }
        }
    }

    /// `replicas` distinct nodes for `key`, the owner first; on distinct zones until
    /// every zone holds one, then on any further nodes.
    fn replicas(&self, key: u64, replicas: usize) -> Result<Vec<usize>, PartitionError> {
        let nodes = self.nodes();
        if replicas > nodes.len() {
            return Err(PartitionError::TooManyReplicas {
                replicas,
                nodes: nodes.len(),
            });
        }
        let mut picker = ReplicaPicker::new(nodes, replicas);
        if !picker.done() {
            self.offer_candidates(key, &mut picker);
        }
        picker.fill(key);
        Ok(picker.chosen)
    }
}

/// Chooses replicas from candidates offered in order: a node not yet chosen, in a zone
/// not yet used while any zone is unused.
#[derive(Debug)]
pub struct ReplicaPicker<'a> {
    nodes: &'a Nodes,
    wanted: usize,
    chosen: Vec<usize>,
    zone_used: Vec<bool>,
    zones_unused: usize,
}

impl<'a> ReplicaPicker<'a> {
    fn new(nodes: &'a Nodes, wanted: usize) -> Self {
        ReplicaPicker {
            nodes,
            wanted,
            chosen: Vec::with_capacity(wanted),
            zone_used: vec![false; nodes.zones()],
            zones_unused: nodes.zones(),
        }
    }

    /// How many replicas are wanted.
    pub fn wanted(&self) -> usize {
        self.wanted
    }

    /// Whether enough are chosen.
    pub fn done(&self) -> bool {
        self.chosen.len() >= self.wanted
    }

    /// Offer node `i`; whether enough are chosen now.
    pub fn offer(&mut self, i: usize) -> bool {
        if self.done() || self.chosen.contains(&i) {
            return self.done();
        }
        let zone = self.nodes.zone_of(i) as usize;
        if self.zone_used[zone] && self.zones_unused > 0 {
            return false;
        }
        if !self.zone_used[zone] {
            self.zone_used[zone] = true;
            self.zones_unused -= 1;
        }
        self.chosen.push(i);
        self.done()
    }

    /// If candidates ran out, complete the choice by scanning the nodes from a place
    /// given by the key: the first pass uses up the zones, the second any node.
    fn fill(&mut self, key: u64) {
        let n = self.nodes.len();
        let start = scale(key, n as u64) as usize;
        for i in (0..2 * n).map(|i| (start + i) % n) {
            if self.offer(i) {
                return;
            }
        }
    }
}

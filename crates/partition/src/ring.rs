//! The ring with virtual nodes (Karger et al.; Dynamo, Cassandra): each node owns
//! `vnodes × weight` pseudo-random points on a 64-bit circle, and a key belongs to the
//! owner of the first point at or after it. Replicas are the next distinct owners
//! clockwise, skipping zones already used while others remain.
//!
//! Simple and widely copied, but its balance depends on the number of points: about
//! `1 / sqrt(vnodes)` relative spread between nodes, so 100 points per node leave some
//! nodes ~10% above the average (`dsys partition` shows it).

use crate::hash::salted;
use crate::placement::{Placement, ReplicaPicker};
use crate::{Nodes, PartitionError};

/// Points per unit of weight that [`Ring::new`] is usually given.
pub const DEFAULT_VNODES: u32 = 100;

/// A consistent-hashing ring.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ring {
    nodes: Nodes,
    /// Point positions, ascending.
    points: Vec<u64>,
    /// The node owning each point.
    owners: Vec<u32>,
}

impl Ring {
    /// `vnodes` points per unit of weight (at least 1; at most [`crate::MAX_ENTRIES`]
    /// points in all).
    pub fn new(nodes: Nodes, vnodes: u32) -> Result<Ring, PartitionError> {
        if vnodes == 0 {
            return Err(PartitionError::OutOfRange {
                name: "virtual nodes",
                value: 0,
                expected: "at least 1",
            });
        }
        let total = nodes.total_weight() * u64::from(vnodes);
        if total > crate::MAX_ENTRIES {
            return Err(PartitionError::OutOfRange {
                name: "points (virtual nodes x total weight)",
                value: total,
                expected: "at most 2^28",
            });
        }
        let mut points: Vec<(u64, u32)> = Vec::with_capacity(total as usize);
        for i in 0..nodes.len() {
            let id = nodes.id_hash(i);
            let count = u64::from(nodes.node(i).weight) * u64::from(vnodes);
            points.extend((0..count).map(|v| (salted(id, v), i as u32)));
        }
        // Ties (vanishingly rare) go to the node listed first, the same in every process.
        Ring::with_points(nodes, points)
    }

    /// A ring on points chosen by the caller: `(position, node index)` pairs, at least
    /// one, each node's index within `nodes` (a simulator that must keep the positions
    /// its recorded runs were made with, say). A node without points owns no keys.
    pub fn with_points(nodes: Nodes, mut points: Vec<(u64, u32)>) -> Result<Ring, PartitionError> {
        if points.is_empty() {
            return Err(PartitionError::OutOfRange {
                name: "points",
                value: 0,
                expected: "at least 1",
            });
        }
        if let Some(&(_, owner)) = points.iter().find(|&&(_, o)| o as usize >= nodes.len()) {
            return Err(PartitionError::OutOfRange {
                name: "point owner (node index)",
                value: u64::from(owner),
                expected: "below the number of nodes",
            });
        }
        points.sort_unstable();
        let (points, owners) = points.into_iter().unzip();
        Ok(Ring {
            nodes,
            points,
            owners,
        })
    }

    /// The index of the first point at or after `key`, wrapping.
    fn first_point(&self, key: u64) -> usize {
        let i = self.points.partition_point(|&p| p < key);
        if i == self.points.len() { 0 } else { i }
    }

    /// Every node once, in the order `key` prefers them: the owners met walking clockwise
    /// from it (Dynamo's preference list: home replicas first, then fallbacks).
    pub fn preference(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let mut seen = vec![false; self.nodes.len()];
        self.clockwise(key)
            .filter(move |&owner| !std::mem::replace(&mut seen[owner], true))
            .take(self.nodes.len())
    }

    /// The owner of every point from `key` on, clockwise, once round.
    pub(crate) fn clockwise(&self, key: u64) -> impl Iterator<Item = usize> + '_ {
        let start = self.first_point(key);
        let n = self.points.len();
        (0..n).map(move |i| self.owners[(start + i) % n] as usize)
    }
}

impl Placement for Ring {
    fn name(&self) -> &'static str {
        "ring"
    }

    fn nodes(&self) -> &Nodes {
        &self.nodes
    }

    fn locate(&self, key: u64) -> usize {
        self.owners[self.first_point(key)] as usize
    }

    fn offer_candidates(&self, key: u64, picker: &mut ReplicaPicker<'_>) {
        for owner in self.clockwise(key) {
            if picker.offer(owner) {
                return;
            }
        }
    }
}

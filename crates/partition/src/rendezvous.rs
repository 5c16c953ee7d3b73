//! Rendezvous or highest-random-weight hashing (Thaler and Ravishankar, 1996): every node
//! scores the key, the highest score owns it, and the next highest hold its replicas.
//! Minimal disruption for any change (a key moves only to a new node or off a removed
//! one), weights by the logarithmic method (Schindelhauer and Schomaker), no state but
//! the node list, and `O(n)` per lookup: the choice for tens of nodes, not thousands.

use crate::hash::{prepare, salted_by};
use crate::placement::{Placement, ReplicaPicker};
use crate::{Nodes, PartitionError};

/// Weighted rendezvous hashing.
#[derive(Clone, Debug)]
pub struct Rendezvous {
    nodes: Nodes,
    /// With equal weights the raw hash orders nodes just as the weighted score would.
    weighted: bool,
    /// Each node's id, prepared as a salt (half the hashing of a score, done once).
    salts: Vec<u64>,
}

impl Rendezvous {
    /// Over `nodes`.
    pub fn new(nodes: Nodes) -> Result<Rendezvous, PartitionError> {
        let weighted = !nodes.uniform_weights();
        let salts = (0..nodes.len())
            .map(|i| prepare(nodes.id_hash(i)))
            .collect();
        Ok(Rendezvous {
            nodes,
            weighted,
            salts,
        })
    }

    /// Node `i`'s score for `key`: `weight / -ln(u)` for `u` uniform in (0, 1) drawn
    /// from the key and the node, whose largest value falls on each node in proportion
    /// to its weight. Compared as `f64`, whose order for these positive values is that
    /// of their bits.
    fn score(&self, key: u64, i: usize) -> u64 {
        let h = salted_by(key, self.salts[i]);
        if !self.weighted {
            return h;
        }
        let u = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
        let score = f64::from(self.nodes.node(i).weight) / -u.ln();
        score.to_bits()
    }
}

impl Placement for Rendezvous {
    fn name(&self) -> &'static str {
        "rendezvous"
    }

    fn nodes(&self) -> &Nodes {
        &self.nodes
    }

    fn locate(&self, key: u64) -> usize {
        // Ties (vanishingly rare) go to the node listed first.
        let (mut best, mut best_score) = (0, self.score(key, 0));
        for i in 1..self.nodes.len() {
            let score = self.score(key, i);
            if score > best_score {
                (best, best_score) = (i, score);
            }
        }
        best
    }

    fn offer_candidates(&self, key: u64, picker: &mut ReplicaPicker<'_>) {
        let mut ranked: Vec<(u64, usize)> = (0..self.nodes.len())
            .map(|i| (self.score(key, i), i))
            .collect();
        ranked.sort_unstable_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for (_, i) in ranked {
            if picker.offer(i) {
                return;
            }
        }
    }
}

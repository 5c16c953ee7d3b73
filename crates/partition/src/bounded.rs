//! Consistent hashing with bounded loads (Mirrokni, Thorup and Zadimoghaddam, SODA 2018;
//! used by Vimeo and Google Cloud Pub/Sub): a ring, but a node already holding its cap of
//! `ceil(c × m × weight / total weight)` of the `m` assigned keys passes newcomers on
//! clockwise. No node ever exceeds the cap, whatever the key distribution, at the price of
//! state (every node's load) and more movement when loads shift.

use crate::ring::Ring;
use crate::{Nodes, PartitionError};

/// A ring that caps each node's load at `c` times its fair share.
#[derive(Clone, Debug)]
pub struct BoundedLoads {
    ring: Ring,
    /// `c` in millionths: caps are computed in integers, exactly.
    c_millionths: u64,
    loads: Vec<u64>,
    assigned: u64,
}

impl BoundedLoads {
    /// Over `ring`, capping loads at `c` (at least 1, to a millionth; 1.25 is usual) times
    /// the fair share.
    pub fn new(ring: Ring, c: f64) -> Result<BoundedLoads, PartitionError> {
        if !(c.is_finite() && (1.0..=1e6).contains(&c)) {
            return Err(PartitionError::OutOfRange {
                name: "load bound c (x 1000)",
                value: (c * 1_000.0).max(0.0) as u64,
                expected: "from 1000 to 10^9 (c from 1 to a million)",
            });
        }
        let n = crate::Placement::nodes(&ring).len();
        Ok(BoundedLoads {
            ring,
            c_millionths: (c * 1e6).round() as u64,
            loads: vec![0; n],
            assigned: 0,
        })
    }

    /// The nodes.
    pub fn nodes(&self) -> &Nodes {
        crate::Placement::nodes(&self.ring)
    }

    /// The most node `i` may hold while `m` keys are assigned:
    /// `ceil(c × m × weight / total weight)`.
    pub fn cap(&self, i: usize, m: u64) -> u64 {
        let nodes = self.nodes();
        let above =
            u128::from(self.c_millionths) * u128::from(m) * u128::from(nodes.node(i).weight);
        let below = 1_000_000 * u128::from(nodes.total_weight());
        above.div_ceil(below) as u64
    }

    /// Assign `key` to the first node clockwise with room; its index.
    pub fn assign(&mut self, key: u64) -> usize {
        let m = self.assigned + 1;
        // Some node has room: the caps add up to at least c × m >= m > m - 1 keys held.
        let owner = self
            .ring
            .clockwise(key)
            .find(|&i| self.loads[i] < self.cap(i, m))
            .unwrap_or_else(|| crate::Placement::locate(&self.ring, key));
        self.loads[owner] += 1;
        self.assigned = m;
        owner
    }

    /// A key assigned to node `i` is gone.
    pub fn release(&mut self, i: usize) {
        if self.loads[i] > 0 {
            self.loads[i] -= 1;
            self.assigned -= 1;
        }
    }

    /// Keys held by each node.
    pub fn loads(&self) -> &[u64] {
        &self.loads
    }
}

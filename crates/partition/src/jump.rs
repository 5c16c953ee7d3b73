//! Jump consistent hash (Lamping and Veach, 2014): no table at all, a key's bucket
//! computed in `O(ln n)` steps, perfectly even and moving exactly `1 / (n + 1)` of the
//! keys when a bucket is added. Buckets are numbered: node `i` in the set is bucket `i`,
//! so nodes can only be added or removed at the end of the list, and weights are not
//! supported.

use crate::placement::Placement;
use crate::{Nodes, PartitionError};

/// The bucket in `0..buckets` (at least 1) of `key`.
pub fn jump(mut key: u64, buckets: u32) -> u32 {
    // The published algorithm: a linear congruential step per jump, each jump to
    // `(b + 1) / r` for a uniform r; the loop ends once a jump lands past the last bucket.
    let (mut b, mut j) = (0i64, 0i64);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    b as u32
}

/// Jump consistent hash over a node set of equal weights.
#[derive(Clone, Debug)]
pub struct Jump {
    nodes: Nodes,
    buckets: u32,
}

impl Jump {
    /// Over `nodes` (equal weights; at most 2^31 nodes).
    pub fn new(nodes: Nodes) -> Result<Jump, PartitionError> {
        if !nodes.uniform_weights() {
            return Err(PartitionError::Unsupported {
                algorithm: "jump",
                what: "weights (give every node the same weight)",
            });
        }
        let buckets = u32::try_from(nodes.len())
            .ok()
            .filter(|&b| b <= 1 << 31)
            .ok_or(PartitionError::OutOfRange {
                name: "nodes",
                value: nodes.len() as u64,
                expected: "at most 2^31 for jump",
            })?;
        Ok(Jump { nodes, buckets })
    }
}

impl Placement for Jump {
    fn name(&self) -> &'static str {
        "jump"
    }

    fn nodes(&self) -> &Nodes {
        &self.nodes
    }

    fn locate(&self, key: u64) -> usize {
        jump(key, self.buckets) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_examples() {
        // From the reference implementation's documentation.
        assert_eq!([jump(0, 60), jump(1, 60), jump(2, 60)], [0, 55, 46]);
    }
}

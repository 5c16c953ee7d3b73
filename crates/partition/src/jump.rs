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

/// Lanes [`jump_batch`] runs at once.
const LANES: usize = 4;

/// [`jump`] for several keys at once, the same buckets, into `out` (cleared first).
///
/// Why: one key's jumps form a chain, each waiting on the last, and the loop's end is
/// mispredicted on almost every key; the processor idles. Four keys stepped together are
/// four independent chains it can overlap, and a key that has finished is frozen by
/// selection, not by branching, so the only unpredictable branch is once per four keys.
pub fn jump_batch(keys: &[u64], buckets: u32, out: &mut Vec<u32>) {
    out.clear();
    out.reserve(keys.len());
    let mut chunks = keys.chunks_exact(LANES);
    for chunk in &mut chunks {
        let mut lanes = [0u64; LANES];
        lanes.copy_from_slice(chunk);
        out.extend_from_slice(&jump_lanes(lanes, buckets));
    }
    out.extend(chunks.remainder().iter().map(|&k| jump(k, buckets)));
}

fn jump_lanes(mut key: [u64; LANES], buckets: u32) -> [u32; LANES] {
    let n = i64::from(buckets);
    let mut b = [0i64; LANES];
    let mut j = [0i64; LANES];
    loop {
        let mut going_any = 0i64;
        for l in 0..LANES {
            // All ones while this key's published loop would still run, else zeros.
            let going = -i64::from(j[l] < n);
            going_any |= going;
            let next_key = key[l]
                .wrapping_mul(2_862_933_555_777_941_757)
                .wrapping_add(1);
            let next_j =
                ((j[l] + 1) as f64 * ((1u64 << 31) as f64 / ((next_key >> 33) + 1) as f64)) as i64;
            b[l] = (j[l] & going) | (b[l] & !going);
            key[l] = (next_key & going as u64) | (key[l] & !going as u64);
            j[l] = (next_j & going) | (j[l] & !going);
        }
        if going_any == 0 {
            break;
        }
    }
    b.map(|b| b as u32)
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

impl Jump {
    /// The owners of `keys`, as [`Placement::locate`] gives them, computed several at a
    /// time ([`jump_batch`]): for routing many keys at once, as a multi-get does.
    pub fn locate_batch(&self, keys: &[u64], out: &mut Vec<u32>) {
        jump_batch(keys, self.buckets, out);
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

    proptest::proptest! {
        #[test]
        fn batches_give_the_same_buckets(
            keys in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..40),
            buckets in 1u32..1 << 31,
        ) {
            let mut out = Vec::new();
            jump_batch(&keys, buckets, &mut out);
            let one_by_one: Vec<u32> = keys.iter().map(|&k| jump(k, buckets)).collect();
            proptest::prop_assert_eq!(out, one_by_one);
        }
    }

    #[test]
    fn the_published_examples() {
        // From the reference implementation's documentation.
        assert_eq!([jump(0, 60), jump(1, 60), jump(2, 60)], [0, 55, 46]);
    }
}

//! Merkle trees for anti-entropy: two replicas compare hashes top-down and exchange only
//! the key ranges whose contents differ.
//!
//! The key space (`u64` positions, for example ring positions of hashed keys) is split
//! into `2^depth` contiguous ranges; a leaf hashes the entries in its range, an inner
//! node hashes its two children. Equal subtrees are skipped whole.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

/// The deepest tree built: 2^20 leaves.
pub const MAX_DEPTH: u32 = 20;

/// The SplitMix64 finaliser: a fast, well-mixing bijection on `u64` (the partition
/// crate's, so the ring and the trees mix alike).
pub(crate) use dsys_partition::mix;

/// A Merkle tree in heap layout: node 1 is the root, node `i` has children `2i`, `2i+1`,
/// leaves are `2^depth .. 2^(depth+1)`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MerkleTree {
    depth: u32,
    nodes: Vec<u64>,
}

/// Trees of different shapes cannot be compared node by node.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Merkle trees of depth {0} and {1} cannot be compared")]
pub struct DepthMismatch(pub u32, pub u32);

impl MerkleTree {
    /// Build a tree of `depth` (clamped to [`MAX_DEPTH`]) over `(position, value hash)`
    /// entries, in position order.
    pub fn build(depth: u32, entries: &BTreeMap<u64, u64>) -> Self {
        let depth = depth.min(MAX_DEPTH);
        let leaves = 1usize << depth;
        let mut nodes = vec![0u64; 2 * leaves];
        for (&position, &value) in entries {
            let leaf = Self::leaf_of(depth, position);
            let slot = &mut nodes[leaves + leaf];
            // Order-dependent fold in position order: equal exactly when contents are.
            *slot = mix(slot.rotate_left(7) ^ mix(position) ^ mix(value ^ 0x5bd1_e995));
        }
        for i in (1..leaves).rev() {
            nodes[i] =
                mix(nodes[2 * i].rotate_left(1)
                    ^ nodes[2 * i + 1].wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        MerkleTree { depth, nodes }
    }

    /// The tree's depth.
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Every node hash in heap layout, to send the tree to a peer.
    pub fn hashes(&self) -> &[u64] {
        &self.nodes
    }

    /// Rebuild a tree a peer sent with [`MerkleTree::hashes`]; `None` if the number of
    /// hashes does not fit `depth`.
    pub fn from_hashes(depth: u32, hashes: Vec<u64>) -> Option<Self> {
        (depth <= MAX_DEPTH && hashes.len() == 2usize << depth).then_some(MerkleTree {
            depth,
            nodes: hashes,
        })
    }

    /// Whether `position` falls in one of `ranges`.
    pub fn in_ranges(ranges: &[RangeInclusive<u64>], position: u64) -> bool {
        ranges.iter().any(|r| r.contains(&position))
    }

    fn leaf_of(depth: u32, position: u64) -> usize {
        if depth == 0 {
            0
        } else {
            (position >> (64 - depth)) as usize
        }
    }

    /// The positions leaf `leaf` covers.
    pub fn leaf_range(&self, leaf: usize) -> RangeInclusive<u64> {
        if self.depth == 0 {
            return 0..=u64::MAX;
        }
        let width = 1u64 << (64 - self.depth);
        let start = leaf as u64 * width;
        start..=start + (width - 1)
    }

    /// The root hash: equal roots mean (all but certainly) equal contents.
    pub fn root(&self) -> u64 {
        self.nodes[1]
    }

    /// The key ranges whose contents differ, in order, and how many node hashes the
    /// comparison looked at.
    pub fn diff(
        &self,
        other: &MerkleTree,
    ) -> Result<(Vec<RangeInclusive<u64>>, usize), DepthMismatch> {
        if self.depth != other.depth {
            return Err(DepthMismatch(self.depth, other.depth));
        }
        let leaves = 1usize << self.depth;
        let (mut ranges, mut compared) = (Vec::new(), 0);
        let mut stack = vec![1usize];
        while let Some(i) = stack.pop() {
            compared += 1;
            if self.nodes[i] == other.nodes[i] {
                continue;
            }
            if i >= leaves {
                ranges.push(self.leaf_range(i - leaves));
            } else {
                // Right first so the left subtree is popped (and reported) first.
                stack.push(2 * i + 1);
                stack.push(2 * i);
            }
        }
        Ok((ranges, compared))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    proptest! {
        /// The diff is exactly the set of ranges holding a key whose entry differs.
        #[test]
        fn diff_finds_exactly_the_differing_ranges(
            base in proptest::collection::btree_map(any::<u64>(), any::<u64>(), 0..200),
            edits in proptest::collection::vec((any::<u64>(), proptest::option::of(any::<u64>()), any::<bool>()), 0..10),
            depth in 0u32..8,
        ) {
            let mut other = base.clone();
            for (position, value, existing) in edits {
                // Edit an existing key half of the time, a fresh one otherwise.
                let key = if existing && !base.is_empty() {
                    *base.keys().nth((position % base.len() as u64) as usize).unwrap_or(&position)
                } else {
                    position
                };
                match value {
                    Some(v) => { other.insert(key, v); }
                    None => { other.remove(&key); }
                }
            }
            let (a, b) = (MerkleTree::build(depth, &base), MerkleTree::build(depth, &other));
            let (ranges, compared) = a.diff(&b).unwrap();
            let differing: BTreeSet<u64> = base.keys().chain(other.keys())
                .filter(|k| base.get(k) != other.get(k))
                .copied()
                .collect();
            let leaves: BTreeSet<usize> = differing.iter().map(|&k| MerkleTree::leaf_of(a.depth, k)).collect();
            let expected: Vec<RangeInclusive<u64>> = leaves.into_iter().map(|l| a.leaf_range(l)).collect();
            prop_assert_eq!(ranges, expected);
            prop_assert_eq!(a.root() == b.root(), differing.is_empty());
            // Cheaper than comparing every leaf when little differs.
            if differing.len() <= 1 && depth >= 4 {
                prop_assert!(compared <= 2 * depth as usize + 1);
            }
        }
    }

    #[test]
    fn trees_of_different_depths_are_refused() {
        let empty = BTreeMap::new();
        assert_eq!(
            MerkleTree::build(3, &empty).diff(&MerkleTree::build(4, &empty)),
            Err(DepthMismatch(3, 4))
        );
        assert_eq!(MerkleTree::build(0, &empty).leaf_range(0), 0..=u64::MAX);
    }
}

//! A consistent-hashing ring with virtual nodes: where a key lives in a leaderless store.
//!
//! The ring itself is `dsys-partition`'s; this gives it the simulator's token positions,
//! names its nodes `0..nodes` as the simulator does, and places keys at
//! [`Ring::position`]. Walking clockwise from a key's
//! position, the first `n` distinct nodes are the key's *home replicas* and the nodes
//! after them are its *fallbacks*, in the order a sloppy quorum borrows them (Dynamo's
//! preference list).

use crate::merkle::mix;
use dsys_node::{Key, NodeId};
use dsys_partition::Nodes;

/// Virtual nodes per node: enough to spread keys evenly over a handful of nodes.
pub const DEFAULT_VNODES: usize = 16;

/// A consistent-hashing ring over nodes `0..nodes`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ring {
    /// `None` with no nodes: every list is empty.
    ring: Option<dsys_partition::Ring>,
}

impl Ring {
    /// The ring of `nodes` nodes with `vnodes` tokens each (at least one).
    pub fn new(nodes: usize, vnodes: usize) -> Self {
        let vnodes = vnodes.max(1) as u64;
        // The simulator's own token positions (recorded runs and the pinned grid depend
        // on them), on the partition crate's ring; node i is its set's node i.
        let tokens: Vec<(u64, u32)> = (0..nodes as u32)
            .flat_map(|node| {
                (0..vnodes).map(move |v| (mix((u64::from(node) << 32) ^ v ^ 0x7269_6e67), node))
            })
            .collect();
        let ring = Nodes::uniform(nodes, 1)
            .and_then(|set| dsys_partition::Ring::with_points(set, tokens))
            .ok();
        Ring { ring }
    }

    /// The ring position of `key`.
    pub fn position(key: Key) -> u64 {
        mix(key ^ 0x6b65_795f_7069_6e67)
    }

    /// Every node, in the order `key` prefers them: home replicas first, then fallbacks.
    pub fn preference_list(&self, key: Key) -> Vec<NodeId> {
        self.ring.as_ref().map_or_else(Vec::new, |ring| {
            ring.preference(Ring::position(key))
                .map(|i| NodeId(i as u32))
                .collect()
        })
    }

    /// The first `n` nodes of `key`'s preference list.
    pub fn homes(&self, key: Key, n: usize) -> Vec<NodeId> {
        let mut list = self.preference_list(key);
        list.truncate(n);
        list
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_spread_over_every_node() {
        let ring = Ring::new(5, DEFAULT_VNODES);
        let mut first = [0u32; 5];
        for key in 0..5_000 {
            first[ring.homes(key, 1)[0].index()] += 1;
        }
        // Each node is the first home of a fair share (1000) give or take 40%.
        assert!(
            first.iter().all(|&c| (600..=1400).contains(&c)),
            "{first:?}"
        );
    }

    proptest! {
        #[test]
        fn preference_list_is_a_permutation(nodes in 1usize..12, key: u64) {
            let ring = Ring::new(nodes, DEFAULT_VNODES);
            let mut list = ring.preference_list(key);
            prop_assert_eq!(list.len(), nodes);
            list.sort();
            prop_assert_eq!(list, (0..nodes as u32).map(NodeId).collect::<Vec<_>>());
        }

        #[test]
        fn homes_are_a_prefix_that_survives_growth(key: u64, n in 1usize..4) {
            // Adding a node moves a key's homes only onto the new node (minimal movement).
            let before = Ring::new(5, DEFAULT_VNODES).homes(key, n);
            let after = Ring::new(6, DEFAULT_VNODES).homes(key, n);
            for node in &after {
                prop_assert!(before.contains(node) || *node == NodeId(5));
            }
        }
    }
}

//! A consistent-hashing ring with virtual nodes: where a key lives in a leaderless store.
//!
//! Each node owns `vnodes` tokens (pseudo-random ring positions). A key hashes to a ring
//! position; walking clockwise from there, the first `n` distinct nodes are the key's
//! *home replicas* and the nodes after them are its *fallbacks*, in the order a sloppy
//! quorum borrows them (Dynamo's preference list).

use crate::merkle::mix;
use dsys_node::{Key, NodeId};

/// Virtual nodes per node: enough to spread keys evenly over a handful of nodes.
pub const DEFAULT_VNODES: usize = 16;

/// A consistent-hashing ring over nodes `0..nodes`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Ring {
    /// `(position, owner)`, sorted by position.
    tokens: Vec<(u64, NodeId)>,
    nodes: usize,
}

impl Ring {
    /// The ring of `nodes` nodes with `vnodes` tokens each (at least one).
    pub fn new(nodes: usize, vnodes: usize) -> Self {
        let vnodes = vnodes.max(1) as u64;
        let mut tokens: Vec<(u64, NodeId)> = (0..nodes as u32)
            .flat_map(|node| {
                (0..vnodes)
                    .map(move |v| (mix((u64::from(node) << 32) ^ v ^ 0x7269_6e67), NodeId(node)))
            })
            .collect();
        tokens.sort_unstable();
        Ring { tokens, nodes }
    }

    /// The ring position of `key`.
    pub fn position(key: Key) -> u64 {
        mix(key ^ 0x6b65_795f_7069_6e67)
    }

    /// Every node, in the order `key` prefers them: home replicas first, then fallbacks.
    pub fn preference_list(&self, key: Key) -> Vec<NodeId> {
        let start = self
            .tokens
            .partition_point(|&(position, _)| position < Ring::position(key));
        let mut list = Vec::with_capacity(self.nodes);
        let mut seen = vec![false; self.nodes];
        for i in 0..self.tokens.len() {
            let (_, node) = self.tokens[(start + i) % self.tokens.len()];
            if !std::mem::replace(&mut seen[node.index()], true) {
                list.push(node);
                if list.len() == self.nodes {
                    break;
                }
            }
        }
        list
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

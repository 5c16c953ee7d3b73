//! Where a key lives in a leaderless store, on `dsys-partition`'s consistent-hashing ring
//! (one ring type in dsys): this builds it on the simulator's token positions, names its
//! nodes `0..nodes` as the simulator does, and places keys at [`position`]. Walking clockwise from a key's
//! position, the first `n` distinct nodes are the key's *home replicas* and the nodes
//! after them are its *fallbacks*, in the order a sloppy quorum borrows them (Dynamo's
//! preference list).

use crate::merkle::mix;
use dsys_node::{Key, NodeId};
use dsys_partition::{Nodes, Ring};

/// Virtual nodes per node of a leaderless store's ring: enough to spread keys evenly over
/// a handful of nodes. (dsys-partition's own default, 100, is for placement at scale; the
/// simulator's recorded runs and the pinned grid depend on 16.)
pub const LEADERLESS_VNODES: usize = 16;

/// The ring over nodes `0..nodes` with `vnodes` tokens each (at least one), on the
/// simulator's token positions; `None` without nodes (every list is then empty).
pub fn build(nodes: usize, vnodes: usize) -> Option<Ring> {
    let vnodes = vnodes.max(1) as u64;
    // The simulator's own token positions (recorded runs and the pinned grid depend
    // on them); node i is its set's node i.
    let tokens: Vec<(u64, u32)> = (0..nodes as u32)
        .flat_map(|node| {
            (0..vnodes).map(move |v| (mix((u64::from(node) << 32) ^ v ^ 0x7269_6e67), node))
        })
        .collect();
    Nodes::uniform(nodes, 1)
        .and_then(|set| Ring::with_points(set, tokens))
        .ok()
}

/// The ring position of `key`.
pub fn position(key: Key) -> u64 {
    mix(key ^ 0x6b65_795f_7069_6e67)
}

/// Every node, in the order `key` prefers them: home replicas first, then fallbacks.
pub fn preference_list(ring: Option<&Ring>, key: Key) -> Vec<NodeId> {
    ring.map_or_else(Vec::new, |ring| {
        ring.preference(position(key))
            .map(|i| NodeId(i as u32))
            .collect()
    })
}

/// The first `n` nodes of `key`'s preference list.
pub fn homes(ring: Option<&Ring>, key: Key, n: usize) -> Vec<NodeId> {
    let mut list = preference_list(ring, key);
    list.truncate(n);
    list
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn keys_spread_over_every_node() {
        let ring = build(5, LEADERLESS_VNODES);
        let mut first = [0u32; 5];
        for key in 0..5_000 {
            first[homes(ring.as_ref(), key, 1)[0].index()] += 1;
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
            let ring = build(nodes, LEADERLESS_VNODES);
            let mut list = preference_list(ring.as_ref(), key);
            prop_assert_eq!(list.len(), nodes);
            list.sort();
            prop_assert_eq!(list, (0..nodes as u32).map(NodeId).collect::<Vec<_>>());
        }

        #[test]
        fn homes_are_a_prefix_that_survives_growth(key: u64, n in 1usize..4) {
            // Adding a node moves a key's homes only onto the new node (minimal movement).
            let before = homes(build(5, LEADERLESS_VNODES).as_ref(), key, n);
            let after = homes(build(6, LEADERLESS_VNODES).as_ref(), key, n);
            for node in &after {
                prop_assert!(before.contains(node) || *node == NodeId(5));
            }
        }
    }
}

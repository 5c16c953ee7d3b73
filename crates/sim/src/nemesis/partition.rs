//! Partition shapes as sets of blocked directed links.
//!
//! Each builder takes the nodes in a (shuffled) order and returns the links to block.

use dsys_node::NodeId;
use serde::{Deserialize, Serialize};

/// The shape of a partition, for reports and histories.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionKind {
    /// Two halves.
    Halves,
    /// One node cut off.
    IsolateOne,
    /// The leader cut off.
    IsolateLeader,
    /// Overlapping majorities around a ring.
    MajorityRing,
    /// Two halves and a node that sees both.
    Bridge,
    /// One half cannot send to the other.
    OneWay,
    /// One region's nodes cut off from the others'.
    IsolateRegion,
}

fn cross(a: &[NodeId], b: &[NodeId], both_ways: bool) -> Vec<(NodeId, NodeId)> {
    let mut out = Vec::with_capacity(a.len() * b.len() * 2);
    for &x in a {
        for &y in b {
            out.push((x, y));
            if both_ways {
                out.push((y, x));
            }
        }
    }
    out.sort_unstable();
    out
}

/// The first `len / 2` nodes of `order` against the rest, both directions.
pub fn halves(order: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    let (a, b) = order.split_at(order.len() / 2);
    cross(a, b, true)
}

/// `node` against everyone else, both directions.
pub fn isolate(node: NodeId, all: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    let others: Vec<NodeId> = all.iter().copied().filter(|&n| n != node).collect();
    cross(&[node], &others, true)
}

/// The nodes `in_region` against every other node of `all`, both directions.
pub fn isolate_group(in_region: &[NodeId], all: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    let others: Vec<NodeId> = all
        .iter()
        .copied()
        .filter(|n| !in_region.contains(n))
        .collect();
    cross(in_region, &others, true)
}

/// The first half cannot send to the second; the second can still send to the first.
pub fn one_way(order: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    let (a, b) = order.split_at(order.len() / 2);
    cross(a, b, false)
}

/// Two halves that cannot talk, joined by the middle node of `order`, which sees both.
pub fn bridge(order: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    let mid = order.len() / 2;
    let (a, rest) = order.split_at(mid);
    let b = rest.get(1..).unwrap_or_default();
    cross(a, b, true)
}

/// Nodes placed around a ring in `order`; each sees the nodes within ring distance `d`,
/// the smallest `d` for which it sees a majority (itself included). Every node sees a
/// majority and, for four or more nodes, no two see the same one.
pub fn majority_ring(order: &[NodeId]) -> Vec<(NodeId, NodeId)> {
    let n = order.len();
    let majority = n / 2 + 1;
    let d = majority.saturating_sub(1).div_ceil(2);
    let mut out = Vec::new();
    for i in 0..n {
        for j in 0..n {
            let gap = i.abs_diff(j);
            let ring_distance = gap.min(n - gap);
            if ring_distance > d {
                out.push((order[i], order[j]));
            }
        }
    }
    out.sort_unstable();
    out
}

/// For each node, the nodes it can receive from (itself included) under `blocked`.
pub fn visible_sets(nodes: usize, blocked: &[(NodeId, NodeId)]) -> Vec<Vec<NodeId>> {
    (0..nodes as u32)
        .map(|to| {
            (0..nodes as u32)
                .map(NodeId)
                .filter(|&from| !blocked.contains(&(from, NodeId(to))))
                .collect()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ids(n: u32) -> Vec<NodeId> {
        (0..n).map(NodeId).collect()
    }

    #[test]
    fn halves_of_five_is_two_against_three() {
        let blocked = halves(&ids(5));
        assert_eq!(blocked.len(), 2 * 3 * 2);
        assert!(blocked.contains(&(NodeId(0), NodeId(4))));
        assert!(blocked.contains(&(NodeId(4), NodeId(0))));
        assert!(!blocked.contains(&(NodeId(0), NodeId(1))));
    }

    #[test]
    fn bridge_node_sees_everyone() {
        let blocked = bridge(&ids(5));
        let sees = visible_sets(5, &blocked);
        assert_eq!(sees[2], ids(5));
        assert_eq!(sees[0], vec![NodeId(0), NodeId(1), NodeId(2)]);
        assert_eq!(sees[4], vec![NodeId(2), NodeId(3), NodeId(4)]);
    }

    #[test]
    fn one_way_blocks_one_direction_only() {
        let blocked = one_way(&ids(4));
        assert!(blocked.contains(&(NodeId(0), NodeId(2))));
        assert!(!blocked.contains(&(NodeId(2), NodeId(0))));
    }

    proptest! {
        #[test]
        fn majority_ring_gives_each_node_a_distinct_majority(n in 4u32..16, seed: u64) {
            let mut order = ids(n);
            dsys_node::DetRng::from_seed(seed).shuffle(&mut order);
            let blocked = majority_ring(&order);
            let sees = visible_sets(n as usize, &blocked);
            let majority = n as usize / 2 + 1;
            for s in &sees {
                prop_assert!(s.len() >= majority, "{:?}", sees);
            }
            for i in 0..sees.len() {
                for j in i + 1..sees.len() {
                    prop_assert_ne!(&sees[i], &sees[j]);
                }
            }
            // Symmetric: a link is blocked both ways or not at all.
            for &(a, b) in &blocked {
                prop_assert!(blocked.contains(&(b, a)));
            }
        }

        #[test]
        fn halves_cut_every_cross_link_and_nothing_else(n in 2u32..16, seed: u64) {
            let mut order = ids(n);
            dsys_node::DetRng::from_seed(seed).shuffle(&mut order);
            let blocked = halves(&order);
            let (a, b) = order.split_at(order.len() / 2);
            prop_assert_eq!(blocked.len(), a.len() * b.len() * 2);
        }
    }
}

//! The nodes keys are placed on: an id, a weight (a share of keys relative to the others)
//! and a zone (a failure domain replicas must not share).

use crate::PartitionError;
use crate::hash::key_hash;
use std::collections::BTreeMap;

/// One node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// A name unique in the set; algorithms hash it, so a node keeps its keys whatever
    /// its place in the list.
    pub id: String,
    /// Its share of keys relative to the others (at least 1).
    pub weight: u32,
    /// Its failure domain (a rack, a zone, a region).
    pub zone: String,
}

impl Node {
    /// A node of weight 1.
    pub fn new(id: impl Into<String>, zone: impl Into<String>) -> Node {
        Node {
            id: id.into(),
            weight: 1,
            zone: zone.into(),
        }
    }

    /// The same node with `weight`.
    pub fn weighted(mut self, weight: u32) -> Node {
        self.weight = weight;
        self
    }
}

/// A checked set of nodes: at least one, ids unique and non-empty, weights positive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Nodes {
    nodes: Vec<Node>,
    /// Each node's zone as a number, `0..zones`, in order of first appearance.
    zone_of: Vec<u32>,
    zones: u32,
    /// Each node's id hashed: what the algorithms work from.
    id_hash: Vec<u64>,
}

impl Nodes {
    /// Check `nodes`.
    pub fn new(nodes: Vec<Node>) -> Result<Nodes, PartitionError> {
        if nodes.is_empty() {
            return Err(PartitionError::NoNodes);
        }
        let mut seen = BTreeMap::new();
        let mut zone_numbers: BTreeMap<&str, u32> = BTreeMap::new();
        let mut zone_of = Vec::with_capacity(nodes.len());
        for node in &nodes {
            if node.id.is_empty() {
                return Err(PartitionError::EmptyId);
            }
            if seen.insert(node.id.as_str(), ()).is_some() {
                return Err(PartitionError::DuplicateNode(node.id.clone()));
            }
            if node.weight == 0 {
                return Err(PartitionError::ZeroWeight(node.id.clone()));
            }
            let next = zone_numbers.len() as u32;
            zone_of.push(*zone_numbers.entry(node.zone.as_str()).or_insert(next));
        }
        let zones = zone_numbers.len() as u32;
        let id_hash = nodes.iter().map(|n| key_hash(n.id.as_bytes())).collect();
        Ok(Nodes {
            nodes,
            zone_of,
            zones,
            id_hash,
        })
    }

    /// `count` nodes of weight 1 named `node-0`, `node-1`, ..., spread round-robin over
    /// `zones` zones named `zone-0`, ... (at least one of each).
    pub fn uniform(count: usize, zones: usize) -> Result<Nodes, PartitionError> {
        let zones = zones.max(1);
        Nodes::new(
            (0..count)
                .map(|i| Node::new(format!("node-{i}"), format!("zone-{}", i % zones)))
                .collect(),
        )
    }

    /// How many nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never: a node set has at least one node.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The nodes, in the order given.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Node `i`.
    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// Where the node with `id` is in the set.
    pub fn index_of(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// How many distinct zones.
    pub fn zones(&self) -> usize {
        self.zones as usize
    }

    /// Node `i`'s zone as a number in `0..zones()`.
    pub fn zone_of(&self, i: usize) -> u32 {
        self.zone_of[i]
    }

    /// Node `i`'s id, hashed.
    pub fn id_hash(&self, i: usize) -> u64 {
        self.id_hash[i]
    }

    /// Whether every node has the same weight.
    pub fn uniform_weights(&self) -> bool {
        self.nodes.iter().all(|n| n.weight == self.nodes[0].weight)
    }

    /// The sum of the weights.
    pub fn total_weight(&self) -> u64 {
        self.nodes.iter().map(|n| u64::from(n.weight)).sum()
    }

    /// The same set with `node` added at the end.
    pub fn with(&self, node: Node) -> Result<Nodes, PartitionError> {
        let mut nodes = self.nodes.clone();
        nodes.push(node);
        Nodes::new(nodes)
    }

    /// The same set without the node `id` (the others keep their order).
    pub fn without(&self, id: &str) -> Result<Nodes, PartitionError> {
        let i = self
            .index_of(id)
            .ok_or_else(|| PartitionError::NoSuchNode(id.to_string()))?;
        let mut nodes = self.nodes.clone();
        nodes.remove(i);
        Nodes::new(nodes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_node_sets_are_errors() {
        assert_eq!(Nodes::new(vec![]), Err(PartitionError::NoNodes));
        assert_eq!(
            Nodes::new(vec![Node::new("a", "z"), Node::new("a", "y")]),
            Err(PartitionError::DuplicateNode("a".into()))
        );
        assert_eq!(
            Nodes::new(vec![Node::new("a", "z").weighted(0)]),
            Err(PartitionError::ZeroWeight("a".into()))
        );
        assert_eq!(
            Nodes::new(vec![Node::new("", "z")]),
            Err(PartitionError::EmptyId)
        );
        let set = Nodes::uniform(3, 2).unwrap();
        assert_eq!(
            set.without("node-9"),
            Err(PartitionError::NoSuchNode("node-9".into()))
        );
        assert_eq!(
            set.with(Node::new("node-1", "zone-0")),
            Err(PartitionError::DuplicateNode("node-1".into()))
        );
    }

    #[test]
    fn zones_are_numbered_in_order_of_appearance() {
        let set = Nodes::uniform(5, 2).unwrap();
        assert_eq!(set.zones(), 2);
        let zones: Vec<u32> = (0..5).map(|i| set.zone_of(i)).collect();
        assert_eq!(zones, [0, 1, 0, 1, 0]);
        assert!(set.uniform_weights());
        assert_eq!(set.without("node-0").unwrap().node(0).id, "node-1");
    }
}

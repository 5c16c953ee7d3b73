//! AnchorHash (Mendelson et al., IEEE/ACM ToN 2021): consistent hashing that survives the
//! removal of *any* node with minimal disruption — only the removed node's keys move, and
//! they spread evenly over the rest — in constant memory per bucket and a few steps per
//! lookup.
//!
//! A fixed *anchor* of `capacity` buckets; nodes occupy the working ones. A key hashes to
//! an anchor bucket; if that bucket was removed, the key rehashes into the buckets that
//! were still working at the moment of its removal (following, for each bucket removed
//! before it, the bucket that took its place). Adding a node reuses the most recently
//! removed bucket, which undoes that removal exactly.

use crate::hash::{salted, scale};
use crate::placement::Placement;
use crate::{Node, Nodes, PartitionError};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// AnchorHash over equal-weight nodes.
#[derive(Clone, Debug)]
pub struct Anchor {
    /// For each bucket: 0 while it works; once removed, how many buckets still worked
    /// just after (the paper's `A`).
    removed_at: Vec<u32>,
    /// For each removed bucket, the bucket that took its place in the working list
    /// (`K`); a working bucket is its own.
    successor: Vec<u32>,
    /// The working buckets in positions `0..working`, then removed ones (`W`).
    list: Vec<u32>,
    /// Each bucket's position in `list` (`L`).
    position: Vec<u32>,
    /// Removed buckets, most recent last (`R`).
    removed: Vec<u32>,
    working: u32,
    /// The node in each working bucket.
    occupant: Vec<Option<Node>>,
    /// Each working node's bucket, by id.
    bucket_of: BTreeMap<String, u32>,
    /// The working nodes as a [`Nodes`] set, built when first asked for after a change
    /// (so that removing many nodes costs one rebuild, not one each).
    view: OnceLock<View>,
}

/// The working nodes, in bucket order, and each bucket's index among them.
#[derive(Clone, Debug)]
struct View {
    nodes: Nodes,
    index_of_bucket: Vec<u32>,
}

impl Anchor {
    /// `nodes` (equal weights) in buckets `0..nodes.len()` of an anchor of `capacity`
    /// buckets (at least the number of nodes, at most [`crate::MAX_ENTRIES`]): room for
    /// that many nodes.
    pub fn new(nodes: Nodes, capacity: usize) -> Result<Anchor, PartitionError> {
        if !nodes.uniform_weights() {
            return Err(PartitionError::Unsupported {
                algorithm: "anchor",
                what: "weights (give every node the same weight)",
            });
        }
        if capacity < nodes.len() || capacity as u64 > crate::MAX_ENTRIES {
            return Err(PartitionError::OutOfRange {
                name: "anchor capacity",
                value: capacity as u64,
                expected: "at least the number of nodes, at most 2^28",
            });
        }
        let working = nodes.len() as u32;
        let cap = capacity as u32;
        let mut occupant: Vec<Option<Node>> = nodes.nodes().iter().cloned().map(Some).collect();
        occupant.resize(capacity, None);
        let bucket_of = (0..working)
            .map(|b| (nodes.node(b as usize).id.clone(), b))
            .collect();
        let index_of_bucket = (0..cap)
            .map(|b| if b < working { b } else { u32::MAX })
            .collect();
        Ok(Anchor {
            // Buckets past the nodes start removed, as if removed last to first.
            removed_at: (0..cap).map(|b| if b < working { 0 } else { b }).collect(),
            successor: (0..cap).collect(),
            list: (0..cap).collect(),
            position: (0..cap).collect(),
            removed: (working..cap).rev().collect(),
            working,
            occupant,
            bucket_of,
            view: OnceLock::from(View {
                nodes,
                index_of_bucket,
            }),
        })
    }

    /// The working nodes in bucket order, rebuilt if they changed since last asked.
    fn view(&self) -> &View {
        self.view.get_or_init(|| {
            let mut index_of_bucket = vec![u32::MAX; self.occupant.len()];
            let mut nodes = Vec::with_capacity(self.working as usize);
            for (b, node) in self.occupant.iter().enumerate() {
                if let Some(node) = node {
                    index_of_bucket[b] = nodes.len() as u32;
                    nodes.push(node.clone());
                }
            }
            View {
                // At least one node works and ids are unique (`bucket_of` is keyed by
                // them), so the set is valid.
                nodes: Nodes::new(nodes).unwrap_or_else(|e| unreachable!("{e}")),
                index_of_bucket,
            }
        })
    }

    /// The bucket that owns `key`.
    pub fn bucket(&self, key: u64) -> u32 {
        let a = &self.removed_at;
        let mut b = scale(key, a.len() as u64) as u32;
        while a[b as usize] > 0 {
            let size = a[b as usize];
            let mut h = scale(salted(key, u64::from(b)), u64::from(size)) as u32;
            // A bucket removed before `b` was not working when `b` went: follow the
            // buckets that took its place until one that was.
            while a[h as usize] >= size {
                h = self.successor[h as usize];
            }
            b = h;
        }
        b
    }

    /// Take node `id` out; only its keys move. The last node cannot be removed.
    pub fn remove(&mut self, id: &str) -> Result<(), PartitionError> {
        let b = *self
            .bucket_of
            .get(id)
            .ok_or_else(|| PartitionError::NoSuchNode(id.to_string()))?;
        if self.working == 1 {
            return Err(PartitionError::NoNodes);
        }
        self.bucket_of.remove(id);
        self.working -= 1;
        let last = self.list[self.working as usize];
        let at = self.position[b as usize];
        self.removed.push(b);
        self.removed_at[b as usize] = self.working;
        self.list[at as usize] = last;
        self.position[last as usize] = at;
        self.successor[b as usize] = last;
        self.occupant[b as usize] = None;
        self.view = OnceLock::new();
        Ok(())
    }

    /// Put `node` in the most recently removed bucket, which takes back exactly the keys
    /// that bucket had. Fails if the anchor is full or the id is taken.
    pub fn add(&mut self, node: Node) -> Result<(), PartitionError> {
        if self.bucket_of.contains_key(&node.id) {
            return Err(PartitionError::DuplicateNode(node.id));
        }
        if node.id.is_empty() {
            return Err(PartitionError::EmptyId);
        }
        let weight = self
            .occupant
            .iter()
            .flatten()
            .next()
            .map_or(1, |n| n.weight);
        if node.weight != weight {
            return Err(PartitionError::Unsupported {
                algorithm: "anchor",
                what: "weights (give every node the same weight)",
            });
        }
        let Some(b) = self.removed.pop() else {
            return Err(PartitionError::OutOfRange {
                name: "nodes",
                value: self.occupant.len() as u64 + 1,
                expected: "at most the anchor's capacity",
            });
        };
        // Undo b's removal: the bucket that moved into its place goes back to the end.
        let moved = self.list[self.working as usize];
        self.position[moved as usize] = self.working;
        self.list[self.position[b as usize] as usize] = b;
        self.successor[b as usize] = b;
        self.removed_at[b as usize] = 0;
        self.working += 1;
        self.bucket_of.insert(node.id.clone(), b);
        self.occupant[b as usize] = Some(node);
        self.view = OnceLock::new();
        Ok(())
    }
}

impl Placement for Anchor {
    fn name(&self) -> &'static str {
        "anchor"
    }

    fn nodes(&self) -> &Nodes {
        &self.view().nodes
    }

    fn locate(&self, key: u64) -> usize {
        self.view().index_of_bucket[self.bucket(key) as usize] as usize
    }
}

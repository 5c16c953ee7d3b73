//! Anti-entropy: each round, compare Merkle trees of the shared key ranges with one
//! peer and exchange the keys whose hashes differ.

use super::*;

impl LeaderlessNode {
    /// This node's entries of keys `peer` is also a home replica of, in `ranges` if given.
    pub(super) fn shared_entries(
        &self,
        peer: NodeId,
        ranges: Option<&[RangeInclusive<u64>]>,
    ) -> Vec<(Key, Siblings)> {
        self.data
            .iter()
            .filter(|(k, _)| self.homes(**k).contains(&peer))
            .filter(|(k, _)| ranges.is_none_or(|r| MerkleTree::in_ranges(r, ring::position(**k))))
            .map(|(k, s)| (*k, s.clone()))
            .collect()
    }

    pub(super) fn shared_tree(&self, peer: NodeId) -> MerkleTree {
        let entries = self
            .shared_entries(peer, None)
            .into_iter()
            .map(|(k, s)| (ring::position(k), s.digest()))
            .collect();
        MerkleTree::build(MERKLE_DEPTH, &entries)
    }

    pub(super) fn absorb(&mut self, ctx: &mut Context<'_, Msg>, entries: Vec<(Key, Siblings)>) {
        for (key, siblings) in entries {
            // Only keys this node is a home replica of: a peer's message cannot plant others.
            if self.homes(key).contains(&self.id) && self.store(ctx, key, &siblings) {
                self.stats.anti_entropy_keys += 1;
            }
        }
    }

    pub(super) fn start_sync(&mut self, ctx: &mut Context<'_, Msg>) {
        if self.nodes < 2 {
            return;
        }
        let offset = 1 + self.next_sync_peer % (self.nodes - 1);
        self.next_sync_peer += 1;
        let peer = NodeId(((self.id.index() + offset) % self.nodes) as u32);
        let tree = self.shared_tree(peer);
        self.stats.anti_entropy_rounds += 1;
        ctx.send(
            peer,
            Msg::SyncTree {
                depth: tree.depth(),
                hashes: tree.hashes().to_vec(),
            },
        );
    }
}

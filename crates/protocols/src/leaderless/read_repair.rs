//! Read repair: replicas that answered a read with older versions get the merged ones.

use super::*;

impl LeaderlessNode {
    pub(super) fn repair(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        key: Key,
        node: NodeId,
        home: NodeId,
        siblings: Siblings,
    ) {
        self.stats.read_repairs += 1;
        self.put(ctx, 0, key, node, home, siblings);
    }
}

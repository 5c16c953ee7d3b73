//! When a node folds its applied log into a snapshot, and how a follower installs the
//! snapshot a leader sends it (the snapshot itself is in [`super::snapshot`]).

use super::snapshot::{self, Snapshot};
use super::{Log, Msg, RaftNode, SNAPSHOT_KEY, unpersist_entries};
use dsys_node::{Context, Durability, NodeId};
use std::sync::Arc;

impl RaftNode {
    /// Replace what the leader's snapshot covers: the state machine, and the log up to its
    /// index (keeping the entries after it if the log agrees with it there).
    pub(super) fn on_install_snapshot(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        from: NodeId,
        term: u64,
        snapshot: Arc<Snapshot>,
        round: u64,
    ) {
        if !self.follow(ctx, from, term, round) {
            return;
        }
        let index = snapshot.index;
        if index > self.commit {
            let (base, last) = (self.log.snapshot_index(), self.log.last_index());
            ctx.persist(
                SNAPSHOT_KEY.to_vec(),
                snapshot::encode(&snapshot),
                Durability::Synced,
            );
            if self.log.term_at(index) == Some(snapshot.term) {
                // Log Matching: the entries after the snapshot follow on from it.
                self.log.compact_to(index);
                unpersist_entries(ctx, base + 1, index);
            } else {
                self.stats.truncated += last.saturating_sub(index);
                self.log =
                    Log::after_snapshot(index, snapshot.term, snapshot.prefix_hash, Vec::new());
                unpersist_entries(ctx, base + 1, last);
            }
            self.state = snapshot.state.clone();
            self.commit = index;
            self.applied = index;
            self.snapshot = Some(snapshot);
            self.reload_config();
            self.stats.snapshots_installed += 1;
        }
        ctx.send(
            from,
            Msg::AppendReply {
                term: self.term,
                success: true,
                index,
                round,
            },
        );
    }

    /// Fold the applied entries into a snapshot once `snapshot_every` of them have piled
    /// up since the last one. It runs before the node handles an input, never while it
    /// handles one, so every entry it drops was applied (and so committed) in an earlier
    /// step, where the invariant monitor saw it in the log.
    pub(super) fn compact_if_due(&mut self, ctx: &mut Context<'_, Msg>) {
        let every = self.config.snapshot_every;
        let base = self.log.snapshot_index();
        if every == 0 || self.applied < base.saturating_add(every) {
            return;
        }
        let index = self.applied;
        let (Some(term), Some(prefix_hash)) =
            (self.log.term_at(index), self.log.prefix_hash(index))
        else {
            return;
        };
        let snapshot = Snapshot {
            index,
            term,
            prefix_hash,
            config: self.config_through(index),
            state: self.state.clone(),
        };
        ctx.persist(
            SNAPSHOT_KEY.to_vec(),
            snapshot::encode(&snapshot),
            Durability::Synced,
        );
        unpersist_entries(ctx, base + 1, index);
        self.log.compact_to(index);
        self.snapshot = Some(Arc::new(snapshot));
        self.stats.snapshots_taken += 1;
    }
}

//! Replication: the leader ships its log (each write at once, or in batches every
//! `ship-interval` when asynchronous), a follower reconciles it like Raft's (truncating
//! entries that conflict), and writes are answered once enough followers acknowledged.

use super::*;

impl LeaderFollowerNode {
    pub(super) fn send_append(&self, ctx: &mut Context<'_, Msg>, to: NodeId, from_index: u64) {
        let from = from_index.min(self.log.len() as u64);
        let end = (from as usize + MAX_BATCH).min(self.log.len());
        let prev_epoch = if from == 0 {
            0
        } else {
            self.log[from as usize - 1].epoch
        };
        let entries = self.log[from as usize..end].to_vec();
        ctx.send(
            to,
            Msg::Append {
                epoch: self.epoch,
                prev_index: from,
                prev_epoch,
                entries,
                leader_len: self.log.len() as u64,
            },
        );
    }

    /// Whether new entries wait for the next ship rather than go out with the write.
    pub(super) fn ships_in_batches(&self) -> bool {
        self.config.replication == Replication::Async && !self.config.ship_interval.is_zero()
    }

    /// Send each follower what it has not acknowledged yet.
    pub(super) fn ship(&self, ctx: &mut Context<'_, Msg>) {
        let Role::Leader { matched, .. } = &self.role else {
            return;
        };
        let len = self.log.len() as u64;
        let behind: Vec<(NodeId, u64)> = self
            .peers()
            .map(|p| (p, matched[p.index()]))
            .filter(|&(_, m)| m < len)
            .collect();
        for (peer, from) in behind {
            self.send_append(ctx, peer, from);
        }
    }

    pub(super) fn acks_needed(&self) -> usize {
        match self.config.replication {
            Replication::Sync => self.n - 1,
            Replication::SemiSync { acks } => acks.min(self.n - 1),
            Replication::Async => 0,
        }
    }

    /// Answer the writes that now have enough acknowledgements.
    pub(super) fn release(&mut self, ctx: &mut Context<'_, Msg>) {
        let needed = self.acks_needed();
        let Role::Leader { matched, waiting } = &mut self.role else {
            return;
        };
        let ready: Vec<u64> = waiting
            .keys()
            .copied()
            .filter(|&index| matched.iter().filter(|&&m| m >= index).count() >= needed)
            .collect();
        for index in ready {
            if let Some((request, response)) = waiting.remove(&index) {
                ctx.reply(request, response);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_append(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        from: NodeId,
        epoch: u64,
        prev_index: u64,
        prev_epoch: u64,
        entries: Vec<Entry>,
        leader_len: u64,
    ) {
        if self.config.fencing && epoch < self.epoch {
            ctx.send(
                from,
                Msg::AppendReply {
                    epoch: self.epoch,
                    success: false,
                    match_index: 0,
                },
            );
            return;
        }
        let leading = matches!(self.role, Role::Leader { .. });
        if leading && !self.config.fencing {
            // Without fencing a leader never steps down: split brain stays split.
            return;
        }
        if leading && epoch == self.epoch {
            return; // two leaders of one epoch cannot happen with majority votes
        }
        self.adopt(ctx, epoch.max(self.epoch), Some(from));
        let len = self.log.len() as u64;
        if prev_index > len {
            ctx.send(
                from,
                Msg::AppendReply {
                    epoch: self.epoch,
                    success: false,
                    match_index: len,
                },
            );
            return;
        }
        if prev_index > 0 && self.log[prev_index as usize - 1].epoch != prev_epoch {
            self.truncate(ctx, prev_index as usize - 1);
            ctx.send(
                from,
                Msg::AppendReply {
                    epoch: self.epoch,
                    success: false,
                    match_index: prev_index - 1,
                },
            );
            return;
        }
        for (i, entry) in entries.iter().enumerate() {
            let index = prev_index as usize + i; // 0-based position
            match self.log.get(index) {
                Some(existing) if existing == entry => continue,
                Some(_) => self.truncate(ctx, index),
                None => {}
            }
            self.append_local(ctx, *entry);
        }
        let match_index = prev_index + entries.len() as u64;
        if match_index == leader_len && self.log.len() as u64 > leader_len {
            self.truncate(ctx, leader_len as usize);
        }
        ctx.send(
            from,
            Msg::AppendReply {
                epoch: self.epoch,
                success: true,
                match_index,
            },
        );
    }

    pub(super) fn on_append_reply(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        from: NodeId,
        epoch: u64,
        success: bool,
        match_index: u64,
    ) {
        if epoch > self.epoch && self.config.fencing {
            self.adopt(ctx, epoch, None);
            return;
        }
        let Role::Leader { matched, .. } = &mut self.role else {
            return;
        };
        if success {
            matched[from.index()] = matched[from.index()].max(match_index);
            self.release(ctx);
            // Keep streaming to a follower that is still behind (a batching leader
            // leaves that to its next ship).
            if match_index < self.log.len() as u64 && !self.ships_in_batches() {
                self.send_append(ctx, from, match_index);
            }
        } else {
            // Retry from where the follower says it matches, but only on the next
            // heartbeat: answering every rejection at once lets two leaders that undo
            // each other's entries (split brain without fencing) flood the network.
            matched[from.index()] = matched[from.index()].min(match_index);
        }
    }
}

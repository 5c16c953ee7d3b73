//! Failover: a follower that stops hearing the leader stands for election; a majority
//! elects the most up-to-date candidate it can reach; epochs fence off a deposed leader.

use super::*;

impl LeaderFollowerNode {
    /// Move to a newer epoch as a follower.
    pub(super) fn adopt(&mut self, ctx: &mut Context<'_, Msg>, epoch: u64, leader: Option<NodeId>) {
        if epoch > self.epoch {
            self.epoch = epoch;
            self.voted_for = None;
            self.persist_epoch(ctx);
        }
        self.role = Role::Follower { leader };
        ctx.cancel_timer(HEARTBEAT);
        self.arm_election(ctx);
    }

    pub(super) fn become_leader(&mut self, ctx: &mut Context<'_, Msg>) {
        if self.epoch > 1 {
            self.counters[WON] += 1;
        }
        let len = self.log.len() as u64;
        // Followers are assumed behind until they say otherwise.
        let matched = vec![0; self.n];
        self.role = Role::Leader {
            matched,
            waiting: BTreeMap::new(),
        };
        ctx.cancel_timer(ELECTION);
        for peer in self.peers() {
            self.send_append(ctx, peer, len);
        }
        ctx.set_timer(HEARTBEAT, self.config.heartbeat);
        if self.ships_in_batches() {
            ctx.set_timer(SHIP, self.config.ship_interval);
        }
    }

    pub(super) fn on_promote(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        from: NodeId,
        epoch: u64,
        last_epoch: u64,
        last_index: u64,
    ) {
        if matches!(self.role, Role::Leader { .. }) && !self.config.fencing {
            return; // an unfenced leader ignores elections
        }
        if epoch > self.epoch {
            self.adopt(ctx, epoch, None);
        }
        let up_to_date = (last_epoch, last_index) >= self.last();
        let granted = epoch == self.epoch && up_to_date && self.voted_for.is_none_or(|v| v == from);
        if granted {
            self.voted_for = Some(from);
            self.persist_epoch(ctx);
            self.arm_election(ctx);
        }
        ctx.send(
            from,
            Msg::PromoteReply {
                epoch: self.epoch,
                granted,
            },
        );
    }

    pub(super) fn on_promote_reply(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        from: NodeId,
        epoch: u64,
        granted: bool,
    ) {
        if epoch > self.epoch {
            self.adopt(ctx, epoch, None);
            return;
        }
        let majority = self.majority();
        let Role::Candidate { votes } = &mut self.role else {
            return;
        };
        if granted && epoch == self.epoch {
            votes.insert(from);
            if votes.len() >= majority {
                self.become_leader(ctx);
            }
        }
    }

    pub(super) fn start_election(&mut self, ctx: &mut Context<'_, Msg>) {
        self.counters[ELECTIONS] += 1;
        self.epoch += 1;
        self.voted_for = Some(self.id);
        self.persist_epoch(ctx);
        self.role = Role::Candidate {
            votes: BTreeSet::from([self.id]),
        };
        if self.majority() <= 1 {
            self.become_leader(ctx);
            return;
        }
        let (last_epoch, last_index) = self.last();
        for peer in self.peers() {
            ctx.send(
                peer,
                Msg::Promote {
                    epoch: self.epoch,
                    last_epoch,
                    last_index,
                },
            );
        }
        self.arm_election(ctx);
    }
}

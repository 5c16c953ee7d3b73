//! Log replication: the leader appends and sends entries (or its snapshot), followers
//! take them with conflict back-off, the commit index advances by majority match, and
//! committed entries are applied to the state machine.

use super::{
    AppendEntries, Command, Entry, MAX_BATCH, Msg, RaftNode, Role, encode, log_key,
    unpersist_entries,
};
use dsys_node::{Context, Instant, NodeId, Response};
use std::sync::Arc;

impl RaftNode {
    pub(super) fn append_local(&mut self, ctx: &mut Context<'_, Msg>, entry: Entry) -> u64 {
        let index = self.log.push(entry);
        ctx.persist(log_key(index), encode(&entry), self.config.durability);
        if let Command::Config { voters } = entry.command {
            self.voters = Some(voters);
            self.config_index = index;
        }
        index
    }

    /// Send every follower what it lacks (or a heartbeat), as a new round.
    pub(super) fn broadcast(&mut self, ctx: &mut Context<'_, Msg>) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        l.round += 1;
        l.round_sent.insert(l.round, ctx.now());
        for peer in self.peers() {
            self.send_entries(ctx, peer);
        }
    }

    /// Send `peer` the entries from its `next` index on, in the current round.
    pub(super) fn send_entries(&mut self, ctx: &mut Context<'_, Msg>, peer: NodeId) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let next = l.next[peer.index()].max(1);
        if let Some(snapshot) = &self.snapshot
            && next <= snapshot.index
        {
            // The entries it needs are compacted: send the snapshot (pipelined too).
            l.next[peer.index()] = snapshot.index + 1;
            self.stats.snapshots_sent += 1;
            ctx.send(
                peer,
                Msg::InstallSnapshot {
                    term: self.term,
                    snapshot: Arc::clone(snapshot),
                    round: l.round,
                },
            );
            return;
        }
        let prev_index = next - 1;
        let entries = self.log.slice(next, MAX_BATCH);
        // Pipelined: assume they arrive; a refusal sets `next` back.
        l.next[peer.index()] = next + entries.len() as u64;
        ctx.send(
            peer,
            Msg::Append(AppendEntries {
                term: self.term,
                prev_index,
                prev_term: self.log.term_at(prev_index).unwrap_or(0),
                entries,
                commit: self.commit,
                round: l.round,
            }),
        );
    }

    /// The highest index a majority matches, if it is of this term (§5.4.2).
    pub(super) fn advance_commit(&mut self, ctx: &mut Context<'_, Msg>) {
        let Role::Leader(l) = &self.role else {
            return;
        };
        let candidate = self.quorum_value(&l.matched, self.log.last_index());
        if candidate > self.commit && self.log.term_at(candidate) == Some(self.term) {
            self.commit = candidate;
            self.apply_committed(ctx);
        }
    }

    /// Apply committed entries; the leader answers the updates it was holding.
    pub(super) fn apply_committed(&mut self, ctx: &mut Context<'_, Msg>) {
        while self.applied < self.commit {
            self.applied += 1;
            let Some(entry) = self.log.get(self.applied).copied() else {
                break;
            };
            let (request, op) = match entry.command {
                Command::Client { request, op } => (request, op),
                Command::Config { .. } => {
                    // A committed change that removed this leader: hand over to the
                    // voter furthest along, so the cluster need not wait out an election
                    // timeout.
                    if let Role::Leader(l) = &self.role
                        && self.applied == self.config_index
                        && !self.is_voter(self.id)
                    {
                        let successor = (0..self.n as u32)
                            .map(NodeId)
                            .filter(|&node| node != self.id && self.is_voter(node))
                            .max_by_key(|node| (l.matched[node.index()], std::cmp::Reverse(*node)));
                        let term = self.term;
                        self.become_follower(ctx, term, None);
                        if let Some(successor) = successor {
                            ctx.send(successor, Msg::TimeoutNow { term });
                        }
                    }
                    continue;
                }
                Command::Noop => continue,
            };
            let answer = self.state.apply(request, op);
            if let Role::Leader(l) = &mut self.role
                && l.waiting.get(&self.applied) == Some(&request)
            {
                l.waiting.remove(&self.applied);
                // A stale duplicate did not happen: the client gave up on it already.
                ctx.reply(request, answer.unwrap_or(Response::Indeterminate));
            }
        }
        self.serve_reads(ctx);
    }

    pub(super) fn on_append(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        from: NodeId,
        append: AppendEntries,
    ) {
        let AppendEntries {
            term,
            prev_index,
            prev_term,
            entries,
            commit,
            round,
        } = append;
        let reply = |ctx: &mut Context<'_, Msg>, term, success, index| {
            ctx.send(
                from,
                Msg::AppendReply {
                    term,
                    success,
                    index,
                    round,
                },
            );
        };
        if !self.follow(ctx, from, term, round) {
            return;
        }
        // Entries up to the snapshot index are committed, so they match the leader's
        // (Leader Completeness): skip them.
        let base = self.log.snapshot_index();
        let (prev_index, prev_term, entries) = if prev_index < base {
            let covered = usize::try_from(base - prev_index).unwrap_or(usize::MAX);
            let rest = &entries[covered.min(entries.len())..];
            (base, self.log.term_at(base).unwrap_or(0), rest)
        } else {
            (prev_index, prev_term, &entries[..])
        };
        match self.log.term_at(prev_index) {
            None => {
                reply(ctx, self.term, false, self.log.last_index() + 1);
                return;
            }
            Some(t) if t != prev_term => {
                let back_to = self.log.first_index_of_term_at(prev_index);
                reply(ctx, self.term, false, back_to);
                return;
            }
            Some(_) => {}
        }
        for (i, entry) in entries.iter().enumerate() {
            let index = prev_index + 1 + i as u64;
            match self.log.get(index) {
                Some(existing) if existing.term == entry.term => continue,
                Some(_) => {
                    // A conflicting suffix: never committed (Log Matching), so drop it.
                    unpersist_entries(ctx, index, self.log.last_index());
                    self.stats.truncated += self.log.truncate_from(index);
                    if index <= self.config_index {
                        self.reload_config();
                    }
                }
                None => {}
            }
            self.append_local(ctx, *entry);
        }
        let matched = prev_index + entries.len() as u64;
        // Commit only what this append proved matches the leader's log.
        let new_commit = commit.min(matched);
        if new_commit > self.commit {
            self.commit = new_commit;
            self.apply_committed(ctx);
        }
        reply(ctx, self.term, true, matched);
    }

    pub(super) fn on_append_reply(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        from: NodeId,
        term: u64,
        success: bool,
        index: u64,
        round: u64,
    ) {
        if term > self.term {
            self.become_follower(ctx, term, None);
            return;
        }
        let last = self.log.last_index();
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        if term < self.term {
            return;
        }
        let p = from.index();
        l.heard.insert(from);
        l.acked_round[p] = l.acked_round[p].max(round);
        let behind;
        if success {
            l.matched[p] = l.matched[p].max(index);
            l.next[p] = l.next[p].max(index + 1);
            behind = l.next[p] <= last;
        } else {
            l.next[p] = index.clamp(1, last + 1);
            behind = true;
        }
        // A leader preference: hand over to node 0 once it holds the whole log.
        let preferred = NodeId(0);
        let hand_over = self.config.prefer_first
            && self.id != preferred
            && from == preferred
            && success
            && !behind
            && !std::mem::replace(&mut l.handed_over, true);
        if behind {
            self.send_entries(ctx, from);
        }
        if hand_over && self.is_voter(preferred) {
            // The successor may win at once, votes granted despite this leader: a lease
            // read here from now on could miss its writes, so the lease goes (§6.4.1).
            if let Role::Leader(l) = &mut self.role {
                l.lease_until = Instant::ZERO;
            }
            self.stats.handovers += 1;
            ctx.send(preferred, Msg::TimeoutNow { term: self.term });
        }
        self.extend_lease();
        self.advance_commit(ctx);
        self.serve_reads(ctx);
    }

    /// Take `from` as the leader of `term` and re-arm the election timer, unless `term` is
    /// stale: then tell the sender this node's term (answering `round`) and return false.
    pub(super) fn follow(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        from: NodeId,
        term: u64,
        round: u64,
    ) -> bool {
        if term < self.term {
            ctx.send(
                from,
                Msg::AppendReply {
                    term: self.term,
                    success: false,
                    index: 0,
                    round,
                },
            );
            return false;
        }
        self.heard_leader = true;
        if term > self.term || !matches!(self.role, Role::Follower { leader: Some(l) } if l == from)
        {
            self.become_follower(ctx, term, Some(from));
        }
        self.arm_election(ctx);
        true
    }
}

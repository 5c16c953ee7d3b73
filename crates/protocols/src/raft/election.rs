//! Elections: pre-vote, then a real vote; a candidate with a majority leads, a node that
//! hears of a newer term follows.

use super::*;

impl RaftNode {
    /// Step down to follower of `leader` in `term` (raising the term if newer). A leader
    /// answers what it was holding: updates may still commit (indeterminate), reads did
    /// not happen (redirect).
    pub(super) fn become_follower(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        term: u64,
        leader: Option<NodeId>,
    ) {
        if term > self.term {
            self.term = term;
            self.voted_for = None;
            self.persist_term_and_vote(ctx);
        }
        let was = std::mem::replace(&mut self.role, Role::Follower { leader });
        if let Role::Leader(l) = was {
            self.stats.step_downs += 1;
            ctx.cancel_timer(HEARTBEAT);
            for request in l.waiting.into_values() {
                ctx.reply(request, Response::Indeterminate);
            }
            for read in l.reads {
                ctx.reply(read.request, Response::Redirect { leader });
            }
            self.arm_election(ctx);
        }
    }

    pub(super) fn start_pre_vote(&mut self, ctx: &mut Context<'_, Msg>) {
        self.role = Role::PreCandidate {
            granted: BTreeSet::from([self.id]),
        };
        for peer in self.peers() {
            ctx.send(
                peer,
                Msg::PreVote {
                    term: self.term + 1,
                    last_index: self.log.last_index(),
                    last_term: self.log.last_term(),
                },
            );
        }
        self.maybe_win(ctx);
    }

    pub(super) fn start_election(&mut self, ctx: &mut Context<'_, Msg>, transfer: bool) {
        self.stats.elections += 1;
        self.term += 1;
        self.voted_for = Some(self.id);
        self.persist_term_and_vote(ctx);
        self.role = Role::Candidate {
            granted: BTreeSet::from([self.id]),
        };
        for peer in self.peers() {
            ctx.send(
                peer,
                Msg::Vote {
                    term: self.term,
                    last_index: self.log.last_index(),
                    last_term: self.log.last_term(),
                    transfer,
                },
            );
        }
        self.maybe_win(ctx);
    }

    /// Move on once a majority granted the pre-vote or the vote.
    pub(super) fn maybe_win(&mut self, ctx: &mut Context<'_, Msg>) {
        match &self.role {
            Role::PreCandidate { granted } if self.voters_among(granted) >= self.majority() => {
                self.start_election(ctx, false);
            }
            Role::Candidate { granted } if self.voters_among(granted) >= self.majority() => {
                self.become_leader(ctx);
            }
            _ => {}
        }
    }

    pub(super) fn become_leader(&mut self, ctx: &mut Context<'_, Msg>) {
        self.stats.won += 1;
        ctx.cancel_timer(ELECTION);
        let noop_index = self.append_local(
            ctx,
            Entry {
                term: self.term,
                command: Command::Noop,
            },
        );
        let mut matched = vec![0; self.n];
        matched[self.id.index()] = noop_index;
        self.role = Role::Leader(Box::new(Leadership {
            next: vec![noop_index; self.n],
            matched,
            acked_round: vec![0; self.n],
            round: 0,
            round_sent: BTreeMap::new(),
            lease_until: Instant::ZERO,
            noop_index,
            waiting: BTreeMap::new(),
            reads: Vec::new(),
            heard: BTreeSet::new(),
            handed_over: false,
        }));
        self.broadcast(ctx);
        ctx.set_timer(HEARTBEAT, self.config.heartbeat);
        // The check-quorum tick.
        ctx.set_timer(ELECTION, self.config.election_timeout);
        if let Some(every) = self.config.rotate_every {
            ctx.set_timer(MEMBERSHIP, every);
        }
        self.advance_commit(ctx);
    }
}

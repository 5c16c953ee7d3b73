//! Who votes: the voter set in force, majorities over it, and the single-server changes
//! a leader proposes (see the module documentation of [`super`]).

use super::{Command, Entry, Msg, RaftConfig, RaftNode, Role, cluster};
use dsys_node::{Context, NodeId};

/// The voter set a cluster of `n` starts with under `config`.
pub(super) fn initial_voters(config: &RaftConfig, n: usize) -> Option<u64> {
    (config.voters > 0 && config.voters < n && config.voters <= 64)
        .then(|| u64::MAX >> (64 - config.voters))
}

impl RaftNode {
    pub(super) fn is_voter(&self, node: NodeId) -> bool {
        self.voters
            .is_none_or(|v| node.0 < 64 && (v >> node.0) & 1 == 1)
    }

    pub(super) fn voter_count(&self) -> usize {
        self.voters.map_or(self.n, |v| v.count_ones() as usize)
    }

    pub(super) fn majority(&self) -> usize {
        cluster::majority(self.voter_count())
    }

    /// The highest value that a majority of voters has reached, from `per_node` (this
    /// node's own entry replaced by `own`).
    pub(super) fn quorum_value(&self, per_node: &[u64], own: u64) -> u64 {
        let values = (0..self.n as u32)
            .map(NodeId)
            .filter(|&node| self.is_voter(node))
            .map(|node| {
                if node == self.id {
                    own
                } else {
                    per_node[node.index()]
                }
            });
        // Called on every append reply: small clusters sort on the stack.
        let mut stack = [0u64; 16];
        let mut heap = Vec::new();
        let values: &mut [u64] = if self.n <= stack.len() {
            let mut len = 0;
            for v in values {
                stack[len] = v;
                len += 1;
            }
            &mut stack[..len]
        } else {
            heap.extend(values);
            &mut heap
        };
        values.sort_unstable_by(|a, b| b.cmp(a));
        values.get(self.majority() - 1).copied().unwrap_or(0)
    }

    /// How many of `nodes` vote.
    pub(super) fn voters_among<'a>(&self, nodes: impl IntoIterator<Item = &'a NodeId>) -> usize {
        nodes.into_iter().filter(|&&n| self.is_voter(n)).count()
    }

    /// The latest voter set at or before `index` and where it was set, from the log or
    /// else the snapshot; `None`: the initial one.
    pub(super) fn config_through(&self, index: u64) -> Option<(u64, u64)> {
        self.log
            .latest_config_through(index)
            .or_else(|| self.snapshot.as_ref().and_then(|s| s.config))
    }

    /// Take the voter set from the latest configuration in the log or the snapshot
    /// (after a boot, a truncation or an installed snapshot), or the initial one.
    pub(super) fn reload_config(&mut self) {
        match self.config_through(self.log.last_index()) {
            Some((index, voters)) => {
                self.voters = Some(voters);
                self.config_index = index;
            }
            None => {
                self.voters = initial_voters(&self.config, self.n);
                self.config_index = 0;
            }
        }
    }

    /// The next voter set of the rotation: add the node after the voter window on the
    /// ring, or, once the window is one larger than it started, remove its first node.
    pub(super) fn next_voters(&self) -> Option<u64> {
        let voters = self.voters?;
        let n = self.n as u32;
        let voting = |i: u32| (voters >> (i % n)) & 1 == 1;
        let target = initial_voters(&self.config, self.n)?.count_ones();
        if voters.count_ones() > target {
            let first = (0..n).find(|&i| voting(i) && !voting(i + n - 1))?;
            Some(voters & !(1 << first))
        } else {
            let after = (0..n).find(|&i| !voting(i) && voting(i + n - 1))?;
            Some(voters | (1 << after))
        }
    }

    /// Propose the next membership change, if the last one is committed and this term
    /// has committed an entry (so no change of an earlier term is still in flight).
    pub(super) fn propose_change(&mut self, ctx: &mut Context<'_, Msg>) {
        let Role::Leader(l) = &self.role else {
            return;
        };
        if self.commit < self.config_index || self.commit < l.noop_index {
            return;
        }
        let Some(voters) = self.next_voters() else {
            return;
        };
        self.stats.changes_proposed += 1;
        let index = self.append_local(
            ctx,
            Entry {
                term: self.term,
                command: Command::Config { voters },
            },
        );
        if let Role::Leader(l) = &mut self.role {
            l.matched[self.id.index()] = index;
        }
        self.broadcast(ctx);
        self.advance_commit(ctx);
    }
}

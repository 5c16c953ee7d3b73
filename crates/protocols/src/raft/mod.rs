//! `raft`: consensus on a replicated log (Ongaro and Ousterhout, 2014), with a key-value
//! state machine on top.
//!
//! - **Elections** with randomised timeouts and **pre-vote**: a node whose election timer
//!   fires first asks whether it *could* win (without raising its term), so a node cut
//!   off and rejoining does not depose a healthy leader. A node that has heard from a
//!   leader since its election timer last fired grants neither pre-votes nor votes
//!   (leader stickiness), which is also what makes leases safe.
//! - **Replication** with conflict back-off: a follower that cannot take entries
//!   answers with the first index of the conflicting term (or its log's end), so the
//!   leader skips a whole term per round trip.
//! - **Commit** by majority match, only for entries of the leader's own term (§5.4.2);
//!   a new leader appends a no-op to commit one at once.
//! - **Durability:** term, vote and every log entry are persisted synced before the node
//!   acts on them; a crash loses nothing synced, and the state machine is rebuilt from
//!   the latest snapshot and the log after it as the commit index advances again.
//! - **Snapshots and log compaction** (`snapshot_every`): once that many entries have been
//!   applied since the last snapshot, a node stores its state machine (sessions included)
//!   with the index, term, voter set and prefix hash it covers, then deletes the log up to
//!   it. A leader that no longer holds what a follower needs sends its snapshot
//!   (`InstallSnapshot`); the follower keeps the entries after it if its log agrees there
//!   and drops its log otherwise.
//! - **Exactly once:** every client update carries its request id; the state machine
//!   keeps the latest sequence number (and answer) per client and skips a duplicate.
//! - **Reads** (`reads=`): `read-index` (the leader notes its commit index, confirms with
//!   a majority that it still leads, waits until it has applied that far, then answers:
//!   linearizable); `lease` (the leader answers at once while a majority acknowledged a
//!   heartbeat within the lease, which is shorter than any follower's election timeout:
//!   linearizable while clocks drift less than the margin); `local` (any node answers from
//!   its own state machine: possibly stale).
//! - **Check quorum:** a leader that has not heard from a majority for an election
//!   timeout steps down, so clients stop waiting on a leader cut off from the cluster.
//! - **Membership** (`voters`, `rotate-every`): single-server changes (Ongaro's
//!   dissertation, §4.1). A voter set is a log entry that takes effect as soon as a node
//!   holds it; majorities, elections, commit, read confirmation and leases count voters
//!   only; non-voters follow the log as learners and never stand for election. A leader
//!   proposes a change only once the previous one is committed and it has committed an
//!   entry of its own term (the fix for the bug found after the dissertation). A leader
//!   that a committed change removed steps down and hands over to the voter furthest
//!   along (`TimeoutNow`, §3.10), which stands for election at once. With `rotate-every`
//!   set, the leader walks the voter window round the ring of nodes: add the next node,
//!   then remove the oldest voter, and again.

mod log;
mod monitor;
mod snapshot;
#[cfg(test)]
mod tests;

pub use log::{Command, Entry, Log, decode, encode};
pub use monitor::RaftMonitor;
pub use snapshot::Snapshot;
use snapshot::StateMachine;

use crate::cluster;
use dsys_node::{
    Context, Durability, Duration, Instant, Node, NodeId, Op, Request, RequestId, Response,
    Storage, TimerId,
};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

const HEARTBEAT: TimerId = 1;
const ELECTION: TimerId = 2;
const MEMBERSHIP: TimerId = 3;
const MAX_BATCH: usize = 64;
const TERM_KEY: &[u8] = b"raft/term";
const VOTE_KEY: &[u8] = b"raft/vote";
const LOG_PREFIX: &[u8] = b"raft/log/";
const SNAPSHOT_KEY: &[u8] = b"raft/snapshot";

/// How reads are served.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ReadPath {
    /// Confirm leadership with a majority, then answer at the noted commit index.
    #[default]
    ReadIndex,
    /// Answer at once while the leader's lease holds (else as `ReadIndex`).
    Lease,
    /// Any node answers from its own state machine.
    Local,
}

/// Settings of `raft`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RaftConfig {
    /// How reads are served.
    pub reads: ReadPath,
    /// Leader heartbeat period.
    pub heartbeat: Duration,
    /// The shortest election timeout; each one is drawn from `[t, 2t)`.
    pub election_timeout: Duration,
    /// The lease, as a share of `election_timeout` (per mille): the margin left for
    /// clock drift between leader and followers.
    pub lease_permille: u64,
    /// Nodes that vote at the start: the first `voters` ids (0, or the cluster size or
    /// more: every node). The rest follow the log as learners.
    pub voters: usize,
    /// If set, the leader changes the membership this often (see the module docs).
    /// Needs `voters` below the cluster size and at most 64 nodes.
    pub rotate_every: Option<Duration>,
    /// Take a snapshot and drop the log up to it once this many entries have been
    /// applied since the last one (0: never compact).
    pub snapshot_every: u64,
}

impl Default for RaftConfig {
    fn default() -> Self {
        RaftConfig {
            reads: ReadPath::ReadIndex,
            heartbeat: Duration::from_millis(50),
            election_timeout: Duration::from_millis(300),
            lease_permille: 900,
            voters: 0,
            rotate_every: None,
            snapshot_every: 64,
        }
    }
}

/// Messages of `raft`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum RaftMessage {
    /// Could I win an election for `term`? (The sender's own term is not raised.)
    PreVote {
        /// The term the sender would stand in.
        term: u64,
        /// Index of the sender's last entry.
        last_index: u64,
        /// Term of the sender's last entry.
        last_term: u64,
    },
    /// The answer to a [`RaftMessage::PreVote`].
    PreVoteReply {
        /// The term asked about.
        term: u64,
        /// Whether the sender would vote.
        granted: bool,
        /// The sender's own term: a pre-candidate behind it catches up, else it would
        /// keep asking for a term the others have passed and never be granted one.
        current: u64,
    },
    /// Vote for me in `term`.
    Vote {
        /// The candidate's term.
        term: u64,
        /// Index of the candidate's last entry.
        last_index: u64,
        /// Term of the candidate's last entry.
        last_term: u64,
        /// The leader handed over to the candidate ([`RaftMessage::TimeoutNow`]): vote
        /// even though a leader was heard from recently.
        transfer: bool,
    },
    /// The answer to a [`RaftMessage::Vote`].
    VoteReply {
        /// The voter's term.
        term: u64,
        /// Whether the vote is granted.
        granted: bool,
    },
    /// Leader to follower: entries after `prev_index`, and the leader's commit index.
    Append {
        /// The leader's term.
        term: u64,
        /// Index just before the first entry.
        prev_index: u64,
        /// Term of that entry.
        prev_term: u64,
        /// The entries.
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: u64,
        /// The leader's heartbeat round, echoed back (read-index and lease confirmation).
        round: u64,
    },
    /// Leader to a follower that needs entries the leader has compacted: its snapshot.
    InstallSnapshot {
        /// The leader's term.
        term: u64,
        /// The snapshot (shared: it is not copied per send).
        snapshot: Arc<Snapshot>,
        /// The leader's heartbeat round, echoed back as for an append.
        round: u64,
    },
    /// A leader that a membership change removed hands over: stand for election now,
    /// without a pre-vote.
    TimeoutNow {
        /// The leader's term.
        term: u64,
    },
    /// The answer to a [`RaftMessage::Append`].
    AppendReply {
        /// The follower's term.
        term: u64,
        /// Whether the entries were taken.
        success: bool,
        /// On success, the follower's last index matching the leader's log; on failure,
        /// the index the leader should send from next.
        index: u64,
        /// The round being answered.
        round: u64,
    },
}

type Msg = RaftMessage;

/// A read waiting for its leadership confirmation and for the state machine to catch up.
#[derive(Clone, Copy, Debug)]
struct PendingRead {
    request: RequestId,
    op: Op,
    /// The commit index when the read arrived: it must be applied first.
    read_index: u64,
    /// The heartbeat round a majority must acknowledge.
    round: u64,
}

#[derive(Debug)]
struct Leadership {
    /// Per node: the next index to send.
    next: Vec<u64>,
    /// Per node: the highest index known to match.
    matched: Vec<u64>,
    /// Per node: the latest heartbeat round it acknowledged.
    acked_round: Vec<u64>,
    /// The current heartbeat round.
    round: u64,
    /// When each unconfirmed round was sent (for the lease).
    round_sent: BTreeMap<u64, Instant>,
    /// The lease holds until then (leader's clock).
    lease_until: Instant,
    /// The index of this term's no-op: once applied, the leader knows every committed entry.
    noop_index: u64,
    /// Client updates in the log, by index, waiting to be applied.
    waiting: BTreeMap<u64, RequestId>,
    /// Reads waiting for confirmation.
    reads: Vec<PendingRead>,
    /// Nodes heard from since the last check-quorum tick.
    heard: BTreeSet<NodeId>,
}

#[derive(Debug)]
enum Role {
    Follower { leader: Option<NodeId> },
    PreCandidate { granted: BTreeSet<NodeId> },
    Candidate { granted: BTreeSet<NodeId> },
    Leader(Box<Leadership>),
}

/// A node of the `raft` protocol.
#[derive(Debug)]
pub struct RaftNode {
    config: RaftConfig,
    id: NodeId,
    n: usize,
    term: u64,
    voted_for: Option<NodeId>,
    log: Log,
    commit: u64,
    applied: u64,
    state: StateMachine,
    role: Role,
    /// Whether a leader was heard from since the election timer last fired.
    heard_leader: bool,
    /// The voter set in force (bit `i`: node `i` votes); `None` means every node.
    voters: Option<u64>,
    /// Where in the log that voter set was set (0: the initial configuration).
    config_index: u64,
    /// The latest snapshot taken or installed: the log holds the entries after it.
    snapshot: Option<Arc<Snapshot>>,
    stats: Stats,
}

#[derive(Debug, Default)]
struct Stats {
    elections: u64,
    won: u64,
    truncated: u64,
    lease_reads: u64,
    read_index_reads: u64,
    step_downs: u64,
    changes_proposed: u64,
    snapshots_taken: u64,
    snapshots_sent: u64,
    snapshots_installed: u64,
    unreadable_snapshots: u64,
}

fn log_key(index: u64) -> Vec<u8> {
    cluster::indexed_key(LOG_PREFIX, index)
}

/// Delete the stored entries `from..=to` as one batch: a single sync at the end.
fn unpersist_entries(ctx: &mut Context<'_, Msg>, from: u64, to: u64) {
    for index in from..=to {
        let durability = if index == to {
            Durability::Synced
        } else {
            Durability::Buffered
        };
        ctx.unpersist(log_key(index), durability);
    }
}

/// The voter set a cluster of `n` starts with under `config`.
fn initial_voters(config: &RaftConfig, n: usize) -> Option<u64> {
    (config.voters > 0 && config.voters < n && config.voters <= 64)
        .then(|| u64::MAX >> (64 - config.voters))
}

impl RaftNode {
    fn is_voter(&self, node: NodeId) -> bool {
        self.voters
            .is_none_or(|v| node.0 < 64 && (v >> node.0) & 1 == 1)
    }

    fn voter_count(&self) -> usize {
        self.voters.map_or(self.n, |v| v.count_ones() as usize)
    }

    fn majority(&self) -> usize {
        cluster::majority(self.voter_count())
    }

    /// The highest value that a majority of voters has reached, from `per_node` (this
    /// node's own entry replaced by `own`).
    fn quorum_value(&self, per_node: &[u64], own: u64) -> u64 {
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
    fn voters_among<'a>(&self, nodes: impl IntoIterator<Item = &'a NodeId>) -> usize {
        nodes.into_iter().filter(|&&n| self.is_voter(n)).count()
    }

    /// The latest voter set at or before `index` and where it was set, from the log or
    /// else the snapshot; `None`: the initial one.
    fn config_through(&self, index: u64) -> Option<(u64, u64)> {
        self.log
            .latest_config_through(index)
            .or_else(|| self.snapshot.as_ref().and_then(|s| s.config))
    }

    /// Take the voter set from the latest configuration in the log or the snapshot
    /// (after a boot, a truncation or an installed snapshot), or the initial one.
    fn reload_config(&mut self) {
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

    fn peers(&self) -> impl Iterator<Item = NodeId> + use<> {
        cluster::peers(self.id, self.n)
    }

    fn arm_election(&self, ctx: &mut Context<'_, Msg>) {
        cluster::arm_election(ctx, ELECTION, self.config.election_timeout);
    }

    fn lease(&self) -> Duration {
        let nanos = dsys_node::duration_nanos(self.config.election_timeout);
        Duration::from_nanos(nanos / 1000 * self.config.lease_permille)
    }

    fn persist_term_and_vote(&self, ctx: &mut Context<'_, Msg>) {
        cluster::persist_term_and_vote(ctx, (TERM_KEY, self.term), (VOTE_KEY, self.voted_for));
    }

    /// Step down to follower of `leader` in `term` (raising the term if newer). A leader
    /// answers what it was holding: updates may still commit (indeterminate), reads did
    /// not happen (redirect).
    fn become_follower(&mut self, ctx: &mut Context<'_, Msg>, term: u64, leader: Option<NodeId>) {
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

    fn start_pre_vote(&mut self, ctx: &mut Context<'_, Msg>) {
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

    fn start_election(&mut self, ctx: &mut Context<'_, Msg>, transfer: bool) {
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
    fn maybe_win(&mut self, ctx: &mut Context<'_, Msg>) {
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

    fn append_local(&mut self, ctx: &mut Context<'_, Msg>, entry: Entry) -> u64 {
        let index = self.log.push(entry);
        ctx.persist(log_key(index), encode(&entry), Durability::Synced);
        if let Command::Config { voters } = entry.command {
            self.voters = Some(voters);
            self.config_index = index;
        }
        index
    }

    fn become_leader(&mut self, ctx: &mut Context<'_, Msg>) {
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

    /// The next voter set of the rotation: add the node after the voter window on the
    /// ring, or, once the window is one larger than it started, remove its first node.
    fn next_voters(&self) -> Option<u64> {
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
    fn propose_change(&mut self, ctx: &mut Context<'_, Msg>) {
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

    /// Send every follower what it lacks (or a heartbeat), as a new round.
    fn broadcast(&mut self, ctx: &mut Context<'_, Msg>) {
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
    fn send_entries(&mut self, ctx: &mut Context<'_, Msg>, peer: NodeId) {
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
            Msg::Append {
                term: self.term,
                prev_index,
                prev_term: self.log.term_at(prev_index).unwrap_or(0),
                entries,
                commit: self.commit,
                round: l.round,
            },
        );
    }

    /// The highest index a majority matches, if it is of this term (§5.4.2).
    fn advance_commit(&mut self, ctx: &mut Context<'_, Msg>) {
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
    fn apply_committed(&mut self, ctx: &mut Context<'_, Msg>) {
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

    /// Answer the reads whose round a majority acknowledged and whose index is applied.
    fn serve_reads(&mut self, ctx: &mut Context<'_, Msg>) {
        let (Some(confirmed), applied) = (self.confirmed_round(), self.applied) else {
            return;
        };
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let (ready, waiting): (Vec<PendingRead>, Vec<PendingRead>) = l
            .reads
            .iter()
            .partition(|r| r.round <= confirmed && r.read_index <= applied);
        l.reads = waiting;
        for read in ready {
            self.stats.read_index_reads += 1;
            let (response, _) = self.state.data.decide(read.op);
            ctx.reply(read.request, response);
        }
    }

    /// The latest heartbeat round a majority of voters acknowledged, if this node leads.
    fn confirmed_round(&self) -> Option<u64> {
        let Role::Leader(l) = &self.role else {
            return None;
        };
        Some(self.quorum_value(&l.acked_round, l.round))
    }

    /// Extend the lease from the latest round a majority acknowledged.
    fn extend_lease(&mut self) {
        let (Some(confirmed), lease) = (self.confirmed_round(), self.lease()) else {
            return;
        };
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        if let Some(&sent) = l.round_sent.get(&confirmed) {
            l.lease_until = l.lease_until.max(sent.saturating_add(lease));
        }
        l.round_sent = l.round_sent.split_off(&confirmed);
    }

    fn on_read(&mut self, ctx: &mut Context<'_, Msg>, request: Request) {
        let Role::Leader(l) = &mut self.role else {
            return;
        };
        let read_index = self.commit.max(l.noop_index);
        if self.config.reads == ReadPath::Lease
            && ctx.now() < l.lease_until
            && self.applied >= read_index
        {
            self.stats.lease_reads += 1;
            let (response, _) = self.state.data.decide(request.op);
            ctx.reply(request.id, response);
            return;
        }
        l.reads.push(PendingRead {
            request: request.id,
            op: request.op,
            read_index,
            round: l.round + 1,
        });
        self.broadcast(ctx);
        if self.n == 1 {
            self.serve_reads(ctx);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        from: NodeId,
        term: u64,
        prev_index: u64,
        prev_term: u64,
        entries: Vec<Entry>,
        commit: u64,
        round: u64,
    ) {
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

    fn on_append_reply(
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
        if behind {
            self.send_entries(ctx, from);
        }
        self.extend_lease();
        self.advance_commit(ctx);
        self.serve_reads(ctx);
    }

    /// Take `from` as the leader of `term` and re-arm the election timer, unless `term` is
    /// stale: then tell the sender this node's term (answering `round`) and return false.
    fn follow(&mut self, ctx: &mut Context<'_, Msg>, from: NodeId, term: u64, round: u64) -> bool {
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

    /// Replace what the leader's snapshot covers: the state machine, and the log up to its
    /// index (keeping the entries after it if the log agrees with it there).
    fn on_install_snapshot(
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
    fn compact_if_due(&mut self, ctx: &mut Context<'_, Msg>) {
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

    /// Whether this node leads or has heard from a leader since its election timer last
    /// fired: then it grants neither pre-votes nor votes (leader stickiness).
    fn leader_alive(&self) -> bool {
        self.heard_leader || matches!(self.role, Role::Leader(_))
    }
}

impl Node for RaftNode {
    type Message = Msg;
    type Config = RaftConfig;

    fn boot(config: &RaftConfig, id: NodeId, n: usize, storage: &Storage) -> Self {
        let stored = storage.get(SNAPSHOT_KEY);
        let snapshot = stored.and_then(snapshot::decode).map(Arc::new);
        // An unreadable snapshot is counted and otherwise ignored, like a malformed log
        // entry: the node boots with what it can read.
        let unreadable_snapshots = u64::from(stored.is_some() && snapshot.is_none());
        let first = snapshot.as_ref().map_or(1, |s| s.index + 1);
        let entries = cluster::load_sequence_from(storage, LOG_PREFIX, first, |_, v| decode(v));
        let (log, state) = match &snapshot {
            Some(s) => (
                Log::after_snapshot(s.index, s.term, s.prefix_hash, entries),
                s.state.clone(),
            ),
            None => (Log::from_entries(entries), StateMachine::default()),
        };
        // The snapshot holds only committed, applied entries.
        let applied = log.snapshot_index();
        let voted_for = cluster::load_vote(storage, VOTE_KEY);
        let mut node = RaftNode {
            config: *config,
            id,
            n,
            term: storage.get_u64(TERM_KEY).unwrap_or(0),
            voted_for,
            log,
            commit: applied,
            applied,
            state,
            role: Role::Follower { leader: None },
            // A restarted node may have acknowledged a leader's lease just before it went
            // down: it waits out one election timeout before it votes.
            heard_leader: true,
            voters: None,
            config_index: 0,
            snapshot,
            stats: Stats {
                unreadable_snapshots,
                ..Stats::default()
            },
        };
        node.reload_config();
        node
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
        self.arm_election(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Msg>, from: NodeId, msg: Msg) {
        self.compact_if_due(ctx);
        match msg {
            Msg::PreVote {
                term,
                last_index,
                last_term,
            } => {
                let granted = term > self.term
                    && !self.leader_alive()
                    && self.log.candidate_up_to_date(last_term, last_index);
                ctx.send(
                    from,
                    Msg::PreVoteReply {
                        term,
                        granted,
                        current: self.term,
                    },
                );
            }
            Msg::PreVoteReply {
                term,
                granted,
                current,
            } => {
                if current > self.term {
                    self.become_follower(ctx, current, None);
                } else if let Role::PreCandidate { granted: votes } = &mut self.role
                    && granted
                    && term == self.term + 1
                {
                    votes.insert(from);
                    self.maybe_win(ctx);
                }
            }
            Msg::Vote {
                term,
                last_index,
                last_term,
                transfer,
            } => {
                // A node that knows a live leader ignores the request, term and all: a
                // candidate that a majority follows would have won its pre-vote. A
                // handover comes from that leader itself, which has stopped leading.
                let alive = self.leader_alive() && !transfer;
                if term > self.term && !alive {
                    self.become_follower(ctx, term, None);
                }
                let granted = term == self.term
                    && !alive
                    && self.log.candidate_up_to_date(last_term, last_index)
                    && self.voted_for.is_none_or(|v| v == from);
                if granted {
                    self.voted_for = Some(from);
                    self.persist_term_and_vote(ctx);
                    self.arm_election(ctx);
                }
                ctx.send(
                    from,
                    Msg::VoteReply {
                        term: self.term,
                        granted,
                    },
                );
            }
            Msg::VoteReply { term, granted } => {
                if term > self.term {
                    self.become_follower(ctx, term, None);
                } else if let Role::Candidate { granted: votes } = &mut self.role
                    && granted
                    && term == self.term
                {
                    votes.insert(from);
                    self.maybe_win(ctx);
                }
            }
            Msg::Append {
                term,
                prev_index,
                prev_term,
                entries,
                commit,
                round,
            } => self.on_append(
                ctx, from, term, prev_index, prev_term, entries, commit, round,
            ),
            Msg::AppendReply {
                term,
                success,
                index,
                round,
            } => self.on_append_reply(ctx, from, term, success, index, round),
            Msg::InstallSnapshot {
                term,
                snapshot,
                round,
            } => self.on_install_snapshot(ctx, from, term, snapshot, round),
            Msg::TimeoutNow { term } => {
                if term == self.term
                    && self.is_voter(self.id)
                    && matches!(self.role, Role::Follower { .. })
                {
                    self.start_election(ctx, true);
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Msg>, timer: TimerId) {
        self.compact_if_due(ctx);
        match (timer, &mut self.role) {
            (HEARTBEAT, Role::Leader(_)) => {
                self.broadcast(ctx);
                ctx.set_timer(HEARTBEAT, self.config.heartbeat);
            }
            (ELECTION, Role::Leader(l)) => {
                // Check quorum: step down if a majority has gone quiet.
                let mut heard = std::mem::take(&mut l.heard);
                heard.insert(self.id);
                if self.voters_among(&heard) < self.majority() {
                    let term = self.term;
                    self.become_follower(ctx, term, None);
                } else {
                    ctx.set_timer(ELECTION, self.config.election_timeout);
                }
            }
            (ELECTION, _) => {
                // A whole timeout without a leader (every append re-arms the timer).
                self.heard_leader = false;
                self.arm_election(ctx);
                // Learners follow the log but never stand for election.
                if self.is_voter(self.id) {
                    self.start_pre_vote(ctx);
                }
            }
            (MEMBERSHIP, Role::Leader(_)) => {
                self.propose_change(ctx);
                if let Some(every) = self.config.rotate_every {
                    ctx.set_timer(MEMBERSHIP, every);
                }
            }
            _ => {}
        }
    }

    fn on_request(&mut self, ctx: &mut Context<'_, Msg>, request: Request) {
        self.compact_if_due(ctx);
        let is_read = matches!(request.op, Op::Read { .. });
        if is_read && self.config.reads == ReadPath::Local {
            let (response, _) = self.state.data.decide(request.op);
            ctx.reply(request.id, response);
            return;
        }
        if !matches!(
            request.op,
            Op::Read { .. } | Op::Write { .. } | Op::Cas { .. }
        ) {
            // Registers only (see `kv::decide`).
            ctx.reply(request.id, Response::Unavailable);
            return;
        }
        if !matches!(self.role, Role::Leader(_)) {
            let leader = match self.role {
                Role::Follower { leader } => leader,
                _ => None,
            };
            ctx.reply(request.id, Response::Redirect { leader });
            return;
        }
        if is_read {
            self.on_read(ctx, request);
            return;
        }
        let index = self.append_local(
            ctx,
            Entry {
                term: self.term,
                command: Command::Client {
                    request: request.id,
                    op: request.op,
                },
            },
        );
        if let Role::Leader(l) = &mut self.role {
            l.waiting.insert(index, request.id);
            l.matched[self.id.index()] = index;
        }
        self.broadcast(ctx);
        self.advance_commit(ctx);
    }

    fn leader(&self) -> Option<NodeId> {
        match &self.role {
            Role::Leader(_) => Some(self.id),
            Role::Follower { leader } => *leader,
            _ => None,
        }
    }

    fn replica_digest(&self) -> Option<u64> {
        Some(self.state.data.digest())
    }

    fn monitor(_: &RaftConfig, n: usize) -> Option<Box<dyn dsys_node::Monitor<Self>>> {
        Some(Box::new(RaftMonitor::new(n)))
    }

    fn metrics(&self) -> Vec<(&'static str, u64)> {
        let s = &self.stats;
        let mut metrics = vec![
            ("elections started", s.elections),
            ("leaderships won", s.won),
            ("entries truncated", s.truncated),
            ("lease reads", s.lease_reads),
            ("read-index reads", s.read_index_reads),
            ("step-downs", s.step_downs),
            ("membership changes proposed", s.changes_proposed),
            ("snapshots taken", s.snapshots_taken),
            ("snapshots sent", s.snapshots_sent),
            ("snapshots installed", s.snapshots_installed),
        ];
        if s.unreadable_snapshots > 0 {
            metrics.push(("unreadable snapshots at boot", s.unreadable_snapshots));
        }
        metrics
    }
}

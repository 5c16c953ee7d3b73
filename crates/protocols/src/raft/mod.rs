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

mod compaction;
mod election;
mod log;
mod membership;
mod messages;
mod monitor;
mod reads;
mod replication;
mod snapshot;
#[cfg(test)]
mod tests;

pub use log::{Command, Entry, Log, decode, encode};
pub use messages::{AppendEntries, RaftMessage};
pub use monitor::RaftMonitor;
use reads::PendingRead;
pub use snapshot::Snapshot;
use snapshot::StateMachine;

use crate::cluster;
use dsys_node::{
    AfterFailedWrite, Context, Durability, Duration, Instant, Node, NodeId, Op, Request, RequestId,
    Response, Storage, TimerId,
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
    /// Node 0 leads whenever it can: another leader hands over to it (`TimeoutNow`, §3.10)
    /// once it has the whole log, as a leader preference does (the leader where a design
    /// places it).
    pub prefer_first: bool,
    /// How log entries are written: `Synced` (fsynced before the node acknowledges
    /// them, as Raft requires) or `Buffered` (acknowledged before they are fsynced; they
    /// reach the disk with the next synced write — a vote or a term — or die in a crash).
    pub durability: Durability,
    /// What a failed write does to the node: `Crash` (stop, and recover from the log,
    /// as PostgreSQL has since 2018) or `Continue` (carry on as if it had succeeded).
    pub on_failed_write: AfterFailedWrite,
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
            prefer_first: false,
            durability: Durability::Synced,
            on_failed_write: AfterFailedWrite::Crash,
        }
    }
}

type Msg = RaftMessage;

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
    /// Whether this leader has handed over to the preferred node (`prefer_first`).
    handed_over: bool,
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
    handovers: u64,
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

impl RaftNode {
    fn peers(&self) -> impl Iterator<Item = NodeId> + use<> {
        cluster::peers(self.id, self.n)
    }

    fn arm_election(&self, ctx: &mut Context<'_, Msg>) {
        cluster::arm_election(ctx, ELECTION, self.config.election_timeout);
    }

    fn persist_term_and_vote(&self, ctx: &mut Context<'_, Msg>) {
        cluster::persist_term_and_vote(ctx, (TERM_KEY, self.term), (VOTE_KEY, self.voted_for));
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
            Msg::Append(append) => self.on_append(ctx, from, append),
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

    fn on_failed_write(&self) -> AfterFailedWrite {
        self.config.on_failed_write
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
        if s.handovers > 0 {
            metrics.push(("handovers to the preferred leader", s.handovers));
        }
        if s.unreadable_snapshots > 0 {
            metrics.push(("unreadable snapshots at boot", s.unreadable_snapshots));
        }
        metrics
    }
}

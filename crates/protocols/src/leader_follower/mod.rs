//! `leader-follower`: one leader takes writes and replicates its log to followers;
//! failover by heartbeat timeout promotes the most up-to-date reachable follower.
//!
//! Options (DESIGN.md's `--set` keys):
//! - `replication`: `sync` (every follower acknowledges before the client is answered),
//!   `semi-sync` with `acks=K` (K followers), or `async` (the leader answers at once);
//! - `reads`: `leader` (followers redirect) or `any` (every replica answers from its copy);
//! - `fencing`: `on` (replicas and leaders reject anything from an older epoch; a leader
//!   that learns of a newer epoch steps down) or `off` (epochs are ignored: two leaders can
//!   both accept writes, and followers take whatever either sends).
//!
//! - `ship-interval` (async only): the leader ships its log to followers in one batch every
//!   interval, as a binlog dump or WAL sender that wakes up for new entries does, so
//!   followers lag by up to an interval and a leader that crashes takes the writes it
//!   acknowledged but had not shipped with it. Zero ships each write the moment it is
//!   acknowledged: nothing acknowledged is ever only on the leader, which no real
//!   asynchronous system achieves. Sync and semi-sync ship each write at once, since the
//!   client waits for it.
//!
//! Elections need a majority of votes, and a node votes only for a candidate whose log is
//! at least as up to date as its own, so the promoted node is the most up-to-date one the
//! majority can reach. The log is reconciled like Raft's: a follower truncates entries that
//! conflict with the leader's, which is where acknowledged but unreplicated writes vanish.

use crate::cluster;
use crate::kv::KvData;
use dsys_node::{
    Context, Durability, Duration, Key, Node, NodeId, Op, Request, RequestId, Response, Storage,
    TimerId, Value, decode_u64,
};
use std::collections::{BTreeMap, BTreeSet};

mod election;
mod replication;

const HEARTBEAT: TimerId = 1;
const ELECTION: TimerId = 2;
const SHIP: TimerId = 3;
const MAX_BATCH: usize = 64;
const EPOCH_KEY: &[u8] = b"epoch";
const VOTE_KEY: &[u8] = b"vote";
const LOG_PREFIX: &[u8] = b"log/";

/// How many followers must acknowledge a write before the client hears it succeeded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Replication {
    /// Every follower.
    Sync,
    /// This many followers.
    SemiSync {
        /// Acknowledgements needed.
        acks: usize,
    },
    /// None: the leader answers as soon as it has written locally.
    Async,
}

/// Settings of `leader-follower`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LeaderFollowerConfig {
    /// Acknowledgements before answering a write.
    pub replication: Replication,
    /// Whether followers answer reads from their own copy.
    pub reads_from_any: bool,
    /// Whether epochs fence off stale leaders.
    pub fencing: bool,
    /// Leader heartbeat and catch-up period.
    pub heartbeat: Duration,
    /// A follower that hears nothing for this long (randomised up to twice as long)
    /// starts an election.
    pub election_timeout: Duration,
    /// With [`Replication::Async`]: how often the leader ships new log entries to its
    /// followers, in one batch. Zero ships each write at once.
    pub ship_interval: Duration,
}

impl Default for LeaderFollowerConfig {
    fn default() -> Self {
        LeaderFollowerConfig {
            replication: Replication::Async,
            reads_from_any: false,
            fencing: true,
            heartbeat: Duration::from_millis(50),
            election_timeout: Duration::from_millis(300),
            ship_interval: Duration::from_millis(10),
        }
    }
}

/// One log entry: a write of `value` to `key`, made in `epoch`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Entry {
    /// The epoch of the leader that made it.
    pub epoch: u64,
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Value,
}

/// Messages of `leader-follower`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum LeaderFollowerMessage {
    /// Leader to follower: entries after `prev_index` (whose epoch was `prev_epoch`).
    Append {
        /// The leader's epoch.
        epoch: u64,
        /// Index just before the first entry.
        prev_index: u64,
        /// Epoch of that entry (0 for none).
        prev_epoch: u64,
        /// The entries.
        entries: Vec<Entry>,
        /// The leader's log length: a follower that has caught up drops anything after it
        /// (entries of a deposed leader that no one will ever overwrite).
        leader_len: u64,
    },
    /// Follower to leader: how far the follower's log now matches.
    AppendReply {
        /// The follower's epoch.
        epoch: u64,
        /// Whether the entries were taken.
        success: bool,
        /// The follower's last index that matches the leader's log.
        match_index: u64,
    },
    /// Candidate to all: vote for me in `epoch`.
    Promote {
        /// The epoch the candidate wants to lead.
        epoch: u64,
        /// Epoch of the candidate's last entry.
        last_epoch: u64,
        /// Index of the candidate's last entry.
        last_index: u64,
    },
    /// The answer to a [`LeaderFollowerMessage::Promote`].
    PromoteReply {
        /// The voter's epoch.
        epoch: u64,
        /// Whether the vote is granted.
        granted: bool,
    },
}

type Msg = LeaderFollowerMessage;

#[derive(Debug)]
enum Role {
    Leader {
        /// Per follower: highest index known to match.
        matched: Vec<u64>,
        /// Writes waiting for acknowledgements: log index -> (request, answer).
        waiting: BTreeMap<u64, (RequestId, Response)>,
    },
    Follower {
        leader: Option<NodeId>,
    },
    Candidate {
        votes: BTreeSet<NodeId>,
    },
}

/// A node of the `leader-follower` protocol.
#[derive(Debug)]
pub struct LeaderFollowerNode {
    config: LeaderFollowerConfig,
    id: NodeId,
    n: usize,
    epoch: u64,
    voted_for: Option<NodeId>,
    log: Vec<Entry>,
    data: KvData,
    role: Role,
    /// Elections this node started, leaderships it won, log entries it truncated.
    counters: [u64; 3],
}

const ELECTIONS: usize = 0;
const WON: usize = 1;
const TRUNCATED: usize = 2;

fn log_key(index: u64) -> Vec<u8> {
    cluster::indexed_key(LOG_PREFIX, index)
}

fn encode(e: &Entry) -> Vec<u8> {
    [
        e.epoch.to_be_bytes(),
        e.key.to_be_bytes(),
        e.value.to_be_bytes(),
    ]
    .concat()
}

fn decode(bytes: &[u8]) -> Option<Entry> {
    if bytes.len() != 24 {
        return None;
    }
    Some(Entry {
        epoch: decode_u64(&bytes[..8])?,
        key: decode_u64(&bytes[8..16])?,
        value: decode_u64(&bytes[16..])?,
    })
}

impl LeaderFollowerNode {
    fn majority(&self) -> usize {
        cluster::majority(self.n)
    }

    fn last(&self) -> (u64, u64) {
        (
            self.log.last().map_or(0, |e| e.epoch),
            self.log.len() as u64,
        )
    }

    fn peers(&self) -> impl Iterator<Item = NodeId> + use<> {
        cluster::peers(self.id, self.n)
    }

    fn arm_election(&self, ctx: &mut Context<'_, Msg>) {
        cluster::arm_election(ctx, ELECTION, self.config.election_timeout);
    }

    fn persist_epoch(&self, ctx: &mut Context<'_, Msg>) {
        cluster::persist_term_and_vote(ctx, (EPOCH_KEY, self.epoch), (VOTE_KEY, self.voted_for));
    }

    /// Truncate the log to `len` entries and rebuild the data from what is left.
    fn truncate(&mut self, ctx: &mut Context<'_, Msg>, len: usize) {
        for index in len as u64 + 1..=self.log.len() as u64 {
            ctx.unpersist(log_key(index), Durability::Buffered);
        }
        self.counters[TRUNCATED] += (self.log.len() - len.min(self.log.len())) as u64;
        self.log.truncate(len);
        self.data = KvData::default();
        for e in &self.log {
            self.data.set(e.key, e.value);
        }
    }

    fn append_local(&mut self, ctx: &mut Context<'_, Msg>, entry: Entry) -> u64 {
        self.log.push(entry);
        self.data.set(entry.key, entry.value);
        let index = self.log.len() as u64;
        ctx.persist(log_key(index), encode(&entry), Durability::Synced);
        index
    }
}

impl Node for LeaderFollowerNode {
    type Message = Msg;
    type Config = LeaderFollowerConfig;

    fn boot(config: &LeaderFollowerConfig, id: NodeId, n: usize, storage: &Storage) -> Self {
        let log = cluster::load_sequence(storage, LOG_PREFIX, |_, v| decode(v));
        let mut data = KvData::default();
        for e in &log {
            data.set(e.key, e.value);
        }
        let voted_for = cluster::load_vote(storage, VOTE_KEY);
        LeaderFollowerNode {
            config: *config,
            id,
            n,
            epoch: storage.get_u64(EPOCH_KEY).unwrap_or(0),
            voted_for,
            log,
            data,
            role: Role::Follower { leader: None },
            counters: [0; 3],
        }
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
        if self.epoch == 0 {
            // A fresh cluster starts with node 0 leading epoch 1, without an election.
            self.epoch = 1;
            self.voted_for = Some(NodeId(0));
            self.persist_epoch(ctx);
            if self.id == NodeId(0) {
                self.become_leader(ctx);
                return;
            }
            self.role = Role::Follower {
                leader: Some(NodeId(0)),
            };
        }
        self.arm_election(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Append {
                epoch,
                prev_index,
                prev_epoch,
                entries,
                leader_len,
            } => self.on_append(
                ctx, from, epoch, prev_index, prev_epoch, entries, leader_len,
            ),
            Msg::AppendReply {
                epoch,
                success,
                match_index,
            } => self.on_append_reply(ctx, from, epoch, success, match_index),
            Msg::Promote {
                epoch,
                last_epoch,
                last_index,
            } => self.on_promote(ctx, from, epoch, last_epoch, last_index),
            Msg::PromoteReply { epoch, granted } => {
                self.on_promote_reply(ctx, from, epoch, granted)
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Msg>, timer: TimerId) {
        match (timer, &self.role) {
            (HEARTBEAT, Role::Leader { matched, .. }) => {
                let behind: Vec<(NodeId, u64)> =
                    self.peers().map(|p| (p, matched[p.index()])).collect();
                for (peer, from) in behind {
                    self.send_append(ctx, peer, from);
                }
                ctx.set_timer(HEARTBEAT, self.config.heartbeat);
            }
            (SHIP, Role::Leader { .. }) => {
                self.ship(ctx);
                ctx.set_timer(SHIP, self.config.ship_interval);
            }
            (ELECTION, Role::Follower { .. } | Role::Candidate { .. }) => self.start_election(ctx),
            _ => {}
        }
    }

    fn on_request(&mut self, ctx: &mut Context<'_, Msg>, request: Request) {
        let leader_hint = match &self.role {
            Role::Leader { .. } => None,
            Role::Follower { leader } => Some(*leader),
            Role::Candidate { .. } => Some(None),
        };
        let is_read = matches!(request.op, Op::Read { .. });
        if let Some(leader) = leader_hint
            && !(is_read && self.config.reads_from_any)
        {
            ctx.reply(request.id, Response::Redirect { leader });
            return;
        }
        let (response, write) = self.data.decide(request.op);
        let Some((key, value)) = write else {
            ctx.reply(request.id, response);
            return;
        };
        let index = self.append_local(
            ctx,
            Entry {
                epoch: self.epoch,
                key,
                value,
            },
        );
        if !self.ships_in_batches() {
            for peer in self.peers() {
                self.send_append(ctx, peer, index - 1);
            }
        }
        if self.acks_needed() == 0 {
            ctx.reply(request.id, response);
        } else if let Role::Leader { waiting, .. } = &mut self.role {
            waiting.insert(index, (request.id, response));
        }
    }

    fn leader(&self) -> Option<NodeId> {
        match &self.role {
            Role::Leader { .. } => Some(self.id),
            Role::Follower { leader } => *leader,
            Role::Candidate { .. } => None,
        }
    }

    fn replica_digest(&self) -> Option<u64> {
        Some(self.data.digest())
    }

    fn metrics(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("elections started", self.counters[ELECTIONS]),
            ("leaderships won", self.counters[WON]),
            ("entries truncated", self.counters[TRUNCATED]),
        ]
    }
}

//! `leaderless` (Dynamo-style): each key lives on `N` home replicas of a hash ring; the
//! node a client asks coordinates the request, sending it to the key's replicas and
//! answering once `W` of them acknowledged a write or `R` of them answered a read.
//!
//! - **Versions** are ordered by hybrid-logical-clock timestamp (last writer wins) or by
//!   vector clock, in which case concurrent writes are kept as siblings, a read returns
//!   all of them ([`Response::ReadSiblings`]); a write then first reads a quorum and
//!   supersedes what that read found (the context a Dynamo client fetches before it
//!   puts), so it costs a read round more than under timestamps.
//! - **Sloppy quorum:** a home replica that has not answered within `fallback_after` is
//!   replaced by the next node of the key's preference list, which keeps the write as a
//!   *hint* for the missing replica and hands it off once that replica answers again.
//!   Reads are borrowed the same way: a fallback answers from its hints, which is how
//!   stale reads appear on the minority side of a partition.
//! - **Read repair:** replicas that answered a read with older versions are sent the
//!   merged ones.
//! - **Anti-entropy:** every `anti_entropy_interval` a node compares a Merkle tree of the
//!   keys it shares with one peer and the two exchange the differing ranges.
//! - **Compare-and-set** is a quorum read followed by a quorum write. It is not atomic —
//!   two concurrent ones can both succeed — and the checkers show it.
//!
//! A write that reached fewer than `W` replicas before `request_timeout` is answered
//! [`Response::Indeterminate`]: it may have been stored on some replicas and may still
//! surface. A read that gathered fewer than `R` answers is [`Response::Unavailable`].
//!
//! By concern: the node, its config and messages here (placement on the ring in
//! [`crate::ring`]); coordinating quorums in `quorum`; read repair in `read_repair`;
//! sloppy quorums and hinted handoff in `handoff`; Merkle anti-entropy in `anti_entropy`.

pub use crate::crdt::{Siblings, Version, VersionMode};

use crate::clock::Hlc;
use crate::merkle::MerkleTree;
use crate::ring::{self, LEADERLESS_VNODES};
use dsys_node::{
    Context, Durability, Duration, Key, KeyDigests, Node, NodeId, Op, Request, Response, Storage,
    TimerId, Value,
};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

mod anti_entropy;
mod handoff;
mod quorum;
mod read_repair;

use handoff::hint_key;
use quorum::{Pending, Stage};

const ANTI_ENTROPY: TimerId = 1;
const HANDOFF: TimerId = 2;
/// Per-request timers are `FIRST_REQUEST_TIMER + 2 * tag (+ 1 for the deadline)`.
const FIRST_REQUEST_TIMER: TimerId = 16;
const DATA_PREFIX: &[u8] = b"kv/";
const HINT_PREFIX: &[u8] = b"hint/";
const COUNTER_KEY: &[u8] = b"vc-counter";
/// Merkle trees of 64 leaves: fine enough for the simulated key spaces.
const MERKLE_DEPTH: u32 = 6;

/// Settings of `leaderless`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LeaderlessConfig {
    /// Home replicas per key (N).
    pub replicas: usize,
    /// Acknowledgements a write waits for (W).
    pub write_quorum: usize,
    /// Answers a read waits for (R).
    pub read_quorum: usize,
    /// How versions are ordered.
    pub versions: VersionMode,
    /// Borrow fallback nodes for home replicas that do not answer (with hinted handoff).
    pub sloppy_quorum: bool,
    /// Send merged versions to replicas that answered a read with older ones.
    pub read_repair: bool,
    /// Exchange Merkle trees with peers to repair what reads never touch.
    pub anti_entropy: bool,
    /// Time between anti-entropy rounds (one peer per round).
    pub anti_entropy_interval: Duration,
    /// Time between attempts to hand hints off to their home replicas.
    pub handoff_interval: Duration,
    /// How long a home replica may stay silent before a fallback is asked instead.
    pub fallback_after: Duration,
    /// How long a coordinator waits for its quorum.
    pub request_timeout: Duration,
}

impl Default for LeaderlessConfig {
    fn default() -> Self {
        LeaderlessConfig {
            replicas: 3,
            write_quorum: 2,
            read_quorum: 2,
            versions: VersionMode::Timestamp,
            sloppy_quorum: false,
            read_repair: true,
            anti_entropy: true,
            anti_entropy_interval: Duration::from_millis(200),
            handoff_interval: Duration::from_millis(100),
            fallback_after: Duration::from_millis(100),
            request_timeout: Duration::from_millis(300),
        }
    }
}

/// Messages of `leaderless`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum LeaderlessMessage {
    /// Store `siblings` of `key`, as a home replica (`hint: None`) or as a fallback
    /// holding them for `hint`. `tag` 0 asks for no acknowledgement (repairs).
    Put {
        /// The coordinator's request tag.
        tag: u64,
        /// The key.
        key: Key,
        /// The versions to merge in.
        siblings: Siblings,
        /// The home replica a fallback stores them for.
        hint: Option<NodeId>,
    },
    /// The versions were stored durably.
    PutAck {
        /// The request tag.
        tag: u64,
    },
    /// Send your versions of `key` (or those you hold for `hint`).
    Get {
        /// The coordinator's request tag.
        tag: u64,
        /// The key.
        key: Key,
        /// The home replica a fallback answers for.
        hint: Option<NodeId>,
    },
    /// The answer to a [`LeaderlessMessage::Get`].
    GetReply {
        /// The request tag.
        tag: u64,
        /// The versions held.
        siblings: Siblings,
    },
    /// A fallback hands the versions it held for the receiver back.
    Handoff {
        /// The key.
        key: Key,
        /// The hinted versions.
        siblings: Siblings,
    },
    /// The handed-off versions are stored; the fallback may drop its hint if unchanged.
    HandoffAck {
        /// The key.
        key: Key,
        /// Digest of what was handed off.
        digest: u64,
    },
    /// Anti-entropy, step 1: the Merkle tree of the keys sender and receiver share.
    SyncTree {
        /// The tree's depth.
        depth: u32,
        /// Its hashes ([`MerkleTree::hashes`]).
        hashes: Vec<u64>,
    },
    /// Step 2: the ring ranges whose trees differ, with the sender's versions in them.
    SyncRanges {
        /// Differing ranges of ring positions.
        ranges: Vec<(u64, u64)>,
        /// The sender's shared entries in those ranges.
        entries: Vec<(Key, Siblings)>,
    },
    /// Step 3: the initiator's shared entries in those ranges.
    SyncEntries {
        /// The entries.
        entries: Vec<(Key, Siblings)>,
    },
}

type Msg = LeaderlessMessage;

/// A node of the `leaderless` protocol.
#[derive(Debug)]
pub struct LeaderlessNode {
    config: LeaderlessConfig,
    id: NodeId,
    nodes: usize,
    /// Where keys live; `None` only without nodes.
    ring: Option<dsys_partition::Ring>,
    hlc: Hlc,
    /// Vector-clock counter of this node as a coordinator, across all keys (persisted).
    counter: u64,
    /// Keys this node is a home replica of.
    data: BTreeMap<Key, Siblings>,
    /// Versions held as a fallback, by (home replica, key).
    hints: BTreeMap<(NodeId, Key), Siblings>,
    pending: BTreeMap<u64, Pending>,
    next_tag: u64,
    /// Anti-entropy partner of the next round (index into the other nodes).
    next_sync_peer: usize,
    stats: Stats,
}

#[derive(Debug, Default)]
struct Stats {
    read_repairs: u64,
    hints_stored: u64,
    hints_handed_off: u64,
    anti_entropy_rounds: u64,
    anti_entropy_keys: u64,
    reads_with_siblings: u64,
}

fn data_key(key: Key) -> Vec<u8> {
    crate::cluster::indexed_key(DATA_PREFIX, key)
}

impl LeaderlessNode {
    fn mode(&self) -> VersionMode {
        self.config.versions
    }

    /// The key's home replicas.
    pub fn homes(&self, key: Key) -> Vec<NodeId> {
        ring::homes(self.ring.as_ref(), key, self.config.replicas)
    }

    /// Merge versions into this node's own copy of `key` (durably, if they changed it).
    fn store(&mut self, ctx: &mut Context<'_, Msg>, key: Key, siblings: &Siblings) -> bool {
        if siblings.is_empty() {
            return false;
        }
        for v in siblings.versions() {
            self.hlc.observe(v.stamp, ctx.now());
        }
        let mode = self.mode();
        let entry = self.data.entry(key).or_default();
        let changed = entry.merge(siblings, mode);
        if changed {
            ctx.persist(data_key(key), entry.encode(), Durability::Synced);
        }
        changed
    }

    /// What this node answers a `Get` with.
    fn lookup(&self, key: Key, hint: Option<NodeId>) -> Siblings {
        let held = match hint {
            None => self.data.get(&key),
            Some(home) => self.hints.get(&(home, key)),
        };
        held.cloned().unwrap_or_default()
    }
}

impl Node for LeaderlessNode {
    type Message = Msg;
    type Config = LeaderlessConfig;

    fn boot(config: &LeaderlessConfig, id: NodeId, nodes: usize, storage: &Storage) -> Self {
        let mut config = *config;
        config.replicas = config.replicas.clamp(1, nodes.max(1));
        let data: BTreeMap<Key, Siblings> = storage
            .scan_prefix(DATA_PREFIX)
            .filter_map(|(k, v)| {
                let key = dsys_node::decode_u64(&k[DATA_PREFIX.len()..])?;
                Some((key, Siblings::decode(v)?))
            })
            .collect();
        let hints = storage
            .scan_prefix(HINT_PREFIX)
            .filter_map(|(k, v)| {
                let rest = &k[HINT_PREFIX.len()..];
                let home = u32::from_be_bytes(rest.get(..4)?.try_into().ok()?);
                let key = dsys_node::decode_u64(rest.get(4..)?)?;
                Some(((NodeId(home), key), Siblings::decode(v)?))
            })
            .collect();
        let mut hlc = Hlc::default();
        for v in data.values().flat_map(Siblings::versions) {
            hlc.observe(v.stamp, dsys_node::Instant::ZERO);
        }
        LeaderlessNode {
            config,
            id,
            nodes,
            ring: ring::build(nodes, LEADERLESS_VNODES),
            hlc,
            counter: storage.get_u64(COUNTER_KEY).unwrap_or(0),
            data,
            hints,
            pending: BTreeMap::new(),
            next_tag: 1,
            next_sync_peer: id.index(),
            stats: Stats::default(),
        }
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
        if self.config.anti_entropy {
            ctx.set_timer(ANTI_ENTROPY, self.config.anti_entropy_interval);
        }
        ctx.set_timer(HANDOFF, self.config.handoff_interval);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Put {
                tag,
                key,
                siblings,
                hint,
            } => {
                match hint {
                    None if self.homes(key).contains(&self.id) => {
                        self.store(ctx, key, &siblings);
                    }
                    Some(home) if home != self.id && home.index() < self.nodes => {
                        self.store_hint(ctx, home, key, &siblings)
                    }
                    _ => return, // not ours to keep: no acknowledgement
                }
                if tag != 0 {
                    ctx.send(from, Msg::PutAck { tag });
                }
            }
            Msg::PutAck { tag } => self.on_put_ack(ctx, tag, from),
            Msg::Get { tag, key, hint } => {
                let siblings = self.lookup(key, hint);
                ctx.send(from, Msg::GetReply { tag, siblings });
            }
            Msg::GetReply { tag, siblings } => self.on_get_reply(ctx, tag, from, siblings),
            Msg::Handoff { key, siblings } => {
                if self.homes(key).contains(&self.id) {
                    self.store(ctx, key, &siblings);
                    ctx.send(
                        from,
                        Msg::HandoffAck {
                            key,
                            digest: siblings.digest(),
                        },
                    );
                }
            }
            Msg::HandoffAck { key, digest } => {
                // Drop the hint only if nothing new was added to it since it was sent.
                if self.hints.get(&(from, key)).map(Siblings::digest) == Some(digest) {
                    self.hints.remove(&(from, key));
                    self.stats.hints_handed_off += 1;
                    ctx.unpersist(hint_key(from, key), Durability::Synced);
                }
            }
            Msg::SyncTree { depth, hashes } => {
                let Some(theirs) = MerkleTree::from_hashes(depth, hashes) else {
                    return;
                };
                let mine = self.shared_tree(from);
                let Ok((ranges, _)) = mine.diff(&theirs) else {
                    return;
                };
                if ranges.is_empty() {
                    return;
                }
                let entries = self.shared_entries(from, Some(&ranges));
                let ranges = ranges.iter().map(|r| (*r.start(), *r.end())).collect();
                ctx.send(from, Msg::SyncRanges { ranges, entries });
            }
            Msg::SyncRanges { ranges, entries } => {
                let ranges: Vec<RangeInclusive<u64>> =
                    ranges.into_iter().map(|(a, b)| a..=b).collect();
                let mine = self.shared_entries(from, Some(&ranges));
                self.absorb(ctx, entries);
                ctx.send(from, Msg::SyncEntries { entries: mine });
            }
            Msg::SyncEntries { entries } => self.absorb(ctx, entries),
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Msg>, timer: TimerId) {
        match timer {
            ANTI_ENTROPY => {
                self.start_sync(ctx);
                ctx.set_timer(ANTI_ENTROPY, self.config.anti_entropy_interval);
            }
            HANDOFF => {
                self.hand_off(ctx);
                ctx.set_timer(HANDOFF, self.config.handoff_interval);
            }
            t if t >= FIRST_REQUEST_TIMER => {
                let tag = (t - FIRST_REQUEST_TIMER) / 2;
                if (t - FIRST_REQUEST_TIMER) % 2 == 1 {
                    self.on_deadline(ctx, tag);
                } else {
                    self.borrow_fallbacks(ctx, tag);
                }
            }
            _ => {}
        }
    }

    fn on_request(&mut self, ctx: &mut Context<'_, Msg>, request: Request) {
        let tag = self.next_tag;
        self.next_tag += 1;
        let (stage, write) = match request.op {
            Op::Increment { .. } | Op::Insert { .. } | Op::Remove { .. } => {
                // Registers only (see `kv::decide`).
                ctx.reply(request.id, Response::Unavailable);
                return;
            }
            // A blind write under last-writer-wins: its timestamp orders it.
            Op::Write { value, .. } if self.mode() == VersionMode::Timestamp => (
                Stage::Write,
                self.new_version(ctx, value, &Siblings::default()),
            ),
            // Under vector clocks a write first reads a quorum, so that it supersedes what
            // it read (the context a Dynamo client fetches before it puts).
            Op::Write { .. } | Op::Read { .. } | Op::Cas { .. } => {
                (Stage::Read, Siblings::default())
            }
        };
        self.pending.insert(
            tag,
            Pending {
                request,
                stage,
                asked: Vec::new(),
                answered_for: BTreeSet::new(),
                replies: Vec::new(),
                merged: Siblings::default(),
                write,
                done: false,
            },
        );
        self.start_stage(ctx, tag, stage);
    }

    fn key_digests(&self) -> Option<KeyDigests> {
        Some(KeyDigests {
            entries: self.data.iter().map(|(k, s)| (*k, s.digest())).collect(),
            handoffs_pending: self.hints.len(),
        })
    }

    fn is_replica_of(&self, key: Key) -> bool {
        self.homes(key).contains(&self.id)
    }

    fn metrics(&self) -> Vec<(&'static str, u64)> {
        let s = &self.stats;
        vec![
            ("read repairs", s.read_repairs),
            ("hints stored", s.hints_stored),
            ("hints handed off", s.hints_handed_off),
            ("anti-entropy rounds", s.anti_entropy_rounds),
            ("anti-entropy keys repaired", s.anti_entropy_keys),
            ("reads with siblings", s.reads_with_siblings),
        ]
    }
}

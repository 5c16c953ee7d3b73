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

pub use crate::crdt::{Siblings, Version, VersionMode};

use crate::clock::Hlc;
use crate::merkle::MerkleTree;
use crate::ring::{DEFAULT_VNODES, Ring};
use dsys_node::{
    Context, Durability, Duration, Key, KeyDigests, Node, NodeId, Op, Request, Response, Storage,
    TimerId, Value,
};
use std::collections::{BTreeMap, BTreeSet};
use std::ops::RangeInclusive;

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

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Stage {
    /// Gathering `R` answers (a read, or the read half of a compare-and-set).
    Read,
    /// Gathering `W` acknowledgements.
    Write,
}

/// A request this node coordinates.
#[derive(Debug)]
struct Pending {
    request: Request,
    stage: Stage,
    /// Who was asked in this stage, and for which home replica (itself, or the home a
    /// fallback stands in for).
    asked: Vec<(NodeId, NodeId)>,
    /// Home replicas (or their stand-ins) that answered in this stage.
    answered_for: BTreeSet<NodeId>,
    /// Read stage: each responder's versions; their merge.
    replies: Vec<(NodeId, Siblings)>,
    merged: Siblings,
    /// Write stage: what is written.
    write: Siblings,
    /// The client has its answer; the entry stays only to repair late responders.
    done: bool,
}

impl Pending {
    /// The home replica `node` was asked for in this stage (itself, or the home a
    /// fallback stands in for).
    fn asked_for(&self, node: NodeId) -> Option<NodeId> {
        self.asked
            .iter()
            .rev()
            .find(|(target, _)| *target == node)
            .map(|(_, home)| *home)
    }
}

/// A node of the `leaderless` protocol.
#[derive(Debug)]
pub struct LeaderlessNode {
    config: LeaderlessConfig,
    id: NodeId,
    nodes: usize,
    ring: Ring,
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

fn hint_key(home: NodeId, key: Key) -> Vec<u8> {
    let mut k = HINT_PREFIX.to_vec();
    k.extend_from_slice(&home.0.to_be_bytes());
    k.extend_from_slice(&key.to_be_bytes());
    k
}

impl LeaderlessNode {
    fn mode(&self) -> VersionMode {
        self.config.versions
    }

    /// The key's home replicas.
    pub fn homes(&self, key: Key) -> Vec<NodeId> {
        self.ring.homes(key, self.config.replicas)
    }

    fn request_timer(tag: u64, deadline: bool) -> TimerId {
        FIRST_REQUEST_TIMER + 2 * tag + u64::from(deadline)
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

    fn store_hint(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        home: NodeId,
        key: Key,
        siblings: &Siblings,
    ) {
        if siblings.is_empty() {
            return;
        }
        let mode = self.mode();
        let entry = self.hints.entry((home, key)).or_default();
        if entry.merge(siblings, mode) {
            self.stats.hints_stored += 1;
            ctx.persist(hint_key(home, key), entry.encode(), Durability::Synced);
        }
    }

    /// What this node answers a `Get` with.
    fn lookup(&self, key: Key, hint: Option<NodeId>) -> Siblings {
        let held = match hint {
            None => self.data.get(&key),
            Some(home) => self.hints.get(&(home, key)),
        };
        held.cloned().unwrap_or_default()
    }

    /// Send this stage's message to `target` on behalf of home replica `home` — or carry
    /// it out at once when the target is this node.
    fn ask(&mut self, ctx: &mut Context<'_, Msg>, tag: u64, target: NodeId, home: NodeId) {
        let Some(p) = self.pending.get_mut(&tag) else {
            return;
        };
        p.asked.push((target, home));
        let key = p.request.op.key();
        let hint = (target != home).then_some(home);
        match p.stage {
            Stage::Write => {
                let siblings = p.write.clone();
                if self.put(ctx, tag, key, target, home, siblings) {
                    self.on_put_ack(ctx, tag, target);
                }
            }
            Stage::Read => {
                if target == self.id {
                    let siblings = self.lookup(key, hint);
                    self.on_get_reply(ctx, tag, target, siblings);
                } else {
                    ctx.send(target, Msg::Get { tag, key, hint });
                }
            }
        }
    }

    /// Start a stage: ask every home replica, arm the fallback and deadline timers.
    fn start_stage(&mut self, ctx: &mut Context<'_, Msg>, tag: u64, stage: Stage) {
        let Some(p) = self.pending.get_mut(&tag) else {
            return;
        };
        p.stage = stage;
        p.asked.clear();
        p.answered_for.clear();
        let key = p.request.op.key();
        let mut homes = self.homes(key);
        // This node last: answering itself may complete the stage, and every other home
        // replica must still be sent the write (or asked, for read repair).
        homes.sort_by_key(|h| *h == self.id);
        if self.config.sloppy_quorum {
            ctx.set_timer(Self::request_timer(tag, false), self.config.fallback_after);
        }
        ctx.set_timer(Self::request_timer(tag, true), self.config.request_timeout);
        for home in homes {
            self.ask(ctx, tag, home, home);
        }
    }

    fn new_version(&mut self, ctx: &mut Context<'_, Msg>, value: u64, seen: &Siblings) -> Siblings {
        let stamp = self.hlc.now(ctx.now());
        let clock = match self.mode() {
            VersionMode::Timestamp => Default::default(),
            VersionMode::VectorClock => {
                self.counter += 1;
                ctx.persist(
                    COUNTER_KEY.to_vec(),
                    self.counter.to_be_bytes().to_vec(),
                    Durability::Synced,
                );
                let mut clock = seen.clock();
                clock.raise(self.id, self.counter);
                clock
            }
        };
        let mut write = Siblings::default();
        write.insert(
            Version {
                value,
                stamp,
                writer: self.id,
                clock,
            },
            self.mode(),
        );
        write
    }

    fn on_put_ack(&mut self, ctx: &mut Context<'_, Msg>, tag: u64, from: NodeId) {
        let Some(p) = self.pending.get_mut(&tag) else {
            return;
        };
        if p.stage != Stage::Write || p.done {
            return;
        }
        let Some(home) = p.asked_for(from) else {
            return;
        };
        p.answered_for.insert(home);
        if p.answered_for.len() >= self.config.write_quorum {
            let response = match p.request.op {
                Op::Cas { .. } => Response::CasOk,
                _ => Response::WriteOk,
            };
            let id = p.request.id;
            self.finish(ctx, tag);
            ctx.reply(id, response);
        }
    }

    fn on_get_reply(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        tag: u64,
        from: NodeId,
        siblings: Siblings,
    ) {
        let mode = self.mode();
        let Some(p) = self.pending.get_mut(&tag) else {
            return;
        };
        if p.stage != Stage::Read {
            return;
        }
        let Some(home) = p.asked_for(from) else {
            return;
        };
        if p.done {
            // A late answer: repair it if it is behind what the client was given.
            if self.config.read_repair && p.merged != siblings {
                let (key, merged) = (p.request.op.key(), p.merged.clone());
                self.repair(ctx, key, from, home, merged);
            }
            return;
        }
        p.answered_for.insert(home);
        p.merged.merge(&siblings, mode);
        p.replies.push((from, siblings));
        if p.answered_for.len() < self.config.read_quorum {
            return;
        }
        let (request, merged) = (p.request, p.merged.clone());
        if self.config.read_repair {
            let stale: Vec<(NodeId, NodeId)> = p
                .replies
                .iter()
                .filter(|(_, s)| *s != merged)
                .filter_map(|(n, _)| Some((*n, p.asked_for(*n)?)))
                .collect();
            for (node, home) in stale {
                self.repair(ctx, request.op.key(), node, home, merged.clone());
            }
        }
        match request.op {
            Op::Read { .. } => {
                if let Some(p) = self.pending.get_mut(&tag) {
                    p.done = true; // kept until the deadline, to repair late answers
                }
                let values = merged.values();
                if values.len() > 1 {
                    self.stats.reads_with_siblings += 1;
                }
                let response = match mode {
                    VersionMode::Timestamp => Response::ReadOk(values.first().copied()),
                    VersionMode::VectorClock => Response::ReadSiblings(values),
                };
                ctx.reply(request.id, response);
            }
            Op::Cas { expected, new, .. } => {
                // It succeeds only on a key holding `expected` alone; the write then
                // supersedes every version the read found.
                if merged.values() == [expected] {
                    self.write_after_read(ctx, tag, new, &merged);
                } else {
                    self.finish(ctx, tag);
                    ctx.reply(request.id, Response::CasMismatch);
                }
            }
            // Vector-clock mode: the write supersedes every version its read found.
            Op::Write { value, .. } => self.write_after_read(ctx, tag, value, &merged),
            Op::Increment { .. } | Op::Insert { .. } | Op::Remove { .. } => {}
        }
    }

    /// Second stage of a read-then-write: write `value` over the versions `read` found.
    fn write_after_read(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        tag: u64,
        value: Value,
        read: &Siblings,
    ) {
        let write = self.new_version(ctx, value, read);
        if let Some(p) = self.pending.get_mut(&tag) {
            p.write = write;
        }
        self.start_stage(ctx, tag, Stage::Write);
    }

    fn repair(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        key: Key,
        node: NodeId,
        home: NodeId,
        siblings: Siblings,
    ) {
        self.stats.read_repairs += 1;
        self.put(ctx, 0, key, node, home, siblings);
    }

    /// Have `target` keep `siblings` of `key` for home replica `home` (itself, or the home
    /// it stands in for): at once if `target` is this node (returns true), else by a
    /// `Put` tagged `tag` (0: no acknowledgement wanted).
    fn put(
        &mut self,
        ctx: &mut Context<'_, Msg>,
        tag: u64,
        key: Key,
        target: NodeId,
        home: NodeId,
        siblings: Siblings,
    ) -> bool {
        let hint = (target != home).then_some(home);
        if target != self.id {
            ctx.send(
                target,
                Msg::Put {
                    tag,
                    key,
                    siblings,
                    hint,
                },
            );
            return false;
        }
        match hint {
            None => {
                self.store(ctx, key, &siblings);
            }
            Some(home) => self.store_hint(ctx, home, key, &siblings),
        }
        true
    }

    fn finish(&mut self, ctx: &mut Context<'_, Msg>, tag: u64) {
        self.pending.remove(&tag);
        ctx.cancel_timer(Self::request_timer(tag, false));
        ctx.cancel_timer(Self::request_timer(tag, true));
    }

    /// Sloppy quorum: stand a fallback in for each home replica that has not answered.
    fn borrow_fallbacks(&mut self, ctx: &mut Context<'_, Msg>, tag: u64) {
        let Some(p) = self.pending.get(&tag) else {
            return;
        };
        if p.done {
            return;
        }
        let key = p.request.op.key();
        let list = self.ring.preference_list(key);
        let homes = &list[..self.config.replicas.min(list.len())];
        let silent: Vec<NodeId> = homes
            .iter()
            .copied()
            .filter(|h| !p.answered_for.contains(h))
            .collect();
        let mut fallbacks = list[homes.len()..]
            .iter()
            .copied()
            .filter(|f| p.asked.iter().all(|(t, _)| t != f));
        let mut borrowed = Vec::new();
        for home in silent {
            let Some(fallback) = fallbacks.next() else {
                break;
            };
            borrowed.push((fallback, home));
        }
        let more_left = fallbacks.next().is_some();
        borrowed.sort_by_key(|(fallback, _)| *fallback == self.id);
        for (fallback, home) in borrowed {
            self.ask(ctx, tag, fallback, home);
        }
        if more_left && self.pending.contains_key(&tag) {
            ctx.set_timer(Self::request_timer(tag, false), self.config.fallback_after);
        }
    }

    fn on_deadline(&mut self, ctx: &mut Context<'_, Msg>, tag: u64) {
        let Some(p) = self.pending.get(&tag) else {
            return;
        };
        let (id, done, stage) = (p.request.id, p.done, p.stage);
        self.finish(ctx, tag);
        if !done {
            let response = match stage {
                // Nothing was written: the operation definitely did not happen.
                Stage::Read => Response::Unavailable,
                // Some replicas may hold the write: it may surface later.
                Stage::Write => Response::Indeterminate,
            };
            ctx.reply(id, response);
        }
    }

    fn hand_off(&self, ctx: &mut Context<'_, Msg>) {
        for ((home, key), siblings) in &self.hints {
            ctx.send(
                *home,
                Msg::Handoff {
                    key: *key,
                    siblings: siblings.clone(),
                },
            );
        }
    }

    /// This node's entries of keys `peer` is also a home replica of, in `ranges` if given.
    fn shared_entries(
        &self,
        peer: NodeId,
        ranges: Option<&[RangeInclusive<u64>]>,
    ) -> Vec<(Key, Siblings)> {
        self.data
            .iter()
            .filter(|(k, _)| self.homes(**k).contains(&peer))
            .filter(|(k, _)| ranges.is_none_or(|r| MerkleTree::in_ranges(r, Ring::position(**k))))
            .map(|(k, s)| (*k, s.clone()))
            .collect()
    }

    fn shared_tree(&self, peer: NodeId) -> MerkleTree {
        let entries = self
            .shared_entries(peer, None)
            .into_iter()
            .map(|(k, s)| (Ring::position(k), s.digest()))
            .collect();
        MerkleTree::build(MERKLE_DEPTH, &entries)
    }

    fn absorb(&mut self, ctx: &mut Context<'_, Msg>, entries: Vec<(Key, Siblings)>) {
        for (key, siblings) in entries {
            // Only keys this node is a home replica of: a peer's message cannot plant others.
            if self.homes(key).contains(&self.id) && self.store(ctx, key, &siblings) {
                self.stats.anti_entropy_keys += 1;
            }
        }
    }

    fn start_sync(&mut self, ctx: &mut Context<'_, Msg>) {
        if self.nodes < 2 {
            return;
        }
        let offset = 1 + self.next_sync_peer % (self.nodes - 1);
        self.next_sync_peer += 1;
        let peer = NodeId(((self.id.index() + offset) % self.nodes) as u32);
        let tree = self.shared_tree(peer);
        self.stats.anti_entropy_rounds += 1;
        ctx.send(
            peer,
            Msg::SyncTree {
                depth: tree.depth(),
                hashes: tree.hashes().to_vec(),
            },
        );
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
            ring: Ring::new(nodes, DEFAULT_VNODES),
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

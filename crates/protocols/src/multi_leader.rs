//! `multi-leader`: every node accepts writes and replicates them asynchronously to the
//! others; concurrent writes to one key are resolved by last-writer-wins on hybrid
//! logical clock timestamps (`conflict=lww`).
//!
//! Each node sends its own writes to every peer and resends what a peer has not
//! acknowledged on every heartbeat, so replicas converge once the network heals. Each
//! value carries a version vector of what its writer had seen of the key, so a node can
//! tell an overwrite (the new write saw the old) from a conflict (neither saw the other):
//! in a conflict last-writer-wins silently drops one acknowledged write, and the node
//! whose write was dropped counts it (`concurrent writes lost`).

use crate::clock::{Causality, Hlc, HlcTimestamp, VersionVector};
use crate::kv::KvData;
use dsys_node::{
    Context, Durability, Duration, Key, Node, NodeId, Request, Storage, TimerId, Value,
};
use std::collections::BTreeMap;

const HEARTBEAT: TimerId = 1;
const INCARNATION_KEY: &[u8] = b"incarnation";
const OWN_PREFIX: &[u8] = b"own/";

fn own_key(seq: u64) -> Vec<u8> {
    let mut k = OWN_PREFIX.to_vec();
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Stored form of one of this node's own writes.
fn encode(u: &Update) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    for x in [u.seq, u.key, u.value, u.stamp.wall] {
        out.extend_from_slice(&x.to_be_bytes());
    }
    out.extend_from_slice(&u.stamp.logical.to_be_bytes());
    for (node, count) in u.seen.iter() {
        out.extend_from_slice(&node.0.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
    }
    out
}

fn decode(origin: NodeId, bytes: &[u8]) -> Option<Update> {
    let word = |i: usize| bytes.get(i..i + 8).and_then(dsys_node::decode_u64);
    let logical = u32::from_be_bytes(bytes.get(32..36)?.try_into().ok()?);
    let rest = bytes.get(36..)?;
    if rest.len() % 12 != 0 {
        return None;
    }
    let seen = rest
        .chunks_exact(12)
        .map(|c| {
            Some((
                NodeId(u32::from_be_bytes(c[..4].try_into().ok()?)),
                dsys_node::decode_u64(&c[4..])?,
            ))
        })
        .collect::<Option<VersionVector>>()?;
    Some(Update {
        origin,
        seq: word(0)?,
        key: word(8)?,
        value: word(16)?,
        stamp: HlcTimestamp {
            wall: word(24)?,
            logical,
        },
        seen,
    })
}
const MAX_BATCH: usize = 64;

/// Settings of `multi-leader`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MultiLeaderConfig {
    /// How often unacknowledged writes are resent.
    pub heartbeat: Duration,
}

impl Default for MultiLeaderConfig {
    fn default() -> Self {
        MultiLeaderConfig {
            heartbeat: Duration::from_millis(50),
        }
    }
}

/// One write, as replicated.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Update {
    /// The node that accepted it.
    pub origin: NodeId,
    /// Its position in the origin's own sequence of writes, from 1.
    pub seq: u64,
    /// The key.
    pub key: Key,
    /// The value.
    pub value: Value,
    /// Its last-writer-wins timestamp.
    pub stamp: HlcTimestamp,
    /// What the writer had seen of this key, including this write.
    pub seen: VersionVector,
}

/// Messages of `multi-leader`.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum MultiLeaderMessage {
    /// The sender's own writes, in order.
    Replicate {
        /// The sender's incarnation.
        incarnation: u64,
        /// The writes.
        updates: Vec<Update>,
    },
    /// How many of the peer's writes the sender has applied (a contiguous prefix).
    Ack {
        /// The sender's incarnation.
        incarnation: u64,
        /// Applied so far.
        applied: u64,
    },
    /// The sender (re)started empty with a new incarnation: it has applied nothing, and
    /// its own writes start again from seq 1.
    Restarted {
        /// The new incarnation.
        incarnation: u64,
    },
}

type Msg = MultiLeaderMessage;

/// The current version of one key.
#[derive(Clone, Debug)]
struct Current {
    value: Value,
    stamp: HlcTimestamp,
    origin: NodeId,
    seen: VersionVector,
}

/// A node of the `multi-leader` protocol.
#[derive(Debug)]
pub struct MultiLeaderNode {
    config: MultiLeaderConfig,
    id: NodeId,
    n: usize,
    hlc: Hlc,
    current: BTreeMap<Key, Current>,
    /// This node's own writes; `own[i]` has seq `i + 1`.
    own: Vec<Update>,
    /// Per origin: how many of its writes this node has applied.
    applied: Vec<u64>,
    /// Per peer: how many of this node's writes it has acknowledged.
    acked: Vec<u64>,
    /// Acknowledged writes of this node that a concurrent write made disappear.
    lost: u64,
    /// How many times this node has booted (persisted): messages from a peer's older
    /// incarnation (delayed past its restart) are ignored, a newer one means it restarted.
    incarnation: u64,
    /// Each peer's current incarnation (0: not heard of yet).
    peer_incarnation: Vec<u64>,
}

impl MultiLeaderNode {
    fn peers(&self) -> impl Iterator<Item = NodeId> + use<> {
        let (id, n) = (self.id, self.n as u32);
        (0..n).map(NodeId).filter(move |&p| p != id)
    }

    fn data(&self) -> KvData {
        let mut d = KvData::default();
        for (k, c) in &self.current {
            d.set(*k, c.value);
        }
        d
    }

    /// Fold one update into the current version of its key.
    fn apply(&mut self, u: &Update) {
        let Some(cur) = self.current.get_mut(&u.key) else {
            self.current.insert(
                u.key,
                Current {
                    value: u.value,
                    stamp: u.stamp,
                    origin: u.origin,
                    seen: u.seen.clone(),
                },
            );
            return;
        };
        let incoming_wins = match u.seen.compare(&cur.seen) {
            Causality::After => true,
            Causality::Before | Causality::Equal => false,
            Causality::Concurrent => {
                let wins = (u.stamp, u.origin) > (cur.stamp, cur.origin);
                // Count each dropped write once: at the node that accepted it.
                if wins && cur.origin == self.id {
                    self.lost += 1;
                }
                wins
            }
        };
        let mut seen = cur.seen.clone();
        seen.merge(&u.seen);
        if incoming_wins {
            *cur = Current {
                value: u.value,
                stamp: u.stamp,
                origin: u.origin,
                seen,
            };
        } else {
            cur.seen = seen;
        }
    }

    fn send_unacked(&self, ctx: &mut Context<'_, Msg>, peer: NodeId) {
        let from = self.acked[peer.index()] as usize;
        let end = (from + MAX_BATCH).min(self.own.len());
        if from < end {
            ctx.send(
                peer,
                Msg::Replicate {
                    incarnation: self.incarnation,
                    updates: self.own[from..end].to_vec(),
                },
            );
        }
    }
}

impl Node for MultiLeaderNode {
    type Message = Msg;
    type Config = MultiLeaderConfig;

    /// Own writes are stored (synced before they are acknowledged) and replayed at boot;
    /// everything else is refilled by the peers, who resend their own writes from the
    /// start when they see the new incarnation.
    fn boot(config: &MultiLeaderConfig, id: NodeId, n: usize, storage: &Storage) -> Self {
        let mut own = Vec::new();
        for (expected, (k, v)) in (1u64..).zip(storage.scan_prefix(OWN_PREFIX)) {
            match (dsys_node::decode_u64(&k[OWN_PREFIX.len()..]), decode(id, v)) {
                (Some(seq), Some(u)) if seq == expected && u.seq == expected => own.push(u),
                _ => break,
            }
        }
        let mut node = MultiLeaderNode {
            config: *config,
            id,
            n,
            hlc: Hlc::default(),
            current: BTreeMap::new(),
            own: Vec::new(),
            applied: vec![0; n],
            acked: vec![0; n],
            lost: 0,
            incarnation: storage.get_u64(INCARNATION_KEY).unwrap_or(0) + 1,
            peer_incarnation: vec![0; n],
        };
        for u in &own {
            node.hlc.observe(u.stamp, dsys_node::Instant::ZERO);
            node.apply(u);
        }
        node.own = own;
        node
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
        // A (re)started node starts a fresh sequence: tell peers to forget its old one.
        ctx.persist(
            INCARNATION_KEY.to_vec(),
            self.incarnation.to_be_bytes().to_vec(),
            Durability::Synced,
        );
        for peer in self.peers() {
            ctx.send(
                peer,
                Msg::Restarted {
                    incarnation: self.incarnation,
                },
            );
        }
        ctx.set_timer(HEARTBEAT, self.config.heartbeat);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Msg>, from: NodeId, msg: Msg) {
        let incarnation = match &msg {
            Msg::Replicate { incarnation, .. }
            | Msg::Ack { incarnation, .. }
            | Msg::Restarted { incarnation } => *incarnation,
        };
        let known = &mut self.peer_incarnation[from.index()];
        if incarnation < *known {
            return; // sent before the peer's last restart
        }
        if incarnation > *known {
            // The peer (re)started: resend it everything of ours, and take its writes
            // again from the start (applying one twice changes nothing).
            *known = incarnation;
            self.acked[from.index()] = 0;
            self.applied[from.index()] = 0;
        }
        match msg {
            Msg::Replicate { updates, .. } => {
                for u in updates {
                    let applied = &mut self.applied[from.index()];
                    if u.origin != from || u.seq != *applied + 1 {
                        continue; // a duplicate, or a gap the next resend fills
                    }
                    *applied += 1;
                    self.hlc.observe(u.stamp, ctx.now());
                    self.apply(&u);
                }
                ctx.send(
                    from,
                    Msg::Ack {
                        incarnation: self.incarnation,
                        applied: self.applied[from.index()],
                    },
                );
            }
            Msg::Ack { applied, .. } => {
                // Acks may be reordered: never move backwards on an old one.
                let acked = &mut self.acked[from.index()];
                *acked = (*acked).max(applied.min(self.own.len() as u64));
            }
            Msg::Restarted { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Msg>, timer: TimerId) {
        if timer == HEARTBEAT {
            for peer in self.peers() {
                self.send_unacked(ctx, peer);
            }
            ctx.set_timer(HEARTBEAT, self.config.heartbeat);
        }
    }

    fn on_request(&mut self, ctx: &mut Context<'_, Msg>, request: Request) {
        let current = self.current.get(&request.op.key()).map(|c| c.value);
        let (response, write) = crate::kv::decide(request.op, current);
        if let Some((key, value)) = write {
            let stamp = self.hlc.now(ctx.now());
            let mut seen = self
                .current
                .get(&key)
                .map(|c| c.seen.clone())
                .unwrap_or_default();
            seen.increment(self.id);
            let update = Update {
                origin: self.id,
                seq: self.own.len() as u64 + 1,
                key,
                value,
                stamp,
                seen,
            };
            self.apply(&update);
            ctx.persist(own_key(update.seq), encode(&update), Durability::Synced);
            self.own.push(update.clone());
            for peer in self.peers() {
                ctx.send(
                    peer,
                    Msg::Replicate {
                        incarnation: self.incarnation,
                        updates: vec![update.clone()],
                    },
                );
            }
        }
        ctx.reply(request.id, response);
    }

    fn replica_digest(&self) -> Option<u64> {
        Some(self.data().digest())
    }

    fn metrics(&self) -> Vec<(&'static str, u64)> {
        vec![("concurrent writes lost", self.lost)]
    }
}

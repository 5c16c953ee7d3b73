//! `multi-leader`: every node accepts writes and replicates them asynchronously to the
//! others. Concurrent updates of one key are resolved by last-writer-wins on hybrid
//! logical clock timestamps (`conflict=lww`), kept side by side as siblings
//! (`conflict=siblings`: registers are multi-value registers ordered by version vector;
//! a read returns every sibling and a write supersedes the siblings its node holds), or
//! merged as CRDTs (`conflict=crdt`): counters as PN-counters, sets as OR-sets. A key
//! holds one kind of data, fixed by the workload ([`DataKind`]): registers, counters or
//! sets. Under `lww` a counter increment or a set insert is a read-modify-write of the
//! whole value, so concurrent ones are lost; under `crdt` each update ships the writer's
//! own counter component, the tagged add, or the tags a remove observed, which merge
//! with everything else.
//!
//! Each node sends its own writes to every peer and resends what a peer has not
//! acknowledged on every heartbeat, so replicas converge once the network heals. Each
//! value carries a version vector of what its writer had seen of the key, so a node can
//! tell an overwrite (the new write saw the old) from a conflict (neither saw the other):
//! in a conflict last-writer-wins silently drops one acknowledged write, and the node
//! whose write was dropped counts it (`concurrent writes lost`).

use crate::clock::{Causality, Hlc, HlcTimestamp, VersionVector};
use crate::crdt::{Dot, MvRegister, OrSet, PnCounter, Version, VersionMode};
use crate::kv::Fnv;
use dsys_node::{
    Context, Durability, Duration, Key, Node, NodeId, Op, Request, Response, Storage, TimerId,
    Value,
};
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

mod merge;
mod storage;

use storage::{decode, encode, own_key};

const HEARTBEAT: TimerId = 1;
/// Own updates sent to a peer in one message at most.
const MAX_BATCH: usize = 64;
const INCARNATION_KEY: &[u8] = b"incarnation";
const OWN_PREFIX: &[u8] = b"own/";

/// How concurrent updates of a key are resolved.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Conflict {
    /// The update with the greatest hybrid-logical-clock stamp wins; the rest are lost.
    #[default]
    Lww,
    /// Registers keep concurrent writes as siblings (a multi-value register); a read
    /// returns them all. Counters and sets stay LWW.
    Siblings,
    /// Counters and sets merge as CRDTs (PN-counter, OR-set); registers stay LWW.
    Crdt,
}

/// What the keys hold (the workload decides).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum DataKind {
    /// Registers: read, write, compare-and-set.
    #[default]
    Register,
    /// Counters: read, increment.
    Counter,
    /// Counters that only grow (G-counters): decrements are refused.
    GrowOnlyCounter,
    /// Sets: read, insert.
    Set,
}

/// The CRDT a key holds under [`Conflict::Crdt`] (`crdt=`); `Auto` picks the one that
/// fits the data: PN-counter, OR-set, LWW-register.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum CrdtChoice {
    /// The one that fits the data.
    #[default]
    Auto,
    /// A counter that only grows: decrements are refused.
    GrowOnlyCounter,
    /// A counter of increments and decrements.
    PnCounter,
    /// An observed-remove set.
    OrSet,
    /// A last-writer-wins register.
    LwwRegister,
    /// A multi-value register: concurrent writes kept as siblings.
    MvRegister,
}

/// Settings of `multi-leader`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MultiLeaderConfig {
    /// How often unacknowledged writes are resent.
    pub heartbeat: Duration,
    /// Conflict resolution.
    pub conflict: Conflict,
    /// The CRDT chosen with [`Conflict::Crdt`] (a multi-value register sets
    /// [`Conflict::Siblings`], which is what it keeps).
    pub crdt: CrdtChoice,
    /// What the keys hold.
    pub data: DataKind,
}

impl Default for MultiLeaderConfig {
    fn default() -> Self {
        MultiLeaderConfig {
            heartbeat: Duration::from_millis(50),
            conflict: Conflict::Lww,
            crdt: CrdtChoice::Auto,
            data: DataKind::Register,
        }
    }
}

/// What one update carries.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Payload {
    /// A register's new value.
    Value(Value),
    /// `lww` counter: the whole value after a read-modify-write.
    Count(i64),
    /// `lww` set: the whole contents after a read-modify-write, ascending.
    Elements(Vec<Value>),
    /// `crdt` counter: the origin's own component (added, subtracted) after the update.
    CounterComponent {
        /// Everything the origin has added to the key.
        up: u64,
        /// Everything it has subtracted.
        down: u64,
    },
    /// `crdt` set: one insert, tagged with the origin's dot counter for the key.
    SetAdd {
        /// The element.
        element: Value,
        /// The origin's counter for this add.
        dot: u64,
    },
    /// `crdt` set: one remove, as the dots of the adds the origin had observed (an add
    /// it had not seen survives: add wins).
    SetRemove {
        /// The removed adds.
        dots: Vec<Dot>,
    },
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
    /// What it changes.
    pub payload: Payload,
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

/// A key's value under last-writer-wins.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
enum Plain {
    Register(Value),
    Count(i64),
    Elements(Vec<Value>),
}

/// The current last-writer-wins version of one key.
#[derive(Clone, Debug)]
struct Current {
    value: Plain,
    stamp: HlcTimestamp,
    origin: NodeId,
    seen: VersionVector,
}

/// What a node holds for one key.
#[derive(Clone, Debug)]
enum State {
    Lww(Current),
    Siblings(MvRegister),
    Counter(PnCounter),
    Set(OrSet<Value>),
}

/// A node of the `multi-leader` protocol.
#[derive(Debug)]
pub struct MultiLeaderNode {
    config: MultiLeaderConfig,
    id: NodeId,
    n: usize,
    hlc: Hlc,
    current: BTreeMap<Key, State>,
    /// This node's own writes; `own[i]` has seq `i + 1`.
    own: Vec<Update>,
    /// Per origin: how many of its writes this node has applied.
    applied: Vec<u64>,
    /// Per peer: how many of this node's writes it has acknowledged.
    acked: Vec<u64>,
    /// Acknowledged writes of this node that a concurrent write made disappear.
    lost: u64,
    /// Reads answered with more than one sibling.
    reads_with_siblings: u64,
    /// How many times this node has booted (persisted): messages from a peer's older
    /// incarnation (delayed past its restart) are ignored, a newer one means it restarted.
    incarnation: u64,
    /// Each peer's current incarnation (0: not heard of yet).
    peer_incarnation: Vec<u64>,
}

impl MultiLeaderNode {
    fn peers(&self) -> impl Iterator<Item = NodeId> + use<> {
        crate::cluster::peers(self.id, self.n)
    }

    /// A digest equal on two nodes exactly when they hold the same data.
    fn digest(&self) -> u64 {
        let mut h = Fnv::default();
        for (key, state) in &self.current {
            h.write_u64(*key);
            match state {
                State::Lww(c) => c.value.hash(&mut h),
                State::Siblings(r) => h.write_u64(r.0.digest()),
                State::Counter(c) => c.hash(&mut h),
                State::Set(s) => s.elements().hash(&mut h),
            }
        }
        h.finish()
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
        let own = crate::cluster::load_sequence(storage, OWN_PREFIX, |seq, v| {
            decode(id, v).filter(|u| u.seq == seq)
        });
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
            reads_with_siblings: 0,
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
        let (response, payload) = self.decide(request.op);
        if matches!(&response, Response::ReadSiblings(values) if values.len() > 1) {
            self.reads_with_siblings += 1;
        }
        if let Some(payload) = payload {
            let key = request.op.key();
            let stamp = self.hlc.now(ctx.now());
            // What the write supersedes: everything this node holds of the key.
            let mut seen = match self.current.get(&key) {
                Some(State::Lww(c)) => c.seen.clone(),
                Some(State::Siblings(r)) => r.0.clock(),
                _ => VersionVector::new(),
            };
            seen.increment(self.id);
            let update = Update {
                origin: self.id,
                seq: self.own.len() as u64 + 1,
                key,
                payload,
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
        Some(self.digest())
    }

    fn metrics(&self) -> Vec<(&'static str, u64)> {
        match self.config.conflict {
            Conflict::Siblings => vec![("reads with siblings", self.reads_with_siblings)],
            Conflict::Lww | Conflict::Crdt => vec![("concurrent writes lost", self.lost)],
        }
    }
}

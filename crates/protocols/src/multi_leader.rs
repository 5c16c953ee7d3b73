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

const HEARTBEAT: TimerId = 1;
const INCARNATION_KEY: &[u8] = b"incarnation";
const OWN_PREFIX: &[u8] = b"own/";

fn own_key(seq: u64) -> Vec<u8> {
    crate::cluster::indexed_key(OWN_PREFIX, seq)
}

/// Stored form of one of this node's own updates.
fn encode(u: &Update) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    for x in [u.seq, u.key, u.stamp.wall] {
        out.extend_from_slice(&x.to_be_bytes());
    }
    out.extend_from_slice(&u.stamp.logical.to_be_bytes());
    let words: Vec<u64> = match &u.payload {
        Payload::Value(v) => vec![0, *v],
        Payload::Count(n) => vec![1, *n as u64],
        Payload::Elements(es) => [2, es.len() as u64]
            .into_iter()
            .chain(es.iter().copied())
            .collect(),
        Payload::CounterComponent { up, down } => vec![3, *up, *down],
        Payload::SetAdd { element, dot } => vec![4, *element, *dot],
        Payload::SetRemove { dots } => [5, dots.len() as u64]
            .into_iter()
            .chain(dots.iter().flat_map(|(n, c)| [u64::from(n.0), *c]))
            .collect(),
    };
    out.extend_from_slice(&(words.len() as u32).to_be_bytes());
    for w in words {
        out.extend_from_slice(&w.to_be_bytes());
    }
    for (node, count) in u.seen.iter() {
        out.extend_from_slice(&node.0.to_be_bytes());
        out.extend_from_slice(&count.to_be_bytes());
    }
    out
}

fn decode(origin: NodeId, bytes: &[u8]) -> Option<Update> {
    let word = |i: usize| bytes.get(i..i + 8).and_then(dsys_node::decode_u64);
    let logical = u32::from_be_bytes(bytes.get(24..28)?.try_into().ok()?);
    let n = u32::from_be_bytes(bytes.get(28..32)?.try_into().ok()?) as usize;
    let words: Vec<u64> = (0..n).map(|i| word(32 + 8 * i)).collect::<Option<_>>()?;
    let payload = match words.as_slice() {
        [0, v] => Payload::Value(*v),
        [1, n] => Payload::Count(*n as i64),
        [2, len, es @ ..] if *len as usize == es.len() => Payload::Elements(es.to_vec()),
        [3, up, down] => Payload::CounterComponent {
            up: *up,
            down: *down,
        },
        [4, element, dot] => Payload::SetAdd {
            element: *element,
            dot: *dot,
        },
        [5, len, pairs @ ..] if 2 * *len as usize == pairs.len() => Payload::SetRemove {
            dots: pairs
                .chunks_exact(2)
                .map(|p| Some((NodeId(u32::try_from(p[0]).ok()?), p[1])))
                .collect::<Option<_>>()?,
        },
        _ => return None,
    };
    let rest = bytes.get(32 + 8 * n..)?;
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
        payload,
        stamp: HlcTimestamp {
            wall: word(16)?,
            logical,
        },
        seen,
    })
}
const MAX_BATCH: usize = 64;

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

    /// Fold one update into its key's state.
    fn apply(&mut self, u: &Update) {
        let plain = match &u.payload {
            Payload::CounterComponent { up, down } => {
                if let State::Counter(c) = self
                    .current
                    .entry(u.key)
                    .or_insert_with(|| State::Counter(PnCounter::default()))
                {
                    c.merge_component(u.origin, (*up, *down));
                }
                return;
            }
            Payload::SetAdd { element, dot } => {
                if let State::Set(s) = self
                    .current
                    .entry(u.key)
                    .or_insert_with(|| State::Set(OrSet::default()))
                {
                    s.apply_add(*element, (u.origin, *dot));
                }
                return;
            }
            Payload::SetRemove { dots } => {
                if let State::Set(s) = self
                    .current
                    .entry(u.key)
                    .or_insert_with(|| State::Set(OrSet::default()))
                {
                    s.apply_remove(dots);
                }
                return;
            }
            Payload::Value(value) if self.config.conflict == Conflict::Siblings => {
                if let State::Siblings(r) = self
                    .current
                    .entry(u.key)
                    .or_insert_with(|| State::Siblings(MvRegister::default()))
                {
                    let version = Version {
                        value: *value,
                        stamp: u.stamp,
                        writer: u.origin,
                        clock: u.seen.clone(),
                    };
                    r.0.insert(version, VersionMode::VectorClock);
                }
                return;
            }
            Payload::Value(v) => Plain::Register(*v),
            Payload::Count(n) => Plain::Count(*n),
            Payload::Elements(es) => Plain::Elements(es.clone()),
        };
        let incoming = Current {
            value: plain,
            stamp: u.stamp,
            origin: u.origin,
            seen: u.seen.clone(),
        };
        let Some(State::Lww(cur)) = self.current.get_mut(&u.key) else {
            self.current.insert(u.key, State::Lww(incoming));
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
            *cur = Current { seen, ..incoming };
        } else {
            cur.seen = seen;
        }
    }

    /// The update a client operation makes, and the answer it gets; `None` for reads.
    fn decide(&self, op: Op) -> (Response, Option<Payload>) {
        let state = self.current.get(&op.key());
        match (self.config.data, op) {
            (DataKind::Register, _) if self.config.conflict == Conflict::Siblings => {
                let values = match state {
                    Some(State::Siblings(r)) => r.0.values(),
                    _ => Vec::new(),
                };
                match op {
                    Op::Read { .. } => (Response::ReadSiblings(values), None),
                    Op::Write { value, .. } => (Response::WriteOk, Some(Payload::Value(value))),
                    // Only a key holding `expected` alone matches; the write then
                    // supersedes it.
                    Op::Cas { expected, new, .. } if values == [expected] => {
                        (Response::CasOk, Some(Payload::Value(new)))
                    }
                    Op::Cas { .. } => (Response::CasMismatch, None),
                    Op::Increment { .. } | Op::Insert { .. } | Op::Remove { .. } => {
                        (Response::Unavailable, None)
                    }
                }
            }
            (DataKind::Register, _) => {
                let value = match state {
                    Some(State::Lww(Current {
                        value: Plain::Register(v),
                        ..
                    })) => Some(*v),
                    _ => None,
                };
                let (response, write) = crate::kv::decide(op, value);
                (response, write.map(|(_, v)| Payload::Value(v)))
            }
            (DataKind::Counter | DataKind::GrowOnlyCounter, Op::Read { .. }) => {
                (Response::ReadCount(counter_value(state)), None)
            }
            // A G-counter only grows: a decrement is refused and changes nothing.
            (DataKind::GrowOnlyCounter, Op::Increment { delta, .. }) if delta < 0 => {
                (Response::Unavailable, None)
            }
            (DataKind::Counter | DataKind::GrowOnlyCounter, Op::Increment { delta, .. }) => {
                let payload = match self.config.conflict {
                    Conflict::Lww | Conflict::Siblings => {
                        Payload::Count(counter_value(state).saturating_add(delta))
                    }
                    Conflict::Crdt => {
                        // Only this node's own component changes; ship it whole.
                        let (mut up, mut down) = match state {
                            Some(State::Counter(c)) => c.component(self.id),
                            _ => (0, 0),
                        };
                        if delta >= 0 {
                            up += delta.unsigned_abs();
                        } else {
                            down += delta.unsigned_abs();
                        }
                        Payload::CounterComponent { up, down }
                    }
                };
                (Response::UpdateOk, Some(payload))
            }
            (DataKind::Set, Op::Read { .. }) => (Response::ReadSet(set_elements(state)), None),
            (DataKind::Set, Op::Insert { element, .. }) => {
                let payload = match self.config.conflict {
                    Conflict::Lww | Conflict::Siblings => {
                        let mut es = set_elements(state);
                        if let Err(at) = es.binary_search(&element) {
                            es.insert(at, element);
                        }
                        Payload::Elements(es)
                    }
                    Conflict::Crdt => {
                        let next = match state {
                            Some(State::Set(s)) => s.next_dot(self.id),
                            _ => OrSet::<Value>::default().next_dot(self.id),
                        };
                        Payload::SetAdd {
                            element,
                            dot: next.1,
                        }
                    }
                };
                (Response::UpdateOk, Some(payload))
            }
            (DataKind::Set, Op::Remove { element, .. }) => {
                let payload = match self.config.conflict {
                    Conflict::Lww | Conflict::Siblings => {
                        let mut es = set_elements(state);
                        es.retain(|e| *e != element);
                        Payload::Elements(es)
                    }
                    Conflict::Crdt => Payload::SetRemove {
                        dots: match state {
                            Some(State::Set(s)) => s.observed(&element),
                            _ => Vec::new(),
                        },
                    },
                };
                (Response::UpdateOk, Some(payload))
            }
            // An operation of another workload: refused, nothing changes.
            _ => (Response::Unavailable, None),
        }
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

fn counter_value(state: Option<&State>) -> i64 {
    match state {
        Some(State::Counter(c)) => c.value(),
        Some(State::Lww(Current {
            value: Plain::Count(n),
            ..
        })) => *n,
        _ => 0,
    }
}

fn set_elements(state: Option<&State>) -> Vec<Value> {
    match state {
        Some(State::Set(s)) => s.elements().into_iter().collect(),
        Some(State::Lww(Current {
            value: Plain::Elements(es),
            ..
        })) => es.clone(),
        _ => Vec::new(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn update(payload: Payload) -> Update {
        Update {
            origin: NodeId(2),
            seq: 7,
            key: 3,
            payload,
            stamp: HlcTimestamp {
                wall: 123,
                logical: 4,
            },
            seen: [(NodeId(0), 1), (NodeId(2), 5)].into_iter().collect(),
        }
    }

    #[test]
    fn stored_updates_decode_to_what_was_encoded() {
        for payload in [
            Payload::Value(9),
            Payload::Count(-12),
            Payload::Elements(vec![1, 5, 8]),
            Payload::Elements(Vec::new()),
            Payload::CounterComponent { up: 10, down: 3 },
            Payload::SetAdd {
                element: 44,
                dot: 2,
            },
            Payload::SetRemove {
                dots: vec![(NodeId(1), 3), (NodeId(4), 1)],
            },
            Payload::SetRemove { dots: Vec::new() },
        ] {
            let u = update(payload);
            assert_eq!(decode(NodeId(2), &encode(&u)), Some(u));
        }
    }

    #[test]
    fn malformed_stored_updates_are_rejected() {
        let bytes = encode(&update(Payload::Elements(vec![1, 2])));
        for cut in 0..bytes.len() {
            let truncated = &bytes[..cut];
            // A cut inside the version vector can still parse only at an entry boundary,
            // and then it is a different, shorter vector: never a panic.
            if let Some(u) = decode(NodeId(2), truncated) {
                assert!(u.seen.iter().count() < 2, "cut {cut}");
            }
        }
        let mut bad_tag = encode(&update(Payload::Value(1)));
        bad_tag[32..40].copy_from_slice(&9u64.to_be_bytes());
        assert_eq!(decode(NodeId(2), &bad_tag), None);
    }
}

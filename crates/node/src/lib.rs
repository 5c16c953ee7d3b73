//! The sans-IO node interface of dsys.
//!
//! A [`Node`] is a state machine. It is handed one input at a time — a message from a
//! peer, a timer that fired, or a client request — together with a [`Context`] holding
//! the node-local time and a seeded random number generator, and it answers by pushing
//! [`Effect`]s: send a message, set or cancel a timer, reply to a client, persist state.
//! It never reads a clock, spawns a task or touches a socket, so the deterministic
//! simulator (`dsys-sim`) and a real network runtime drive the same code.
//!
//! The order of calls a driver makes:
//! 1. [`Node::boot`] with the storage that survived (empty on first boot), then
//!    [`Node::on_start`] so the node can arm its timers;
//! 2. any number of [`Node::on_message`], [`Node::on_timer`], [`Node::on_request`];
//! 3. after each call, apply the effects in the order they were pushed: a
//!    [`Durability::Synced`] write must be durable before any later effect is carried out
//!    (write-ahead), a [`Durability::Buffered`] write may be lost if the process crashes
//!    before the next synced write.
//!
//! Storage can fail. A write the disk refuses (an fsync error, a full disk) stops the
//! node by default ([`Node::on_failed_write`]): the driver crashes it before carrying
//! out any later effect of the step, because after a failed fsync the data may be gone
//! while the page cache claims otherwise (PostgreSQL's "fsyncgate", 2018). Entries that
//! fail their checksums at boot are reported, not handed over: torn ones are dropped,
//! and corrupt ones make the node refuse to start ([`Node::check_storage`]).

mod client;
mod context;
mod monitor;
mod rng;
mod storage;
mod time;

pub use client::{Key, Op, OpKind, Request, RequestId, Response, Value};
pub use context::{Context, Durability, Effect, TimerId};
pub use monitor::Monitor;
pub use rng::{DetRng, StreamId};
pub use storage::{Damage, Storage, decode_u64};
pub use time::{Duration, Instant, duration_nanos};

use std::fmt;
use std::hash::Hash;

/// Identifies a node in the cluster: `0..cluster_size`.
#[derive(
    Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, serde::Serialize, serde::Deserialize,
)]
#[serde(transparent)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The node's position, for indexing per-node tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A replication or consensus protocol participant, written sans-IO.
///
/// Implementations must be deterministic functions of their inputs: no wall clock, no
/// thread-local randomness, no iteration over unordered maps. The simulator checks this
/// indirectly by comparing trace hashes of repeated runs.
pub trait Node: Sized {
    /// What peers send each other. `Hash` feeds the simulator's trace hash.
    type Message: Clone + fmt::Debug + Hash;
    /// Static configuration shared by every node of a cluster.
    type Config: Clone + fmt::Debug;

    /// Build the node from what survived in stable storage (empty on first boot).
    fn boot(config: &Self::Config, id: NodeId, cluster_size: usize, storage: &Storage) -> Self;

    /// Whether the node can start from `storage`, checked before [`Node::boot`]. `Err`
    /// says why not, and the driver keeps the node down (it tries again at its next
    /// restart). The default ([`refuse_corruption`]) starts over torn entries — a write
    /// cut short never completed, so it was never acknowledged, and the node boots as if
    /// it had never been made, as etcd drops a torn WAL tail — and refuses corrupt ones,
    /// which may have been acknowledged: a node must not guess what they held
    /// (Alagappan et al., "Protocol-Aware Recovery for Consensus-Based Storage", FAST
    /// 2018, show how truncating at a corruption loses committed data).
    fn check_storage(_config: &Self::Config, storage: &Storage) -> Result<(), String> {
        refuse_corruption(storage)
    }

    /// What the driver does when a write this node asked for fails (an fsync error, a
    /// full disk). The default, and the only safe answer, is to crash the node before
    /// any later effect is carried out; `Continue` carries on as if the write had
    /// succeeded, which loses what the node then acknowledges.
    fn on_failed_write(&self) -> AfterFailedWrite {
        AfterFailedWrite::Crash
    }

    /// Called once after every boot, before any other input: arm timers here.
    fn on_start(&mut self, ctx: &mut Context<'_, Self::Message>);

    /// A message from a peer arrived.
    fn on_message(
        &mut self,
        ctx: &mut Context<'_, Self::Message>,
        from: NodeId,
        msg: Self::Message,
    );

    /// A timer set with [`Context::set_timer`] fired.
    fn on_timer(&mut self, ctx: &mut Context<'_, Self::Message>, timer: TimerId);

    /// A client request arrived. Answer it, now or later, with [`Context::reply`].
    fn on_request(&mut self, ctx: &mut Context<'_, Self::Message>, request: Request);

    /// The node this node believes leads the cluster, if the protocol has a leader.
    /// The nemesis uses it to isolate the current leader.
    fn leader(&self) -> Option<NodeId> {
        None
    }

    /// Counters the protocol keeps about itself (elections held, conflicting writes
    /// discarded, ...). The simulator sums them over nodes into the run's report. Kept
    /// in volatile state, they restart from zero when a node restarts.
    fn metrics(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }

    /// A digest of the replicated data this node holds, or `None` if it holds none.
    /// Replicas have converged when every data-holding node reports the same digest.
    fn replica_digest(&self) -> Option<u64> {
        None
    }

    /// For protocols that place each key on some nodes only (a hash ring): a digest per
    /// key this node holds as a home replica, and the hand-offs it still owes. Replicas
    /// have converged when, for every key, all its home replicas report the same digest
    /// (a missing key counts as a digest of its own) and no hand-off is pending. Such
    /// protocols return `None` from [`Node::replica_digest`].
    fn key_digests(&self) -> Option<KeyDigests> {
        None
    }

    /// A monitor of the protocol's cluster-wide safety invariants (and of measurements
    /// only a global view can take, such as time without a leader), for a driver that
    /// sees every node. `None` if the protocol states none.
    fn monitor(_config: &Self::Config, _cluster_size: usize) -> Option<Box<dyn Monitor<Self>>> {
        None
    }

    /// Whether this node is a home replica of `key` (see [`Node::key_digests`]).
    fn is_replica_of(&self, _key: Key) -> bool {
        true
    }
}

/// `Err` naming the corrupt entries of `storage`, if there are any: the default of
/// [`Node::check_storage`]. Torn entries pass: they were never acknowledged.
pub fn refuse_corruption(storage: &Storage) -> Result<(), String> {
    let corrupt = storage
        .damaged()
        .filter(|(_, damage)| *damage == Damage::Corrupt)
        .count();
    match corrupt {
        0 => Ok(()),
        1 => Err("1 stored entry failed its checksum".to_string()),
        n => Err(format!("{n} stored entries failed their checksums")),
    }
}

/// What a driver does after a write failed: see [`Node::on_failed_write`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AfterFailedWrite {
    /// Crash the node; it restarts from what its storage holds.
    Crash,
    /// Carry on with the step's later effects as if the write had succeeded.
    Continue,
}

/// What [`Node::key_digests`] reports.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct KeyDigests {
    /// `(key, digest of this node's versions of it)`, for keys it holds as a home replica.
    pub entries: Vec<(Key, u64)>,
    /// Data held for other nodes that has not been handed back yet.
    pub handoffs_pending: usize,
}

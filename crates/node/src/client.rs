//! What clients ask of a cluster and what it answers.

use crate::NodeId;
use serde::{Deserialize, Serialize};

/// A key of the key-value workload.
pub type Key = u64;
/// A value of the key-value workload. The workload writes every value at most once,
/// so a read names the write it observed.
pub type Value = u64;

/// Identifies one client operation: the client's session and its sequence number.
/// A resent request (after a redirect) keeps its id, so a protocol can apply it once.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct RequestId {
    /// The client session.
    pub client: u64,
    /// Sequence number within the session.
    pub seq: u64,
}

/// A client operation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Op {
    /// Read the current value of `key`.
    Read {
        /// The key read.
        key: Key,
    },
    /// Set `key` to `value`.
    Write {
        /// The key written.
        key: Key,
        /// The (unique) value written.
        value: Value,
    },
    /// Set `key` to `new` if it currently holds `expected`.
    Cas {
        /// The key.
        key: Key,
        /// The value the key must hold for the swap to happen.
        expected: Value,
        /// The value written on success.
        new: Value,
    },
    /// Add `delta` to the counter `key` (the counter workload; reads give
    /// [`Response::ReadCount`]).
    Increment {
        /// The counter.
        key: Key,
        /// What is added (may be negative).
        delta: i64,
    },
    /// Add `element` to the set `key` (the set workload; reads give [`Response::ReadSet`]).
    Insert {
        /// The set.
        key: Key,
        /// The (unique) element added.
        element: Value,
    },
    /// Take `element` out of the set `key` (the set workload).
    Remove {
        /// The set.
        key: Key,
        /// The element removed.
        element: Value,
    },
}

/// The kind of an [`Op`], without its arguments.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    /// [`Op::Read`].
    Read,
    /// [`Op::Write`].
    Write,
    /// [`Op::Cas`].
    Cas,
    /// [`Op::Increment`].
    Increment,
    /// [`Op::Insert`].
    Insert,
    /// [`Op::Remove`].
    Remove,
}

impl Op {
    /// The key the operation touches.
    pub fn key(&self) -> Key {
        match *self {
            Op::Read { key }
            | Op::Write { key, .. }
            | Op::Cas { key, .. }
            | Op::Increment { key, .. }
            | Op::Insert { key, .. }
            | Op::Remove { key, .. } => key,
        }
    }

    /// The operation's kind.
    pub fn kind(&self) -> OpKind {
        match self {
            Op::Read { .. } => OpKind::Read,
            Op::Write { .. } => OpKind::Write,
            Op::Cas { .. } => OpKind::Cas,
            Op::Increment { .. } => OpKind::Increment,
            Op::Insert { .. } => OpKind::Insert,
            Op::Remove { .. } => OpKind::Remove,
        }
    }

    /// Whether the operation may change state.
    pub fn is_update(&self) -> bool {
        !matches!(self, Op::Read { .. })
    }
}

/// A request a client sends to one node.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct Request {
    /// Its identity; the reply must carry it.
    pub id: RequestId,
    /// What is asked.
    pub op: Op,
}

/// A node's answer to a [`Request`].
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub enum Response {
    /// A read completed; `None` when the key was never written.
    ReadOk(Option<Value>),
    /// A read of a counter completed.
    ReadCount(i64),
    /// A read of a set completed: its elements, in ascending order.
    ReadSet(Vec<Value>),
    /// A read of a multi-value register completed: every value none of the others
    /// supersedes (concurrent writes kept as siblings), none when the key was never written.
    ReadSiblings(Vec<Value>),
    /// An increment, an insert or a remove took effect.
    UpdateOk,
    /// A write took effect.
    WriteOk,
    /// A compare-and-set took effect.
    CasOk,
    /// A compare-and-set did not take effect: the key held another value.
    CasMismatch,
    /// This node cannot serve the request; `leader` is where to send it, if known.
    /// The operation did not take effect, so the client may resend it.
    Redirect {
        /// The node believed able to serve it.
        leader: Option<NodeId>,
    },
    /// The operation definitely did not take effect (for example, no quorum).
    Unavailable,
    /// The node gave up waiting for its peers: the operation may or may not have taken
    /// effect, now or later (a write that reached fewer replicas than its quorum).
    Indeterminate,
}

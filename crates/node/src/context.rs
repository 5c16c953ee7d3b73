//! The [`Context`] a node is handed with each input, and the [`Effect`]s it emits.

use crate::NodeId;
use crate::client::{RequestId, Response};
use crate::rng::DetRng;
use crate::time::{Duration, Instant};

/// Names a timer of one node. Setting a timer that is already armed re-arms it.
pub type TimerId = u64;

/// How durable a [`Effect::Persist`] write is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Durability {
    /// Written to the OS buffer: lost if the node crashes before a later synced write.
    Buffered,
    /// Written and fsynced, together with every earlier buffered write: survives a crash.
    Synced,
}

/// An instruction from a node to its driver.
#[derive(Clone, PartialEq, Debug)]
pub enum Effect<M> {
    /// Send `msg` to `to`. Delivery is not guaranteed.
    Send {
        /// The destination node.
        to: NodeId,
        /// The message.
        msg: M,
    },
    /// Fire [`crate::Node::on_timer`] with `timer` after `after` has elapsed on the
    /// node's (monotonic) clock, replacing any armed timer with the same id.
    SetTimer {
        /// Which timer.
        timer: TimerId,
        /// How long from now.
        after: Duration,
    },
    /// Disarm `timer` if it is armed.
    CancelTimer {
        /// Which timer.
        timer: TimerId,
    },
    /// Answer the client request `request`.
    Reply {
        /// The request answered.
        request: RequestId,
        /// The answer.
        response: Response,
    },
    /// Write (`Some`) or delete (`None`) one entry of stable storage.
    Persist {
        /// The entry's key.
        key: Vec<u8>,
        /// The new value, or `None` to delete.
        value: Option<Vec<u8>>,
        /// Whether the write must survive a crash.
        durability: Durability,
    },
}

/// Everything a node may use while handling one input.
#[derive(Debug)]
pub struct Context<'a, M> {
    id: NodeId,
    now: Instant,
    rng: &'a mut DetRng,
    effects: &'a mut Vec<Effect<M>>,
}

impl<'a, M> Context<'a, M> {
    /// A context for node `id` at node-local time `now`; effects are appended to `effects`.
    pub fn new(
        id: NodeId,
        now: Instant,
        rng: &'a mut DetRng,
        effects: &'a mut Vec<Effect<M>>,
    ) -> Self {
        Context {
            id,
            now,
            rng,
            effects,
        }
    }

    /// The node being driven.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The node-local wall-clock time. Clock faults may skew it or move it backwards.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// The node's seeded random number generator.
    pub fn rng(&mut self) -> &mut DetRng {
        self.rng
    }

    /// Send `msg` to `to`.
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.effects.push(Effect::Send { to, msg });
    }

    /// Arm (or re-arm) `timer` to fire after `after`.
    pub fn set_timer(&mut self, timer: TimerId, after: Duration) {
        self.effects.push(Effect::SetTimer { timer, after });
    }

    /// Disarm `timer`.
    pub fn cancel_timer(&mut self, timer: TimerId) {
        self.effects.push(Effect::CancelTimer { timer });
    }

    /// Answer a client request.
    pub fn reply(&mut self, request: RequestId, response: Response) {
        self.effects.push(Effect::Reply { request, response });
    }

    /// Write one entry of stable storage.
    pub fn persist(&mut self, key: Vec<u8>, value: Vec<u8>, durability: Durability) {
        self.effects.push(Effect::Persist {
            key,
            value: Some(value),
            durability,
        });
    }

    /// Delete one entry of stable storage.
    pub fn unpersist(&mut self, key: Vec<u8>, durability: Durability) {
        self.effects.push(Effect::Persist {
            key,
            value: None,
            durability,
        });
    }
}

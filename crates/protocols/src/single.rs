//! `single`: one node holds all the data; every other node redirects clients to it.
//!
//! The baseline every replicated design is compared with: linearizable while it is up,
//! unavailable while it is down, and — with `durability=buffered` — it loses acknowledged
//! writes when it crashes.

use crate::kv::{KvData, storage_key};
use dsys_node::{Context, Durability, Node, NodeId, Request, Response, Storage, TimerId};

/// Settings of `single`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SingleConfig {
    /// The node that holds the data.
    pub holder: NodeId,
    /// Whether a write is fsynced before it is acknowledged.
    pub durability: Durability,
}

impl Default for SingleConfig {
    fn default() -> Self {
        SingleConfig {
            holder: NodeId(0),
            durability: Durability::Synced,
        }
    }
}

/// Nodes of `single` never talk to each other.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SingleMessage {}

/// A node of the `single` protocol.
#[derive(Debug)]
pub struct SingleNode {
    config: SingleConfig,
    id: NodeId,
    data: KvData,
}

impl Node for SingleNode {
    type Message = SingleMessage;
    type Config = SingleConfig;

    fn boot(config: &SingleConfig, id: NodeId, _cluster_size: usize, storage: &Storage) -> Self {
        SingleNode {
            config: *config,
            id,
            data: KvData::load(storage),
        }
    }

    fn on_start(&mut self, _ctx: &mut Context<'_, SingleMessage>) {}

    fn on_message(
        &mut self,
        _ctx: &mut Context<'_, SingleMessage>,
        _from: NodeId,
        msg: SingleMessage,
    ) {
        match msg {}
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, SingleMessage>, _timer: TimerId) {}

    fn on_request(&mut self, ctx: &mut Context<'_, SingleMessage>, request: Request) {
        if self.id != self.config.holder {
            ctx.reply(
                request.id,
                Response::Redirect {
                    leader: Some(self.config.holder),
                },
            );
            return;
        }
        let (response, write) = self.data.decide(request.op);
        if let Some((key, value)) = write {
            self.write(ctx, key, value);
        }
        ctx.reply(request.id, response);
    }

    fn leader(&self) -> Option<NodeId> {
        Some(self.config.holder)
    }

    fn replica_digest(&self) -> Option<u64> {
        (self.id == self.config.holder).then(|| self.data.digest())
    }
}

impl SingleNode {
    fn write(&mut self, ctx: &mut Context<'_, SingleMessage>, key: u64, value: u64) {
        self.data.set(key, value);
        ctx.persist(
            storage_key(key),
            value.to_be_bytes().to_vec(),
            self.config.durability,
        );
    }
}

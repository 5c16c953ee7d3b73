//! `primary-async`: one primary takes every write, acknowledges it at once, and ships it
//! to the followers afterwards. Clients read whichever replica they are attached to.
//! There is no failover: while the primary is down, writes are unavailable.
//!
//! This is the textbook asynchronous replication of a single-leader database. Reads at
//! followers may be stale (they lag the primary by the replication delay, and by much
//! more while partitioned), and followers catch up after faults heal: the primary
//! resends from each follower's acknowledged position on every heartbeat.

use crate::kv::{KvData, storage_key};
use dsys_node::{
    Context, Durability, Duration, Key, Node, NodeId, Request, Response, Storage, TimerId, Value,
    decode_u64,
};

const LOG_PREFIX: &[u8] = b"log/";
const APPLIED_KEY: &[u8] = b"applied";
const HEARTBEAT: TimerId = 1;
/// Most entries in one catch-up message.
const MAX_BATCH: usize = 64;

/// Settings of `primary-async`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PrimaryAsyncConfig {
    /// The node that takes writes.
    pub primary: NodeId,
    /// How often the primary resends unacknowledged entries (and heartbeats).
    pub heartbeat: Duration,
    /// Whether the primary fsyncs a write before acknowledging it.
    pub durability: Durability,
}

impl Default for PrimaryAsyncConfig {
    fn default() -> Self {
        PrimaryAsyncConfig {
            primary: NodeId(0),
            heartbeat: Duration::from_millis(50),
            durability: Durability::Synced,
        }
    }
}

/// Messages between primary and followers.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum PrimaryAsyncMessage {
    /// Entries `prev + 1 ..= prev + entries.len()` of the primary's log.
    Append {
        /// The log index just before the first entry.
        prev: u64,
        /// `(key, value)` writes in log order.
        entries: Vec<(Key, Value)>,
    },
    /// The follower has applied the log up to `applied`.
    Ack {
        /// Highest contiguous index applied.
        applied: u64,
    },
}

/// A node of the `primary-async` protocol.
#[derive(Debug)]
pub struct PrimaryAsyncNode {
    config: PrimaryAsyncConfig,
    id: NodeId,
    cluster_size: usize,
    data: KvData,
    /// The primary's log; index `i` (from 1) is `log[i - 1]`. Empty on followers.
    log: Vec<(Key, Value)>,
    /// Highest log index reflected in `data`.
    applied: u64,
    /// On the primary: each follower's acknowledged position.
    acked: Vec<u64>,
}

fn log_key(index: u64) -> Vec<u8> {
    crate::cluster::indexed_key(LOG_PREFIX, index)
}

fn encode_entry(key: Key, value: Value) -> Vec<u8> {
    let mut v = key.to_be_bytes().to_vec();
    v.extend_from_slice(&value.to_be_bytes());
    v
}

fn decode_entry(bytes: &[u8]) -> Option<(Key, Value)> {
    if bytes.len() != 16 {
        return None;
    }
    Some((decode_u64(&bytes[..8])?, decode_u64(&bytes[8..])?))
}

impl PrimaryAsyncNode {
    fn is_primary(&self) -> bool {
        self.id == self.config.primary
    }

    fn followers(&self) -> impl Iterator<Item = NodeId> + use<> {
        let primary = self.config.primary;
        (0..self.cluster_size as u32)
            .map(NodeId)
            .filter(move |&n| n != primary)
    }

    /// Primary: append a write to the log, apply it, persist it, ship it.
    fn write(&mut self, ctx: &mut Context<'_, PrimaryAsyncMessage>, key: Key, value: Value) {
        self.log.push((key, value));
        let index = self.log.len() as u64;
        self.data.set(key, value);
        self.applied = index;
        ctx.persist(
            log_key(index),
            encode_entry(key, value),
            self.config.durability,
        );
        for follower in self.followers() {
            ctx.send(
                follower,
                PrimaryAsyncMessage::Append {
                    prev: index - 1,
                    entries: vec![(key, value)],
                },
            );
        }
    }

    /// Primary: resend what each follower has not acknowledged (or an empty heartbeat).
    fn catch_up(&mut self, ctx: &mut Context<'_, PrimaryAsyncMessage>) {
        for follower in self.followers() {
            self.send_batch(ctx, follower);
        }
    }

    /// Primary: send `follower` the next batch after its acknowledged position.
    fn send_batch(&self, ctx: &mut Context<'_, PrimaryAsyncMessage>, follower: NodeId) {
        let from = self.acked[follower.index()].min(self.log.len() as u64);
        let end = (from as usize + MAX_BATCH).min(self.log.len());
        let entries = self.log[from as usize..end].to_vec();
        ctx.send(
            follower,
            PrimaryAsyncMessage::Append {
                prev: from,
                entries,
            },
        );
    }

    /// Follower: apply the part of `entries` not applied yet, if it joins up.
    fn append(
        &mut self,
        ctx: &mut Context<'_, PrimaryAsyncMessage>,
        prev: u64,
        entries: Vec<(Key, Value)>,
    ) {
        if prev <= self.applied {
            let skip = (self.applied - prev) as usize;
            let fresh = entries.len().saturating_sub(skip);
            for &(key, value) in entries.iter().skip(skip) {
                self.data.set(key, value);
                ctx.persist(
                    storage_key(key),
                    value.to_be_bytes().to_vec(),
                    Durability::Buffered,
                );
            }
            if fresh > 0 {
                self.applied += fresh as u64;
                ctx.persist(
                    APPLIED_KEY.to_vec(),
                    self.applied.to_be_bytes().to_vec(),
                    Durability::Synced,
                );
            }
        }
        // Acknowledge in every case: a gap tells the primary where to resend from.
        ctx.send(
            self.config.primary,
            PrimaryAsyncMessage::Ack {
                applied: self.applied,
            },
        );
    }
}

impl Node for PrimaryAsyncNode {
    type Message = PrimaryAsyncMessage;
    type Config = PrimaryAsyncConfig;

    fn boot(
        config: &PrimaryAsyncConfig,
        id: NodeId,
        cluster_size: usize,
        storage: &Storage,
    ) -> Self {
        let mut node = PrimaryAsyncNode {
            config: *config,
            id,
            cluster_size,
            data: KvData::default(),
            log: Vec::new(),
            applied: 0,
            acked: vec![0; cluster_size],
        };
        if node.is_primary() {
            // The log is the source of truth; stop at the first gap or malformed entry.
            node.log = crate::cluster::load_sequence(storage, LOG_PREFIX, |_, v| decode_entry(v));
            for &(key, value) in &node.log {
                node.data.set(key, value);
            }
            node.applied = node.log.len() as u64;
        } else {
            node.data = KvData::load(storage);
            node.applied = storage.get_u64(APPLIED_KEY).unwrap_or(0);
        }
        node
    }

    fn on_start(&mut self, ctx: &mut Context<'_, PrimaryAsyncMessage>) {
        if self.is_primary() {
            ctx.set_timer(HEARTBEAT, self.config.heartbeat);
        }
    }

    fn on_message(
        &mut self,
        ctx: &mut Context<'_, PrimaryAsyncMessage>,
        from: NodeId,
        msg: PrimaryAsyncMessage,
    ) {
        match msg {
            PrimaryAsyncMessage::Append { prev, entries } => {
                if !self.is_primary() && from == self.config.primary {
                    self.append(ctx, prev, entries);
                }
            }
            PrimaryAsyncMessage::Ack { applied } => {
                if self.is_primary()
                    && let Some(acked) = self.acked.get_mut(from.index())
                {
                    // Acks may arrive out of order or duplicated; a lower one after a
                    // follower crash is real, so take it as the new position.
                    let previous = *acked;
                    *acked = applied.min(self.log.len() as u64);
                    // A follower far behind (back from a crash or a partition) is fed
                    // batch after batch as fast as it acks, not one batch a heartbeat.
                    // Lagging by less than a batch is normal: those writes are in flight.
                    let lag = self.log.len() as u64 - *acked;
                    if *acked > previous && lag >= MAX_BATCH as u64 {
                        self.send_batch(ctx, from);
                    }
                }
            }
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, PrimaryAsyncMessage>, timer: TimerId) {
        if timer == HEARTBEAT && self.is_primary() {
            self.catch_up(ctx);
            ctx.set_timer(HEARTBEAT, self.config.heartbeat);
        }
    }

    fn on_request(&mut self, ctx: &mut Context<'_, PrimaryAsyncMessage>, request: Request) {
        if request.op.is_update() && !self.is_primary() {
            let leader = Some(self.config.primary);
            ctx.reply(request.id, Response::Redirect { leader });
            return;
        }
        // Reads are served by whichever replica the client reached.
        let (response, write) = self.data.decide(request.op);
        if let Some((key, value)) = write {
            self.write(ctx, key, value);
        }
        ctx.reply(request.id, response);
    }

    fn leader(&self) -> Option<NodeId> {
        Some(self.config.primary)
    }

    fn replica_digest(&self) -> Option<u64> {
        Some(self.data.digest())
    }
}

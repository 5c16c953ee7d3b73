//! A probe protocol for testing the world: every node pings every other node each
//! millisecond and logs what it observes into a shared [`Log`].

#![allow(dead_code)] // each test file uses its own part of the probe

use dsys_node::{
    Context, Durability, Duration, Instant, Node, NodeId, Request, Response, Storage, TimerId,
};
use dsys_sim::network::{LinkConfig, NetworkConfig};
use dsys_sim::workload::WorkloadConfig;
use dsys_sim::{FaultAction, LatencyDist, RunOutcome, SimConfig, TimedFault, World};
use std::cell::RefCell;
use std::rc::Rc;

pub const TICK: TimerId = 7;

/// One observation made by a node.
#[derive(Clone, Debug, PartialEq)]
pub enum Seen {
    /// The node booted and found these counters in storage.
    Boot {
        node: NodeId,
        local: Instant,
        buffered: Option<u64>,
        synced: Option<u64>,
    },
    /// A ping arrived: sent at `stamp` on the sender's clock, handled at `local`.
    Ping {
        to: NodeId,
        from: NodeId,
        local: Instant,
        stamp: Instant,
        seq: u64,
    },
    /// A timer fired.
    Tick { node: NodeId, local: Instant },
}

#[derive(Clone, Debug, Default)]
pub struct Log(pub Rc<RefCell<Vec<Seen>>>);

impl Log {
    pub fn take(&self) -> Vec<Seen> {
        self.0.borrow().clone()
    }
    fn push(&self, seen: Seen) {
        self.0.borrow_mut().push(seen);
    }
}

#[derive(Clone, Debug, Default)]
pub struct ProbeConfig {
    pub log: Log,
    /// What every node answers to `Node::leader`.
    pub leader: Option<NodeId>,
}

#[derive(Clone, Debug, Hash, PartialEq)]
pub struct Ping {
    pub stamp: Instant,
    pub seq: u64,
}

#[derive(Debug)]
pub struct Probe {
    id: NodeId,
    n: usize,
    config: ProbeConfig,
    ticks: u64,
    boot_buffered: Option<u64>,
    boot_synced: Option<u64>,
}

impl Node for Probe {
    type Message = Ping;
    type Config = ProbeConfig;

    fn boot(config: &ProbeConfig, id: NodeId, n: usize, storage: &Storage) -> Self {
        Probe {
            id,
            n,
            config: config.clone(),
            ticks: 0,
            boot_buffered: storage.get_u64(b"buffered"),
            boot_synced: storage.get_u64(b"synced"),
        }
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Ping>) {
        self.config.log.push(Seen::Boot {
            node: self.id,
            local: ctx.now(),
            buffered: self.boot_buffered,
            synced: self.boot_synced,
        });
        ctx.set_timer(TICK, Duration::from_millis(1));
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Ping>, from: NodeId, msg: Ping) {
        self.config.log.push(Seen::Ping {
            to: self.id,
            from,
            local: ctx.now(),
            stamp: msg.stamp,
            seq: msg.seq,
        });
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Ping>, _timer: TimerId) {
        self.ticks += 1;
        self.config.log.push(Seen::Tick {
            node: self.id,
            local: ctx.now(),
        });
        for to in (0..self.n as u32).map(NodeId).filter(|&n| n != self.id) {
            ctx.send(
                to,
                Ping {
                    stamp: ctx.now(),
                    seq: self.ticks,
                },
            );
        }
        // Counters continue from what survived, so a restart shows what was kept.
        let base = self.boot_synced.max(self.boot_buffered).unwrap_or(0);
        let count = base + self.ticks;
        ctx.persist(
            b"buffered".to_vec(),
            count.to_be_bytes().to_vec(),
            Durability::Buffered,
        );
        if count % 10 == 0 {
            ctx.persist(
                b"synced".to_vec(),
                count.to_be_bytes().to_vec(),
                Durability::Synced,
            );
        }
        ctx.set_timer(TICK, Duration::from_millis(1));
    }

    fn on_request(&mut self, ctx: &mut Context<'_, Ping>, request: Request) {
        ctx.reply(request.id, Response::WriteOk);
    }

    fn leader(&self) -> Option<NodeId> {
        self.config.leader
    }
}

pub fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

pub fn ids(n: u32) -> Vec<NodeId> {
    (0..n).map(NodeId).collect()
}

/// Five (or `nodes`) probes on 1 ms links; one client keeps the run going for ~500 ms.
pub fn config(nodes: usize, seed: u64) -> SimConfig {
    SimConfig {
        seed,
        nodes,
        network: NetworkConfig {
            default_link: LinkConfig {
                latency: LatencyDist::Constant { ms: 1.0 },
                ..LinkConfig::default()
            },
            ..NetworkConfig::default()
        },
        workload: WorkloadConfig {
            clients: 1,
            ops: 100,
            think: LatencyDist::Constant { ms: 5.0 },
            ..WorkloadConfig::default()
        },
        ..SimConfig::default()
    }
}

pub fn at(t: u64, action: FaultAction) -> TimedFault {
    TimedFault { at: ms(t), action }
}

/// Run the probes on [`config`] with `seed`, following `script`.
pub fn run_seeded(nodes: usize, seed: u64, script: Vec<TimedFault>) -> (RunOutcome, Vec<Seen>) {
    let log = Log::default();
    let probe = ProbeConfig {
        log: log.clone(),
        leader: None,
    };
    let outcome = World::<Probe>::with_script(config(nodes, seed), probe, script)
        .unwrap()
        .run();
    (outcome, log.take())
}

pub fn run_script(nodes: usize, script: Vec<TimedFault>) -> (RunOutcome, Vec<Seen>) {
    run_seeded(nodes, 1, script)
}

//! Simulator throughput: message deliveries per second on one core, for a 5-node
//! request/ack exchange driven through the full world (event queue, network model,
//! trace hash, effects).
//!
//! The same exchange runs on turmoil (tokio's deterministic network simulator, which
//! drives async tasks over simulated UDP) in the same run, so the ratio between the two
//! is measured, not guessed.
//!
//! Run: `cargo bench -p dsys-sim --bench deliveries`

use dsys_node::{Context, Node, NodeId, Request, RequestId, Response, Storage, TimerId};
use dsys_sim::network::{LinkConfig, NetworkConfig};
use dsys_sim::workload::WorkloadConfig;
use dsys_sim::{LatencyDist, SimConfig, World};

fn main() {
    divan::main();
}

/// Node 0 sends a request to every other node; each answers with an ack; once all acks
/// of a round are in, the next round starts. After the last round node 0 answers the
/// one client request that keeps the run open.
#[derive(Debug)]
struct Exchange {
    id: NodeId,
    n: usize,
    rounds: u64,
    round: u64,
    acks: usize,
    waiting_client: Option<RequestId>,
}

#[derive(Clone, Debug, Hash)]
enum Msg {
    Request { round: u64 },
    Ack { round: u64 },
}

impl Exchange {
    fn start_round(&mut self, ctx: &mut Context<'_, Msg>) {
        self.round += 1;
        self.acks = 0;
        for to in 1..self.n as u32 {
            ctx.send(NodeId(to), Msg::Request { round: self.round });
        }
    }
}

impl Node for Exchange {
    type Message = Msg;
    type Config = u64;

    fn boot(rounds: &u64, id: NodeId, n: usize, _: &Storage) -> Self {
        Exchange {
            id,
            n,
            rounds: *rounds,
            round: 0,
            acks: 0,
            waiting_client: None,
        }
    }

    fn on_start(&mut self, ctx: &mut Context<'_, Msg>) {
        if self.id == NodeId(0) {
            self.start_round(ctx);
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Msg>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Request { round } => ctx.send(from, Msg::Ack { round }),
            Msg::Ack { round } if round == self.round => {
                self.acks += 1;
                if self.acks == self.n - 1 {
                    if self.round < self.rounds {
                        self.start_round(ctx);
                    } else if let Some(id) = self.waiting_client.take() {
                        ctx.reply(id, Response::WriteOk);
                    }
                }
            }
            Msg::Ack { .. } => {}
        }
    }

    fn on_timer(&mut self, _: &mut Context<'_, Msg>, _: TimerId) {}

    fn on_request(&mut self, _: &mut Context<'_, Msg>, request: Request) {
        self.waiting_client = Some(request.id);
    }
}

fn exchange_config() -> SimConfig {
    SimConfig {
        nodes: 5,
        network: NetworkConfig {
            default_link: LinkConfig {
                latency: LatencyDist::Uniform { min: 0.5, max: 1.5 },
                ..LinkConfig::default()
            },
            ..NetworkConfig::default()
        },
        workload: WorkloadConfig {
            clients: 1,
            ops: 1,
            timeout_ms: 1e12,
            ..WorkloadConfig::default()
        },
        ..SimConfig::default()
    }
}

const ROUNDS: u64 = 50_000;
/// Four requests and four acks per round.
const DELIVERIES: u64 = ROUNDS * 8;

#[divan::bench(sample_count = 20)]
fn request_ack_5_nodes(bencher: divan::Bencher) {
    bencher
        .counter(divan::counter::ItemsCount::new(DELIVERIES))
        .bench(|| {
            let outcome = World::<Exchange>::new(exchange_config(), ROUNDS)
                .expect("valid config")
                .run();
            assert_eq!(outcome.stats.messages_delivered, DELIVERIES);
            outcome.trace_hash
        });
}

/// Fewer rounds for turmoil: it is far slower, and the counter normalises per delivery.
const PEER_ROUNDS: u64 = 2_000;
const PEER_DELIVERIES: u64 = PEER_ROUNDS * 8;

/// The same exchange on turmoil: four UDP echo hosts, one client that sends a request
/// to each and waits for four acks before the next round. Turmoil advances time in
/// 1 ms ticks; latency is 1-2 ms, close to the dsys run's 0.5-1.5 ms.
#[divan::bench(sample_count = 10)]
fn peer_turmoil_request_ack_5_nodes(bencher: divan::Bencher) {
    use std::time::Duration;
    use turmoil::net::UdpSocket;
    const PORT: u16 = 9000;
    bencher
        .counter(divan::counter::ItemsCount::new(PEER_DELIVERIES))
        .bench(|| {
            let mut sim = turmoil::Builder::new()
                .simulation_duration(Duration::from_secs(1_000_000))
                .tick_duration(Duration::from_millis(1))
                .min_message_latency(Duration::from_millis(1))
                .max_message_latency(Duration::from_millis(2))
                .build();
            for peer in 1..=4 {
                sim.host(format!("n{peer}"), || async {
                    let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
                    let mut buf = [0u8; 8];
                    loop {
                        let (len, from) = socket.recv_from(&mut buf).await?;
                        socket.send_to(&buf[..len], from).await?;
                    }
                });
            }
            sim.client("n0", async {
                let socket = UdpSocket::bind(("0.0.0.0", PORT)).await?;
                let peers: Vec<_> = (1..=4)
                    .map(|p| (turmoil::lookup(format!("n{p}")), PORT))
                    .collect();
                let mut buf = [0u8; 8];
                for round in 0..PEER_ROUNDS {
                    for peer in &peers {
                        socket.send_to(&round.to_le_bytes(), *peer).await?;
                    }
                    let mut acks = 0;
                    while acks < peers.len() {
                        let (len, _) = socket.recv_from(&mut buf).await?;
                        if len == 8 && u64::from_le_bytes(buf) == round {
                            acks += 1;
                        }
                    }
                }
                Ok(())
            });
            sim.run().expect("the turmoil exchange completes");
        });
}

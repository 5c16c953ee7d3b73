//! Raft in the simulator: message deliveries per second on one core, for a 5-node
//! cluster serving a closed-loop key-value workload through the full world (event queue,
//! network model, trace hash, effects, client history) — the protocol's own work
//! included, not a toy exchange.
//!
//! Two workloads: the default fault-free one scaled up (50 clients, 20,000 operations),
//! and the same under the swarm nemesis (partitions, crashes, pauses, loss, clock faults).
//! The invariant monitor runs, as in every simulated run. The counter is the number of
//! node-to-node messages delivered, measured once per scenario (a run is a function of
//! its seed), so divan's item/s column is deliveries per second. The world runs alone:
//! checking the history afterwards is the checker's cost, not the simulator's.
//!
//! Run: `cargo bench -p dsys-lab --bench raft`

use dsys_lab::{Protocol, ProtocolConfig, Scenario};
use dsys_protocols::{RaftConfig, RaftNode};
use dsys_sim::{SimConfig, World};

fn main() {
    divan::main();
}

/// The world and Raft's typed config, described as every scenario is (the builder); the
/// world then runs on its own, without the scenario's history hashing.
fn described(nemesis: &str, reads: &str) -> (SimConfig, RaftConfig) {
    let scenario = Scenario::builder(Protocol::Raft)
        .seed(1)
        .nodes(5)
        .nemesis(nemesis)
        .set(&[format!("reads={reads}")])
        .workload(|w| {
            w.clients = 50;
            w.ops = 20_000;
        })
        .build()
        .expect("a valid scenario");
    match scenario.config() {
        Ok(ProtocolConfig::Raft(raft)) => (scenario.sim, raft),
        other => panic!("not a Raft config: {other:?}"),
    }
}

fn bench_deliveries(bencher: divan::Bencher, sim: SimConfig, raft: RaftConfig) {
    let run = || {
        World::<RaftNode>::new(sim.clone(), raft)
            .expect("valid config")
            .run()
    };
    let first = run();
    // The invariant monitor is on, as in every run; a violation would void the figure.
    assert_eq!(first.invariants.and_then(|i| i.violation), None);
    bencher
        .counter(divan::counter::ItemsCount::new(
            first.stats.messages_delivered,
        ))
        .bench(|| run().trace_hash);
}

#[divan::bench(args = ["read-index", "lease"], sample_count = 10)]
fn raft_5_nodes(bencher: divan::Bencher, reads: &str) {
    let (sim, raft) = described("none", reads);
    bench_deliveries(bencher, sim, raft);
}

#[divan::bench(args = ["read-index", "lease"], sample_count = 10)]
fn raft_5_nodes_swarm(bencher: divan::Bencher, reads: &str) {
    let (sim, raft) = described("swarm", reads);
    bench_deliveries(bencher, sim, raft);
}

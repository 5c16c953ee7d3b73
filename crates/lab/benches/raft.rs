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

use dsys_protocols::{RaftConfig, RaftNode, ReadPath};
use dsys_sim::workload::WorkloadConfig;
use dsys_sim::{SimConfig, World};

fn main() {
    divan::main();
}

fn config(nemesis: &str) -> SimConfig {
    SimConfig {
        seed: 1,
        nodes: 5,
        nemesis: nemesis.parse().expect("valid nemesis"),
        workload: WorkloadConfig {
            clients: 50,
            ops: 20_000,
            ..WorkloadConfig::default()
        },
        ..SimConfig::default()
    }
}

fn raft(reads: &str) -> RaftConfig {
    RaftConfig {
        reads: match reads {
            "lease" => ReadPath::Lease,
            _ => ReadPath::ReadIndex,
        },
        ..RaftConfig::default()
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
    bench_deliveries(bencher, config("none"), raft(reads));
}

#[divan::bench(args = ["read-index", "lease"], sample_count = 10)]
fn raft_5_nodes_swarm(bencher: divan::Bencher, reads: &str) {
    bench_deliveries(bencher, config("swarm"), raft(reads));
}

//! Whole clusters of each protocol on the simulator, from inside the protocols crate:
//! they serve, survive their faults, converge after the final heal, and repeat their
//! trace hash. (The consistency claims, judged by the checkers over hundreds of seeds,
//! are the lab's evidence tests.)

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_node::{Durability, Node};
use dsys_protocols::leader_follower::Replication;
use dsys_protocols::{
    LeaderFollowerConfig, LeaderFollowerNode, LeaderlessConfig, LeaderlessNode, PrimaryAsyncConfig,
    PrimaryAsyncNode, SingleConfig, SingleNode,
};
use dsys_sim::workload::WorkloadConfig;
use dsys_sim::{RunOutcome, SimConfig, World};

const SEEDS: u64 = 20;

fn run<N: Node>(config: N::Config, nemesis: &str, seed: u64, keys: u64) -> RunOutcome
where
    N::Config: Clone,
{
    let sim = SimConfig {
        seed,
        nemesis: nemesis.parse().unwrap(),
        workload: WorkloadConfig {
            ops: 400,
            keys,
            ..WorkloadConfig::default()
        },
        ..SimConfig::default()
    };
    let a = World::<N>::new(sim.clone(), config.clone()).unwrap().run();
    let b = World::<N>::new(sim, config).unwrap().run();
    assert_eq!(
        a.trace_hash, b.trace_hash,
        "{nemesis} seed {seed}: not deterministic"
    );
    a
}

fn metric(o: &RunOutcome, name: &str) -> u64 {
    o.protocol_metrics.get(name).copied().unwrap_or(0)
}

#[test]
fn single_serves_everything_without_faults_and_loses_buffered_writes_in_crashes() {
    for seed in 0..SEEDS {
        let calm = run::<SingleNode>(SingleConfig::default(), "none", seed, 8);
        assert_eq!(calm.stats.ops_ok + calm.stats.ops_fail, 400, "seed {seed}");
        assert_eq!(calm.stats.ops_info, 0, "seed {seed}");
        let synced = run::<SingleNode>(SingleConfig::default(), "crash-restart", seed, 8);
        assert_eq!(synced.stats.lost_buffered_writes, 0, "seed {seed}");
        assert!(synced.converged, "seed {seed}");
    }
    let buffered = SingleConfig {
        durability: Durability::Buffered,
        ..SingleConfig::default()
    };
    let lost: u64 = (0..SEEDS)
        .map(|seed| {
            run::<SingleNode>(buffered, "crash-restart", seed, 8)
                .stats
                .lost_buffered_writes
        })
        .sum();
    assert!(
        lost > 0,
        "buffered writes never lost in {SEEDS} seeds of crashes"
    );
}

#[test]
fn primary_async_converges_after_partitions_and_crashes() {
    for seed in 0..SEEDS {
        for nemesis in ["halves", "crash-restart", "swarm"] {
            let o = run::<PrimaryAsyncNode>(PrimaryAsyncConfig::default(), nemesis, seed, 8);
            assert!(o.converged, "{nemesis} seed {seed}");
            assert!(o.stats.ops_ok > 0, "{nemesis} seed {seed}");
        }
    }
}

#[test]
fn leader_follower_fails_over_and_truncates_what_the_old_leader_never_shipped() {
    let mut truncated = 0;
    for seed in 0..SEEDS {
        let o = run::<LeaderFollowerNode>(LeaderFollowerConfig::default(), "crash-leader", seed, 8);
        assert!(o.converged, "seed {seed}");
        assert!(
            metric(&o, "leaderships won") > 0,
            "seed {seed}: no failover"
        );
        truncated += metric(&o, "entries truncated");
        // Synchronous replication under the same faults converges as well.
        let sync = LeaderFollowerConfig {
            replication: Replication::Sync,
            ..LeaderFollowerConfig::default()
        };
        assert!(run::<LeaderFollowerNode>(sync, "crash-leader", seed, 8).converged);
    }
    assert!(truncated > 0, "no unshipped entry was ever truncated");
}

#[test]
fn leaderless_hands_hints_off_and_repairs_replicas() {
    let sloppy = LeaderlessConfig {
        sloppy_quorum: true,
        ..LeaderlessConfig::default()
    };
    let (mut handed_off, mut repaired) = (0, 0);
    for seed in 0..SEEDS {
        let o = run::<LeaderlessNode>(sloppy, "halves", seed, 64);
        assert!(o.converged, "seed {seed}");
        handed_off += metric(&o, "hints handed off");
        repaired += metric(&o, "read repairs") + metric(&o, "anti-entropy keys repaired");
        let strict = run::<LeaderlessNode>(LeaderlessConfig::default(), "crash-restart", seed, 64);
        assert!(strict.converged, "seed {seed}");
    }
    assert!(
        handed_off > 0 && repaired > 0,
        "{handed_off} hints, {repaired} repairs"
    );
}

//! Regression: a final read that timed out was followed by the next final read under the
//! old process id, then completed under the new one, so the history did not pair up and
//! `dsys simulate --protocol raft --nodes 6 --regions 2 --wan-latency constant:150 --ops
//! 200` stopped with "a simulator bug". Every protocol, over one to three regions, with
//! timeouts of 1 ms, 10 ms and the default, for 200 seeds: every history pairs up.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_lab::checking::simulated_history;
use dsys_lab::{Protocol, Scenario};
use dsys_sim::LatencyDist;
use dsys_sim::workload::WorkloadConfig;

const SEEDS: u64 = 200;
const NODES: usize = 6;

fn scenario(protocol: Protocol, regions: usize, timeout_ms: f64, seed: u64) -> Scenario {
    Scenario::builder(protocol)
        .seed(seed)
        .nodes(NODES)
        .regions(regions, LatencyDist::Constant { ms: 150.0 })
        // A swarm on odd seeds: crashes and partitions make final reads time out too.
        .nemesis(if seed % 2 == 1 { "swarm" } else { "none" })
        .workload(|w| {
            w.ops = 200;
            w.timeout_ms = timeout_ms;
        })
        .build()
        .unwrap()
}

/// `reach`: whether final reads can time out at all (they cannot where every node answers
/// reads from its own copy at once: primary-async and multi-leader).
fn every_history_pairs_up(protocol: Protocol, reach: bool) {
    let default_timeout = WorkloadConfig::default().timeout_ms;
    let mut timed_out_final_reads = 0;
    for regions in 1..=3 {
        for timeout_ms in [1.0, 10.0, default_timeout] {
            for seed in 0..SEEDS {
                let s = scenario(protocol, regions, timeout_ms, seed);
                let run = s.run(&mut |_| {}).unwrap();
                if let Err(e) = simulated_history(&run) {
                    panic!(
                        "{protocol}, {regions} regions, timeout {timeout_ms} ms, seed {seed}: {e}"
                    );
                }
                let events = run.outcome.history.events();
                let healed = events.iter().position(|e| e.f == "heal-all");
                timed_out_final_reads += events[healed.unwrap_or(events.len())..]
                    .iter()
                    .filter(|e| e.error.as_deref() == Some("timeout") && e.f == "read")
                    .count();
            }
        }
    }
    // The sweep really reaches the case that broke.
    assert_eq!(
        timed_out_final_reads > 0,
        reach,
        "{protocol}: {timed_out_final_reads} final reads timed out"
    );
}

#[test]
fn single() {
    every_history_pairs_up(Protocol::Single, true);
}

#[test]
fn primary_async() {
    every_history_pairs_up(Protocol::PrimaryAsync, false);
}

#[test]
fn leader_follower() {
    every_history_pairs_up(Protocol::LeaderFollower, true);
}

#[test]
fn multi_leader() {
    every_history_pairs_up(Protocol::MultiLeader, false);
}

#[test]
fn leaderless() {
    every_history_pairs_up(Protocol::Leaderless, true);
}

#[test]
fn raft() {
    every_history_pairs_up(Protocol::Raft, true);
}

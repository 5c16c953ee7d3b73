//! One seed reproduces a run bit for bit; a saved artifact replays to the same trace
//! hash and the same history bytes.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_history::EventType;
use dsys_history::Process;
use dsys_lab::{Protocol, RunArtifact, RunResult, Scenario};
use std::collections::BTreeSet;

fn scenario(protocol: Protocol, nemesis: &str, seed: u64) -> Scenario {
    Scenario::builder(protocol)
        .nemesis(nemesis)
        .seed(seed)
        .build()
        .unwrap()
}

fn history_bytes(result: &RunResult) -> Vec<u8> {
    let mut out = Vec::new();
    result.outcome.history.write_jsonl(&mut out).unwrap();
    out
}

#[test]
fn two_hundred_swarm_seeds_per_protocol_repeat_their_trace_hash() {
    for protocol in Protocol::ALL {
        let mut hashes = BTreeSet::new();
        let mut faults = 0;
        for seed in 0..200 {
            let s = scenario(protocol, "swarm", seed);
            let a = s.run(&mut |_| {}).unwrap();
            let b = s.run(&mut |_| {}).unwrap();
            assert_eq!(
                a.outcome.trace_hash, b.outcome.trace_hash,
                "{protocol} seed {seed}"
            );
            assert_eq!(
                history_bytes(&a),
                history_bytes(&b),
                "{protocol} seed {seed}"
            );
            assert_eq!(a.outcome.realised_schedule, b.outcome.realised_schedule);
            hashes.insert(a.outcome.trace_hash);
            faults += a.outcome.realised_schedule.len();
        }
        // Different seeds are different runs, and the swarm really injected faults.
        assert_eq!(hashes.len(), 200, "{protocol}");
        assert!(
            faults > 200 * 5,
            "{protocol}: only {faults} fault actions in 200 runs"
        );
    }
}

#[test]
fn replaying_an_artifact_reproduces_trace_and_history_byte_for_byte() {
    for protocol in Protocol::ALL {
        for (seed, nemesis) in (0..40).zip(
            [
                "swarm",
                "isolate-leader+crash-restart",
                "clock-strobe+pause+dup:0.1",
                "halves+delay:pareto:1:1.5",
            ]
            .iter()
            .cycle(),
        ) {
            let original = scenario(protocol, nemesis, seed).run(&mut |_| {}).unwrap();
            let artifact = RunArtifact::of(&original);
            let reloaded = RunArtifact::parse(&artifact.to_json(), "test").unwrap();
            assert_eq!(reloaded, artifact);
            let replayed = reloaded.replay(&mut |_| {}).unwrap();
            assert!(replayed.scripted);
            assert_eq!(
                replayed.outcome.trace_hash, original.outcome.trace_hash,
                "{protocol} {nemesis} seed {seed}"
            );
            assert_eq!(history_bytes(&replayed), history_bytes(&original));
        }
    }
}

#[test]
fn a_tampered_artifact_is_caught_by_replay() {
    let original = scenario(Protocol::PrimaryAsync, "halves", 3)
        .run(&mut |_| {})
        .unwrap();
    let mut artifact = RunArtifact::of(&original);
    artifact.realised_schedule.pop();
    let err = artifact.replay(&mut |_| {}).unwrap_err().to_string();
    assert!(err.starts_with("replay diverged: trace hash is"), "{err}");
}

/// The keys client 0 asks for, in order (the first `n`).
fn keys_asked_by_client_0(result: &RunResult, clients: u64, n: usize) -> Vec<u64> {
    result
        .outcome
        .history
        .events()
        .iter()
        .filter(|e| {
            e.kind == EventType::Invoke
                && matches!(e.process, Process::Client(p) if p % clients == 0)
        })
        .filter_map(|e| e.key)
        .take(n)
        .collect()
}

#[test]
fn adding_a_fault_does_not_reshuffle_the_workload() {
    let calm = scenario(Protocol::PrimaryAsync, "none", 11)
        .run(&mut |_| {})
        .unwrap();
    let stormy = scenario(
        Protocol::PrimaryAsync,
        "loss:0.2+crash-restart+clock-skew",
        11,
    )
    .run(&mut |_| {})
    .unwrap();
    assert_ne!(calm.outcome.trace_hash, stormy.outcome.trace_hash);
    let clients = calm.scenario.sim.workload.clients as u64;
    let a = keys_asked_by_client_0(&calm, clients, 150);
    let b = keys_asked_by_client_0(&stormy, clients, 150);
    assert_eq!(a.len(), 150);
    assert_eq!(a, b);
}

#[test]
fn the_artifact_of_a_replay_replays_the_same_run() {
    let original = scenario(Protocol::PrimaryAsync, "swarm", 77)
        .run(&mut |_| {})
        .unwrap();
    let first = RunArtifact::of(&original);
    let replayed = first.replay(&mut |_| {}).unwrap();
    let second = RunArtifact::of(&replayed);
    assert_eq!(second.trace_hash, first.trace_hash);
    assert_eq!(second.history_hash, first.history_hash);
    assert_eq!(second.realised_schedule, first.realised_schedule);
    assert_eq!(second.scenario, first.scenario);
    assert!(second.replay(&mut |_| {}).is_ok());
}

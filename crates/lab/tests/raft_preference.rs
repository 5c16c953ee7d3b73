//! Evidence for `raft` with `prefer-first=on` (a leader preference, as `dsys design
//! --verify` uses to put the leader where the design does): node 0 ends up leading, and
//! handing leadership over keeps every history linearizable, lease reads included. (The
//! old leader also gives up its lease as it hands over, as the Raft thesis asks in
//! §6.4.1; none of these schedules opens that window, so no run here depends on it.)
//! Each run reruns from the CLI with
//! `dsys simulate --protocol raft --set prefer-first=on --nemesis NEMESIS --seed SEED`.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::{CheckName, Verdict};
use dsys_history::{EventType, Process};
use dsys_lab::checking::check_run;
use dsys_lab::{Protocol, RunResult, Scenario};
use dsys_node::NodeId;
use std::time::Duration;

const SEEDS: u64 = 1_000;

fn run(settings: &[&str], nemesis: &str, seed: u64) -> RunResult {
    Scenario::builder(Protocol::Raft)
        .set(settings)
        .nemesis(nemesis)
        .seed(seed)
        .run()
        .unwrap()
}

fn linearizable_over_seeds(settings: &[&str], nemesis: &str) {
    let mut handovers = 0;
    for seed in 0..SEEDS {
        let r = run(settings, nemesis, seed);
        let report = check_run(
            &r,
            &[CheckName::Linearizable],
            Some(Duration::from_secs(60)),
        )
        .unwrap();
        let lin = &report.checks["linearizable"];
        assert_eq!(
            lin.result,
            Verdict::Pass,
            "{settings:?} {nemesis} seed {seed}: {:?}",
            lin.witness.as_ref().map(|w| &w.explanation)
        );
        handovers += r
            .outcome
            .protocol_metrics
            .get("handovers to the preferred leader")
            .copied()
            .unwrap_or(0);
    }
    println!(
        "raft {settings:?} under {nemesis}: {SEEDS} seeds linearizable, {handovers} handovers"
    );
    assert!(
        handovers >= SEEDS / 2,
        "{handovers} handovers: the preference does little"
    );
}

#[test]
fn handing_over_keeps_read_index_linearizable_under_swarm() {
    linearizable_over_seeds(&["prefer-first=on"], "swarm");
}

/// Lease reads with faults that leave clocks alone (the lease assumes bounded drift).
#[test]
fn handing_over_keeps_lease_reads_linearizable() {
    linearizable_over_seeds(
        &["prefer-first=on", "reads=lease"],
        "halves+isolate-leader+crash-restart+pause+loss:0.05",
    );
}

/// Without faults, whoever wins the first election hands over: the second half of the
/// writes are all answered by node 0. Without the preference, other nodes lead as often.
#[test]
fn node_zero_leads_once_it_has_the_log() {
    let answered_late_by_zero = |settings: &[&str], seed| {
        let r = run(settings, "none", seed);
        let writes: Vec<Option<NodeId>> = r
            .outcome
            .history
            .events()
            .iter()
            .filter(|e| matches!(e.process, Process::Client(_)))
            .filter(|e| e.kind == EventType::Ok && e.f == "write")
            .map(|e| e.node)
            .collect();
        let late = &writes[writes.len() / 2..];
        !late.is_empty() && late.iter().all(|n| *n == Some(NodeId(0)))
    };
    let preferred = (0..50)
        .filter(|&s| answered_late_by_zero(&["prefer-first=on"], s))
        .count();
    let plain = (0..50).filter(|&s| answered_late_by_zero(&[], s)).count();
    assert_eq!(
        preferred, 50,
        "node 0 led at the end on {preferred} of 50 seeds"
    );
    assert!(
        plain < 25,
        "without the preference node 0 led on {plain} of 50 seeds"
    );
}

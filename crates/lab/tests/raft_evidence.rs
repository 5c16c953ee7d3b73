//! Evidence for `raft`: read-index reads stay linearizable under every nemesis, over
//! 1,000 seeds each; local reads are stale. Each scenario reruns from the CLI with
//! `dsys simulate --protocol raft --nemesis NEMESIS --seed SEED --expect linearizable`.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::{CheckName, Verdict};
use dsys_lab::checking::check_run;
use dsys_lab::dsys_sim::{FaultAction, SimConfig, TimedFault};
use dsys_lab::{Protocol, RunResult, Scenario, Settings};
use dsys_node::{Instant, NodeId};
use std::time::Duration;

const SEEDS: u64 = 1_000;

fn raft_run(settings: &[&str], nemesis: &str, seed: u64) -> RunResult {
    scripted_run(settings, nemesis, seed, None)
}

fn scripted_run(
    settings: &[&str],
    nemesis: &str,
    seed: u64,
    schedule: Option<Vec<TimedFault>>,
) -> RunResult {
    let scenario = Scenario {
        protocol: Protocol::Raft,
        settings: Settings::parse(Protocol::Raft, settings).unwrap(),
        sim: SimConfig {
            seed,
            nemesis: nemesis.parse().unwrap(),
            ..SimConfig::default()
        },
        schedule,
    };
    scenario.run(&mut |_| {}).unwrap()
}

/// Every seed linearizable and converged; returns the operations checked.
fn linearizable_over_all_seeds(nemesis: &str) -> u64 {
    linearizable_with("read-index", nemesis)
}

/// [`linearizable_over_all_seeds`] for the read path `reads`.
fn linearizable_with(reads: &str, nemesis: &str) -> u64 {
    let reads_setting = format!("reads={reads}");
    let mut ops = 0;
    for seed in 0..SEEDS {
        let run = raft_run(&[reads_setting.as_str()], nemesis, seed);
        let report = check_run(
            &run,
            &[CheckName::Linearizable, CheckName::Converged],
            Some(Duration::from_secs(60)),
        )
        .unwrap();
        let lin = &report.checks["linearizable"];
        assert_eq!(
            lin.result,
            Verdict::Pass,
            "{nemesis} seed {seed}: {:?}",
            lin.witness.as_ref().map(|w| &w.explanation)
        );
        assert_eq!(
            report.checks["converged"].result,
            Verdict::Pass,
            "{nemesis} seed {seed}"
        );
        ops += lin.counts["ops checked"];
    }
    println!(
        "raft read-index under {nemesis}: {SEEDS} seeds, {ops} operations checked, no violation"
    );
    assert!(ops > SEEDS * 300, "{ops}");
    ops
}

#[test]
fn read_index_under_halves() {
    linearizable_over_all_seeds("halves");
}

#[test]
fn read_index_under_isolate_leader() {
    linearizable_over_all_seeds("isolate-leader");
}

#[test]
fn read_index_under_majority_ring() {
    linearizable_over_all_seeds("majority-ring");
}

#[test]
fn read_index_under_bridge() {
    linearizable_over_all_seeds("bridge");
}

#[test]
fn read_index_under_one_way() {
    linearizable_over_all_seeds("one-way");
}

#[test]
fn read_index_under_crash_restart() {
    linearizable_over_all_seeds("crash-restart");
}

#[test]
fn read_index_under_pause() {
    linearizable_over_all_seeds("pause");
}

#[test]
fn read_index_under_loss_and_duplication() {
    linearizable_over_all_seeds("loss:0.1+dup:0.2");
}

#[test]
fn read_index_under_clock_skew() {
    linearizable_over_all_seeds("clock-skew+clock-strobe");
}

#[test]
fn read_index_under_swarm() {
    linearizable_over_all_seeds("swarm");
}

#[test]
fn local_reads_are_stale_and_the_checks_say_so() {
    let mut stale_seeds = 0;
    for seed in 0..200 {
        let run = raft_run(&["reads=local"], "none", seed);
        let report = check_run(&run, &[CheckName::NoStaleReads], None).unwrap();
        if report.checks["no-stale-reads"].result == Verdict::Fail {
            stale_seeds += 1;
        }
    }
    println!("raft local reads, no faults: stale reads on {stale_seeds} of 200 seeds");
    assert!(stale_seeds >= 150, "{stale_seeds}");
}

#[test]
fn lease_reads_without_clock_faults_are_linearizable() {
    linearizable_with(
        "lease",
        "halves+isolate-leader+crash-restart+pause+loss:0.05",
    );
}

/// At 1 s every wall clock jumps back 1 s and the leader is cut off: its lease, timed on
/// its own wall clock, now lasts until check-quorum makes it step down, which can be
/// after the next leader is elected (timers are unaffected by the jump).
fn clocks_back_and_leader_cut_off() -> Vec<TimedFault> {
    let at = Instant::from_millis(1_000);
    let mut schedule: Vec<TimedFault> = (0..5)
        .map(|node| TimedFault {
            at,
            action: FaultAction::ClockBump {
                node: NodeId(node),
                delta_ns: -1_000_000_000,
            },
        })
        .collect();
    schedule.push(TimedFault {
        at,
        action: FaultAction::IsolateLeader,
    });
    schedule
}

#[test]
fn a_clock_jump_beyond_the_lease_margin_breaks_lease_reads_but_not_read_index() {
    let (mut broken, mut witness) = (0, None);
    for seed in 0..SEEDS {
        let schedule = clocks_back_and_leader_cut_off();
        let run = scripted_run(&["reads=lease"], "none", seed, Some(schedule.clone()));
        let report = check_run(&run, &[CheckName::Linearizable], None).unwrap();
        let lin = &report.checks["linearizable"];
        if lin.result == Verdict::Fail {
            broken += 1;
            witness.get_or_insert_with(|| (seed, lin.witness.clone().unwrap().explanation));
        }
        let safe = scripted_run(&["reads=read-index"], "none", seed, Some(schedule));
        let report = check_run(&safe, &[CheckName::Linearizable], None).unwrap();
        assert_eq!(
            report.checks["linearizable"].result,
            Verdict::Pass,
            "read-index seed {seed}"
        );
    }
    let (seed, explanation) = witness.expect("no lease violation on any seed");
    println!(
        "raft lease, clocks 1 s back and the leader cut off: not linearizable on {broken} of {SEEDS} seeds (read-index: 0); first, seed {seed}: {explanation}"
    );
    assert!(explanation.contains("stale read"), "{explanation}");
}

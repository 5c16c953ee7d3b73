//! Evidence for `raft`: read-index reads stay linearizable under every nemesis, over
//! 1,000 seeds each; local reads are stale. Each scenario reruns from the CLI with
//! `dsys simulate --protocol raft --nemesis NEMESIS --seed SEED --expect linearizable`.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::{CheckName, Verdict};
use dsys_lab::checking::check_run;
use dsys_lab::dsys_sim::SimConfig;
use dsys_lab::{Protocol, RunResult, Scenario, Settings};
use std::time::Duration;

const SEEDS: u64 = 1_000;

fn raft_run(settings: &[&str], nemesis: &str, seed: u64) -> RunResult {
    let scenario = Scenario {
        protocol: Protocol::Raft,
        settings: Settings::parse(Protocol::Raft, settings).unwrap(),
        sim: SimConfig {
            seed,
            nemesis: nemesis.parse().unwrap(),
            ..SimConfig::default()
        },
        schedule: None,
    };
    scenario.run(&mut |_| {}).unwrap()
}

/// Every seed linearizable and converged; returns the operations checked.
fn linearizable_over_all_seeds(nemesis: &str) -> u64 {
    let mut ops = 0;
    for seed in 0..SEEDS {
        let run = raft_run(&["reads=read-index"], nemesis, seed);
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

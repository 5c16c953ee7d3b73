//! Simulated histories judged by the checkers: the baseline is never flagged, async
//! replication with follower reads is flagged and explained.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::{CheckName, Verdict};
use dsys_lab::checking::check_run;
use dsys_lab::{Protocol, Scenario};
use std::time::Duration;

/// A run of `protocol` under a swarm nemesis.
fn swarm_run(protocol: Protocol, seed: u64) -> dsys_lab::RunResult {
    Scenario::builder(protocol)
        .nemesis("swarm")
        .seed(seed)
        .run()
        .unwrap()
}

fn checked(protocol: Protocol, seed: u64) -> (Verdict, Option<String>, usize) {
    let run = swarm_run(protocol, seed);
    let report = check_run(
        &run,
        &[CheckName::Linearizable],
        Some(Duration::from_secs(60)),
    )
    .unwrap();
    let lin = &report.checks["linearizable"];
    (
        lin.result,
        lin.witness.as_ref().map(|w| w.explanation.clone()),
        lin.counts["ops checked"] as usize,
    )
}

#[test]
fn single_is_never_flagged_over_500_swarm_seeds() {
    let mut ops = 0;
    for seed in 0..500 {
        let (verdict, explanation, checked) = checked(Protocol::Single, seed);
        assert_eq!(verdict, Verdict::Pass, "seed {seed}: {explanation:?}");
        ops += checked;
    }
    println!("single: 500 seeds, {ops} operations checked, no violation");
    assert!(ops > 500 * 500);
}

#[test]
fn primary_async_with_follower_reads_is_flagged_and_explained_on_most_seeds() {
    let (mut flagged, mut stale, mut unknown) = (0, 0, 0);
    let seeds = 200;
    for seed in 0..seeds {
        match checked(Protocol::PrimaryAsync, seed) {
            (Verdict::Fail, Some(explanation), _) => {
                flagged += 1;
                if explanation.starts_with("stale read:") {
                    stale += 1;
                }
            }
            (Verdict::Fail, None, _) => panic!("seed {seed}: a violation without a witness"),
            (Verdict::Unknown, _, _) => unknown += 1,
            (Verdict::Pass, _, _) => {}
        }
    }
    println!(
        "primary-async: {flagged} of {seeds} seeds flagged, {stale} explained as stale reads, {unknown} unknown"
    );
    assert!(
        flagged * 10 >= seeds * 8,
        "only {flagged} of {seeds} flagged"
    );
    assert!(
        stale * 2 >= flagged,
        "only {stale} of {flagged} explained as stale reads"
    );
}

#[test]
fn session_guarantees_of_the_reference_protocols() {
    use dsys_check::CheckName::{
        MonotonicReads, MonotonicWrites, NoStaleReads, ReadYourWrites, WritesFollowReads,
    };
    let checks = [
        ReadYourWrites,
        MonotonicReads,
        MonotonicWrites,
        WritesFollowReads,
        NoStaleReads,
    ];
    let count = |protocol: Protocol, check: CheckName| {
        (0..100)
            .filter(|&seed| {
                let report = check_run(&swarm_run(protocol, seed), &checks, None).unwrap();
                report.checks[check.name()].result == Verdict::Fail
            })
            .count()
    };
    // One node holds the data: every session guarantee holds.
    for check in checks {
        assert_eq!(count(Protocol::Single, check), 0, "single violated {check}");
    }
    // Writes go to the primary, reads to the client's own follower: a client often
    // misses its own write, and reads are stale. But a follower applies the log in order
    // and syncs each batch it applies, so a client pinned to it never sees time go
    // backwards, even across crashes.
    let ryw = count(Protocol::PrimaryAsync, ReadYourWrites);
    let stale = count(Protocol::PrimaryAsync, NoStaleReads);
    let mr = count(Protocol::PrimaryAsync, MonotonicReads);
    let mw = count(Protocol::PrimaryAsync, MonotonicWrites);
    let wfr = count(Protocol::PrimaryAsync, WritesFollowReads);
    println!(
        "primary-async over 100 swarm seeds: read-your-writes violated on {ryw}, stale reads on {stale}, \
         monotonic reads on {mr}, monotonic writes on {mw}, writes-follow-reads on {wfr}"
    );
    assert!(ryw > 30, "read-your-writes violated on only {ryw}");
    assert!(stale > 80, "stale reads on only {stale}");
    // One log, applied in order by every follower: the writer-side orders hold too.
    assert_eq!((mr, mw, wfr), (0, 0, 0));
}

#[test]
fn causal_consistency_of_the_reference_protocols() {
    let causal_failures = |protocol: Protocol| {
        (0..100)
            .filter(|&seed| {
                let report =
                    check_run(&swarm_run(protocol, seed), &[CheckName::Causal], None).unwrap();
                let causal = &report.checks["causal"];
                assert_ne!(
                    causal.result,
                    Verdict::Unknown,
                    "seed {seed}: {:?}",
                    causal.reason
                );
                causal.result == Verdict::Fail
            })
            .count()
    };
    assert_eq!(causal_failures(Protocol::Single), 0);
    // A client that read (or cas'd) a value at the primary and then reads from a follower
    // that has not applied it sees the past: its own causal dependency is missing.
    let pa = causal_failures(Protocol::PrimaryAsync);
    println!("primary-async: causal violations on {pa} of 100 swarm seeds");
    assert!(pa > 20, "only {pa}");
}

#[test]
fn final_reads_expose_writes_lost_to_unsynced_crashes() {
    let lost_on = |durability: &str| {
        (0..100)
            .filter(|&seed| {
                let run = Scenario::builder(Protocol::Single)
                    .set(&[format!("durability={durability}")])
                    .nemesis("crash-restart")
                    .seed(seed)
                    .run()
                    .unwrap();
                assert_eq!(
                    run.outcome.stats.final_reads, 8,
                    "every key read once after the heal"
                );
                let report = check_run(&run, &[CheckName::NoLostWrites], None).unwrap();
                let lost = &report.checks["no-lost-writes"];
                assert_ne!(
                    lost.result,
                    Verdict::Unknown,
                    "seed {seed}: {:?}",
                    lost.reason
                );
                lost.result == Verdict::Fail
            })
            .count()
    };
    assert_eq!(lost_on("synced"), 0);
    let buffered = lost_on("buffered");
    println!(
        "single durability=buffered under crash-restart: acknowledged writes lost on {buffered} of 100 seeds"
    );
    assert!(buffered >= 5, "only {buffered}");
}

/// Raft without faults answers everything once its first leader is elected: the
/// operations before that are the start-up, reported apart, not unavailability.
#[test]
fn availability_counts_from_the_first_answer() {
    use dsys_lab::Report;
    for seed in 0..20 {
        let run = Scenario::builder(Protocol::Raft).seed(seed).run().unwrap();
        let report = Report::new(&run);
        assert_eq!(report.availability, 1.0, "seed {seed}");
        assert!(report.startup.ops > 0, "seed {seed}: no start-up");
        assert!(report.first_served_ms.unwrap() > 0.0, "seed {seed}");
        let stats = &run.outcome.stats;
        assert!(
            stats.ops_info + stats.ops_refused > 0,
            "seed {seed}: the start-up failed nothing"
        );
    }
}

//! Evidence for the leaderless (Dynamo-style) protocol: quorum overlap, stale reads,
//! strict versus sloppy quorums under a partition, and convergence after the heal. Each
//! claim is pinned over 200 seeds; the CLI commands are in docs/evidence.md.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use dsys_check::{CheckName, Verdict};
use dsys_history::{EventType, Process};
use dsys_lab::checking::check_run;
use dsys_lab::{Protocol, RunResult, Scenario};
use dsys_node::{Instant, NodeId};
use dsys_protocols::ring::{self, LEADERLESS_VNODES};
use dsys_sim::nemesis::{PartitionKind, partition};
use dsys_sim::{FaultAction, TimedFault};

const SEEDS: u64 = 200;

/// A leaderless run with `settings` on seed `seed` and faults drawn from `nemesis`.
fn leaderless(settings: &[&str], seed: u64, nemesis: &str) -> RunResult {
    Scenario::builder(Protocol::Leaderless)
        .set(settings)
        .seed(seed)
        .nemesis(nemesis)
        .run()
        .unwrap()
}

fn verdict(run: &RunResult, check: CheckName) -> Verdict {
    let report = check_run(run, &[check], None).unwrap();
    report.checks[check.name()].result
}

#[test]
fn overlapping_quorums_without_faults_give_no_stale_reads() {
    for seed in 0..SEEDS {
        let run = leaderless(&["n=3", "w=2", "r=2"], seed, "none");
        assert_eq!(
            verdict(&run, CheckName::NoStaleReads),
            Verdict::Pass,
            "seed {seed}"
        );
    }
}

#[test]
fn single_replica_quorums_with_network_delay_give_stale_reads() {
    let mut stale = 0;
    for seed in 0..SEEDS {
        let run = leaderless(&["n=3", "w=1", "r=1"], seed, "delay:exponential:20");
        if verdict(&run, CheckName::NoStaleReads) == Verdict::Fail {
            stale += 1;
        }
    }
    println!("leaderless n=3 w=1 r=1 with delay: stale reads on {stale} of {SEEDS} seeds");
    assert!(stale >= 190, "only {stale} of {SEEDS}");
}

/// Nodes 0 and 1 are cut off from 2, 3 and 4 from 1 s until the workload ends; the final
/// heal then reconnects them, and the run measures how long replicas take to converge
/// (docs/evidence/halves-from-1s.json).
fn halves_from_1s() -> Vec<TimedFault> {
    let nodes: Vec<NodeId> = (0..5).map(NodeId).collect();
    vec![TimedFault {
        at: Instant::from_millis(1_000),
        action: FaultAction::Partition {
            shape: PartitionKind::Halves,
            blocked: partition::halves(&nodes),
        },
    }]
}

const MINORITY: [NodeId; 2] = [NodeId(0), NodeId(1)];

/// What happened to writes that minority-side nodes coordinated during the partition, by
/// whether the key has at least `w` home replicas on the minority side.
#[derive(Default, Debug)]
struct MinorityWrites {
    /// Keys with fewer than `w` homes there: acknowledged, and not.
    short_ok: usize,
    short_not_ok: usize,
    /// Keys with enough homes there: acknowledged.
    enough_ok: usize,
}

fn minority_writes(run: &RunResult, w: usize) -> MinorityWrites {
    let placement = ring::build(5, LEADERLESS_VNODES);
    let start = 1_000_000_000;
    let mut out = MinorityWrites::default();
    let events = run.outcome.history.events();
    for (i, e) in events.iter().enumerate() {
        if e.kind != EventType::Invoke || e.f == "read" || e.time < start {
            continue;
        }
        // The completion is the next event of the same process.
        let Some(done) = events[i + 1..].iter().find(|d| d.process == e.process) else {
            continue;
        };
        let key = e.key.unwrap();
        let coordinated_on_minority = match done.node {
            Some(node) => MINORITY.contains(&node),
            // Timed out without an answer: the client's home node coordinated it.
            None => match e.process {
                Process::Client(p) => MINORITY.contains(&run.scenario.sim.process_home(p)),
                Process::Nemesis => false,
            },
        };
        if !coordinated_on_minority || done.error.as_deref() == Some("cas-mismatch") {
            continue;
        }
        let homes_there = ring::homes(placement.as_ref(), key, 3)
            .iter()
            .filter(|h| MINORITY.contains(h))
            .count();
        let ok = done.kind == EventType::Ok;
        match (homes_there >= w, ok) {
            (false, true) => out.short_ok += 1,
            (false, false) => out.short_not_ok += 1,
            (true, true) => out.enough_ok += 1,
            (true, false) => {}
        }
    }
    out
}

fn halves_run(settings: &[&str], seed: u64) -> RunResult {
    Scenario::builder(Protocol::Leaderless)
        .set(settings)
        .seed(seed)
        .schedule(halves_from_1s())
        .run()
        .unwrap()
}

#[test]
fn under_halves_strict_quorum_refuses_minority_writes_sloppy_accepts_them_and_both_converge() {
    let (mut strict_refused, mut sloppy_accepted, mut sloppy_stale) = (0, 0, 0);
    let mut converge_ms: Vec<(&str, f64)> = Vec::new();
    for seed in 0..SEEDS {
        // Strict: a write needs W home replicas; the minority side has fewer for most keys.
        let strict = halves_run(&["n=3", "w=2", "r=2", "sloppy=off"], seed);
        let m = minority_writes(&strict, 2);
        assert_eq!(
            m.short_ok, 0,
            "seed {seed}: strict quorum acknowledged a write without W home replicas"
        );
        strict_refused += m.short_not_ok;
        assert_eq!(
            verdict(&strict, CheckName::NoStaleReads),
            Verdict::Pass,
            "seed {seed}: strict"
        );
        // Sloppy: fallbacks on the minority side stand in for the unreachable homes.
        let sloppy = halves_run(&["n=3", "w=2", "r=2", "sloppy=on"], seed);
        let m = minority_writes(&sloppy, 2);
        assert_eq!(
            m.short_not_ok, 0,
            "seed {seed}: sloppy quorum refused a minority-side write"
        );
        sloppy_accepted += m.short_ok;
        if verdict(&sloppy, CheckName::NoStaleReads) == Verdict::Fail {
            sloppy_stale += 1;
        }
        for (name, run) in [("strict", &strict), ("sloppy", &sloppy)] {
            assert!(
                run.outcome.converged,
                "seed {seed}: {name} did not converge"
            );
            assert_eq!(
                verdict(run, CheckName::NoLostWrites),
                Verdict::Pass,
                "seed {seed}: {name} lost a write"
            );
            let ms = run.outcome.time_to_converge.unwrap().as_nanos() as f64 / 1e6;
            converge_ms.push((name, ms));
        }
    }
    for name in ["strict", "sloppy"] {
        let mut ms: Vec<f64> = converge_ms
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, ms)| *ms)
            .collect();
        ms.sort_by(f64::total_cmp);
        println!(
            "leaderless {name} under halves: converged after the heal in median {} ms, max {} ms",
            ms[ms.len() / 2],
            ms[ms.len() - 1]
        );
    }
    println!(
        "minority-side writes to keys without W homes there: strict refused {strict_refused}, sloppy acknowledged {sloppy_accepted}; sloppy stale reads on {sloppy_stale} of {SEEDS} seeds"
    );
    assert!(strict_refused >= SEEDS as usize, "{strict_refused}");
    assert!(sloppy_accepted >= SEEDS as usize, "{sloppy_accepted}");
    assert!(
        sloppy_stale >= 150,
        "sloppy stale reads on only {sloppy_stale}"
    );
}

#[test]
fn vector_clocks_keep_both_sides_writes_as_siblings_under_a_sloppy_quorum() {
    let (mut seeds, mut reads, mut finals) = (0, 0, 0);
    for seed in 0..SEEDS {
        let run = halves_run(&["versions=vector-clock", "sloppy=on"], seed);
        let (n, f) = common::siblings_kept(&run);
        seeds += usize::from(n > 0);
        finals += f;
        reads += n;
    }
    println!(
        "leaderless vector clocks, sloppy quorum under halves: {reads} reads returned siblings on {seeds} of {SEEDS} seeds, {finals} keys ended with siblings in their final read; no lost write, all converged"
    );
    assert!(seeds >= 150, "siblings on only {seeds} seeds");
    assert!(finals > 0);
}

#[test]
fn without_anti_entropy_or_read_repair_strict_replicas_stay_apart_after_the_heal() {
    // The control for the test above: writes that reached only minority-side replicas
    // (answered indeterminate) are spread by nothing but anti-entropy and read repair.
    let mut apart = 0;
    for seed in 0..SEEDS {
        let run = halves_run(
            &["n=3", "w=2", "r=2", "anti-entropy=off", "read-repair=off"],
            seed,
        );
        if !run.outcome.converged {
            apart += 1;
        }
    }
    println!(
        "leaderless strict, no anti-entropy, no read repair: replicas apart 10 s after the heal on {apart} of {SEEDS} seeds"
    );
    assert!(apart >= 150, "only {apart} of {SEEDS}");
}

/// Reads and fresh reads per bin of time since the latest acknowledged write, over seeds.
fn freshness_curve(settings: &[&str], nemesis: &str) -> Vec<(f64, u64, u64)> {
    use dsys_check::session::{FRESHNESS_EDGES_MS, freshness};
    let mut total: Vec<(f64, u64, u64)> = FRESHNESS_EDGES_MS.iter().map(|&e| (e, 0, 0)).collect();
    for seed in 0..SEEDS {
        let run = leaderless(settings, seed, nemesis);
        let history = dsys_lab::checking::simulated_history(&run).unwrap();
        for (t, bin) in total
            .iter_mut()
            .zip(freshness(&history, &FRESHNESS_EDGES_MS).unwrap())
        {
            t.1 += bin.reads;
            t.2 += bin.fresh;
        }
    }
    total
}

fn share(bin: &(f64, u64, u64)) -> f64 {
    bin.2 as f64 / bin.1.max(1) as f64
}

#[test]
fn pbs_freshness_grows_with_time_since_the_write_unless_quorums_overlap() {
    // Without faults, links take 0.5-1.5 ms: a W=1 write reaches the other replicas one
    // hop after it is acknowledged, so only reads in the first milliseconds can miss it.
    let calm = freshness_curve(&["w=1", "r=1"], "none");
    println!("w=1 r=1, no faults: {calm:?}");
    assert!(share(&calm[0]) < 0.95, "{calm:?}");
    for bin in calm.iter().filter(|b| b.0 >= 2.0) {
        assert_eq!(
            bin.1, bin.2,
            "a read {} ms or more after the write was stale",
            bin.0
        );
    }
    // With extra exponential delay (mean 20 ms) on every message, staleness lasts longer
    // and fades with time: the PBS t-visibility curve.
    let delayed = freshness_curve(&["w=1", "r=1"], "delay:exponential:20");
    println!("w=1 r=1, delay: {delayed:?}");
    let first = share(&delayed[0]);
    let late = share(&delayed[delayed.len() - 1]);
    assert!(first < 0.8 && late > first + 0.1, "{delayed:?}");
    assert!(
        delayed.iter().filter(|b| b.0 >= 5.0).any(|b| b.1 > b.2),
        "{delayed:?}"
    );
    // Overlapping quorums read the latest write at every delay.
    for (w, r) in [("w=2", "r=2"), ("w=3", "r=1"), ("w=1", "r=3")] {
        let curve = freshness_curve(&[w, r], "delay:exponential:20");
        println!("{w} {r}, delay: {curve:?}");
        assert!(curve.iter().all(|b| b.1 == b.2), "{w} {r}: {curve:?}");
    }
}

//! Evidence for the storage faults: what each one does to which protocol, over 200 seeds.
//! Each row reruns from the CLI with
//! `dsys simulate --protocol P [--set K=V] --nemesis FAULT --keys 1000 --seed SEED`;
//! the commands and the measured table are in docs/evidence.md.
//!
//! A run is *broken* when a check finds what the fault did: an acknowledged write lost
//! (`no-lost-writes`, judged by final reads over 1,000 keys so a later write does not
//! hide it), a protocol invariant broken (Raft's monitor: a node's log lost a committed
//! entry, two leaders in a term), or, for Raft, a non-linearizable history.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::{CheckName, Verdict};
use dsys_lab::checking::check_run;
use dsys_lab::{Protocol, Scenario, ScenarioBuilder};
use std::fmt;
use std::path::Path;
use std::time::Duration;

const SEEDS: u64 = 200;

/// One protocol configuration under test.
#[derive(Clone, Copy)]
struct Subject {
    label: &'static str,
    protocol: Protocol,
    settings: &'static [&'static str],
    linearizable: bool,
}

/// Raft as specified: entries fsynced before they are acknowledged, a failed write stops
/// the node.
const RAFT: Subject = Subject {
    label: "raft",
    protocol: Protocol::Raft,
    settings: &[],
    linearizable: true,
};
/// Raft that acknowledges entries before they are fsynced.
const RAFT_ACK_BEFORE_FSYNC: Subject = Subject {
    label: "raft durability=buffered",
    protocol: Protocol::Raft,
    settings: &["durability=buffered"],
    linearizable: true,
};
/// Raft that carries on after a failed fsync, as PostgreSQL did before 2018.
const RAFT_CONTINUE: Subject = Subject {
    label: "raft fsync-error=continue",
    protocol: Protocol::Raft,
    settings: &["fsync-error=continue"],
    linearizable: true,
};
const LEADER_FOLLOWER_SYNC: Subject = Subject {
    label: "leader-follower replication=sync fencing=on",
    protocol: Protocol::LeaderFollower,
    settings: &["replication=sync", "fencing=on"],
    linearizable: false,
};
const LEADERLESS: Subject = Subject {
    label: "leaderless",
    protocol: Protocol::Leaderless,
    settings: &[],
    linearizable: false,
};

/// What one subject did under one fault, over every seed.
#[derive(Default)]
struct Tally {
    broken_seeds: Vec<u64>,
    lost_writes: u64,
    invariant_breaks: u64,
    not_linearizable: u64,
    refused_boots: u64,
    crashes_on_failed_writes: u64,
    crashes: u64,
    fault_effects: u64,
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "broken on {} of {SEEDS} seeds (first {:?}); {} acknowledged writes lost, \
             {} invariant breaks, {} non-linearizable; {} boots refused, \
             {} crashes ({} on a failed write), {} storage-fault effects",
            self.broken_seeds.len(),
            self.broken_seeds.first(),
            self.lost_writes,
            self.invariant_breaks,
            self.not_linearizable,
            self.refused_boots,
            self.crashes,
            self.crashes_on_failed_writes,
            self.fault_effects,
        )
    }
}

/// The faults of a sweep: a nemesis spec, or a fault schedule under `docs/evidence/`
/// (named by its file, `power-loss.json`).
fn faults(builder: ScenarioBuilder, nemesis: &str) -> ScenarioBuilder {
    match nemesis.strip_suffix(".json") {
        Some(_) => {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../docs/evidence")
                .join(nemesis);
            builder.schedule(Scenario::load_schedule(&path).unwrap())
        }
        None => builder.nemesis(nemesis),
    }
}

fn sweep(subject: Subject, nemesis: &str) -> Tally {
    let mut tally = Tally::default();
    let mut checks = vec![CheckName::NoLostWrites];
    if subject.linearizable {
        checks.push(CheckName::Linearizable);
    }
    for seed in 0..SEEDS {
        // Runs go on past a broken invariant, so the clients' checks see what it led to.
        let builder = Scenario::builder(subject.protocol)
            .set(subject.settings)
            .seed(seed)
            .workload(|w| w.keys = 1_000)
            .sim(|sim| sim.keep_going = true);
        let run = faults(builder, nemesis).run().unwrap();
        let report = check_run(&run, &checks, Some(Duration::from_secs(60))).unwrap();
        let verdict = |name: CheckName| {
            report
                .checks
                .get(name.name())
                .map_or(Verdict::Pass, |c| c.result)
        };
        let lost = &report.checks["no-lost-writes"];
        assert_ne!(
            lost.result,
            Verdict::Unknown,
            "seed {seed}: {:?}",
            lost.reason
        );
        let mut broken = false;
        if lost.result == Verdict::Fail {
            broken = true;
            tally.lost_writes += lost.counts["lost"];
        }
        if verdict(CheckName::Invariants) == Verdict::Fail {
            broken = true;
            tally.invariant_breaks += 1;
        }
        if subject.linearizable && verdict(CheckName::Linearizable) == Verdict::Fail {
            broken = true;
            tally.not_linearizable += 1;
        }
        if broken {
            tally.broken_seeds.push(seed);
        }
        let s = &run.outcome.stats;
        tally.refused_boots += s.refused_boots;
        tally.crashes_on_failed_writes += s.crashes_on_failed_writes;
        let d = &s.disk;
        tally.crashes += s.crashes;
        tally.fault_effects += d.failed_writes
            + d.lied_syncs
            + d.torn_writes
            + d.corrupted_reads
            + d.slow_writes
            + d.lost_on_crash;
    }
    println!("{} under {nemesis}: {tally}", subject.label);
    tally
}

/// The fault did something on some seed (a fault that never fires proves nothing).
fn assert_fired(tally: &Tally, what: &str) {
    assert!(
        tally.fault_effects + tally.crashes > 0,
        "{what}: the fault never fired"
    );
}

fn holds(subject: Subject, nemesis: &str) -> Tally {
    let tally = sweep(subject, nemesis);
    assert_fired(&tally, nemesis);
    assert!(
        tally.broken_seeds.is_empty(),
        "{} under {nemesis}: {tally}",
        subject.label
    );
    tally
}

fn breaks(subject: Subject, nemesis: &str) -> Tally {
    let tally = sweep(subject, nemesis);
    assert!(
        !tally.broken_seeds.is_empty(),
        "{} under {nemesis} should break: {tally}",
        subject.label
    );
    tally
}

#[test]
fn fsync_fail_stops_raft_and_breaks_raft_that_carries_on() {
    let tally = holds(RAFT, "fsync-fail");
    assert!(tally.crashes_on_failed_writes > 0);
    breaks(RAFT_CONTINUE, "fsync-fail");
    sweep(LEADER_FOLLOWER_SYNC, "fsync-fail");
    sweep(LEADERLESS, "fsync-fail");
}

/// Every node loses power at 2 s and boots at 2.5 s: what was acknowledged before the
/// fsync returned is gone everywhere at once, and the clients see it.
#[test]
fn a_power_loss_of_the_whole_cluster() {
    holds(RAFT, "power-loss.json");
    let lost = breaks(RAFT_ACK_BEFORE_FSYNC, "power-loss.json");
    assert!(lost.lost_writes > 0, "{lost}");
    holds(LEADER_FOLLOWER_SYNC, "power-loss.json");
}

#[test]
fn fsync_lie_breaks_raft_as_specified() {
    breaks(RAFT, "fsync-lie");
    // Every disk lies from 1 s, and every node loses power at 2 s.
    let lost = breaks(RAFT, "lying-disks.json");
    assert!(lost.lost_writes > 0, "{lost}");
    sweep(LEADER_FOLLOWER_SYNC, "fsync-lie");
    sweep(LEADERLESS, "fsync-lie");
}

/// Raft writes every entry synced, so at a crash nothing is unsynced but the write in
/// flight on a slow disk: lost or kept out of order, it was never acknowledged.
#[test]
fn raft_that_acknowledges_before_fsync_loses_writes() {
    let vacuous = sweep(RAFT, "lose-unsynced");
    assert_eq!(vacuous.fault_effects, 0, "raft leaves nothing unsynced");
    holds(RAFT, "slow-disk:exponential:20+lose-unsynced");
    breaks(RAFT_ACK_BEFORE_FSYNC, "lose-unsynced");
    breaks(RAFT_ACK_BEFORE_FSYNC, "crash-restart");
    sweep(LEADER_FOLLOWER_SYNC, "lose-unsynced");
    sweep(LEADERLESS, "lose-unsynced");
}

/// A torn write can only be the write in flight, never acknowledged: nodes boot as if it
/// had never been made. A corrupted read may be of an acknowledged entry: nodes refuse
/// to start, and boot again once the read is clean.
#[test]
fn torn_writes_and_corrupted_reads_are_caught_by_checksums() {
    let torn = holds(RAFT, "slow-disk:exponential:20+torn-write");
    assert_eq!(torn.refused_boots, 0, "{torn}");
    let corrupt = holds(RAFT, "corrupt-read");
    assert!(corrupt.refused_boots > 0, "{corrupt}");
    holds(LEADER_FOLLOWER_SYNC, "corrupt-read");
    holds(LEADERLESS, "corrupt-read");
    let torn = holds(LEADERLESS, "slow-disk:exponential:20+torn-write");
    assert_eq!(torn.refused_boots, 0, "{torn}");
}

#[test]
fn a_full_or_slow_disk_costs_availability_not_data() {
    let tally = holds(RAFT, "disk-full");
    assert!(tally.crashes_on_failed_writes > 0);
    holds(RAFT, "slow-disk:exponential:20");
    sweep(LEADER_FOLLOWER_SYNC, "disk-full");
    sweep(LEADERLESS, "slow-disk:exponential:20");
}

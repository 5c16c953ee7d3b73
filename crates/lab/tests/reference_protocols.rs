//! What the two reference protocols do under faults, pinned over many seeds.
//!
//! The stale-read count here is a deliberately simple, sound detector (no false
//! positives): a read is stale if it returned the value of write A (or nothing) although
//! a later write B to the same key had completed before the read began, where A had
//! completed before B began. The checker crate replaces it with full consistency checks.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_history::EventType;
use dsys_history::{EventValue, Process};
use dsys_lab::{Protocol, RunResult, Scenario};
use dsys_sim::RunHistory;
use proptest::prelude::*;
use std::collections::BTreeMap;

fn run(protocol: Protocol, set: &[&str], nemesis: &str, seed: u64) -> RunResult {
    Scenario::builder(protocol)
        .set(set)
        .nemesis(nemesis)
        .seed(seed)
        .run()
        .unwrap()
}

/// A completed write: value, invocation and completion times.
struct Write {
    value: u64,
    invoked: u64,
    completed: u64,
}

fn stale_reads(history: &RunHistory) -> usize {
    let mut invoked_at: BTreeMap<u64, u64> = BTreeMap::new();
    let mut writes: BTreeMap<u64, Vec<Write>> = BTreeMap::new();
    let mut reads = Vec::new();
    for e in history.events() {
        let Process::Client(p) = e.process else {
            continue;
        };
        match e.kind {
            EventType::Invoke => {
                invoked_at.insert(p, e.time);
            }
            EventType::Ok => {
                let invoked = invoked_at[&p];
                let key = e.key.unwrap();
                match (&*e.f, &e.value) {
                    ("write", Some(EventValue::One(v)))
                    | ("cas", Some(EventValue::Pair([_, v]))) => {
                        writes.entry(key).or_default().push(Write {
                            value: *v,
                            invoked,
                            completed: e.time,
                        });
                    }
                    ("read", value) => {
                        let v = match value {
                            Some(EventValue::One(v)) => Some(*v),
                            _ => None,
                        };
                        reads.push((key, v, invoked));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let none = Vec::new();
    reads
        .iter()
        .filter(|&&(key, value, read_start)| {
            let ws = writes.get(&key).unwrap_or(&none);
            let observed = ws.iter().find(|w| Some(w.value) == value);
            ws.iter().any(|b| {
                b.completed < read_start
                    && match (value, observed) {
                        (None, _) => true,
                        (Some(_), Some(a)) => a.completed < b.invoked,
                        // A value from an indeterminate write: no claim.
                        (Some(_), None) => false,
                    }
            })
        })
        .count()
}

#[test]
fn single_with_synced_writes_never_serves_a_stale_read_across_crashes() {
    let mut crashes = 0;
    for seed in 0..40 {
        let r = run(Protocol::Single, &[], "crash-restart", seed);
        assert_eq!(stale_reads(&r.outcome.history), 0, "seed {seed}");
        assert_eq!(r.outcome.stats.lost_buffered_writes, 0);
        crashes += r.outcome.stats.crashes;
    }
    assert!(crashes > 40, "only {crashes} crashes");
}

#[test]
fn single_with_buffered_writes_loses_acknowledged_writes_on_crash() {
    let (mut stale, mut lost) = (0, 0);
    for seed in 0..40 {
        let r = run(
            Protocol::Single,
            &["durability=buffered"],
            "crash-restart",
            seed,
        );
        stale += stale_reads(&r.outcome.history);
        lost += r.outcome.stats.lost_buffered_writes;
    }
    assert!(lost > 20, "lost {lost}");
    assert!(stale > 5, "stale {stale}");
}

#[test]
fn primary_async_serves_stale_reads_from_followers_even_without_faults() {
    let stale: usize = (0..20)
        .map(|seed| {
            stale_reads(
                &run(Protocol::PrimaryAsync, &[], "none", seed)
                    .outcome
                    .history,
            )
        })
        .sum();
    assert!(stale > 0, "expected replication lag to show");
}

#[test]
fn primary_async_converges_after_partitions_and_loss_heal() {
    for seed in 0..40 {
        let r = run(
            Protocol::PrimaryAsync,
            &[],
            "halves+isolate-one+loss:0.2+dup:0.05",
            seed,
        );
        assert!(r.outcome.converged, "seed {seed}");
        let ttc = r.outcome.time_to_converge.unwrap();
        assert!(ttc.as_millis() <= 1_000, "seed {seed}: {ttc:?}");
        assert!(r.outcome.stats.dropped_partition > 0 && r.outcome.stats.dropped_loss > 0);
    }
}

#[test]
fn primary_async_refuses_nothing_but_times_out_while_the_primary_is_down() {
    let mut info = 0;
    for seed in 0..20 {
        let r = run(Protocol::PrimaryAsync, &[], "crash-restart", seed);
        assert!(r.outcome.converged, "seed {seed}");
        info += r.outcome.stats.ops_info;
    }
    assert!(info > 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Whatever the seed, protocol and fault mix: the run ends, every operation is
    /// accounted for once, each process alternates invoke / completion, and time never
    /// runs backwards in the history.
    #[test]
    fn every_run_is_well_formed(seed: u64, protocol in 0usize..2, mask in 1u32..(1 << 12), ops in 1u64..400) {
        let names = ["halves", "isolate-one", "isolate-leader", "majority-ring", "bridge", "one-way",
                     "crash", "crash-restart", "pause", "clock-skew", "clock-strobe", "loss:0.1"];
        let nemesis: Vec<&str> = names.iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, n)| *n).collect();
        let r = Scenario::builder(Protocol::ALL[protocol])
            .seed(seed)
            .nemesis(&nemesis.join("+"))
            .workload(|w| w.ops = ops)
            .run()
            .unwrap();
        let s = &r.outcome.stats;
        prop_assert!(r.outcome.aborted.is_none());
        prop_assert_eq!(s.ops_ok + s.ops_fail + s.ops_info, ops);
        let mut open: BTreeMap<u64, bool> = BTreeMap::new();
        let mut last_time = 0;
        for e in r.outcome.history.events() {
            prop_assert!(e.time >= last_time);
            last_time = e.time;
            if let Process::Client(p) = e.process {
                let was_open = open.insert(p, e.kind == EventType::Invoke).unwrap_or(false);
                prop_assert_eq!(was_open, e.kind != EventType::Invoke, "process {} out of step", p);
            }
        }
        prop_assert!(open.values().all(|o| !o));
    }
}

#[test]
fn clients_share_their_home_nodes_side_of_a_partition() {
    use dsys_node::{Instant, NodeId};
    use dsys_sim::nemesis::{PartitionKind, partition};
    use dsys_sim::{FaultAction, TimedFault};
    // `single` keeps its data on node 0. Clients live beside node (client % 5).
    let nodes: Vec<NodeId> = (0..5).map(NodeId).collect();
    let schedule = vec![
        TimedFault {
            at: Instant::from_millis(1_000),
            action: FaultAction::Partition {
                shape: PartitionKind::Halves,
                blocked: partition::halves(&nodes),
            },
        },
        TimedFault {
            at: Instant::from_millis(4_000),
            action: FaultAction::HealPartition,
        },
    ];
    let r = Scenario::builder(Protocol::Single)
        .schedule(schedule)
        .run()
        .unwrap();
    let (window_start, window_end) = (1_000_000_000, 4_000_000_000);
    let mut invoked_at: BTreeMap<u64, u64> = BTreeMap::new();
    let (mut far_ok, mut near_ok, mut far_timeouts) = (0, 0, 0);
    for e in r.outcome.history.events() {
        let Process::Client(p) = e.process else {
            continue;
        };
        if e.kind == EventType::Invoke {
            invoked_at.insert(p, e.time);
            continue;
        }
        let invoked = invoked_at[&p];
        if invoked <= window_start || e.time >= window_end {
            continue;
        }
        let far_side = p % 5 >= 2; // halves of [0..5): {0, 1} | {2, 3, 4}
        match (far_side, e.kind) {
            (true, EventType::Ok) => far_ok += 1,
            (true, EventType::Info) => far_timeouts += 1,
            (false, EventType::Ok) => near_ok += 1,
            _ => {}
        }
    }
    assert_eq!(
        far_ok, 0,
        "a client cut off from node 0 completed an operation"
    );
    assert!(
        far_timeouts > 10 && near_ok > 50,
        "far timeouts {far_timeouts}, near ok {near_ok}"
    );
    assert!(r.outcome.stats.client_messages_partitioned > 0);
}

#[test]
fn primary_async_streams_catch_up_to_a_follower_back_from_a_long_partition() {
    use dsys_node::{Instant, NodeId};
    use dsys_sim::nemesis::{PartitionKind, partition};
    use dsys_sim::{FaultAction, TimedFault};
    // Node 3 is cut off from 100 ms until the workload ends (~60 s, ~2,000 writes later).
    let nodes: Vec<NodeId> = (0..5).map(NodeId).collect();
    let schedule = vec![TimedFault {
        at: Instant::from_millis(100),
        action: FaultAction::Partition {
            shape: PartitionKind::IsolateOne,
            blocked: partition::isolate(NodeId(3), &nodes),
        },
    }];
    let r = Scenario::builder(Protocol::PrimaryAsync)
        .workload(|w| w.ops = 6_000)
        .schedule(schedule)
        .run()
        .unwrap();
    assert!(r.outcome.faults_stopped_at.unwrap() > Instant::from_millis(50_000));
    assert!(r.outcome.converged);
    // One 64-entry batch per 50 ms heartbeat would need seconds; streaming on acks
    // needs a few round trips per batch.
    let ttc = r.outcome.time_to_converge.unwrap();
    assert!(ttc.as_millis() < 500, "took {ttc:?}");
}

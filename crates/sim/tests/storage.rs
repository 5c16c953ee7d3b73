//! Each storage fault, shown by what a node finds when it boots and when it acts.
//!
//! The probe on node 1 ticks every millisecond, writing its tick count buffered and, at
//! every tenth tick, synced (which flushes the buffer); it logs what it finds at boot.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod probe;

use dsys_node::NodeId;
use dsys_sim::nemesis::DiskFault;
use dsys_sim::{FaultAction, LatencyDist};
use probe::{Seen, at, run_script, run_seeded};

const NODE: NodeId = NodeId(1);

fn fault(t: u64, fault: DiskFault) -> dsys_sim::TimedFault {
    at(t, FaultAction::DiskFault { node: NODE, fault })
}

fn heal(t: u64, fault: DiskFault) -> dsys_sim::TimedFault {
    at(t, FaultAction::DiskHeal { node: NODE, fault })
}

/// Node 1's boots: (local time in ms, buffered counter, synced counter).
fn boots(seen: &[Seen]) -> Vec<(u64, Option<u64>, Option<u64>)> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Boot {
                node,
                local,
                buffered,
                synced,
            } if *node == NODE => Some((local.as_nanos() / 1_000_000, *buffered, *synced)),
            _ => None,
        })
        .collect()
}

/// Node 1's ticks, in ms.
fn ticks(seen: &[Seen]) -> Vec<u64> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Tick { node, local } if *node == NODE => Some(local.as_nanos() / 1_000_000),
            _ => None,
        })
        .collect()
}

#[test]
fn a_failed_fsync_crashes_the_node_before_its_next_effect() {
    // The sync of tick 100 fails: ticks 91..=100 never reach the disk, and the node is
    // down (no tick re-armed) until the spell ends at 150 ms.
    let (outcome, seen) = run_script(
        5,
        vec![
            fault(95, DiskFault::FsyncFail),
            heal(150, DiskFault::FsyncFail),
        ],
    );
    assert_eq!(outcome.stats.crashes_on_failed_writes, 1);
    assert_eq!(outcome.stats.disk.failed_writes, 1);
    assert_eq!(boots(&seen)[1], (150, Some(90), Some(90)));
    assert!(ticks(&seen).iter().all(|&t| t <= 100 || t > 150));
}

#[test]
fn a_lying_fsync_is_lost_at_the_power_loss_that_ends_it() {
    let (outcome, seen) = run_script(
        5,
        vec![
            fault(95, DiskFault::FsyncLie),
            heal(125, DiskFault::FsyncLie),
        ],
    );
    // Ticks 100, 110 and 120 were "synced"; the power loss at 125 ms took them all.
    assert_eq!(outcome.stats.disk.lied_syncs, 3);
    assert_eq!(boots(&seen)[1], (125, Some(90), Some(90)));
}

#[test]
fn a_slow_disk_holds_what_the_node_does_after_a_synced_write() {
    let slow = DiskFault::SlowDisk(LatencyDist::Constant { ms: 5.0 });
    let (outcome, seen) = run_script(5, vec![fault(95, slow), heal(200, slow)]);
    let t = ticks(&seen);
    // The timer set after tick 100's synced write is armed only when the write lands.
    let after_100 = t[t.iter().position(|&x| x == 100).unwrap() + 1];
    assert_eq!(after_100, 106, "{t:?}");
    let before_fault = t[t.iter().position(|&x| x == 90).unwrap() + 1];
    assert_eq!(before_fault, 91);
    // One synced write per ten ticks, each cycle 15 ms long, from 100 ms to 200 ms.
    assert_eq!(outcome.stats.disk.slow_writes, 7);
}

#[test]
fn a_full_disk_crashes_the_node_until_space_is_back() {
    let (outcome, seen) = run_script(
        5,
        vec![
            fault(95, DiskFault::DiskFull),
            heal(130, DiskFault::DiskFull),
        ],
    );
    // The buffered write of tick 96 fails at once.
    assert_eq!(outcome.stats.crashes_on_failed_writes, 1);
    assert_eq!(boots(&seen)[1], (130, Some(90), Some(90)));
}

#[test]
fn a_corrupted_read_keeps_the_node_down_until_a_clean_one() {
    // Each entry reads back corrupted with probability 0.2: find a seed where one does.
    let (seed, outcome, seen) = (1..50)
        .map(|seed| {
            let (outcome, seen) = run_seeded(
                5,
                seed,
                vec![
                    fault(95, DiskFault::CorruptRead),
                    heal(140, DiskFault::CorruptRead),
                ],
            );
            (seed, outcome, seen)
        })
        .find(|(_, outcome, _)| outcome.stats.refused_boots > 0)
        .unwrap();
    assert_eq!(outcome.stats.refused_boots, 1, "seed {seed}");
    assert!(outcome.stats.disk.corrupted_reads >= 1);
    // Power lost at 95 ms (ticks 91..=95 were unsynced), no boot then and no ticks, then
    // a clean boot at 140 ms.
    assert_eq!(
        boots(&seen)[1..],
        [(140, Some(90), Some(90))],
        "seed {seed}"
    );
    assert!(ticks(&seen).iter().all(|&t| t <= 95 || t > 140));
    assert!(
        outcome
            .history
            .events()
            .iter()
            .any(|e| e.f == "refused-boot")
    );
}

#[test]
fn a_disk_heal_boots_only_a_node_its_disk_kept_down() {
    // Node 1 is crashed by the nemesis (to stay down) while its disk lies; the lie's
    // end, a power loss, must not bring it back: only the final heal does.
    let (_, seen) = run_script(
        5,
        vec![
            fault(95, DiskFault::FsyncLie),
            at(100, FaultAction::Crash { node: NODE }),
            heal(125, DiskFault::FsyncLie),
            fault(130, DiskFault::CorruptRead),
            heal(135, DiskFault::CorruptRead),
        ],
    );
    let boots = boots(&seen);
    assert!(
        boots.iter().all(|&(t, _, _)| !(100..=135).contains(&t)),
        "{boots:?}"
    );
}

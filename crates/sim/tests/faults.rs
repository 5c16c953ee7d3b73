//! Each fault kind, shown by what the nodes themselves observe.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod probe;

use dsys_node::{Instant, NodeId};
use dsys_sim::nemesis::{PartitionKind, partition};
use dsys_sim::network::NetworkFault;
use dsys_sim::{FaultAction, LatencyDist, SimConfig, TimedFault, World};
use probe::{Log, Probe, ProbeConfig, Seen, at, config, ids, ms, run_script};

const MS: u64 = 1_000_000;

/// Pings as (from, to, handled-at) — local time is true time when no clock faults run.
fn pings(seen: &[Seen]) -> impl Iterator<Item = (NodeId, NodeId, u64)> + '_ {
    seen.iter().filter_map(|s| match s {
        Seen::Ping {
            from, to, local, ..
        } => Some((*from, *to, local.as_nanos())),
        _ => None,
    })
}

fn inside(t: u64, from_ms: u64, to_ms: u64) -> bool {
    t > from_ms * MS && t < to_ms * MS
}

#[test]
fn no_message_crosses_a_halves_partition() {
    let blocked = partition::halves(&ids(5));
    let script = vec![
        at(
            100,
            FaultAction::Partition {
                shape: PartitionKind::Halves,
                blocked,
            },
        ),
        at(300, FaultAction::HealPartition),
    ];
    let (outcome, seen) = run_script(5, script);
    let side = |n: NodeId| n.0 < 2;
    let (mut crossing_during, mut crossing_before, mut crossing_after, mut same_side_during) =
        (0, 0, 0, 0);
    for (from, to, t) in pings(&seen) {
        let crossing = side(from) != side(to);
        if inside(t, 100, 300) {
            if crossing {
                crossing_during += 1;
            } else {
                same_side_during += 1;
            }
        } else if crossing && t < 100 * MS {
            crossing_before += 1;
        } else if crossing && t > 300 * MS {
            crossing_after += 1;
        }
    }
    assert_eq!(crossing_during, 0);
    assert!(
        crossing_before > 500 && crossing_after > 500,
        "{crossing_before} {crossing_after}"
    );
    assert!(same_side_during > 500, "{same_side_during}");
    assert!(
        outcome.stats.dropped_partition > 1000,
        "{:?}",
        outcome.stats
    );
}

#[test]
fn a_one_way_partition_blocks_one_direction_only() {
    let blocked = partition::one_way(&ids(4)); // {0,1} cannot send to {2,3}
    let script = vec![
        at(
            100,
            FaultAction::Partition {
                shape: PartitionKind::OneWay,
                blocked,
            },
        ),
        at(300, FaultAction::HealPartition),
    ];
    let (_, seen) = run_script(4, script);
    let count = |f: u32, t: u32| {
        pings(&seen)
            .filter(|&(a, b, time)| a == NodeId(f) && b == NodeId(t) && inside(time, 100, 300))
            .count()
    };
    assert_eq!(count(0, 2), 0);
    assert_eq!(count(1, 3), 0);
    assert!(count(2, 0) > 150, "{}", count(2, 0));
    assert!(count(3, 1) > 150);
    assert!(count(0, 1) > 150);
}

/// Every generated partition shape, on many seeds: no delivery ever uses a link that
/// the partition in force at that moment blocks.
#[test]
fn generated_partitions_never_leak_a_message() {
    for nemesis in [
        "halves",
        "isolate-one",
        "isolate-leader",
        "majority-ring",
        "bridge",
        "one-way",
    ] {
        for seed in 0..12 {
            let log = Log::default();
            let probe = ProbeConfig {
                log: log.clone(),
                leader: Some(NodeId(seed as u32 % 5)),
            };
            let mut cfg = config(5, seed);
            cfg.nemesis = nemesis.parse().unwrap();
            cfg.nemesis_timing.quiet_min_ms = 20.0;
            cfg.nemesis_timing.quiet_max_ms = 60.0;
            cfg.nemesis_timing.fault_min_ms = 20.0;
            cfg.nemesis_timing.fault_max_ms = 80.0;
            let outcome = World::<Probe>::new(cfg, probe).unwrap().run();
            let schedule = &outcome.realised_schedule;
            assert!(
                schedule.len() >= 6,
                "{nemesis} seed {seed}: {} faults",
                schedule.len()
            );
            let seen = log.take();
            let mut checked = 0;
            for (from, to, t) in pings(&seen) {
                // Skip deliveries at the very instant the partition changed.
                if schedule.iter().any(|f| f.at.as_nanos() == t) {
                    continue;
                }
                let in_force = schedule.iter().rev().find(|f| f.at.as_nanos() < t);
                if let Some(TimedFault {
                    action: FaultAction::Partition { blocked, .. },
                    ..
                }) = in_force
                {
                    assert!(
                        !blocked.contains(&(from, to)),
                        "{nemesis} seed {seed}: {from}->{to} at {t}"
                    );
                    checked += 1;
                }
            }
            assert!(
                checked > 100,
                "{nemesis} seed {seed}: only {checked} deliveries under partition"
            );
        }
    }
}

#[test]
fn isolate_leader_isolates_the_node_the_protocol_names() {
    let log = Log::default();
    let probe = ProbeConfig {
        log,
        leader: Some(NodeId(3)),
    };
    let mut cfg = config(5, 4);
    cfg.nemesis = "isolate-leader".parse().unwrap();
    cfg.nemesis_timing.quiet_max_ms = 100.0;
    cfg.nemesis_timing.quiet_min_ms = 50.0;
    let outcome = World::<Probe>::new(cfg, probe).unwrap().run();
    let first = &outcome.realised_schedule[0].action;
    assert_eq!(
        first,
        &FaultAction::Partition {
            shape: PartitionKind::IsolateLeader,
            blocked: partition::isolate(NodeId(3), &ids(5))
        }
    );
}

#[test]
fn crash_leader_kills_the_node_the_protocol_names_and_restarts_it() {
    let probe = ProbeConfig {
        log: Log::default(),
        leader: Some(NodeId(2)),
    };
    let mut cfg = config(5, 9);
    cfg.nemesis = "crash-leader".parse().unwrap();
    cfg.nemesis_timing.quiet_min_ms = 50.0;
    cfg.nemesis_timing.quiet_max_ms = 100.0;
    cfg.nemesis_timing.fault_min_ms = 50.0;
    cfg.nemesis_timing.fault_max_ms = 100.0;
    let outcome = World::<Probe>::new(cfg.clone(), probe.clone())
        .unwrap()
        .run();
    let actions: Vec<&FaultAction> = outcome
        .realised_schedule
        .iter()
        .map(|f| &f.action)
        .collect();
    assert!(actions.len() >= 4, "{actions:?}");
    // Resolved in the realised schedule: crash the leader, restart it, again.
    for (i, action) in actions.iter().enumerate() {
        let expected = if i % 2 == 0 {
            FaultAction::Crash { node: NodeId(2) }
        } else {
            FaultAction::Restart { node: NodeId(2) }
        };
        assert_eq!(**action, expected, "action {i}");
    }
    assert_eq!(outcome.stats.crashes as usize, actions.len().div_ceil(2));
    // The realised schedule replays to the same run.
    let replayed = World::<Probe>::with_script(
        SimConfig {
            nemesis: "none".parse().unwrap(),
            ..cfg
        },
        probe,
        outcome.realised_schedule.clone(),
    )
    .unwrap()
    .run();
    assert_eq!(replayed.trace_hash, outcome.trace_hash);
}

#[test]
fn crash_leader_without_a_leader_does_nothing() {
    let probe = ProbeConfig {
        log: Log::default(),
        leader: None,
    };
    let mut cfg = config(5, 9);
    cfg.nemesis = "crash-leader".parse().unwrap();
    cfg.nemesis_timing.quiet_max_ms = 100.0;
    cfg.nemesis_timing.quiet_min_ms = 50.0;
    let outcome = World::<Probe>::new(cfg, probe).unwrap().run();
    assert_eq!(outcome.stats.crashes, 0);
    assert_eq!(
        outcome.realised_schedule[0].action,
        FaultAction::CrashLeader,
        "recorded unresolved, as a no-op"
    );
}

#[test]
fn a_crash_loses_buffered_writes_and_keeps_synced_ones() {
    // Node 1 ticks every ms, writing its tick count buffered and, every tenth, synced.
    let script = vec![
        at(105, FaultAction::Crash { node: NodeId(1) }),
        at(150, FaultAction::Restart { node: NodeId(1) }),
    ];
    let mut script = script;
    script[0].at = Instant::from_nanos(105 * MS + MS / 2);
    let (outcome, seen) = run_script(5, script);
    let boots: Vec<&Seen> = seen
        .iter()
        .filter(|s| matches!(s, Seen::Boot { node, .. } if *node == NodeId(1)))
        .collect();
    assert_eq!(boots.len(), 2, "{boots:?}");
    // Ticks 101..=105 were only buffered: lost. Tick 100 was synced (and flushed the buffer).
    assert_eq!(
        boots[1],
        &Seen::Boot {
            node: NodeId(1),
            local: ms(150),
            buffered: Some(100),
            synced: Some(100)
        }
    );
    assert_eq!(outcome.stats.lost_buffered_writes, 5);
    assert_eq!(outcome.stats.crashes, 1);
    // While down, node 1 observed nothing, and messages to it were dropped.
    let quiet = seen.iter().all(|s| match s {
        Seen::Tick { node, local } => *node != NodeId(1) || !inside(local.as_nanos(), 106, 150),
        Seen::Ping { to, local, .. } => *to != NodeId(1) || !inside(local.as_nanos(), 106, 150),
        _ => true,
    });
    assert!(quiet);
    assert!(outcome.stats.dropped_down > 100);
}

/// Offsets of the pings node 0 receives from `from`: sender stamp minus receive time, ms.
fn offsets_seen_by_0(seen: &[Seen], from: u32) -> Vec<(u64, i64)> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Ping {
                to,
                from: f,
                local,
                stamp,
                ..
            } if *to == NodeId(0) && *f == NodeId(from) => Some((
                local.as_nanos() / MS,
                (stamp.as_nanos() as i64 - local.as_nanos() as i64) / MS as i64,
            )),
            _ => None,
        })
        .collect()
}

#[test]
fn clock_faults_show_in_node_local_time() {
    let script = vec![
        at(
            100,
            FaultAction::ClockOffset {
                node: NodeId(1),
                offset_ns: 250 * MS as i64,
            },
        ),
        at(
            100,
            FaultAction::ClockDrift {
                node: NodeId(2),
                ppm: 100_000,
            },
        ),
        at(
            100,
            FaultAction::ClockStrobe {
                node: NodeId(3),
                amplitude_ns: 50 * MS as i64,
                period_ns: 10 * MS,
                duration_ns: 40 * MS,
            },
        ),
        at(
            100,
            FaultAction::ClockBump {
                node: NodeId(4),
                delta_ns: -30 * MS as i64,
            },
        ),
        at(300, FaultAction::ClockReset { node: NodeId(1) }),
    ];
    let (_, seen) = run_script(5, script);
    // Constant 1 ms links: an unskewed sender's stamp is 1 ms before receipt.
    let offset_at = |from: u32, t: u64| {
        offsets_seen_by_0(&seen, from)
            .into_iter()
            .find(|&(at, _)| at >= t)
            .unwrap()
            .1
    };
    assert_eq!(offset_at(1, 50), -1);
    assert_eq!(offset_at(1, 150), 249);
    assert_eq!(offset_at(1, 350), -1);
    // 10% fast from 100 ms: 20 ms ahead by 300 ms (timers also fire 10% sooner in true time).
    let drift = offset_at(2, 300);
    assert!((18..=20).contains(&drift), "drift {drift}");
    // Strobe: +50 ms in alternate 10 ms phases between 100 and 140 ms, then back to normal.
    let strobe: Vec<i64> = [105, 115, 125, 135, 145]
        .iter()
        .map(|&t| offset_at(3, t))
        .collect();
    assert_eq!(strobe, vec![-1, 49, -1, 49, -1]);
    assert_eq!(offset_at(4, 150), -31);
}

#[test]
fn a_paused_node_processes_nothing_until_resumed() {
    let script = vec![
        at(100, FaultAction::Pause { node: NodeId(2) }),
        at(200, FaultAction::Resume { node: NodeId(2) }),
    ];
    let (_, seen) = run_script(5, script);
    let by_2 = |lo: u64, hi: u64| {
        seen.iter()
            .filter(|s| match s {
                Seen::Tick { node, local } => {
                    *node == NodeId(2) && local.as_nanos() >= lo * MS && local.as_nanos() < hi * MS
                }
                Seen::Ping { to, local, .. } => {
                    *to == NodeId(2) && local.as_nanos() >= lo * MS && local.as_nanos() < hi * MS
                }
                _ => false,
            })
            .count()
    };
    assert_eq!(by_2(101, 200), 0);
    // On resume, the queued pings (4 senders x ~100 ms) and the late timer run at once.
    let burst = by_2(200, 201);
    assert!(burst > 380, "burst {burst}");
    assert!(by_2(50, 100) > 200);
    // Nobody heard from node 2 while it was paused.
    assert_eq!(
        pings(&seen)
            .filter(|&(f, _, t)| f == NodeId(2) && inside(t, 102, 200))
            .count(),
        0
    );
}

#[test]
fn loss_and_duplication_hit_their_rates() {
    let fault = NetworkFault {
        loss: 0.3,
        duplicate: 0.2,
        delay: None,
    };
    let (outcome, seen) = run_script(5, vec![at(0, FaultAction::NetworkFault(fault))]);
    let s = &outcome.stats;
    let loss = s.dropped_loss as f64 / s.messages_sent as f64;
    assert!((0.28..0.32).contains(&loss), "loss {loss}");
    let dup = s.duplicated as f64 / (s.messages_sent - s.dropped_loss) as f64;
    assert!((0.18..0.22).contains(&dup), "dup {dup}");
    // Receivers really see the same ping twice.
    let mut keys: Vec<(NodeId, NodeId, u64)> = seen
        .iter()
        .filter_map(|x| match x {
            Seen::Ping { from, to, seq, .. } => Some((*from, *to, *seq)),
            _ => None,
        })
        .collect();
    let total = keys.len();
    keys.sort_unstable();
    keys.dedup();
    // Copies still in flight when the run ended were never observed.
    let observed = total - keys.len();
    assert!(
        observed <= s.duplicated as usize && observed as f64 > 0.99 * s.duplicated as f64,
        "{observed} of {}",
        s.duplicated
    );
}

#[test]
fn injected_delay_adds_latency_and_reorders() {
    let fault = NetworkFault {
        delay: Some(LatencyDist::Uniform {
            min: 0.0,
            max: 20.0,
        }),
        ..NetworkFault::default()
    };
    let (_, seen) = run_script(5, vec![at(0, FaultAction::NetworkFault(fault))]);
    let mut late = 0;
    let mut reordered = 0;
    let mut last_seq = std::collections::BTreeMap::new();
    for s in &seen {
        if let Seen::Ping {
            from,
            to,
            local,
            stamp,
            seq,
        } = s
        {
            if local.as_nanos() - stamp.as_nanos() > 10 * MS {
                late += 1;
            }
            let prev = last_seq.insert((*from, *to), *seq).unwrap_or(0);
            if *seq < prev {
                reordered += 1;
            }
        }
    }
    assert!(late > 1000, "{late}");
    assert!(reordered > 1000, "{reordered}");
}

#[test]
fn the_final_heal_restarts_crashed_nodes_and_resets_everything() {
    let log = Log::default();
    let probe = ProbeConfig {
        log: log.clone(),
        leader: None,
    };
    let mut cfg = config(5, 2);
    cfg.nemesis = "crash".parse().unwrap();
    cfg.nemesis_timing.quiet_min_ms = 50.0;
    cfg.nemesis_timing.quiet_max_ms = 100.0;
    let outcome = World::<Probe>::new(cfg, probe).unwrap().run();
    assert_eq!(outcome.stats.crashes, 2, "a minority of five is two");
    let stop = outcome.faults_stopped_at.unwrap();
    let reboots = log
        .take()
        .iter()
        .filter(|s| matches!(s, Seen::Boot { local, .. } if *local == stop))
        .count();
    assert_eq!(reboots, 2);
    assert!(outcome.converged);
}

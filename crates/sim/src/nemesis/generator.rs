//! Turning a nemesis spec into a stream of timed fault actions, drawn from the seed.
//!
//! Each fault kind is an independent process that alternates between quiet and faulty
//! periods. The generator yields one action at a time, earliest first; the world asks
//! for the next only after applying the previous, so a generated schedule and the same
//! schedule replayed from a script feed the event queue in the same order.

use super::action::{FaultAction, TimedFault};
use super::disk::DiskProcess;
use super::partition::{self, PartitionKind};
use super::spec::{Fault, NemesisSpec};
use crate::dist::{LatencyDist, millis_to_nanos};
use crate::network::NetworkFault;
use dsys_node::{DetRng, Instant, NodeId};
use serde::{Deserialize, Serialize};

/// How long faults last and how long the quiet spells between them are.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisTiming {
    /// Shortest quiet spell between two faults of one kind, ms.
    pub quiet_min_ms: f64,
    /// Longest quiet spell, ms.
    pub quiet_max_ms: f64,
    /// Shortest fault, ms.
    pub fault_min_ms: f64,
    /// Longest fault, ms.
    pub fault_max_ms: f64,
}

impl Default for NemesisTiming {
    fn default() -> Self {
        NemesisTiming {
            quiet_min_ms: 500.0,
            quiet_max_ms: 1_500.0,
            fault_min_ms: 500.0,
            fault_max_ms: 2_000.0,
        }
    }
}

impl NemesisTiming {
    pub(super) fn quiet(&self, rng: &mut DetRng) -> u64 {
        uniform_ms(rng, self.quiet_min_ms, self.quiet_max_ms)
    }
    pub(super) fn fault(&self, rng: &mut DetRng) -> u64 {
        uniform_ms(rng, self.fault_min_ms, self.fault_max_ms)
    }
}

fn uniform_ms(rng: &mut DetRng, lo: f64, hi: f64) -> u64 {
    millis_to_nanos(lo + (hi - lo).max(0.0) * rng.unit_f64())
}

/// A uniform integer in `-max_abs..=max_abs`.
fn signed(rng: &mut DetRng, max_abs: u64) -> i64 {
    let magnitude = i64::try_from(rng.range_inclusive(0, max_abs)).unwrap_or(i64::MAX);
    if rng.chance(0.5) {
        magnitude
    } else {
        -magnitude
    }
}

const MS: u64 = 1_000_000;

/// A probability drawn uniformly from `[lo, hi]`, rounded to two decimals so specs read well.
fn probability(rng: &mut DetRng, lo: f64, hi: f64) -> f64 {
    ((lo + (hi - lo) * rng.unit_f64()) * 100.0).round() / 100.0
}

#[derive(Debug)]
enum Process {
    Partition {
        kinds: Vec<PartitionKind>,
        active: bool,
    },
    Crash {
        restart: bool,
        down: Vec<NodeId>,
    },
    /// Kill the leader, restart it, and again: `down` while it is crashed.
    CrashLeader {
        down: bool,
    },
    /// Crash a whole region, restart it, and again: `down` while it is out; `queue` holds
    /// the rest of a crash or restart wave (all at one instant), last first.
    RegionOutage {
        down: Vec<NodeId>,
        queue: Vec<FaultAction>,
    },
    Pause {
        paused: Option<NodeId>,
    },
    ClockSkew {
        skewed: Option<NodeId>,
    },
    ClockStrobe,
    Disk(DiskProcess),
    Once(Option<FaultAction>),
}

#[derive(Debug)]
struct Planned {
    process: Process,
    next: Option<TimedFault>,
}

/// A nemesis schedule drawn lazily from the nemesis random stream.
#[derive(Debug)]
pub struct Generator {
    rng: DetRng,
    nodes: Vec<NodeId>,
    /// `region_of[i]`: node i's region (empty: each node its own).
    region_of: Vec<u32>,
    timing: NemesisTiming,
    planned: Vec<Planned>,
    effective: NemesisSpec,
}

impl Generator {
    /// A generator for `spec` on a cluster of `nodes`. A `swarm` in the spec is replaced
    /// by kinds and rates drawn from `rng`; [`Generator::effective_spec`] tells which.
    pub fn new(spec: &NemesisSpec, nodes: usize, timing: NemesisTiming, rng: DetRng) -> Self {
        Self::with_regions(spec, nodes, &[], timing, rng)
    }

    /// [`Generator::new`] on nodes grouped into regions (`region_of[i]` is node i's), which
    /// `isolate-region` and `region-outage` cut off and crash whole.
    pub fn with_regions(
        spec: &NemesisSpec,
        nodes: usize,
        region_of: &[u32],
        timing: NemesisTiming,
        mut rng: DetRng,
    ) -> Self {
        let mut faults: Vec<Fault> = Vec::new();
        let mut timing = timing;
        for fault in spec.faults() {
            if *fault == Fault::Swarm {
                let (drawn, scale) = draw_swarm(&mut rng, nodes);
                timing = NemesisTiming {
                    quiet_min_ms: timing.quiet_min_ms * scale,
                    quiet_max_ms: timing.quiet_max_ms * scale,
                    fault_min_ms: timing.fault_min_ms * scale,
                    fault_max_ms: timing.fault_max_ms * scale,
                };
                for d in drawn {
                    if !faults.iter().any(|f| f.to_string() == d.to_string()) {
                        faults.push(d);
                    }
                }
            } else if !faults.contains(fault) {
                faults.push(*fault);
            }
        }
        faults.retain(|f| f.min_nodes() <= nodes);
        let effective = NemesisSpec::of(faults.iter().copied());
        let mut processes = Vec::new();
        let kinds: Vec<PartitionKind> = faults
            .iter()
            .filter_map(|f| match f {
                Fault::Partition(kind) => Some(*kind),
                _ => None,
            })
            .collect();
        if !kinds.is_empty() {
            processes.push(Process::Partition {
                kinds,
                active: false,
            });
        }
        let mut network = NetworkFault::default();
        for fault in &faults {
            match *fault {
                Fault::Crash => processes.push(Process::Crash {
                    restart: false,
                    down: Vec::new(),
                }),
                Fault::CrashRestart => processes.push(Process::Crash {
                    restart: true,
                    down: Vec::new(),
                }),
                Fault::CrashLeader => processes.push(Process::CrashLeader { down: false }),
                Fault::RegionOutage => processes.push(Process::RegionOutage {
                    down: Vec::new(),
                    queue: Vec::new(),
                }),
                Fault::Pause => processes.push(Process::Pause { paused: None }),
                Fault::ClockSkew => processes.push(Process::ClockSkew { skewed: None }),
                Fault::ClockStrobe => processes.push(Process::ClockStrobe),
                Fault::Loss(p) => network.loss = p,
                Fault::Dup(p) => network.duplicate = p,
                Fault::Delay(d) => network.delay = Some(d),
                Fault::Disk(fault) => processes.push(Process::Disk(DiskProcess {
                    fault,
                    struck: None,
                })),
                _ => {}
            }
        }
        if network != NetworkFault::default() {
            processes.push(Process::Once(Some(FaultAction::NetworkFault(network))));
        }
        let mut generator = Generator {
            rng,
            nodes: (0..nodes as u32).map(NodeId).collect(),
            region_of: region_of.to_vec(),
            timing,
            planned: Vec::new(),
            effective,
        };
        for process in processes {
            let mut p = Planned {
                process,
                next: None,
            };
            generator.plan(&mut p, Instant::ZERO);
            generator.planned.push(p);
        }
        generator
    }

    /// The spec actually in force, with `swarm` resolved.
    pub fn effective_spec(&self) -> &NemesisSpec {
        &self.effective
    }

    /// The next action, earliest first (ties go to the process listed first).
    pub fn next_fault(&mut self) -> Option<TimedFault> {
        let index = self
            .planned
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.next.as_ref().map(|f| (f.at, i)))
            .min()?
            .1;
        let mut planned = std::mem::replace(
            &mut self.planned[index],
            Planned {
                process: Process::Once(None),
                next: None,
            },
        );
        let fault = planned.next.take()?;
        self.plan(&mut planned, fault.at);
        self.planned[index] = planned;
        Some(fault)
    }

    fn random_node(&mut self, excluding: &[NodeId]) -> Option<NodeId> {
        let candidates: Vec<NodeId> = self
            .nodes
            .iter()
            .copied()
            .filter(|n| !excluding.contains(n))
            .collect();
        self.rng.choose(&candidates).copied()
    }

    /// The nodes of a region drawn at random (a node alone without a region grouping).
    fn random_region(&mut self) -> Vec<NodeId> {
        let region = |n: NodeId| self.region_of.get(n.0 as usize).copied().unwrap_or(n.0);
        let mut regions: Vec<u32> = self.nodes.iter().map(|&n| region(n)).collect();
        regions.sort_unstable();
        regions.dedup();
        let Some(&chosen) = self.rng.choose(&regions) else {
            return Vec::new();
        };
        self.nodes
            .iter()
            .copied()
            .filter(|&n| region(n) == chosen)
            .collect()
    }

    fn shuffled_nodes(&mut self) -> Vec<NodeId> {
        let mut order = self.nodes.clone();
        self.rng.shuffle(&mut order);
        order
    }

    /// Decide `p`'s next action, given that its previous one happened at `now`.
    fn plan(&mut self, p: &mut Planned, now: Instant) {
        let timing = self.timing;
        let after = |ns: u64| Instant::from_nanos(now.as_nanos().saturating_add(ns));
        p.next = match &mut p.process {
            Process::Partition { kinds, active } => {
                if *active {
                    *active = false;
                    let at = after(timing.fault(&mut self.rng));
                    Some(TimedFault {
                        at,
                        action: FaultAction::HealPartition,
                    })
                } else {
                    *active = true;
                    let at = after(timing.quiet(&mut self.rng));
                    let kind = *self.rng.choose(kinds).unwrap_or(&PartitionKind::Halves);
                    let action = self.partition_action(kind);
                    Some(TimedFault { at, action })
                }
            }
            Process::Crash { restart, down } => {
                let (restart, mut down_now) = (*restart, std::mem::take(down));
                let next = if restart && !down_now.is_empty() {
                    let node = down_now.remove(0);
                    Some(TimedFault {
                        at: after(timing.fault(&mut self.rng)),
                        action: FaultAction::Restart { node },
                    })
                } else if down_now.len() < (self.nodes.len().saturating_sub(1)) / 2
                    || (restart && self.nodes.len() > 1)
                {
                    let at = after(timing.quiet(&mut self.rng));
                    self.random_node(&down_now).map(|node| {
                        down_now.push(node);
                        TimedFault {
                            at,
                            action: FaultAction::Crash { node },
                        }
                    })
                } else {
                    None
                };
                if let Process::Crash { down, .. } = &mut p.process {
                    *down = down_now;
                }
                next
            }
            Process::CrashLeader { down } => {
                *down = !*down;
                Some(if *down {
                    TimedFault {
                        at: after(timing.quiet(&mut self.rng)),
                        action: FaultAction::CrashLeader,
                    }
                } else {
                    TimedFault {
                        at: after(timing.fault(&mut self.rng)),
                        action: FaultAction::RestartLeader,
                    }
                })
            }
            Process::RegionOutage { down, queue } => {
                // A wave's later actions come at the instant of its first.
                if let Some(action) = queue.pop() {
                    Some(TimedFault { at: now, action })
                } else if !down.is_empty() {
                    *queue = down
                        .drain(..)
                        .rev()
                        .map(|node| FaultAction::Restart { node })
                        .collect();
                    let at = after(timing.fault(&mut self.rng));
                    queue.pop().map(|action| TimedFault { at, action })
                } else {
                    let at = after(timing.quiet(&mut self.rng));
                    let region = self.random_region();
                    if let Process::RegionOutage { down, queue } = &mut p.process {
                        *queue = region
                            .iter()
                            .rev()
                            .map(|&node| FaultAction::Crash { node })
                            .collect();
                        *down = region;
                        queue.pop().map(|action| TimedFault { at, action })
                    } else {
                        None
                    }
                }
            }
            Process::Pause { paused } => match paused.take() {
                Some(node) => Some(TimedFault {
                    at: after(timing.fault(&mut self.rng)),
                    action: FaultAction::Resume { node },
                }),
                None => {
                    let at = after(timing.quiet(&mut self.rng));
                    let node = self.random_node(&[]);
                    if let Process::Pause { paused } = &mut p.process {
                        *paused = node;
                    }
                    node.map(|node| TimedFault {
                        at,
                        action: FaultAction::Pause { node },
                    })
                }
            },
            Process::ClockSkew { skewed } => match skewed.take() {
                Some(node) => Some(TimedFault {
                    at: after(timing.fault(&mut self.rng)),
                    action: FaultAction::ClockReset { node },
                }),
                None => {
                    let at = after(timing.quiet(&mut self.rng));
                    let node = self.random_node(&[]);
                    let action = node.map(|node| match self.rng.below(3) {
                        0 => FaultAction::ClockOffset {
                            node,
                            offset_ns: signed(&mut self.rng, 300 * MS),
                        },
                        1 => FaultAction::ClockBump {
                            node,
                            delta_ns: signed(&mut self.rng, 100 * MS),
                        },
                        _ => FaultAction::ClockDrift {
                            node,
                            ppm: signed(&mut self.rng, 5_000),
                        },
                    });
                    if let Process::ClockSkew { skewed } = &mut p.process {
                        *skewed = node;
                    }
                    action.map(|action| TimedFault { at, action })
                }
            },
            Process::ClockStrobe => {
                // `now` is when the previous strobe started; the next starts a quiet spell
                // after it ended.
                let previous = match &p.next {
                    Some(TimedFault {
                        action: FaultAction::ClockStrobe { duration_ns, .. },
                        ..
                    }) => *duration_ns,
                    _ => 0,
                };
                let at = after(previous + timing.quiet(&mut self.rng));
                let node = self.random_node(&[]);
                node.map(|node| TimedFault {
                    at,
                    action: FaultAction::ClockStrobe {
                        node,
                        amplitude_ns: signed(&mut self.rng, 200 * MS),
                        period_ns: uniform_ms(&mut self.rng, 1.0, 20.0).max(1),
                        duration_ns: timing.fault(&mut self.rng),
                    },
                })
            }
            Process::Disk(disk) => disk.plan(now, &timing, &self.nodes, &mut self.rng),
            Process::Once(action) => action.take().map(|action| TimedFault { at: now, action }),
        };
    }

    fn partition_action(&mut self, kind: PartitionKind) -> FaultAction {
        let order = self.shuffled_nodes();
        let blocked = match kind {
            PartitionKind::IsolateLeader => return FaultAction::IsolateLeader,
            PartitionKind::IsolateRegion => {
                let region = self.random_region();
                partition::isolate_group(&region, &self.nodes)
            }
            PartitionKind::IsolateOne => partition::isolate(order[0], &self.nodes),
            PartitionKind::MajorityRing => partition::majority_ring(&order),
            PartitionKind::Bridge => partition::bridge(&order),
            PartitionKind::OneWay => partition::one_way(&order),
            PartitionKind::Halves => partition::halves(&order),
        };
        FaultAction::Partition {
            shape: kind,
            blocked,
        }
    }
}

/// Swarm testing: each fault kind joins with probability one half (at least one does),
/// rates are drawn, and the whole schedule is sped up or slowed down by a drawn factor.
fn draw_swarm(rng: &mut DetRng, nodes: usize) -> (Vec<Fault>, f64) {
    loop {
        let mut drawn = Vec::new();
        let candidates = Fault::plain_kinds();
        for fault in candidates {
            if rng.chance(0.5) && fault.min_nodes() <= nodes {
                drawn.push(fault);
            }
        }
        if rng.chance(0.5) {
            drawn.push(Fault::Loss(probability(rng, 0.01, 0.2)));
        }
        if rng.chance(0.3) {
            drawn.push(Fault::Dup(probability(rng, 0.01, 0.1)));
        }
        if rng.chance(0.3) {
            let mean = (1.0 + 19.0 * rng.unit_f64()).round();
            drawn.push(Fault::Delay(LatencyDist::Exponential { mean }));
        }
        let scale = 0.25 + 1.75 * rng.unit_f64();
        if !drawn.is_empty() {
            return (drawn, scale);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(spec: &str, nodes: usize, seed: u64, limit: usize) -> Vec<TimedFault> {
        let spec: NemesisSpec = spec.parse().unwrap();
        let mut g = Generator::new(
            &spec,
            nodes,
            NemesisTiming::default(),
            DetRng::from_seed(seed),
        );
        std::iter::from_fn(|| g.next_fault()).take(limit).collect()
    }

    #[test]
    fn partitions_alternate_with_heals_in_time_order() {
        let faults = all("halves+isolate-one", 5, 1, 40);
        assert_eq!(faults.len(), 40);
        for pair in faults.windows(2) {
            assert!(pair[0].at <= pair[1].at);
        }
        for (i, f) in faults.iter().enumerate() {
            let heal = matches!(f.action, FaultAction::HealPartition);
            assert_eq!(heal, i % 2 == 1, "{f:?}");
        }
    }

    #[test]
    fn crash_without_restart_stops_at_a_minority() {
        let faults = all("crash", 5, 3, 100);
        assert_eq!(faults.len(), 2);
        assert!(
            faults
                .iter()
                .all(|f| matches!(f.action, FaultAction::Crash { .. }))
        );
        assert_ne!(faults[0].action, faults[1].action);
    }

    #[test]
    fn crash_restart_restarts_the_node_it_crashed() {
        let faults = all("crash-restart", 3, 9, 20);
        for pair in faults.chunks(2) {
            match (&pair[0].action, &pair[1].action) {
                (FaultAction::Crash { node: a }, FaultAction::Restart { node: b }) => {
                    assert_eq!(a, b)
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn network_faults_start_at_time_zero() {
        let faults = all("loss:0.1+dup:0.2", 3, 0, 5);
        assert_eq!(faults.len(), 1);
        assert_eq!(faults[0].at, Instant::ZERO);
        assert!(
            matches!(faults[0].action, FaultAction::NetworkFault(NetworkFault { loss, duplicate, .. }) if loss == 0.1 && duplicate == 0.2)
        );
    }

    #[test]
    fn swarm_draws_differ_by_seed_and_repeat_by_seed() {
        let spec: NemesisSpec = "swarm".parse().unwrap();
        let draw = |seed| {
            Generator::new(&spec, 5, NemesisTiming::default(), DetRng::from_seed(seed))
                .effective_spec()
                .to_string()
        };
        assert_eq!(draw(1), draw(1));
        let distinct: std::collections::BTreeSet<String> = (0..20).map(draw).collect();
        assert!(distinct.len() > 10, "{distinct:?}");
    }

    #[test]
    fn faults_that_need_more_nodes_are_dropped() {
        let spec: NemesisSpec = "majority-ring+pause".parse().unwrap();
        let g = Generator::new(&spec, 3, NemesisTiming::default(), DetRng::from_seed(0));
        assert_eq!(g.effective_spec().to_string(), "pause");
    }
}

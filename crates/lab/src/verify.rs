//! The lab's side of `dsys design --verify`: the advisor says which configurations to
//! run on which cluster under which nemesis, and judges the figures; the lab builds each
//! cluster in the simulator (a node per copy, the spec's round trips on the links between
//! them, clients beside the nodes of their regions) and measures it, as a grid cell.

use crate::error::LabError;
use crate::grid::{self, Config, GridSpec, Shard};
use crate::scenario::RunResult;
use dsys_advisor::verify::{GroupLatency, Measure, Measurement, Placement, Run, Workload};
use dsys_history::{EventType, Process};
use dsys_node::NodeId;
use dsys_sim::workload::WorkloadKind;
use dsys_sim::{
    ClientHome, LatencyDist, LinkConfig, LinkOverride, NemesisSpec, Regions, SimConfig,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;

/// Clients per client group.
const CLIENTS_PER_GROUP: usize = 3;

/// A link's one-way latency jitters this share either side of half the round trip.
const JITTER: f64 = 0.05;

/// Runs each [`Run`] as a grid cell, `threads` at a time, reporting `(done, planned)` runs
/// to `progress`.
#[derive(Clone, Copy)]
pub struct GridMeasure<'a> {
    /// Runs at a time.
    pub threads: usize,
    /// Called after each run.
    pub progress: &'a (dyn Fn(usize, usize) + Sync),
}

impl std::fmt::Debug for GridMeasure<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GridMeasure")
            .field("threads", &self.threads)
            .finish()
    }
}

/// One placed group's latencies in one run, virtual ns.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupLatencies {
    /// Each successful read.
    pub reads: Vec<u64>,
    /// Each successful update (write, compare-and-set, increment, insert, remove).
    pub writes: Vec<u64>,
}

/// How long after the cluster first answers a client its latencies count: the start-up
/// election and a leader preference's hand-over are over by then, so what is measured is
/// the steady state an objective speaks of.
const WARM_UP_NS: u64 = 1_000_000_000;

/// The latencies of a run's successful operations by client group, where the run placed
/// its clients (`network.client_homes`); empty otherwise. Operations invoked before the
/// cluster first answered, or within [`WARM_UP_NS`] of it, are left out.
pub(crate) fn group_latencies(run: &RunResult) -> Vec<GroupLatencies> {
    let sim = &run.scenario.sim;
    let groups = sim.network.client_homes.len();
    if groups == 0 {
        return Vec::new();
    }
    let clients = sim.workload.clients.max(1) as u64;
    let Some(first) = run.outcome.stats.first_served else {
        return vec![GroupLatencies::default(); groups];
    };
    let settled = first.as_nanos().saturating_add(WARM_UP_NS);
    let mut out = vec![GroupLatencies::default(); groups];
    let mut pending: BTreeMap<u64, (u64, bool)> = BTreeMap::new();
    for e in run.outcome.history.events() {
        let Process::Client(p) = e.process else {
            continue;
        };
        match e.kind {
            EventType::Invoke if e.time >= settled => {
                pending.insert(p, (e.time, e.f == "read"));
            }
            EventType::Invoke => {
                pending.remove(&p);
            }
            EventType::Ok => {
                if let Some((invoked, read)) = pending.remove(&p) {
                    let group = &mut out[((p % clients) as usize) % groups];
                    let latency = e.time.saturating_sub(invoked);
                    if read {
                        group.reads.push(latency);
                    } else {
                        group.writes.push(latency);
                    }
                }
            }
            EventType::Fail | EventType::Info => {
                pending.remove(&p);
            }
        }
    }
    out
}

fn jittered(ms: f64) -> LatencyDist {
    if ms <= 0.0 {
        return LatencyDist::Constant { ms: 0.0 };
    }
    LatencyDist::Uniform {
        min: ms * (1.0 - JITTER),
        max: ms * (1.0 + JITTER),
    }
}

/// The simulated world for `placement`: its nodes, their links, their clients.
pub fn world(placement: &Placement) -> SimConfig {
    let mut config = SimConfig::default();
    let nodes = placement.nodes.len();
    config.nodes = nodes;
    let mut regions: Vec<&str> = Vec::new();
    let region_of: Vec<u32> = placement
        .nodes
        .iter()
        .map(|n| match regions.iter().position(|r| *r == n.region) {
            Some(i) => i as u32,
            None => {
                regions.push(&n.region);
                (regions.len() - 1) as u32
            }
        })
        .collect();
    config.network.regions = Some(Regions {
        region_of,
        inter_region: LinkConfig::default(),
    });
    config.network.links = (0..nodes)
        .flat_map(|i| (0..nodes).map(move |j| (i, j)))
        .filter(|(i, j)| i != j)
        .map(|(i, j)| LinkOverride {
            from: NodeId(i as u32),
            to: NodeId(j as u32),
            link: LinkConfig {
                latency: jittered(placement.one_way_ms[i][j]),
                ..LinkConfig::default()
            },
        })
        .collect();
    config.network.client_homes = placement
        .clients
        .iter()
        .map(|g| ClientHome {
            node: NodeId(g.home as u32),
            latency: jittered(g.latency_ms),
        })
        .collect();
    config.workload.clients = placement.clients.len().max(1) * CLIENTS_PER_GROUP;
    config.workload.kind = match placement.workload {
        Workload::Register => WorkloadKind::Kv,
        Workload::Counter => WorkloadKind::Counter,
        Workload::Set => WorkloadKind::Set,
    };
    // Far clients wait a round trip or two: time out well past the slowest link.
    let slowest = placement
        .one_way_ms
        .iter()
        .flatten()
        .chain(placement.clients.iter().map(|g| &g.latency_ms))
        .fold(0.0_f64, |a, &b| a.max(b));
    config.workload.timeout_ms = config.workload.timeout_ms.max(slowest * 20.0);
    config
}

/// The p99 of `latencies` (ns), in ms.
fn p99_ms(mut latencies: Vec<u64>) -> Option<f64> {
    if latencies.is_empty() {
        return None;
    }
    latencies.sort_unstable();
    Some(dsys_check::stats::percentile(&latencies, 99.0) as f64 / 1e6)
}

impl Measure for GridMeasure<'_> {
    type Error = LabError;

    fn measure(&self, runs: &[Run], seeds: u64) -> Result<Vec<Measurement>, LabError> {
        let planned = runs.len() * seeds as usize;
        let mut out = Vec::new();
        for (i, run) in runs.iter().enumerate() {
            let config = Config::parse(&run.config)?;
            let nemesis: NemesisSpec = run.nemesis.parse().map_err(|e| LabError::Internal {
                what: format!("the advisor asked for nemesis `{}`: {e}", run.nemesis),
                seed: 0,
            })?;
            let spec = GridSpec {
                configs: vec![config],
                nemeses: vec![nemesis],
                seeds,
                seed_start: 0,
                base: world(&run.placement),
            };
            let offset = i * seeds as usize;
            let progress = |done: usize, _: usize| (self.progress)(offset + done, planned);
            let sweep = grid::sweep(
                &spec,
                Shard::WHOLE,
                self.threads,
                &AtomicBool::new(false),
                &progress,
            )?;
            let cell = grid::cells(&spec, &sweep.records)
                .into_iter()
                .next()
                .ok_or_else(|| LabError::Internal {
                    what: format!("no run of {} under {}", run.config, run.nemesis),
                    seed: 0,
                })?;
            let groups = (0..run.placement.clients.len())
                .map(|g| {
                    let pooled = |pick: fn(&GroupLatencies) -> &Vec<u64>| {
                        sweep
                            .records
                            .iter()
                            .filter_map(|r| r.groups.get(g))
                            .flat_map(|l| pick(l).iter().copied())
                            .collect::<Vec<u64>>()
                    };
                    GroupLatency {
                        reads_p99_ms: p99_ms(pooled(|l| &l.reads)),
                        writes_p99_ms: p99_ms(pooled(|l| &l.writes)),
                    }
                })
                .collect();
            out.push(Measurement {
                seeds: cell.seeds,
                availability: cell.availability,
                latency_p50_ms: cell.latency_p50_ms,
                latency_p99_ms: cell.latency_p99_ms,
                non_linearizable: cell.non_linearizable,
                lost_writes: cell.lost_writes,
                concurrent_writes_lost: cell.concurrent_writes_lost,
                read_your_writes_violations: cell.read_your_writes_violations,
                groups,
            });
        }
        Ok(out)
    }
}

//! The CAP/PACELC grid: protocol configurations x nemeses x seeds, one row per cell.
//!
//! A sweep runs the grid's runs (every run, or one shard of them) in parallel and keeps
//! one [`RunRecord`] per run; [`cells`] folds records into rows in a fixed order, so the
//! same arguments give the same bytes whatever the scheduling, and shards merged give the
//! bytes one machine would.

mod part;
mod render;
mod sweep;

pub use part::{MAX_SHARDS, PART_FORMAT, Part};
pub use render::{curve_nemesis, to_csv, to_freshness_table, to_table};
pub use sweep::{RunRecord, Shard, Sweep, sweep};

use crate::error::LabError;
use crate::protocol::{Protocol, Settings};
use dsys_check::session::{FRESHNESS_EDGES_MS, FreshnessBin};
use dsys_check::stats::percentile;
use dsys_sim::{NemesisSpec, SimConfig};
use serde::Serialize;
use std::sync::atomic::AtomicBool;

/// One protocol with its settings, as a grid column is labelled.
#[derive(Clone, Debug)]
pub struct Config {
    /// The protocol.
    pub protocol: Protocol,
    /// Its settings.
    pub settings: Settings,
    /// `protocol` or `protocol(k=v,...)`.
    pub label: String,
}

impl Config {
    /// Parse `protocol` or `protocol:key=value,key=value`.
    pub fn parse(spec: &str) -> Result<Config, LabError> {
        let (name, sets) = spec.split_once(':').unwrap_or((spec, ""));
        let protocol: Protocol = name.parse()?;
        let pairs: Vec<&str> = sets.split(',').filter(|s| !s.is_empty()).collect();
        let settings = Settings::parse(protocol, &pairs)?;
        let label = if pairs.is_empty() {
            name.to_string()
        } else {
            format!("{name}({})", pairs.join(","))
        };
        Ok(Config {
            protocol,
            settings,
            label,
        })
    }
}

/// The configurations `dsys grid` compares by default.
pub const DEFAULT_CONFIGS: [&str; 12] = [
    "single",
    "primary-async",
    "leader-follower:replication=async",
    "leader-follower:replication=sync",
    "leader-follower:replication=async,reads=any",
    "multi-leader:conflict=lww",
    "multi-leader:conflict=siblings",
    "leaderless:n=3,w=2,r=2",
    "leaderless:n=3,w=1,r=1",
    "leaderless:n=3,w=2,r=2,sloppy=on",
    "raft",
    "raft:reads=lease",
];

/// The nemeses `dsys grid` uses by default.
pub const DEFAULT_NEMESES: [&str; 3] = ["none", "halves", "crash-restart"];

/// One cell: a configuration under a nemesis, over all seeds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Cell {
    /// Configuration label.
    pub config: String,
    /// Nemesis.
    pub nemesis: String,
    /// Seeds run.
    pub seeds: u64,
    /// Mean share of operations answered, of those invoked after the cluster first
    /// answered a client.
    pub availability: f64,
    /// Mean share of the start-up operations answered (those invoked before the first
    /// answer).
    pub startup_availability: f64,
    /// Median latency of successful operations over all seeds, virtual ms.
    pub latency_p50_ms: f64,
    /// 99th percentile, virtual ms.
    pub latency_p99_ms: f64,
    /// Mean messages per operation.
    pub msgs_per_op: f64,
    /// Seeds whose history was not linearizable.
    pub non_linearizable: u64,
    /// Stale reads, summed over seeds.
    pub stale_reads: u64,
    /// Read-your-writes violations, summed.
    pub read_your_writes_violations: u64,
    /// Acknowledged writes lost (final reads), summed.
    pub lost_writes: u64,
    /// Acknowledged writes dropped by conflict resolution (protocol counter), summed.
    pub concurrent_writes_lost: u64,
    /// Reads that returned several siblings for the application to merge (protocol
    /// counter), summed.
    pub sibling_reads: u64,
    /// Seeds whose replicas had not converged by the deadline.
    pub not_converged: u64,
    /// Mean time to converge after the final heal, virtual ms (converged runs).
    pub converge_ms: f64,
    /// Reads binned by time since the latest acknowledged write, summed over seeds: the
    /// PBS-style curve of the probability that a read is fresh.
    pub freshness: Vec<FreshnessBin>,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct GridSpec {
    /// Configurations.
    pub configs: Vec<Config>,
    /// Nemeses.
    pub nemeses: Vec<NemesisSpec>,
    /// Seeds per cell: `seed_start..seed_start + seeds`.
    pub seeds: u64,
    /// The first seed.
    pub seed_start: u64,
    /// Base simulation settings (nodes, workload...).
    pub base: SimConfig,
}

impl GridSpec {
    /// Every run of the grid as (configuration, nemesis, seed) indices, in the order cells
    /// are folded: configuration, then nemesis, then seed.
    pub fn jobs(&self) -> Vec<(usize, usize, u64)> {
        let mut jobs = Vec::new();
        for c in 0..self.configs.len() {
            for n in 0..self.nemeses.len() {
                for seed in self.seed_start..self.seed_start.saturating_add(self.seeds) {
                    jobs.push((c, n, seed));
                }
            }
        }
        jobs
    }
}

/// Run the whole grid, `threads` runs at a time, and fold it into cells.
pub fn run(spec: &GridSpec, threads: usize) -> Result<Vec<Cell>, LabError> {
    let done = sweep(
        spec,
        Shard::WHOLE,
        threads,
        &AtomicBool::new(false),
        &|_, _| {},
    )?;
    Ok(cells(spec, &done.records))
}

fn round(x: f64, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (x * m).round() / m
}

/// Fold run records (any subset of the grid's runs, in job order) into one cell per
/// configuration and nemesis that has at least one run.
pub fn cells(spec: &GridSpec, records: &[RunRecord]) -> Vec<Cell> {
    let mut cells = Vec::new();
    for c in 0..spec.configs.len() {
        for n in 0..spec.nemeses.len() {
            let runs: Vec<&RunRecord> = records
                .iter()
                .filter(|r| r.config == c && r.nemesis == n)
                .collect();
            if runs.is_empty() {
                continue;
            }
            let k = runs.len() as f64;
            let mut latencies: Vec<u64> = runs
                .iter()
                .flat_map(|r| r.latencies_ns.iter().copied())
                .collect();
            latencies.sort_unstable();
            let converged: Vec<u64> = runs.iter().filter_map(|r| r.converge_ms).collect();
            let sum = |f: fn(&RunRecord) -> u64| runs.iter().map(|r| f(r)).sum::<u64>();
            cells.push(Cell {
                config: spec.configs[c].label.clone(),
                nemesis: spec.nemeses[n].to_string(),
                seeds: runs.len() as u64,
                availability: round(
                    runs.iter().map(|r| r.availability.steady()).sum::<f64>() / k,
                    4,
                ),
                startup_availability: round(
                    runs.iter().map(|r| r.availability.startup()).sum::<f64>() / k,
                    4,
                ),
                latency_p50_ms: round(percentile(&latencies, 50.0) as f64 / 1e6, 3),
                latency_p99_ms: round(percentile(&latencies, 99.0) as f64 / 1e6, 3),
                msgs_per_op: round(runs.iter().map(|r| r.msgs_per_op()).sum::<f64>() / k, 2),
                non_linearizable: runs.iter().filter(|r| r.non_linearizable).count() as u64,
                stale_reads: sum(|r| r.stale_reads),
                read_your_writes_violations: sum(|r| r.read_your_writes_violations),
                lost_writes: sum(|r| r.lost_writes),
                concurrent_writes_lost: sum(|r| r.concurrent_writes_lost),
                sibling_reads: sum(|r| r.sibling_reads),
                not_converged: (runs.len() - converged.len()) as u64,
                converge_ms: round(
                    converged.iter().sum::<u64>() as f64 / converged.len().max(1) as f64,
                    1,
                ),
                freshness: freshness_curve(&runs),
            });
        }
    }
    cells
}

/// The runs' freshness bins summed, on the grid's fixed edges.
fn freshness_curve(runs: &[&RunRecord]) -> Vec<FreshnessBin> {
    FRESHNESS_EDGES_MS
        .iter()
        .enumerate()
        .map(|(i, &from_ms)| FreshnessBin {
            from_ms,
            to_ms: FRESHNESS_EDGES_MS.get(i + 1).copied(),
            reads: runs
                .iter()
                .map(|r| r.freshness.get(i).map_or(0, |b| b[0]))
                .sum(),
            fresh: runs
                .iter()
                .map(|r| r.freshness.get(i).map_or(0, |b| b[1]))
                .sum(),
        })
        .collect()
}

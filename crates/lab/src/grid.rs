//! The CAP/PACELC grid: protocol configurations x nemeses x seeds, one row per cell.
//!
//! Seeds run in parallel across cores; results are gathered by index, so the same
//! arguments give the same bytes out whatever the scheduling.

use crate::checking::{check_history_of_run, simulated_history};
use crate::error::LabError;
use crate::protocol::{Protocol, Settings};
use crate::scenario::{RunResult, Scenario};
use dsys_check::session::{FRESHNESS_EDGES_MS, FreshnessBin, freshness};
use dsys_check::stats::percentile;
use dsys_check::{CheckName, Verdict};
use dsys_sim::{NemesisSpec, SimConfig};
use serde::Serialize;
use std::fmt::Write as _;

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
    /// Mean share of operations answered.
    pub availability: f64,
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
    /// Seeds per cell (0..seeds).
    pub seeds: u64,
    /// Base simulation settings (nodes, workload...).
    pub base: SimConfig,
}

struct RunSummary {
    availability: f64,
    latencies: Vec<u64>,
    msgs_per_op: f64,
    non_linearizable: bool,
    stale: u64,
    ryw: u64,
    lost: u64,
    concurrent_lost: u64,
    sibling_reads: u64,
    converged: Option<u64>,
    freshness: Vec<FreshnessBin>,
}

fn summarise(run: &RunResult) -> Result<RunSummary, LabError> {
    let checks = [
        CheckName::Linearizable,
        CheckName::ReadYourWrites,
        CheckName::NoStaleReads,
        CheckName::NoLostWrites,
    ];
    let history = simulated_history(run)?;
    let report = check_history_of_run(
        run,
        &history,
        &checks,
        Some(std::time::Duration::from_secs(10)),
    )?;
    let count = |check: &str, counter: &str| {
        report
            .checks
            .get(check)
            .and_then(|c| c.counts.get(counter).copied())
            .unwrap_or(0)
    };
    let metric = |name: &str| run.outcome.protocol_metrics.get(name).copied().unwrap_or(0);
    let s = &run.outcome.stats;
    let total = s.ops_ok + s.ops_fail + s.ops_info;
    let answered = total - s.ops_info - s.ops_refused;
    Ok(RunSummary {
        availability: if total == 0 {
            1.0
        } else {
            answered as f64 / total as f64
        },
        latencies: s.ok_latencies_ns.clone(),
        msgs_per_op: if total == 0 {
            0.0
        } else {
            s.messages_sent as f64 / total as f64
        },
        non_linearizable: report.checks["linearizable"].result == Verdict::Fail,
        stale: count("no-stale-reads", "stale reads"),
        ryw: count("read-your-writes", "violations"),
        lost: count("no-lost-writes", "lost"),
        concurrent_lost: metric("concurrent writes lost"),
        sibling_reads: metric("reads with siblings"),
        converged: run
            .outcome
            .time_to_converge
            .filter(|_| run.outcome.converged)
            .map(|d| d.as_millis() as u64),
        freshness: freshness(&history, &FRESHNESS_EDGES_MS).map_err(LabError::Check)?,
    })
}

fn round(x: f64, places: i32) -> f64 {
    let m = 10f64.powi(places);
    (x * m).round() / m
}

/// Run the grid, `threads` runs at a time.
pub fn run(spec: &GridSpec, threads: usize) -> Result<Vec<Cell>, LabError> {
    let mut jobs: Vec<(usize, usize, u64)> = Vec::new();
    for c in 0..spec.configs.len() {
        for n in 0..spec.nemeses.len() {
            for seed in 0..spec.seeds {
                jobs.push((c, n, seed));
            }
        }
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut results: Vec<Option<Result<RunSummary, LabError>>> =
        (0..jobs.len()).map(|_| None).collect();
    let slots = std::sync::Mutex::new(&mut results);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(&(c, n, seed)) = jobs.get(i) else {
                        break;
                    };
                    let config = &spec.configs[c];
                    let scenario = Scenario {
                        protocol: config.protocol,
                        settings: config.settings.clone(),
                        sim: SimConfig {
                            seed,
                            nemesis: spec.nemeses[n].clone(),
                            ..spec.base.clone()
                        },
                        schedule: None,
                    };
                    let summary = scenario.run(&mut |_| {}).and_then(|r| summarise(&r));
                    if let Ok(mut slots) = slots.lock() {
                        slots[i] = Some(summary);
                    }
                }
            });
        }
    });
    let mut cells = Vec::new();
    for c in 0..spec.configs.len() {
        for n in 0..spec.nemeses.len() {
            let mut runs = Vec::new();
            for (i, &(jc, jn, _)) in jobs.iter().enumerate() {
                if jc == c && jn == n {
                    match results[i].take() {
                        Some(Ok(r)) => runs.push(r),
                        Some(Err(e)) => return Err(e),
                        None => return Err(LabError::Check("a grid run did not finish".into())),
                    }
                }
            }
            let k = runs.len().max(1) as f64;
            let mut latencies: Vec<u64> = runs
                .iter()
                .flat_map(|r| r.latencies.iter().copied())
                .collect();
            latencies.sort_unstable();
            let converged: Vec<u64> = runs.iter().filter_map(|r| r.converged).collect();
            cells.push(Cell {
                config: spec.configs[c].label.clone(),
                nemesis: spec.nemeses[n].to_string(),
                seeds: runs.len() as u64,
                availability: round(runs.iter().map(|r| r.availability).sum::<f64>() / k, 4),
                latency_p50_ms: round(percentile(&latencies, 50.0) as f64 / 1e6, 3),
                latency_p99_ms: round(percentile(&latencies, 99.0) as f64 / 1e6, 3),
                msgs_per_op: round(runs.iter().map(|r| r.msgs_per_op).sum::<f64>() / k, 2),
                non_linearizable: runs.iter().filter(|r| r.non_linearizable).count() as u64,
                stale_reads: runs.iter().map(|r| r.stale).sum(),
                read_your_writes_violations: runs.iter().map(|r| r.ryw).sum(),
                lost_writes: runs.iter().map(|r| r.lost).sum(),
                concurrent_writes_lost: runs.iter().map(|r| r.concurrent_lost).sum(),
                sibling_reads: runs.iter().map(|r| r.sibling_reads).sum(),
                not_converged: (runs.len() - converged.len()) as u64,
                converge_ms: round(
                    converged.iter().sum::<u64>() as f64 / converged.len().max(1) as f64,
                    1,
                ),
                freshness: sum_bins(runs.iter().map(|r| r.freshness.as_slice())),
            });
        }
    }
    Ok(cells)
}

/// Bin-by-bin sums of freshness curves with the same edges.
fn sum_bins<'a>(curves: impl Iterator<Item = &'a [FreshnessBin]>) -> Vec<FreshnessBin> {
    let mut total: Vec<FreshnessBin> = Vec::new();
    for curve in curves {
        if total.is_empty() {
            total = curve.to_vec();
            continue;
        }
        for (t, b) in total.iter_mut().zip(curve) {
            t.reads += b.reads;
            t.fresh += b.fresh;
        }
    }
    total
}

/// The nemesis the staleness curves are drawn for: `none` if the grid has it, else the
/// first one.
pub fn curve_nemesis(cells: &[Cell]) -> Option<&str> {
    cells
        .iter()
        .find(|c| c.nemesis == "none")
        .or(cells.first())
        .map(|c| c.nemesis.as_str())
}

/// The PBS-style staleness curves: for each configuration under [`curve_nemesis`], the
/// share of reads that were fresh, by time since the latest acknowledged write.
pub fn to_freshness_table(cells: &[Cell]) -> String {
    let Some(nemesis) = curve_nemesis(cells) else {
        return String::new();
    };
    let mut t = String::new();
    let _ = writeln!(
        t,
        "P(read is fresh) by ms since the latest acknowledged write of its key, nemesis {nemesis}"
    );
    let Some(edges) = cells.first().map(|c| &c.freshness) else {
        return t;
    };
    let cw = config_width(cells);
    let _ = write!(t, "{:<cw$}", "config");
    for b in edges {
        let label = b.label();
        let _ = write!(t, " {label:>7}");
    }
    t.push('\n');
    for c in cells.iter().filter(|c| c.nemesis == nemesis) {
        let _ = write!(t, "{:<cw$}", c.config);
        for b in &c.freshness {
            match b.fresh_share() {
                Some(p) => {
                    let _ = write!(t, " {p:>7.3}");
                }
                None => {
                    let _ = write!(t, " {:>7}", "-");
                }
            }
        }
        t.push('\n');
    }
    t
}

/// Width of the configuration column: the longest label, at least 44.
fn config_width(cells: &[Cell]) -> usize {
    cells.iter().map(|c| c.config.len()).fold(44, usize::max)
}

/// The grid as an aligned table.
pub fn to_table(cells: &[Cell]) -> String {
    let cw = config_width(cells);
    let nw = cells.iter().map(|c| c.nemesis.len()).fold(14, usize::max);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<cw$} {:<nw$} {:>6} {:>8} {:>8} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>9}",
        "config",
        "nemesis",
        "avail",
        "p50 ms",
        "p99 ms",
        "msg/op",
        "nonlin",
        "stale",
        "ryw",
        "lost",
        "lww",
        "sibs",
        "converge"
    );
    for c in cells {
        let converge = if c.not_converged > 0 {
            format!("{} no", c.not_converged)
        } else {
            format!("{}ms", c.converge_ms)
        };
        let nonlin = format!("{}/{}", c.non_linearizable, c.seeds);
        let _ = writeln!(
            t,
            "{:<cw$} {:<nw$} {:>5.1}% {:>8} {:>8} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>9}",
            c.config,
            c.nemesis,
            c.availability * 100.0,
            c.latency_p50_ms,
            c.latency_p99_ms,
            c.msgs_per_op,
            nonlin,
            c.stale_reads,
            c.read_your_writes_violations,
            c.lost_writes,
            c.concurrent_writes_lost,
            c.sibling_reads,
            converge
        );
    }
    t
}

/// The grid as CSV with a header row.
pub fn to_csv(cells: &[Cell]) -> String {
    let mut t = String::from(
        "config,nemesis,seeds,availability,latency_p50_ms,latency_p99_ms,msgs_per_op,non_linearizable,stale_reads,read_your_writes_violations,lost_writes,concurrent_writes_lost,sibling_reads,not_converged,converge_ms\n",
    );
    for c in cells {
        let _ = writeln!(
            t,
            "\"{}\",{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            c.config,
            c.nemesis,
            c.seeds,
            c.availability,
            c.latency_p50_ms,
            c.latency_p99_ms,
            c.msgs_per_op,
            c.non_linearizable,
            c.stale_reads,
            c.read_your_writes_violations,
            c.lost_writes,
            c.concurrent_writes_lost,
            c.sibling_reads,
            c.not_converged,
            c.converge_ms
        );
    }
    t
}

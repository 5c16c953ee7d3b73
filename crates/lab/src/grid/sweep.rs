//! Running the grid's runs: all of them or one shard, in parallel, stoppable between runs.

use super::GridSpec;
use crate::checking::{check_history_of_run, simulated_history};
use crate::error::LabError;
use crate::scenario::{RunResult, Scenario};
use dsys_check::session::{FRESHNESS_EDGES_MS, freshness};
use dsys_check::{CheckName, Verdict};
use dsys_sim::{Availability, SimConfig};
use serde::{Deserialize, Serialize};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// What one run contributes to its cell. Whole numbers only, so a record written to a
/// part file and read back folds into exactly the same figures.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// The run's place in [`GridSpec::jobs`].
    pub job: usize,
    /// Index of its configuration.
    pub config: usize,
    /// Index of its nemesis.
    pub nemesis: usize,
    /// Its seed.
    pub seed: u64,
    /// Operations, answered and in all, split at the cluster's first answer.
    pub availability: Availability,
    /// Messages sent.
    pub messages: u64,
    /// Latency of each successful operation, virtual ns.
    pub latencies_ns: Vec<u64>,
    /// Whether the history was not linearizable.
    pub non_linearizable: bool,
    /// Stale reads.
    pub stale_reads: u64,
    /// Read-your-writes violations.
    pub read_your_writes_violations: u64,
    /// Acknowledged writes lost (final reads).
    pub lost_writes: u64,
    /// Writes dropped by conflict resolution (protocol counter).
    pub concurrent_writes_lost: u64,
    /// Reads that returned siblings (protocol counter).
    pub sibling_reads: u64,
    /// Virtual ms to converge after the final heal, if it converged.
    pub converge_ms: Option<u64>,
    /// Per freshness bin of the grid's edges: `[reads, fresh reads]`.
    pub freshness: Vec<[u64; 2]>,
    /// Where clients were placed (`network.client_homes`): per placed group, the latency
    /// of each successful read and write, virtual ns.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<crate::verify::GroupLatencies>,
}

impl RunRecord {
    /// Messages per operation.
    pub fn msgs_per_op(&self) -> f64 {
        match self.availability.ops {
            0 => 0.0,
            ops => self.messages as f64 / ops as f64,
        }
    }
}

pub(crate) fn record(
    job: usize,
    (config, nemesis, seed): (usize, usize, u64),
    run: &RunResult,
) -> Result<RunRecord, LabError> {
    // What the workload's model can be judged by: counters and sets have no sessions
    // to check and lose updates rather than writes.
    let model = crate::checking::scenario_model(&run.scenario);
    let checks: Vec<CheckName> = [
        CheckName::Linearizable,
        CheckName::ReadYourWrites,
        CheckName::NoStaleReads,
        CheckName::NoLostWrites,
        CheckName::NoLostUpdates,
    ]
    .into_iter()
    .filter(|c| c.applies_to(model))
    .collect();
    let history = simulated_history(run)?;
    let timeout = Some(std::time::Duration::from_secs(10));
    let report = check_history_of_run(run, &history, &checks, timeout)?;
    let count = |check: &str, counter: &str| {
        report
            .checks
            .get(check)
            .and_then(|c| c.counts.get(counter).copied())
            .unwrap_or(0)
    };
    let metric = |name: &str| run.outcome.protocol_metrics.get(name).copied().unwrap_or(0);
    let s = &run.outcome.stats;
    let bins = freshness(&history, &FRESHNESS_EDGES_MS).map_err(LabError::Check)?;
    Ok(RunRecord {
        job,
        config,
        nemesis,
        seed,
        availability: s.availability(),
        messages: s.messages_sent,
        latencies_ns: s.ok_latencies_ns.clone(),
        non_linearizable: report.checks["linearizable"].result == Verdict::Fail,
        stale_reads: count("no-stale-reads", "stale reads"),
        read_your_writes_violations: count("read-your-writes", "violations"),
        lost_writes: count("no-lost-writes", "lost") + count("no-lost-updates", "lost"),
        concurrent_writes_lost: metric("concurrent writes lost"),
        sibling_reads: metric("reads with siblings"),
        converge_ms: run
            .outcome
            .time_to_converge
            .filter(|_| run.outcome.converged)
            .map(|d| d.as_millis() as u64),
        freshness: bins.iter().map(|b| [b.reads, b.fresh]).collect(),
        groups: crate::verify::group_latencies(run),
    })
}

/// Which of the grid's runs this process takes: those whose job index is `index` modulo
/// `count` (round robin, so every shard gets a share of every cell).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// From 0.
    pub index: u64,
    /// Shards in all, at least 1.
    pub count: u64,
}

impl Shard {
    /// Every run.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// Whether job `job` is this shard's.
    pub fn takes(&self, job: usize) -> bool {
        job as u64 % self.count.max(1) == self.index
    }
}

/// What a sweep did.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// One record per finished run, in job order.
    pub records: Vec<RunRecord>,
    /// Runs the shard had to do.
    pub planned: usize,
    /// Whether it was stopped before all of them finished.
    pub interrupted: bool,
}

/// Run `shard`'s part of the grid, `threads` at a time. Checks `stop` before each run:
/// once set, runs in progress finish and no new one starts. `progress(done, planned)` is
/// called after each run.
pub fn sweep(
    spec: &GridSpec,
    shard: Shard,
    threads: usize,
    stop: &AtomicBool,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<Sweep, LabError> {
    let jobs: Vec<(usize, (usize, usize, u64))> = spec
        .jobs()
        .into_iter()
        .enumerate()
        .filter(|(j, _)| shard.takes(*j))
        .collect();
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<RunRecord, LabError>>>> =
        Mutex::new((0..jobs.len()).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(&(job, (c, n, seed))) = jobs.get(i) else {
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
                    let result = scenario
                        .run(&mut |_| {})
                        .and_then(|r| record(job, (c, n, seed), &r));
                    if let Ok(mut slots) = results.lock() {
                        slots[i] = Some(result);
                    }
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, jobs.len());
                }
            });
        }
    });
    let results = results.into_inner().map_err(|_| LabError::Internal {
        what: "a grid worker panicked".into(),
        seed: spec.seed_start,
    })?;
    let mut records = Vec::with_capacity(jobs.len());
    for result in results.into_iter().flatten() {
        records.push(result?);
    }
    Ok(Sweep {
        interrupted: records.len() < jobs.len(),
        planned: jobs.len(),
        records,
    })
}

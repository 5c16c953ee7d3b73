//! The lab's side of `dsys design --verify`: the advisor says which configurations to
//! run under which nemeses and judges the figures; the lab measures them, as grid cells.

use crate::error::LabError;
use crate::grid::{self, Config, GridSpec, Shard};
use dsys_advisor::verify::{Measure, Measurement, Run};
use dsys_sim::{NemesisSpec, SimConfig};
use std::sync::atomic::AtomicBool;

/// Runs on the simulator's defaults (five nodes, 1 ms links), `threads` at a time,
/// reporting `(done, planned)` runs to `progress`.
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

impl Measure for GridMeasure<'_> {
    type Error = LabError;

    fn measure(&self, runs: &[Run], seeds: u64) -> Result<Vec<Measurement>, LabError> {
        let mut configs: Vec<Config> = Vec::new();
        let mut nemeses: Vec<NemesisSpec> = Vec::new();
        for run in runs {
            let config = Config::parse(&run.config)?;
            if !configs.iter().any(|c| c.label == config.label) {
                configs.push(config);
            }
            let nemesis: NemesisSpec = run.nemesis.parse().map_err(|e| LabError::Internal {
                what: format!("the advisor asked for nemesis `{}`: {e}", run.nemesis),
                seed: 0,
            })?;
            if !nemeses.contains(&nemesis) {
                nemeses.push(nemesis);
            }
        }
        let spec = GridSpec {
            configs,
            nemeses,
            seeds,
            seed_start: 0,
            base: SimConfig::default(),
        };
        let sweep = grid::sweep(
            &spec,
            Shard::WHOLE,
            self.threads,
            &AtomicBool::new(false),
            self.progress,
        )?;
        let cells = grid::cells(&spec, &sweep.records);
        runs.iter()
            .map(|run| {
                let label = Config::parse(&run.config)?.label;
                let cell = cells
                    .iter()
                    .find(|c| c.config == label && c.nemesis == run.nemesis)
                    .ok_or_else(|| LabError::Internal {
                        what: format!("no run of {label} under {}", run.nemesis),
                        seed: 0,
                    })?;
                Ok(Measurement {
                    seeds: cell.seeds,
                    availability: cell.availability,
                    latency_p50_ms: cell.latency_p50_ms,
                    latency_p99_ms: cell.latency_p99_ms,
                    non_linearizable: cell.non_linearizable,
                    lost_writes: cell.lost_writes,
                    concurrent_writes_lost: cell.concurrent_writes_lost,
                    read_your_writes_violations: cell.read_your_writes_violations,
                })
            })
            .collect()
    }
}

//! A shard's output: the grid it belongs to and one record per run, as JSON; and merging
//! the parts of one grid back into the grid one machine would have produced.

use super::{Config, GridSpec, RunRecord, Shard};
use crate::error::LabError;
use dsys_sim::{NemesisSpec, SimConfig};
use serde::{Deserialize, Serialize};

/// The `format` field of a part file.
pub const PART_FORMAT: &str = "dsys-grid-part";
const PART_VERSION: u32 = 1;
/// More shards than this is not a grid anyone runs; refusing it bounds what a merge holds.
pub const MAX_SHARDS: u64 = 1 << 16;

/// The grid a part belongs to, as the command line gave it.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PartGrid {
    /// Configurations, `protocol:key=value,...`.
    configs: Vec<String>,
    /// Nemesis specs.
    nemeses: Vec<NemesisSpec>,
    seeds: u64,
    seed_start: u64,
    base: SimConfig,
}

/// One shard's runs of a grid.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    format: String,
    version: u32,
    grid: PartGrid,
    shard: Shard,
    /// Runs the shard had to do.
    planned: usize,
    /// Whether every one of them finished (false after Ctrl-C).
    complete: bool,
    runs: Vec<RunRecord>,
}

fn bad(reason: impl Into<String>) -> LabError {
    LabError::GridPart(reason.into())
}

impl Part {
    /// The part `sweep` of `spec` produced; `configs` as the command line gave them.
    pub fn new(spec: &GridSpec, configs: &[String], shard: Shard, sweep: &super::Sweep) -> Self {
        Part {
            format: PART_FORMAT.to_string(),
            version: PART_VERSION,
            grid: PartGrid {
                configs: configs.to_vec(),
                nemeses: spec.nemeses.clone(),
                seeds: spec.seeds,
                seed_start: spec.seed_start,
                base: spec.base.clone(),
            },
            shard,
            planned: sweep.planned,
            complete: !sweep.interrupted,
            runs: sweep.records.clone(),
        }
    }

    /// The part as JSON, one line per run so parts diff and stream well.
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self).map(|s| s + "\n")
    }

    /// Read a part file's text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Part, LabError> {
        let part: Part = serde_json::from_str(text)
            .map_err(|e| bad(format!("{origin}: not a grid part: {e}")))?;
        if part.format != PART_FORMAT || part.version != PART_VERSION {
            return Err(bad(format!(
                "{origin}: format {} version {}, expected {PART_FORMAT} version {PART_VERSION}",
                part.format, part.version
            )));
        }
        if part.shard.count == 0
            || part.shard.count > MAX_SHARDS
            || part.shard.index >= part.shard.count
        {
            return Err(bad(format!(
                "{origin}: shard {} of {}",
                part.shard.index, part.shard.count
            )));
        }
        Ok(part)
    }

    /// The grid and every run record, from the parts of one grid: the same grid, every
    /// shard once, each complete. The records come back in job order.
    pub fn merge(parts: Vec<Part>) -> Result<(GridSpec, Vec<RunRecord>), LabError> {
        let Some(first) = parts.first() else {
            return Err(bad("no parts to merge"));
        };
        let grid = first.grid.clone();
        let count = first.shard.count;
        let mut seen = vec![false; count.min(MAX_SHARDS) as usize];
        for part in &parts {
            if part.grid != grid {
                return Err(bad(format!(
                    "shard {}/{} belongs to another grid (configurations, nemeses, seeds or base differ)",
                    part.shard.index + 1,
                    part.shard.count
                )));
            }
            if part.shard.count != count {
                return Err(bad(format!(
                    "parts disagree on the number of shards: {count} and {}",
                    part.shard.count
                )));
            }
            let slot = seen
                .get_mut(part.shard.index as usize)
                .ok_or_else(|| bad(format!("shard index {} out of range", part.shard.index)))?;
            if std::mem::replace(slot, true) {
                return Err(bad(format!(
                    "shard {}/{count} given twice",
                    part.shard.index + 1
                )));
            }
            if !part.complete {
                return Err(bad(format!(
                    "shard {}/{count} is partial (interrupted): run it again",
                    part.shard.index + 1
                )));
            }
        }
        let missing: Vec<String> = (0..seen.len())
            .filter(|&i| !seen[i])
            .map(|i| format!("{}/{count}", i + 1))
            .collect();
        if !missing.is_empty() {
            return Err(bad(format!("missing shards: {}", missing.join(", "))));
        }
        let configs = grid
            .configs
            .iter()
            .map(|c| Config::parse(c))
            .collect::<Result<Vec<_>, _>>()?;
        let spec = GridSpec {
            configs,
            nemeses: grid.nemeses,
            seeds: grid.seeds,
            seed_start: grid.seed_start,
            base: grid.base,
        };
        let jobs = spec.jobs();
        let mut records: Vec<RunRecord> = parts.into_iter().flat_map(|p| p.runs).collect();
        records.sort_by_key(|r| r.job);
        let consistent = records.len() == jobs.len()
            && records
                .iter()
                .enumerate()
                .all(|(i, r)| r.job == i && jobs[i] == (r.config, r.nemesis, r.seed));
        if !consistent {
            return Err(bad(format!(
                "the parts hold {} runs, not the grid's {} runs each once",
                records.len(),
                jobs.len()
            )));
        }
        Ok((spec, records))
    }
}

//! `dsys design --verify`: put each data class's design through the simulator, on the
//! cluster the design places, and set what was measured beside what was claimed.
//!
//! For each data class ([`trials`]): the chosen configuration exactly as the design says
//! (protocol, quorum, read path, conflict strategy, leader placement) and the strongest
//! alternative it rejected, both on a node per copy in the spec's regions and zones, with
//! the spec's round trips between them and clients where the objectives' users are
//! ([`placement`]), under the failures the spec must survive (a region lost, a zone lost,
//! a region cut off). The chosen configuration also runs without faults, so each latency
//! objective's p99 is measured from its users' region beside the arithmetic's lower
//! bound. The advisor says what to run and how to judge it ([`judge`]); the lab runs it.

mod judge;
pub mod placement;
mod trials;

pub use judge::{Confirmation, Latency, Outcome, judge, text};
pub use placement::{ClientGroup, NodePlace, Placement, Workload};
pub use trials::{nemesis, trials};

use crate::spec::{OpKind, Spec};
use serde::Serialize;

/// What a trial claims of one configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Claim {
    /// Linearizable on every seed and no acknowledged write lost.
    Safe,
    /// Not linearizable, or loses acknowledged writes, on some seed.
    Unsafe,
    /// No acknowledged write lost on any seed (reads may lag).
    KeepsWrites,
    /// Loses concurrent writes to conflict resolution on some seed.
    LosesConcurrentWrites,
    /// Neither concurrent nor acknowledged writes lost on any seed (a CRDT's merge).
    KeepsConcurrentWrites,
    /// Reads see the reader's own writes on every seed.
    ReadsOwnWrites,
    /// Answers at least as many operations as the other configuration.
    MoreAvailable,
    /// Answers fewer operations than the other configuration.
    LessAvailable,
    /// A lower median latency than the other configuration.
    Faster,
    /// A higher median latency than the other configuration.
    Slower,
}

/// One side of a trial: a configuration (as `dsys grid` spells it) and its claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Side {
    /// `protocol` or `protocol:key=value,...`.
    pub config: String,
    /// What the design says of it; all must hold.
    pub claims: Vec<Claim>,
}

/// A latency objective to measure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Objective {
    /// The operation.
    pub operation: String,
    /// Read or write.
    pub op: OpKind,
    /// The client group (in [`Placement::clients`]) of its region.
    pub group: usize,
    /// The objective, ms.
    pub p99_ms: f64,
    /// The arithmetic's lower bound, where the spec gives the round trips.
    pub floor_ms: Option<f64>,
    /// The configuration that serves it (the chosen one; reads at the nearest replica
    /// where the objective lets them lag), run without faults to measure it.
    pub config: String,
}

/// What to run for one data class.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trial {
    /// The data class.
    pub data: String,
    /// The chosen configuration.
    pub chosen: Side,
    /// The strongest alternative the rule rejected.
    pub alternative: Side,
    /// The nemesis, from the failures the spec must survive.
    pub nemesis: String,
    /// The cluster both run on.
    pub placement: Placement,
    /// The latency objectives on the data.
    pub objectives: Vec<Objective>,
    /// The store's availability by the arithmetic (fraction of a year, zone and region
    /// outages included), to set beside what the runs answered.
    pub arithmetic_availability: f64,
}

/// A data class the simulator cannot run, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// The data class.
    pub data: String,
    /// Why.
    pub why: String,
}

/// Latencies of one client group's successful operations, virtual ms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct GroupLatency {
    /// 99th percentile of its reads (`None`: none succeeded).
    pub reads_p99_ms: Option<f64>,
    /// 99th percentile of its writes (updates of any kind).
    pub writes_p99_ms: Option<f64>,
}

impl GroupLatency {
    /// The p99 of `op`.
    pub fn p99(&self, op: OpKind) -> Option<f64> {
        match op {
            OpKind::Read => self.reads_p99_ms,
            OpKind::Write => self.writes_p99_ms,
        }
    }
}

/// What the simulator measured for one configuration under one nemesis.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Measurement {
    /// Seeds run.
    pub seeds: u64,
    /// Share of operations answered.
    pub availability: f64,
    /// Median latency of successful operations, virtual ms.
    pub latency_p50_ms: f64,
    /// 99th percentile, virtual ms.
    pub latency_p99_ms: f64,
    /// Seeds not linearizable.
    pub non_linearizable: u64,
    /// Acknowledged writes lost.
    pub lost_writes: u64,
    /// Writes dropped by conflict resolution.
    pub concurrent_writes_lost: u64,
    /// Read-your-writes violations.
    pub read_your_writes_violations: u64,
    /// Per client group of the placement, in order.
    pub groups: Vec<GroupLatency>,
}

/// One configuration under one nemesis on one cluster: what a [`Measure`] is asked to
/// run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Run {
    /// `protocol` or `protocol:key=value,...`.
    pub config: String,
    /// The nemesis (`none`: steady state, for latency objectives).
    pub nemesis: String,
    /// The cluster.
    pub placement: Placement,
}

/// What runs the trials (the lab, in the simulator). The advisor says what to run and
/// judges what comes back; the runner implements this, so the dependency points at the
/// advisor and the advisor needs no simulator.
pub trait Measure {
    /// Why measuring failed.
    type Error;
    /// Measure each run over `seeds` seeds, one measurement per run, in order.
    fn measure(&self, runs: &[Run], seeds: u64) -> Result<Vec<Measurement>, Self::Error>;
}

/// A verification: each data class's outcome, and the classes that could not run.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Verification {
    /// One per data class run.
    pub outcomes: Vec<Outcome>,
    /// The data classes not run, and why.
    pub skipped: Vec<Skipped>,
}

/// `--verify`: every data class's trial, measured by `measure` and judged.
pub fn verify<M: Measure>(spec: &Spec, seeds: u64, measure: &M) -> Result<Verification, M::Error> {
    let (trials, skipped) = trials(spec);
    let mut runs: Vec<Run> = Vec::new();
    let index = |run: Run, runs: &mut Vec<Run>| match runs.iter().position(|r| *r == run) {
        Some(i) => i,
        None => {
            runs.push(run);
            runs.len() - 1
        }
    };
    let mut planned = Vec::new();
    for t in &trials {
        let run = |config: &str, nemesis: &str| Run {
            config: config.to_string(),
            nemesis: nemesis.to_string(),
            placement: t.placement.clone(),
        };
        let sides = [
            index(run(&t.chosen.config, &t.nemesis), &mut runs),
            index(run(&t.alternative.config, &t.nemesis), &mut runs),
            index(run(&t.chosen.config, "none"), &mut runs),
        ];
        let objectives: Vec<usize> = t
            .objectives
            .iter()
            .map(|o| index(run(&o.config, "none"), &mut runs))
            .collect();
        planned.push((sides, objectives));
    }
    let measured = measure.measure(&runs, seeds)?;
    let of = |i: usize| measured.get(i).cloned().unwrap_or_default();
    let outcomes = trials
        .into_iter()
        .zip(planned)
        .map(|(t, ([chosen, alternative, steady], objectives))| {
            let per_objective = objectives.into_iter().map(of).collect();
            judge(t, of(chosen), of(alternative), of(steady), per_objective)
        })
        .collect();
    Ok(Verification { outcomes, skipped })
}

/// What contradicts the design: its own checks' contradictions, then the claims the
/// simulator contradicted; each as `subject (check)`. Empty: the design holds together.
pub fn contradictions(design: &crate::Design, verification: &Verification) -> Vec<String> {
    let mut out: Vec<String> = design
        .contradictions()
        .map(|c| format!("{} ({})", c.subject, c.check))
        .collect();
    for o in &verification.outcomes {
        if o.chosen_verdict == Confirmation::Contradicted {
            out.push(format!(
                "{} (verify: {})",
                o.trial.data, o.trial.chosen.config
            ));
        }
        for l in o
            .latency
            .iter()
            .filter(|l| l.verdict == Confirmation::Contradicted)
        {
            out.push(format!(
                "{} (verify: p99 of {})",
                o.trial.data, l.objective.operation
            ));
        }
    }
    out
}

/// A design with its verification, as `--verify --format json` prints it: the design's
/// fields, then `verification`.
#[derive(Debug, Serialize)]
pub struct VerifiedDesign<'a> {
    /// The design.
    #[serde(flatten)]
    pub design: &'a crate::Design,
    /// One outcome per data class, and those not run.
    pub verification: &'a Verification,
}

#[cfg(test)]
mod tests;

//! A scenario: protocol x settings x simulation config (nemesis and seed included).

use crate::error::LabError;
use crate::protocol::{self, Protocol, ProtocolConfig, Settings};
use dsys_sim::{Progress, RunOutcome, SimConfig, TimedFault};
use serde::{Deserialize, Serialize};

/// Everything needed to run (and rerun) one simulation.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Which protocol.
    pub protocol: Protocol,
    /// Its `--set` values.
    pub settings: Settings,
    /// The world: nodes, network, nemesis, workload, seed.
    pub sim: SimConfig,
    /// A scripted fault timeline to follow instead of drawing faults from `sim.nemesis`
    /// (which must then be `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<Vec<TimedFault>>,
}

/// A finished run and how long it took on the wall clock.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// What was run.
    pub scenario: Scenario,
    /// What happened.
    pub outcome: RunOutcome,
    /// Real seconds the run took (measured outside the simulated world).
    pub wall_seconds: f64,
    /// Whether the faults came from a script rather than the seed.
    pub scripted: bool,
    /// Hash of the history's JSONL bytes (computed once: reports and artifacts share it).
    pub history_hash: u64,
}

impl Scenario {
    /// Check settings and configuration without running.
    pub fn validate(&self) -> Result<(), LabError> {
        self.checked_config().map(|_| ())
    }

    /// Every check of [`Scenario::validate`], and the typed config it made on the way.
    fn checked_config(&self) -> Result<ProtocolConfig, LabError> {
        let config = self.config()?;
        self.sim.validate()?;
        let workload = self.sim.workload.kind;
        if !self.protocol.workloads().contains(&workload) {
            return Err(LabError::WorkloadNotServed {
                protocol: self.protocol.name(),
                workload: workload.name(),
            });
        }
        if self.schedule.is_some() && !self.sim.nemesis.is_none() {
            return Err(LabError::ScheduleWithNemesis(self.sim.nemesis.to_string()));
        }
        Ok(config)
    }

    /// The protocol's typed config for this cluster and workload.
    pub fn config(&self) -> Result<ProtocolConfig, LabError> {
        self.settings
            .config(self.protocol, self.sim.nodes, self.sim.workload.kind)
    }

    /// Run with faults drawn from the seed (or following `schedule`, if set).
    pub fn run(&self, progress: &mut dyn FnMut(&Progress)) -> Result<RunResult, LabError> {
        self.run_inner(self.schedule.clone(), progress)
    }

    /// Read a fault timeline: a JSON array of `{"at": NANOS, "action": {...}}`, the
    /// format of an artifact's `realised_schedule`.
    pub fn load_schedule(path: &std::path::Path) -> Result<Vec<TimedFault>, LabError> {
        let origin = path.display().to_string();
        let bad = |reason: String| LabError::Schedule {
            path: origin.clone(),
            reason,
        };
        let text =
            crate::error::read_text(path, |path, reason| LabError::Schedule { path, reason })?;
        serde_json::from_str(&text).map_err(|e| bad(format!("invalid fault schedule: {e}")))
    }

    /// Run with faults following `script` (a realised schedule).
    pub fn run_script(
        &self,
        script: Vec<TimedFault>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RunResult, LabError> {
        self.run_inner(Some(script), progress)
    }

    fn run_inner(
        &self,
        script: Option<Vec<TimedFault>>,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<RunResult, LabError> {
        let config = self.checked_config()?;
        let scripted = script.is_some();
        // Wall time is measured around the world, never inside it.
        #[allow(clippy::disallowed_methods)]
        let started = std::time::Instant::now();
        let outcome = protocol::run(config, self.sim.clone(), script, progress)?;
        let wall_seconds = started.elapsed().as_secs_f64();
        let history_hash = crate::report::history_hash(&outcome.history);
        Ok(RunResult {
            scenario: self.clone(),
            outcome,
            wall_seconds,
            scripted,
            history_hash,
        })
    }
}

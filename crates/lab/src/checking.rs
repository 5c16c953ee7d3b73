//! Judging simulated runs: their histories in the checker's model, and the two checks
//! only a simulation can answer, `converged` and `invariants`, reported beside the history
//! checks like any other. (Files: `dsys_check::check_file`.)

use crate::error::LabError;
use crate::scenario::{RunResult, Scenario};
use dsys_check::history::Positions;
use dsys_check::read::from_recorded;
use dsys_check::report::{CheckName, CheckReport, CheckResult, run};
use dsys_check::{Budget, CHECK_MEMORY_BYTES, History, ModelKind, Verdict};
use dsys_sim::InvariantsOutcome;
use dsys_sim::workload::WorkloadKind;
use std::collections::BTreeMap;
use std::time::Duration;

/// The checks `dsys simulate` runs on histories of `model` unless told otherwise: every
/// check that applies, but `sequential` (implied by, and slower than, `linearizable`) and
/// `invariants` (reported whenever the protocol has a monitor, asked or not).
pub fn simulation_checks(model: ModelKind) -> Vec<CheckName> {
    CheckName::ALL
        .into_iter()
        .filter(|c| !matches!(c, CheckName::Sequential | CheckName::Invariants))
        .filter(|c| c.applies_to(model))
        .collect()
}

/// Whether a check is answered by the run itself rather than by its history.
fn answered_by_the_run(check: CheckName) -> bool {
    matches!(check, CheckName::Converged | CheckName::Invariants)
}

/// The model a scenario's histories are checked against: its workload's, with register
/// reads multi-valued where the protocol returns siblings.
pub fn scenario_model(scenario: &Scenario) -> ModelKind {
    match scenario.sim.workload.kind {
        WorkloadKind::Kv if scenario.config().is_ok_and(|c| c.reads_siblings()) => {
            ModelKind::MvRegister
        }
        WorkloadKind::Kv => ModelKind::Kv,
        WorkloadKind::Counter => ModelKind::Counter,
        WorkloadKind::Set => ModelKind::Set,
    }
}

/// A simulated history in the checker's model, its witnesses citing events (the run was
/// not written to a file). Simulated histories are well formed by construction, so a
/// pairing error here is a bug in the simulator, reported as such.
pub fn simulated_history(result: &RunResult) -> Result<History, LabError> {
    simulated_history_citing(result, Positions::Events)
}

/// [`simulated_history`], citing `positions`: [`Positions::Lines`] once the history was
/// written to a file (event N is line N of it).
pub fn simulated_history_citing(
    result: &RunResult,
    positions: Positions,
) -> Result<History, LabError> {
    from_recorded(result.outcome.history.events(), positions).map_err(|err| LabError::Internal {
        what: format!("the simulated history cannot be checked ({err})"),
        seed: result.scenario.sim.seed,
    })
}

/// Run `checks` on a simulated run (the workload's model; `converged` from the run itself).
pub fn check_run(
    result: &RunResult,
    checks: &[CheckName],
    timeout: Option<Duration>,
) -> Result<CheckReport, LabError> {
    check_run_citing(result, checks, timeout, Positions::Events)
}

/// [`check_run`] with witnesses citing `positions`.
pub fn check_run_citing(
    result: &RunResult,
    checks: &[CheckName],
    timeout: Option<Duration>,
    positions: Positions,
) -> Result<CheckReport, LabError> {
    let history = simulated_history_citing(result, positions)?;
    check_history_of_run(result, &history, checks, timeout)
}

/// [`check_run`] for a caller that already holds the run's [`simulated_history`]. A
/// protocol's invariant monitor is reported whenever it ran: a broken invariant means the
/// protocol itself is wrong, whatever was asked.
pub fn check_history_of_run(
    result: &RunResult,
    history: &History,
    checks: &[CheckName],
    timeout: Option<Duration>,
) -> Result<CheckReport, LabError> {
    let history_checks: Vec<CheckName> = checks
        .iter()
        .copied()
        .filter(|c| !answered_by_the_run(*c))
        .collect();
    let mut budget = Budget::new(timeout, CHECK_MEMORY_BYTES);
    let model = scenario_model(&result.scenario);
    let mut report = run(history, model, &history_checks, &mut budget)
        .map_err(|e| LabError::Check(e.to_string()))?;
    if checks.contains(&CheckName::Converged) {
        let o = &result.outcome;
        let mut counts = BTreeMap::new();
        if let Some(t) = o.time_to_converge {
            counts.insert("ms to converge", t.as_millis() as u64);
        }
        report.checks.insert(
            CheckName::Converged.name(),
            CheckResult {
                result: if o.converged {
                    Verdict::Pass
                } else {
                    Verdict::Fail
                },
                counts,
                reason: (!o.converged).then(|| {
                    format!(
                        "replicas still differed {} ms after the final heal (--converge-deadline)",
                        result.scenario.sim.convergence.deadline_ms
                    )
                }),
                failed_keys: Vec::new(),
                witness: None,
            },
        );
    }
    let asked = checks.contains(&CheckName::Invariants);
    match &result.outcome.invariants {
        Some(invariants) => {
            let checked = invariants_result(invariants);
            report.checks.insert(CheckName::Invariants.name(), checked);
        }
        None if asked => {
            let unchecked = no_monitor(result.scenario.protocol.name());
            report
                .checks
                .insert(CheckName::Invariants.name(), unchecked);
        }
        None => {}
    }
    Ok(report)
}

/// The monitor's verdict as a check result: the run stopped at the first broken invariant.
fn invariants_result(invariants: &InvariantsOutcome) -> CheckResult {
    CheckResult {
        result: if invariants.violation.is_some() {
            Verdict::Fail
        } else {
            Verdict::Pass
        },
        counts: BTreeMap::from([("steps checked", invariants.steps_checked)]),
        reason: invariants.violation.clone(),
        failed_keys: Vec::new(),
        witness: None,
    }
}

/// `invariants` asked of a protocol without a monitor: nothing was checked, so the answer
/// is unknown (an `--expect invariants` exits 3, never a silent pass).
fn no_monitor(protocol: &str) -> CheckResult {
    CheckResult {
        result: Verdict::Unknown,
        counts: BTreeMap::new(),
        reason: Some(format!(
            "{protocol} has no invariant monitor: only raft states cluster-wide invariants"
        )),
        failed_keys: Vec::new(),
        witness: None,
    }
}

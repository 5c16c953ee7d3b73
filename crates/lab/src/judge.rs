//! From a run to its verdict, in one place: the checks it gets (the workload's defaults
//! unless told), and how it failed, if it did — what every caller turns into its exit
//! code.

use crate::checking::{check_run_citing, scenario_model, simulation_checks};
use crate::error::LabError;
use crate::scenario::RunResult;
use dsys_check::history::Positions;
use dsys_check::{CheckName, CheckReport, Verdict};
use std::time::Duration;

/// What a caller asks of a run.
#[derive(Clone, Debug, Default)]
pub struct Judging {
    /// The checks to run; `None` for every check that applies to the workload.
    pub checks: Option<Vec<CheckName>>,
    /// Checks whose failure fails the run (run even if not in `checks`).
    pub expect: Vec<CheckName>,
    /// Wall-time budget for the checks; past it a check answers unknown.
    pub timeout: Option<Duration>,
    /// What witnesses cite: lines of a written history file, or events of the run.
    pub positions: Positions,
}

/// How a judged run failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RunFailure {
    /// A protocol invariant broke, or an expected safety check failed.
    Violation(String),
    /// An expected check ran out of budget.
    Unknown(String),
    /// An expected liveness property (`converged`) failed.
    Liveness(String),
}

impl RunFailure {
    /// What to tell the user.
    pub fn message(&self) -> &str {
        match self {
            RunFailure::Violation(m) | RunFailure::Unknown(m) | RunFailure::Liveness(m) => m,
        }
    }
}

/// A run's checks and how it failed, if it did.
#[derive(Clone, Debug)]
pub struct Judged {
    /// Every check run, by name.
    pub checks: CheckReport,
    /// `None`: the run passed what was asked of it.
    pub failure: Option<RunFailure>,
}

/// Check `run` as `judging` asks and decide whether it failed: a broken protocol invariant
/// always fails it (the protocol itself is wrong); an expected check that failed or is
/// unknown fails it too.
pub fn judge(run: &RunResult, judging: &Judging) -> Result<Judged, LabError> {
    let mut checks = judging
        .checks
        .clone()
        .unwrap_or_else(|| simulation_checks(scenario_model(&run.scenario)));
    for c in &judging.expect {
        if !checks.contains(c) {
            checks.push(*c);
        }
    }
    let report = check_run_citing(run, &checks, judging.timeout, judging.positions)?;
    // A failed expectation answers the question asked, so it is what the run says (the
    // table still shows a broken invariant); otherwise a broken invariant comes first.
    let expected = expectation_failure(&report, &judging.expect);
    let failure = match expected {
        Some(RunFailure::Violation(_)) => expected,
        _ => invariants_failure(&report).or(expected),
    };
    Ok(Judged {
        checks: report,
        failure,
    })
}

fn invariants_failure(report: &CheckReport) -> Option<RunFailure> {
    let check = report.checks.get(CheckName::Invariants.name())?;
    (check.result == Verdict::Fail).then(|| {
        RunFailure::Violation(format!(
            "a protocol invariant broke: {}",
            check.detail().unwrap_or_default()
        ))
    })
}

fn expectation_failure(report: &CheckReport, expect: &[CheckName]) -> Option<RunFailure> {
    expect.iter().find_map(|name| {
        let check = report.checks.get(name.name())?;
        let detail = check.detail().unwrap_or_default();
        match check.result {
            Verdict::Fail if *name == CheckName::Converged => Some(RunFailure::Liveness(format!(
                "expected {name}, but it failed: {detail}"
            ))),
            Verdict::Fail => Some(RunFailure::Violation(format!(
                "expected {name}, but it failed: {detail}"
            ))),
            Verdict::Unknown => Some(RunFailure::Unknown(format!(
                "expected {name}, but the check is unknown: {detail}"
            ))),
            Verdict::Pass => None,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Protocol;
    use crate::scenario::Scenario;

    #[test]
    fn a_failed_expectation_is_named_before_a_broken_invariant() {
        use dsys_node::{Instant, NodeId};
        use dsys_sim::{FaultAction, TimedFault};
        // Every node loses power at once; raft that acknowledges before fsync forgets.
        let at = |ms, action| TimedFault {
            at: Instant::from_millis(ms),
            action,
        };
        let mut schedule: Vec<TimedFault> = (0..5)
            .map(|n| at(2_000, FaultAction::Crash { node: NodeId(n) }))
            .collect();
        schedule.extend((0..5).map(|n| at(2_500, FaultAction::Restart { node: NodeId(n) })));
        let run = Scenario::builder(Protocol::Raft)
            .set(&["durability=buffered"])
            .seed(1)
            .workload(|w| w.keys = 1_000)
            .sim(|sim| sim.keep_going = true)
            .schedule(schedule)
            .run()
            .unwrap();
        let expecting = |expect| Judging {
            expect,
            ..Judging::default()
        };
        let j = judge(&run, &expecting(vec![CheckName::NoLostWrites])).unwrap();
        match j.failure {
            Some(RunFailure::Violation(said)) => {
                assert!(said.starts_with("expected no-lost-writes"), "{said}")
            }
            other => panic!("{other:?}"),
        }
        match judge(&run, &expecting(vec![])).unwrap().failure {
            Some(RunFailure::Violation(said)) => {
                assert!(said.starts_with("a protocol invariant broke"), "{said}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expectations_fail_runs_by_their_kind() {
        let stale = Scenario::builder(Protocol::PrimaryAsync)
            .seed(1)
            .run()
            .unwrap();
        let judging = |expect: Vec<CheckName>| Judging {
            expect,
            ..Judging::default()
        };
        let j = judge(&stale, &judging(vec![CheckName::NoStaleReads])).unwrap();
        assert!(
            matches!(j.failure, Some(RunFailure::Violation(_))),
            "{:?}",
            j.failure
        );
        assert!(judge(&stale, &judging(vec![])).unwrap().failure.is_none());
        let unconverged = Scenario::builder(Protocol::PrimaryAsync)
            .seed(1)
            .nemesis("halves")
            .sim(|s| s.convergence.deadline_ms = 0.001)
            .run()
            .unwrap();
        let j = judge(&unconverged, &judging(vec![CheckName::Converged])).unwrap();
        assert!(
            matches!(j.failure, Some(RunFailure::Liveness(_))),
            "{:?}",
            j.failure
        );
    }

    #[test]
    fn invariants_is_a_check_like_the_others() {
        let invariants = CheckName::Invariants;
        assert_eq!("invariants".parse::<CheckName>(), Ok(invariants));
        let expect = Judging {
            expect: vec![invariants],
            ..Judging::default()
        };
        // Raft has a monitor: reported whether asked or not, and it held.
        let raft = Scenario::builder(Protocol::Raft).seed(2).run().unwrap();
        for judging in [&Judging::default(), &expect] {
            let j = judge(&raft, judging).unwrap();
            assert_eq!(j.checks.checks[invariants.name()].result, Verdict::Pass);
            assert!(j.failure.is_none(), "{:?}", j.failure);
        }
        // Leaderless has none: not reported unless asked; asked, it is unknown, not a pass.
        let leaderless = Scenario::builder(Protocol::Leaderless)
            .seed(2)
            .run()
            .unwrap();
        let j = judge(&leaderless, &Judging::default()).unwrap();
        assert!(!j.checks.checks.contains_key(invariants.name()));
        let j = judge(&leaderless, &expect).unwrap();
        let check = &j.checks.checks[invariants.name()];
        assert_eq!(check.result, Verdict::Unknown);
        assert!(
            check
                .detail()
                .unwrap_or_default()
                .contains("no invariant monitor")
        );
        assert!(
            matches!(j.failure, Some(RunFailure::Unknown(_))),
            "{:?}",
            j.failure
        );
    }
}

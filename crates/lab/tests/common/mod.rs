//! Helpers shared by the evidence tests.

use dsys_check::{CheckName, Verdict};
use dsys_lab::RunResult;
use dsys_lab::checking::check_run;

/// What a run whose reads return siblings showed: reads that returned more than one
/// value, and keys whose final read did. Asserts the run converged and lost no write.
pub fn siblings_kept(run: &RunResult) -> (u64, u64) {
    let seed = run.scenario.sim.seed;
    assert!(run.outcome.converged, "seed {seed}: replicas differ");
    let report = check_run(run, &[CheckName::NoLostWrites], None).unwrap();
    let check = &report.checks["no-lost-writes"];
    assert_eq!(
        check.result,
        Verdict::Pass,
        "seed {seed}: {:?}",
        check.witness
    );
    let finals = check
        .counts
        .get("final reads with siblings")
        .copied()
        .unwrap_or(0);
    (run.outcome.protocol_metrics["reads with siblings"], finals)
}

//! `dsys simulate` and `dsys replay`: run, check, print, then write the files asked for.

use crate::args::{Format, OutputArgs, ReplayArgs, SimulateArgs};
use crate::exit::{Exit, Failure, verdict_and_writes};
use crate::output::{Output, write_file};
use crate::progress;
use dsys_check::history::Positions;
use dsys_check::{CheckName, CheckReport, Verdict};
use dsys_lab::checking::{INVARIANTS_CHECK, check_run_citing, scenario_model, simulation_checks};
use dsys_lab::{Report, RunArtifact, RunResult};
use std::path::Path;

pub fn simulate(a: SimulateArgs, out: Output) -> Result<(), Failure> {
    let scenario = a.scenario()?;
    let bars = progress::enabled(out.quiet);
    out.note(true, &format!("dsys simulate: {}", scenario_line(&a)));
    let result = scenario.run(&mut progress::run_bar("simulating", bars))?;
    progress::clear();
    let checks = {
        let _spinner = progress::Spinner::start("checking", bars);
        let cite = cited_positions(a.output.history.as_deref());
        check_run_citing(&result, &a.checks(&scenario), Some(a.check_timeout), cite)?
    };
    let verdict = print_report(&result, checks.clone(), a.output.format, out)
        .and_then(|()| expectations(&checks, &a.expect));
    let mut writes = write_history(&result, a.output.history.as_deref());
    if let Some(path) = &a.out {
        let artifact = write_file(path, RunArtifact::of(&result).to_json().as_bytes());
        writes = verdict_and_writes(writes, artifact);
    }
    out.note(true, &format!("ran in {:.3} s wall", result.wall_seconds));
    verdict_and_writes(verdict, writes)
}

/// The options in force with the seed, one line, for `--verbose` (VOPR prints every
/// option with the seed so a failure can be rerun from the log alone).
fn scenario_line(a: &SimulateArgs) -> String {
    format!(
        "protocol {} set [{}] nodes {} regions {} clients {} ops {} keys {} nemesis {} seed {} timeout {:?}",
        a.protocol,
        a.set.join(","),
        a.nodes,
        a.regions,
        a.clients,
        a.ops,
        a.keys,
        a.nemesis,
        a.seed,
        a.timeout
    )
}

pub fn replay(a: ReplayArgs, out: Output) -> Result<(), Failure> {
    let artifact = RunArtifact::load(&a.artifact)?;
    let bars = progress::enabled(out.quiet);
    let result = artifact.replay(&mut progress::run_bar("replaying", bars))?;
    progress::clear();
    let checks = {
        let _spinner = progress::Spinner::start("checking", bars);
        let model = scenario_model(&result.scenario);
        let cite = cited_positions(a.output.history.as_deref());
        check_run_citing(&result, &simulation_checks(model), None, cite)?
    };
    let OutputArgs { format, history } = a.output;
    let verdict = print_report(&result, checks, format, out);
    verdict_and_writes(verdict, write_history(&result, history.as_deref()))
}

/// Witnesses cite lines of the history file when one is written, events otherwise.
fn cited_positions(history: Option<&Path>) -> Positions {
    match history {
        Some(_) => Positions::Lines,
        None => Positions::Events,
    }
}

fn write_history(result: &RunResult, path: Option<&Path>) -> Result<(), Failure> {
    let Some(path) = path else { return Ok(()) };
    let mut bytes = Vec::new();
    result
        .outcome
        .history
        .write_jsonl(&mut bytes)
        .map_err(|e| Failure::new(Exit::Internal, format!("rendering the history: {e}")))?;
    write_file(path, &bytes)
}

/// Print the report; a protocol invariant broken inside the simulation fails the run
/// (exit 1) whatever was `--expect`ed: the protocol itself is wrong.
fn print_report(
    result: &RunResult,
    checks: CheckReport,
    format: Format,
    out: Output,
) -> Result<(), Failure> {
    let invariants = invariants_held(&checks);
    let report = Report::new(result).with_checks(checks);
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Text => report.to_table(),
    };
    out.print(&text)?;
    invariants
}

fn invariants_held(report: &CheckReport) -> Result<(), Failure> {
    match report.checks.get(INVARIANTS_CHECK) {
        Some(check) if check.result == Verdict::Fail => Err(Failure::new(
            Exit::Violation,
            format!(
                "a protocol invariant broke: {}",
                check.detail().unwrap_or_default()
            ),
        )),
        _ => Ok(()),
    }
}

/// `--expect`: a failed expected check exits 1 (4 for `converged`, a liveness property),
/// an unknown one 3.
fn expectations(report: &CheckReport, expect: &[CheckName]) -> Result<(), Failure> {
    for name in expect {
        let Some(check) = report.checks.get(name.name()) else {
            continue;
        };
        let detail = check.detail().unwrap_or_default();
        match check.result {
            Verdict::Fail => {
                let exit = match name {
                    CheckName::Converged => Exit::Liveness,
                    _ => Exit::Violation,
                };
                return Err(Failure::new(
                    exit,
                    format!("expected {name}, but it failed: {detail}"),
                ));
            }
            Verdict::Unknown => {
                return Err(Failure::new(
                    Exit::Unknown,
                    format!("expected {name}, but the check is unknown: {detail}"),
                ));
            }
            Verdict::Pass => {}
        }
    }
    Ok(())
}

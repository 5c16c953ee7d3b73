//! `dsys simulate` and `dsys replay`: run, check, print, then write the files asked for.

use crate::args::{CheckList, Format, OutputArgs, ReplayArgs, SimulateArgs};
use crate::exit::{Exit, Failure, verdict_and_writes};
use crate::output::{Output, write_file};
use crate::progress;
use dsys_check::history::Positions;
use dsys_lab::judge::{Judged, Judging, RunFailure, judge};
use dsys_lab::{Report, RunArtifact, RunResult};
use std::path::Path;

pub fn simulate(a: SimulateArgs, out: Output) -> Result<(), Failure> {
    let scenario = a.scenario()?;
    let bars = progress::enabled(out.quiet);
    let result = scenario.run(&mut progress::run_bar("simulating", bars))?;
    progress::clear();
    let judging = Judging {
        checks: CheckList::join(&a.checks).map(|l| l.0),
        expect: a.expect.clone(),
        timeout: Some(a.check_timeout),
        positions: cited_positions(a.output.history.as_deref()),
    };
    let judged = {
        let _spinner = progress::Spinner::start("checking", bars);
        judge(&result, &judging)?
    };
    let verdict = print_report(&result, judged, a.output.format, out);
    let mut writes = write_history(&result, a.output.history.as_deref());
    if let Some(path) = &a.out {
        let artifact = write_file(path, RunArtifact::of(&result).to_json().as_bytes());
        writes = verdict_and_writes(writes, artifact);
    }
    out.note(
        true,
        &format!("the world ran in {:.3} s wall", result.wall_seconds),
    );
    verdict_and_writes(verdict, writes)
}

pub fn replay(a: ReplayArgs, out: Output) -> Result<(), Failure> {
    let artifact = RunArtifact::load(&a.artifact)?;
    let bars = progress::enabled(out.quiet);
    let result = artifact.replay(&mut progress::run_bar("replaying", bars))?;
    progress::clear();
    let OutputArgs { format, history } = a.output;
    let judging = Judging {
        positions: cited_positions(history.as_deref()),
        ..Judging::default()
    };
    let judged = {
        let _spinner = progress::Spinner::start("checking", bars);
        judge(&result, &judging)?
    };
    let verdict = print_report(&result, judged, format, out);
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

/// Print the report, then say how the run failed, if it did.
fn print_report(
    result: &RunResult,
    judged: Judged,
    format: Format,
    out: Output,
) -> Result<(), Failure> {
    let report = Report::new(result).with_checks(judged.checks);
    let text = match format {
        Format::Json => serde_json::to_string_pretty(&report)? + "\n",
        Format::Text => report.to_table(),
    };
    out.print(&text)?;
    match judged.failure {
        None => Ok(()),
        Some(failure) => {
            let exit = match failure {
                RunFailure::Violation(_) => Exit::Violation,
                RunFailure::Unknown(_) => Exit::Unknown,
                RunFailure::Liveness(_) => Exit::Liveness,
            };
            Err(Failure::new(exit, failure.message()))
        }
    }
}

//! `dsys`: the command-line shell over the dsys libraries. It parses, calls a library,
//! and renders; it holds no logic of its own.
//!
//! Exit codes: 0 success, 1 the run failed (a replay diverged, output could not be
//! written), 2 bad input (flags, specs, artifacts).

mod args;
mod progress;

use anyhow::Context as _;
use args::{Cli, Command, Format, ReplayArgs, SimulateArgs};
use clap::Parser;
use dsys_lab::{LabError, Report, RunArtifact, RunResult};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// An error with the exit code it deserves.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl From<LabError> for Failure {
    fn from(e: LabError) -> Self {
        let code = if matches!(e, LabError::Diverged { .. }) {
            1
        } else {
            2
        };
        Failure {
            code,
            error: e.into(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure { code: 1, error }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return args::report_clap_error(e),
    };
    let result = match cli.command {
        Command::Simulate(a) => simulate(*a),
        Command::Replay(a) => replay(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // One line: the error and its causes.
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn simulate(a: SimulateArgs) -> Result<(), Failure> {
    let scenario = a.scenario()?;
    let result = scenario.run(&mut progress::bar("simulating"))?;
    progress::clear();
    if let Some(path) = &a.out {
        write_file(path, RunArtifact::of(&result).to_json().as_bytes())?;
    }
    finish(&result, a.output.format, a.output.history.as_deref())
}

fn replay(a: ReplayArgs) -> Result<(), Failure> {
    let artifact = RunArtifact::load(&a.artifact)?;
    let result = artifact.replay(&mut progress::bar("replaying"))?;
    progress::clear();
    finish(&result, a.output.format, a.output.history.as_deref())
}

fn finish(result: &RunResult, format: Format, history: Option<&Path>) -> Result<(), Failure> {
    if let Some(path) = history {
        let mut bytes = Vec::new();
        result
            .outcome
            .history
            .write_jsonl(&mut bytes)
            .context("rendering the history")?;
        write_file(path, &bytes)?;
    }
    let report = Report::new(result);
    let text = match format {
        Format::Json => {
            serde_json::to_string_pretty(&report).context("rendering the report")? + "\n"
        }
        Format::Table => report.to_table(),
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("writing to stdout")?;
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

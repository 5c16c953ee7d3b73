//! `dsys`: the command-line shell over the dsys libraries. It parses, calls a library,
//! and renders. Exit codes are one table for every command ([`exit::Exit`], README).

mod args;
mod cmd;
mod exit;
mod interrupt;
mod output;
mod progress;
mod verbose;

use args::{Cli, Command};
use clap::error::ErrorKind;
use clap::{CommandFactory, FromArgMatches};
use exit::Exit;
use std::process::ExitCode;

fn main() -> ExitCode {
    let matches = match Cli::command().try_get_matches() {
        Ok(matches) => matches,
        Err(e) => return usage_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let out = output::Output::new(&cli.global);
    if out.verbose {
        // The parser again, to name the options: only when they are printed.
        out.note(true, &verbose::options_in_force(&Cli::command(), &matches));
    }
    // Wall time of the whole command, for `--verbose`: measured outside any simulated world.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let interrupt = interrupt::Interrupt::install();
    std::panic::set_hook(Box::new(|info| {
        eprintln!(
            "error: internal error: {info}\nthis is a dsys bug: please report it with the command line (and its --seed)"
        );
    }));
    let run = std::panic::AssertUnwindSafe(|| run(cli.command, out, &interrupt));
    let result = std::panic::catch_unwind(run);
    out.note(true, &verbose::finished(started.elapsed().as_secs_f64()));
    match result {
        Ok(Ok(())) if interrupt.requested() => ExitCode::from(Exit::Interrupted.code()),
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(failure)) => failure.report(),
        Err(_) => ExitCode::from(Exit::Internal.code()),
    }
}

fn run(
    command: Command,
    out: output::Output,
    interrupt: &interrupt::Interrupt,
) -> Result<(), exit::Failure> {
    // The test suite's way to reach the internal-error row of the exit table.
    if std::env::var_os("__DSYS_TEST_PANIC").is_some() {
        panic!("__DSYS_TEST_PANIC is set");
    }
    match command {
        Command::Simulate(a) => cmd::simulate::simulate(*a, out),
        Command::Replay(a) => cmd::simulate::replay(a, out),
        Command::Check(a) => cmd::check::check(a, out),
        Command::Grid(a) => cmd::grid::grid(*a, out, interrupt),
        Command::Design(a) => cmd::design::design(a, out),
        Command::Diagram(a) => cmd::design::diagram(a, out),
        Command::Explain(a) => cmd::design::explain(a, out),
        Command::Resilience(a) => cmd::patterns::resilience(a, out),
        Command::Discovery(a) => cmd::patterns::discovery(a, out),
        Command::Gateway(a) => cmd::gateway::gateway(a, out),
        Command::Partition(a) => cmd::patterns::partition(a, out),
        Command::Cache(a) => cmd::patterns::cache(a, out),
        Command::Completions(a) => cmd::completions::completions(a, out),
    }
}

/// Clap's whole message (what is wrong, the possible values, the usage line and its tip)
/// on stderr with exit 2; help and version on stdout with 0.
fn usage_error(e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        _ => {
            eprint!("{}", e.render());
            ExitCode::from(Exit::BadInput.code())
        }
    }
}

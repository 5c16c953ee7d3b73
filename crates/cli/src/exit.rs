//! The exit codes, one table for every command (DESIGN.md, README): what a script can
//! tell from `$?` alone.

use dsys_lab::LabError;
use std::process::ExitCode;

/// Why a command did not end with 0.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Exit {
    /// 1: a checked property was violated (a check failed, a replay diverged, a design
    /// contradicts itself or the simulator contradicted it).
    Violation,
    /// 2: bad input or usage.
    BadInput,
    /// 3: unknown: a budget ran out before a verdict.
    Unknown,
    /// 4: liveness: no convergence, or no progress where the protocol promises it.
    Liveness,
    /// 5: a file could not be read or written; the verdict is still printed.
    Io,
    /// 70: a dsys bug.
    Internal,
    /// 130: interrupted (Ctrl-C); what finished was written and marked partial.
    Interrupted,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Violation => 1,
            Exit::BadInput => 2,
            Exit::Unknown => 3,
            Exit::Liveness => 4,
            Exit::Io => 5,
            Exit::Internal => 70,
            Exit::Interrupted => 130,
        }
    }
}

/// An error with the exit code it deserves.
#[derive(Debug)]
pub struct Failure {
    /// Which row of the table.
    pub exit: Exit,
    /// What to print.
    pub error: anyhow::Error,
}

impl Failure {
    /// A failure of class `exit` saying `message`.
    pub fn new(exit: Exit, message: impl std::fmt::Display) -> Self {
        Failure {
            exit,
            error: anyhow::anyhow!("{message}"),
        }
    }

    /// Print the error (one line, with its causes) and return the exit code.
    pub fn report(self) -> ExitCode {
        eprintln!(
            "error: {}",
            dsys_diagnostic::terminal_safe(&format!("{:#}", self.error))
        );
        ExitCode::from(self.exit.code())
    }
}

impl From<LabError> for Failure {
    fn from(e: LabError) -> Self {
        let exit = match e {
            LabError::Diverged { .. } => Exit::Violation,
            LabError::Internal { .. } => Exit::Internal,
            LabError::Io { .. } => Exit::Io,
            _ => Exit::BadInput,
        };
        Failure {
            exit,
            error: e.into(),
        }
    }
}

/// Rendering our own values (plain data, string keys) cannot fail; if it does, it is ours.
impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Failure {
            exit: Exit::Internal,
            error: anyhow::Error::new(e).context("rendering JSON"),
        }
    }
}

/// A verdict and the writes asked for after it: an I/O error wins (exit 5), since the
/// verdict is on stdout already; the verdict's own message is still printed.
pub fn verdict_and_writes(
    verdict: Result<(), Failure>,
    writes: Result<(), Failure>,
) -> Result<(), Failure> {
    match (verdict, writes) {
        (Err(verdict), Err(io)) => {
            eprintln!(
                "error: {}",
                dsys_diagnostic::terminal_safe(&format!("{:#}", verdict.error))
            );
            Err(io)
        }
        (Err(e), Ok(())) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(())) => Ok(()),
    }
}

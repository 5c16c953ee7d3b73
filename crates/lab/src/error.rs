//! Errors of the lab, each one line that names the problem.

use dsys_sim::ConfigError;

/// Why a scenario could not be built, run or replayed.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// `--protocol` names no protocol.
    #[error("unknown protocol `{name}` (known: {known})")]
    UnknownProtocol {
        /// What was given.
        name: String,
        /// The catalog, comma-separated.
        known: String,
    },
    /// A `--set` argument that is malformed, unknown or out of range, alone or with the
    /// others or the cluster.
    #[error(transparent)]
    Setting(#[from] dsys_protocols::SettingError),
    /// The simulation configuration cannot be run.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A run artifact could not be read.
    #[error("{path}: {reason}")]
    Artifact {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A file could not be read at all (missing, unreadable): an I/O error, unlike a
    /// file that was read and found bad.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        reason: String,
    },
    /// Grid parts that cannot be merged, or a file that is not one.
    #[error("grid merge: {0}")]
    GridPart(String),
    /// Checks could not run on a simulated history.
    #[error("checking the run: {0}")]
    Check(String),
    /// A dsys bug: something that cannot happen did (exit 70).
    #[error(
        "internal error: {what}; this is a dsys bug: please report it with the command and seed {seed}"
    )]
    Internal {
        /// What went wrong.
        what: String,
        /// The root seed of the run, to reproduce it.
        seed: u64,
    },
    /// A fault schedule file could not be read.
    #[error("{path}: {reason}")]
    Schedule {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The protocol does not keep the data the workload operates on.
    #[error(
        "protocol `{protocol}` keeps registers only; the {workload} workload needs --protocol multi-leader"
    )]
    WorkloadNotServed {
        /// The protocol.
        protocol: &'static str,
        /// The workload.
        workload: &'static str,
    },
    /// Both a scripted schedule and a drawn nemesis were asked for.
    #[error("use either --schedule or --nemesis, not both (nemesis `{0}`)")]
    ScheduleWithNemesis(String),
    /// A replay did not reproduce the recorded run.
    #[error("replay diverged: {what} is {got}, the artifact recorded {expected}")]
    Diverged {
        /// Which fingerprint.
        what: &'static str,
        /// This run's.
        got: String,
        /// The artifact's.
        expected: String,
    },
}

/// Read a text file: an operating-system failure is [`LabError::Io`], bytes that are not
/// UTF-8 are bad input, reported through `bad` (the caller's variant for its kind of file).
pub(crate) fn read_text(
    path: &std::path::Path,
    bad: impl FnOnce(String, String) -> LabError,
) -> Result<String, LabError> {
    use dsys_diagnostic::{MAX_FILE_BYTES, ReadFileError, read_text_file};
    read_text_file(path, MAX_FILE_BYTES).map_err(|e| match e {
        ReadFileError::Io { path, reason } => LabError::Io { path, reason },
        ReadFileError::TooLarge { path, limit } => bad(
            path,
            format!("larger than {limit} bytes, the most dsys reads from such a file"),
        ),
        ReadFileError::NotUtf8 { path, at } => bad(path, format!("not UTF-8 text (byte {at})")),
    })
}

//! `dsys check FILE`: read a history file in any supported format and judge it.

use crate::read::{InputLimits, ReadError, read_history_from};
use crate::report::{CheckName, CheckReport, run};
use crate::{Budget, History, InputFormat, ModelKind};
use std::path::Path;
use std::time::Duration;

/// Memoised states a check may hold before it answers *unknown*.
pub const CHECK_MEMORY_BYTES: u64 = 4 << 30;

/// What to check a history file for.
#[derive(Clone, Debug)]
pub struct CheckRequest {
    /// The format, or `None` to detect it.
    pub format: Option<InputFormat>,
    /// The model, or `None` to infer it.
    pub model: Option<ModelKind>,
    /// Which checks.
    pub checks: Vec<CheckName>,
    /// Wall-time budget.
    pub timeout: Option<Duration>,
    /// How much of the file to read before refusing it.
    pub limits: InputLimits,
}

/// Why a history file could not be judged.
#[derive(Debug, thiserror::Error)]
pub enum CheckFileError {
    /// The file could not be read at all (missing, unreadable): an I/O error.
    #[error("cannot read {path}: {reason}")]
    Io {
        /// The file.
        path: String,
        /// What the operating system said.
        reason: String,
    },
    /// The file was read and is not a history the checks can take.
    #[error("{path}: {reason}")]
    Bad {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
}

/// Read and check a history file; returns the history too, for timelines.
pub fn check_file(
    path: &Path,
    request: &CheckRequest,
) -> Result<(History, CheckReport), CheckFileError> {
    let origin = path.display().to_string();
    let bad = |reason: String| CheckFileError::Bad {
        path: origin.clone(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| CheckFileError::Io {
        path: origin.clone(),
        reason: e.to_string(),
    })?;
    let reader = std::io::BufReader::new(file);
    let history =
        read_history_from(reader, request.format, request.limits).map_err(|e| match e {
            ReadError::Io(reason) => CheckFileError::Io {
                path: origin.clone(),
                reason,
            },
            other => bad(other.to_string()),
        })?;
    let model = request.model.unwrap_or_else(|| ModelKind::infer(&history));
    let mut budget = Budget::new(request.timeout, CHECK_MEMORY_BYTES);
    let report =
        run(&history, model, &request.checks, &mut budget).map_err(|e| bad(e.to_string()))?;
    Ok((history, report))
}

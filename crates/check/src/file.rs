//! `dsys check FILE`: read a history file in any supported format and judge it.

use crate::report::{CheckName, CheckReport, run};
use crate::{Budget, History, InputFormat, ModelKind, read_history};
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
    let bytes = std::fs::read(path).map_err(|e| CheckFileError::Io {
        path: origin.clone(),
        reason: e.to_string(),
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        bad(format!(
            "not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let history = read_history(&text, request.format).map_err(|e| bad(e.to_string()))?;
    let model = request.model.unwrap_or_else(|| ModelKind::infer(&history));
    let mut budget = Budget::new(request.timeout, CHECK_MEMORY_BYTES);
    let report =
        run(&history, model, &request.checks, &mut budget).map_err(|e| bad(e.to_string()))?;
    Ok((history, report))
}

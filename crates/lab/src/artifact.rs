//! Run artifacts: a saved run (seed, full configuration, realised fault schedule and
//! fingerprints) that `dsys replay` reruns and checks.

use crate::error::LabError;
use crate::scenario::{RunResult, Scenario};
use dsys_sim::trace::hex;
use dsys_sim::{Progress, TimedFault};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` field every artifact carries.
pub const ARTIFACT_FORMAT: &str = "dsys-run";
/// The artifact layout version this build writes and reads.
pub const ARTIFACT_VERSION: u32 = 1;

/// A saved run.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunArtifact {
    /// Always [`ARTIFACT_FORMAT`].
    pub format: String,
    /// Always [`ARTIFACT_VERSION`] for this build.
    pub version: u32,
    /// What was run.
    pub scenario: Scenario,
    /// The nemesis in force (`swarm` resolved).
    pub effective_nemesis: String,
    /// Every fault action as applied; a replay follows it instead of drawing faults.
    pub realised_schedule: Vec<TimedFault>,
    /// The run's trace hash, hex.
    pub trace_hash: String,
    /// The hash of the run's history JSONL, hex.
    pub history_hash: String,
}

impl RunArtifact {
    /// The artifact of a finished run.
    pub fn of(result: &RunResult) -> Self {
        RunArtifact {
            format: ARTIFACT_FORMAT.to_string(),
            version: ARTIFACT_VERSION,
            scenario: result.scenario.clone(),
            effective_nemesis: result.outcome.effective_nemesis.clone(),
            realised_schedule: result.outcome.realised_schedule.clone(),
            trace_hash: hex(result.outcome.trace_hash),
            history_hash: hex(result.history_hash),
        }
    }

    /// Parse an artifact from JSON text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, LabError> {
        let bad = |reason: String| LabError::Artifact {
            path: origin.to_string(),
            reason,
        };
        // Look at the envelope first so a wrong file gets a clear message rather than
        // a complaint about the first missing field.
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            bad(format!(
                "not a run artifact: invalid or truncated JSON ({e})"
            ))
        })?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(ARTIFACT_FORMAT) => {}
            Some(other) => {
                return Err(bad(format!(
                    "format is `{other}`, expected `{ARTIFACT_FORMAT}`"
                )));
            }
            None => {
                return Err(bad(format!(
                    "not a run artifact: no \"format\": \"{ARTIFACT_FORMAT}\" field"
                )));
            }
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(ARTIFACT_VERSION) => {}
            Some(v) => {
                return Err(bad(format!(
                    "artifact version {v} is not supported (this build reads version {ARTIFACT_VERSION})"
                )));
            }
            None => return Err(bad("no artifact \"version\" field".to_string())),
        }
        // Parse the text again (not the value) so errors carry a line and column.
        let artifact: RunArtifact =
            serde_json::from_str(text).map_err(|e| bad(format!("invalid run artifact: {e}")))?;
        artifact
            .scenario
            .validate()
            .map_err(|e| bad(e.to_string()))?;
        Ok(artifact)
    }

    /// Read an artifact file.
    pub fn load(path: &Path) -> Result<Self, LabError> {
        let origin = path.display().to_string();
        let text =
            crate::error::read_text(path, |path, reason| LabError::Artifact { path, reason })?;
        RunArtifact::parse(&text, &origin)
    }

    /// The artifact as pretty JSON.
    pub fn to_json(&self) -> String {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Rerun the artifact and check it reproduces the recorded trace and history hashes.
    pub fn replay(&self, progress: &mut dyn FnMut(&Progress)) -> Result<RunResult, LabError> {
        let result = self
            .scenario
            .run_script(self.realised_schedule.clone(), progress)?;
        let trace = hex(result.outcome.trace_hash);
        if trace != self.trace_hash {
            return Err(LabError::Diverged {
                what: "trace hash",
                got: trace,
                expected: self.trace_hash.clone(),
            });
        }
        let history = hex(result.history_hash);
        if history != self.history_hash {
            return Err(LabError::Diverged {
                what: "history hash",
                got: history,
                expected: self.history_hash.clone(),
            });
        }
        Ok(result)
    }
}

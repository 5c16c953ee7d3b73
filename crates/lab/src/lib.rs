//! Scenarios for dsys: protocol x settings x nemesis x seed; runs, reports, artifacts.
//!
//! The CLI is a thin shell over this crate: it parses flags into a [`Scenario`], runs it,
//! and prints a [`Report`].

mod artifact;
mod builder;
pub mod checking;
mod error;
pub mod grid;
pub mod grid_plot;
pub mod judge;
pub mod protocol;
mod report;
mod scenario;
pub mod sides;
pub mod verify;

pub use artifact::{ARTIFACT_FORMAT, ARTIFACT_VERSION, RunArtifact};
pub use builder::ScenarioBuilder;
pub use error::LabError;
pub use protocol::{Protocol, ProtocolConfig, Settings};
pub use report::{LatencyMs, Messages, OpCounts, Report, SimSpeed, history_hash};
pub use scenario::{RunResult, Scenario};

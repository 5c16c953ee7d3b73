//! Consistency checkers for dsys.
//!
//! Read a history ([`read_history`]) from the dsys JSONL format, Jepsen EDN or Jepsen
//! log lines, then judge it: [`linear::check`] for linearizability against a
//! [`ModelKind`].

pub mod budget;
pub mod causal;
mod file;
pub mod history;
pub mod linear;
pub mod model;
pub mod read;
pub mod reference;
pub mod report;
pub mod robustness;
pub mod sequential;
pub mod session;
mod shrink;
pub mod stats;
pub mod synth;
pub mod timeline;
pub mod updates;
mod verdict;

pub use budget::{Budget, Exhausted};
pub use file::{CHECK_MEMORY_BYTES, CheckFileError, CheckRequest, check_file};
pub use history::{History, Op, OpFn, Status, Value};
pub use model::ModelKind;
pub use read::{InputFormat, ReadError, read_history};
pub use report::{CheckError, CheckName, CheckReport, CheckResult};
pub use verdict::Verdict;

//! Running a set of named checks over one history and reporting the verdicts.

use crate::budget::Budget;
use crate::history::{History, Op, OpFn, Status, Value};
use crate::linear::{self, ModelError, Witness};
use crate::model::ModelKind;
use crate::verdict::Verdict;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};
use std::str::FromStr;

/// A check, by its stable name (DESIGN.md's vocabulary).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum CheckName {
    /// One order, consistent with real time, that the model accepts.
    Linearizable,
    /// One order, consistent with each process's order, that the model accepts.
    Sequential,
    /// Causal consistency.
    Causal,
    /// A process sees its own writes.
    ReadYourWrites,
    /// A process never sees an older value after a newer one.
    MonotonicReads,
    /// A process's writes take effect in the order it made them.
    MonotonicWrites,
    /// A write follows the writes its process had read.
    WritesFollowReads,
    /// No read returns a value older than one already acknowledged before it began.
    NoStaleReads,
    /// Every acknowledged write is seen by the final reads.
    NoLostWrites,
    /// Counters and sets: the final reads reflect every acknowledged update.
    NoLostUpdates,
    /// Replicas agree after the faults heal (simulations only).
    Converged,
    /// The protocol's own invariants held after every node step (simulations of
    /// protocols with an invariant monitor only: raft).
    Invariants,
}

impl CheckName {
    /// Every check.
    pub const ALL: [CheckName; 12] = [
        CheckName::Linearizable,
        CheckName::Sequential,
        CheckName::Causal,
        CheckName::ReadYourWrites,
        CheckName::MonotonicReads,
        CheckName::MonotonicWrites,
        CheckName::WritesFollowReads,
        CheckName::NoStaleReads,
        CheckName::NoLostWrites,
        CheckName::NoLostUpdates,
        CheckName::Converged,
        CheckName::Invariants,
    ];

    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            CheckName::Linearizable => "linearizable",
            CheckName::Sequential => "sequential",
            CheckName::Causal => "causal",
            CheckName::ReadYourWrites => "read-your-writes",
            CheckName::MonotonicReads => "monotonic-reads",
            CheckName::MonotonicWrites => "monotonic-writes",
            CheckName::WritesFollowReads => "writes-follow-reads",
            CheckName::NoStaleReads => "no-stale-reads",
            CheckName::NoLostWrites => "no-lost-writes",
            CheckName::NoLostUpdates => "no-lost-updates",
            CheckName::Converged => "converged",
            CheckName::Invariants => "invariants",
        }
    }

    /// Whether this build can run the check on a history file.
    pub fn runs_on_histories(self) -> bool {
        matches!(
            self,
            CheckName::Linearizable
                | CheckName::Sequential
                | CheckName::Causal
                | CheckName::NoLostUpdates
        ) || self.is_session_check()
    }

    /// Session and staleness checks (register and key-value histories only).
    pub fn is_session_check(self) -> bool {
        crate::session::SESSION_CHECKS.contains(&self.name())
    }

    /// Whether the check judges histories of `model`.
    pub fn applies_to(self, model: ModelKind) -> bool {
        use ModelKind as M;
        match self {
            CheckName::Linearizable
            | CheckName::Sequential
            | CheckName::Converged
            | CheckName::Invariants => true,
            CheckName::Causal => matches!(model, M::Register | M::Kv),
            CheckName::NoLostUpdates => matches!(model, M::Counter | M::Set),
            session => {
                session.is_session_check() && matches!(model, M::Register | M::Kv | M::MvRegister)
            }
        }
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for CheckName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CheckName::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| {
                let names: Vec<&str> = CheckName::ALL.iter().map(|c| c.name()).collect();
                format!("unknown check `{s}` (known: {})", names.join(", "))
            })
    }
}

/// Why checks could not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The history does not fit the model.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// The check exists but this build cannot run it on a history.
    #[error(
        "check `{0}` cannot be run on a history file yet (available: linearizable, sequential, causal, read-your-writes, monotonic-reads, monotonic-writes, writes-follow-reads, no-stale-reads, no-lost-writes, no-lost-updates)"
    )]
    Unavailable(CheckName),
    /// The check does not apply to the model.
    #[error("check `{check}` does not apply to {model} histories")]
    NotForModel {
        /// The check.
        check: CheckName,
        /// The model.
        model: ModelKind,
    },
}

/// The verdict of one check, with its counts and, on failure, a witness.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckResult {
    /// pass, fail or unknown.
    pub result: Verdict,
    /// What was counted (operations checked, violations, ...).
    pub counts: BTreeMap<&'static str, u64>,
    /// Why the result is unknown, if it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Keys that failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failed_keys: Vec<String>,
    /// A minimal witness of the first violation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub witness: Option<Witness>,
}

impl CheckResult {
    /// One line on why: the witness's explanation, else the reason (unknown), if any.
    pub fn detail(&self) -> Option<String> {
        self.witness
            .as_ref()
            .map(|w| w.explanation.clone())
            .or_else(|| self.reason.clone())
    }
}

/// Operation counts of a history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OpSummary {
    /// Operations that completed or may have (ok + indeterminate).
    pub total: usize,
    /// Completed with ok.
    pub ok: usize,
    /// info, timed out, or never completed.
    pub indeterminate: usize,
    /// Failed (did not happen; not checked).
    pub failed: usize,
}

/// The verdicts of every requested check on one history.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckReport {
    /// The model the history was checked against.
    pub model: String,
    /// Operation counts.
    pub ops: OpSummary,
    /// Distinct keys.
    pub keys: usize,
    /// One result per requested check, by name.
    pub checks: BTreeMap<&'static str, CheckResult>,
}

impl CheckReport {
    /// Fail if any check failed; otherwise unknown if any is unknown; otherwise pass.
    pub fn overall(&self) -> Verdict {
        let results = self.checks.values().map(|c| c.result);
        if results.clone().any(|r| r == Verdict::Fail) {
            Verdict::Fail
        } else if results.clone().any(|r| r == Verdict::Unknown) {
            Verdict::Unknown
        } else {
            Verdict::Pass
        }
    }

    /// A human-readable report.
    pub fn to_table(&self) -> String {
        let mut t = String::new();
        let o = &self.ops;
        let _ = writeln!(t, "{:<22} {} ({} keys)", "model", self.model, self.keys);
        let _ = writeln!(
            t,
            "{:<22} {} ok, {} indeterminate, {} failed (not checked)",
            "operations", o.ok, o.indeterminate, o.failed
        );
        for (name, check) in &self.checks {
            let counts: Vec<String> = check
                .counts
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            let _ = writeln!(
                t,
                "{name:<22} {} ({})",
                check.result.to_string().to_uppercase(),
                counts.join(", ")
            );
            if let Some(reason) = &check.reason {
                let _ = writeln!(t, "{:<22} {reason}", "");
            }
            if let Some(w) = &check.witness {
                let _ = writeln!(t, "{:<22} {}", "", w.explanation);
                let _ = writeln!(
                    t,
                    "{:<22} witness{}:",
                    "",
                    if w.minimal {
                        ""
                    } else {
                        " (not minimised: budget)"
                    }
                );
                for op in &w.ops {
                    let _ = writeln!(t, "{:<24} {}", "", op.text);
                }
            }
        }
        t
    }
}

/// Run `checks` on `history` against `model` within `budget`.
pub fn run(
    history: &History,
    model: ModelKind,
    checks: &[CheckName],
    budget: &mut Budget,
) -> Result<CheckReport, CheckError> {
    if let Some(c) = checks.iter().find(|c| !c.runs_on_histories()) {
        return Err(CheckError::Unavailable(*c));
    }
    let ok = history
        .ops
        .iter()
        .filter(|o| o.status == Status::Ok)
        .count();
    let mut report = CheckReport {
        model: model.name().to_string(),
        ops: OpSummary {
            total: history.ops.len(),
            ok,
            indeterminate: history.ops.len() - ok,
            failed: history.failed,
        },
        keys: history.keys.len(),
        checks: BTreeMap::new(),
    };
    for check in checks {
        report
            .checks
            .insert(check.name(), check_one(history, model, *check, budget)?);
    }
    Ok(report)
}

fn check_one(
    history: &History,
    model: ModelKind,
    check: CheckName,
    budget: &mut Budget,
) -> Result<CheckResult, CheckError> {
    if !check.applies_to(model) {
        return Err(CheckError::NotForModel { check, model });
    }
    Ok(match check {
        CheckName::Linearizable | CheckName::Sequential if model == ModelKind::MvRegister => {
            // A register returns one value: a read of several siblings settles it;
            // otherwise the history is judged as the single-valued one it is.
            match single_valued(history) {
                Ok(single) => check_one(&single, ModelKind::Kv, check, budget)?,
                Err(reads) => several_values_read(history, check, &reads),
            }
        }
        CheckName::Linearizable => {
            let l = linear::check(history, model, budget)?;
            let counts = BTreeMap::from([
                ("ops checked", l.ops as u64),
                ("keys", l.keys as u64),
                ("keys failed", l.failed_keys.len() as u64),
                ("keys unknown", l.unknown_keys as u64),
            ]);
            CheckResult {
                result: l.verdict,
                counts,
                reason: l.reason,
                failed_keys: l.failed_keys,
                witness: l.witness,
            }
        }
        CheckName::Sequential => {
            // Linearizable implies sequentially consistent: the linearisation is an
            // order that respects every process's order. Try the cheaper search first.
            if linear::check(history, model, budget)?.verdict == Verdict::Pass {
                crate::sequential::implied_by_linearizability(history, model)?
            } else {
                crate::sequential::check(history, model, budget)?
            }
        }
        CheckName::Causal => crate::causal::check(history, budget),
        CheckName::NoLostUpdates => crate::updates::check(history, model),
        session if session.is_session_check() => {
            crate::session::check(history, session.name(), budget)
        }
        other => return Err(CheckError::Unavailable(other)),
    })
}

/// A multi-value register history whose reads each returned at most one value, as the
/// key-value history it then is; `Err` with the reads that returned several siblings.
fn single_valued(history: &History) -> Result<History, Vec<&Op>> {
    let several: Vec<&Op> = history
        .ops
        .iter()
        .filter(|o| o.f == OpFn::Read && matches!(&o.output, Value::List(v) if v.len() > 1))
        .collect();
    if !several.is_empty() {
        return Err(several);
    }
    let mut single = history.clone();
    for op in &mut single.ops {
        if op.f == OpFn::Read
            && let Value::List(values) = &op.output
        {
            op.output = values.first().map_or(Value::Nil, |v| Value::Int(*v));
        }
    }
    Ok(single)
}

/// `check` fails: `reads` returned several values each, which no register does.
fn several_values_read(history: &History, check: CheckName, reads: &[&Op]) -> CheckResult {
    let first = reads[0];
    let key = history
        .keys
        .get(first.key as usize)
        .map_or("", String::as_str);
    let text = format!(
        "{} on key {key} returned several values (siblings of concurrent writes); a {} register returns one",
        linear::describe(first),
        check.name()
    );
    CheckResult {
        result: Verdict::Fail,
        counts: BTreeMap::from([("reads with siblings", reads.len() as u64)]),
        reason: None,
        failed_keys: Vec::new(),
        witness: Some(crate::session::witness(key, text, &[first])),
    }
}

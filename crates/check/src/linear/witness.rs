//! Minimal witnesses: the smallest set of operations that cannot be ordered, in words.
//!
//! 1. The shortest failing prefix: the first completion after which no linearisation
//!    exists (operations still in flight at that point count as indeterminate). Its
//!    completing operation is the *culprit*.
//! 2. Delta debugging shrinks that prefix while it still fails, never removing the
//!    culprit or a write that a remaining read (or cas) depends on, so the witness
//!    cannot fail merely because a justification was cut away.
//! 3. An explanation in plain words, specific where the shape is common (a stale read,
//!    a read of a value never written, a read from the future).

use super::{PartOp, linearizable_as};
use crate::budget::Budget;
use crate::history::{History, KeyId, Op, Positions, Status, Value};
use crate::model::{Action, ModelKind};
use serde::Serialize;
use std::time::Duration;

/// At most this long is spent minimising a witness (within the check's own budget).
const MINIMISE_FOR: Duration = Duration::from_secs(2);

/// One operation of a witness.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WitnessOp {
    /// Id in the history.
    pub id: usize,
    /// The client process.
    pub process: u64,
    /// `read`, `write`, `cas`, `add` or `append`.
    pub f: &'static str,
    /// The argument (`nil` for reads).
    pub input: String,
    /// What a read returned (`?` if unknown).
    pub output: String,
    /// Lines of the invocation and completion (0 if none).
    pub lines: (usize, usize),
    /// Whether the operation completed (`ok`) or is indeterminate.
    pub completed: bool,
    /// One line for humans.
    pub text: String,
}

/// Why a key is not linearizable.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Witness {
    /// The key.
    pub key: String,
    /// The explanation in plain words.
    pub explanation: String,
    /// The operations that cannot be ordered, in invocation order.
    pub ops: Vec<WitnessOp>,
    /// Whether shrinking finished (false: the budget stopped it; the witness is still a
    /// valid, just not minimal, failing set).
    pub minimal: bool,
}

/// Whether `writer` produced something `reader` observed or depends on.
pub(crate) fn supports(reader: &Action, writer: &Action) -> bool {
    match (reader, writer) {
        (Action::Read(Value::Int(v)), Action::Write(w) | Action::Cas(_, w)) => v == w,
        (Action::Cas(e, _), Action::Write(w) | Action::Cas(_, w)) => e == w,
        (Action::Read(Value::List(xs)), Action::Add(e) | Action::Append(e)) => xs.contains(e),
        // A counter read depends on every add.
        (Action::Read(Value::Int(_)), Action::Add(_)) => true,
        _ => false,
    }
}

fn fails(model: ModelKind, ops: &[PartOp], budget: &mut Budget) -> bool {
    matches!(linearizable_as(model, ops, budget), Ok(false))
}

/// Operations invoked before `cut`, with those still in flight at `cut` made indeterminate.
fn prefix(ops: &[PartOp], cut: u64) -> Vec<PartOp> {
    ops.iter()
        .filter(|o| o.call < cut)
        .filter_map(|o| {
            let mut o = o.clone();
            if o.ret > cut {
                if matches!(o.action, Action::Read(_)) {
                    return None; // an indeterminate read carries no information
                }
                o.ret = u64::MAX;
            }
            Some(o)
        })
        .collect()
}

/// Find and explain a minimal witness for a key known to fail.
pub(super) fn find(
    history: &History,
    model: ModelKind,
    key: KeyId,
    ops: &[PartOp],
    budget: &mut Budget,
) -> Witness {
    let limit = budget
        .remaining()
        .map_or(MINIMISE_FOR, |r| r.min(MINIMISE_FOR));
    let mut local = Budget::new(Some(limit), 1 << 30);
    let mut minimal = true;

    // 1. The shortest failing prefix, by binary search over completion points.
    let mut cuts: Vec<u64> = ops
        .iter()
        .filter(|o| o.completed())
        .map(|o| o.ret)
        .collect();
    cuts.sort_unstable();
    let (mut lo, mut hi) = (0, cuts.len().saturating_sub(1));
    while lo < hi {
        let mid = (lo + hi) / 2;
        if fails(model, &prefix(ops, cuts[mid]), &mut local) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let cut = cuts.get(lo).copied().unwrap_or(u64::MAX);
    let keep = prefix(ops, cut);
    let culprit = keep.iter().find(|o| o.ret == cut).map(|o| o.id);

    // 2. Delta debugging: drop chunks while the rest still fails.
    let (keep, finished) = crate::shrink::shrink(
        keep,
        |o| Some(o.id) == culprit,
        |rest, removed| {
            rest.iter()
                .all(|r| !removed.iter().any(|w| supports(&r.action, &w.action)))
        },
        |rest| fails(model, rest, &mut local.clone()),
        &local,
    );
    minimal &= finished;

    let key_name = history.keys[key as usize].clone();
    let culprit_op = culprit.map(|id| &history.ops[id]);
    let explanation = explain(history, model, &key_name, ops, &keep, culprit_op);
    let ops = keep
        .iter()
        .map(|o| witness_op(&history.ops[o.id]))
        .collect();
    Witness {
        key: key_name,
        explanation,
        ops,
        minimal,
    }
}

fn verb(op: &Op) -> String {
    match (op.f.name(), &op.input, &op.output) {
        ("read", _, out) => format!("read {out}"),
        ("write", v, _) => format!("wrote {v}"),
        ("cas", Value::List(p), _) if p.len() == 2 => format!("cas {}->{}", p[0], p[1]),
        ("add", v, _) => format!("added {v}"),
        ("append", v, _) => format!("appended {v}"),
        ("remove", v, _) => format!("removed {v}"),
        (f, v, _) => format!("{f} {v}"),
    }
}

/// "process 3 wrote 4 (lines 10-12)", or "(events 10-12)" for a run that was not
/// written to a file.
pub fn describe(op: &Op) -> String {
    let (one, many) = match op.positions {
        Positions::Lines => ("line", "lines"),
        Positions::Events => ("event", "events"),
    };
    let lines = match (op.status, op.lines) {
        (Status::Ok, (a, b)) => format!("{many} {a}-{b}"),
        (Status::Indeterminate, (a, 0)) => format!("{one} {a}, never completed"),
        (Status::Indeterminate, (a, b)) => format!("{many} {a}-{b}, outcome unknown"),
    };
    format!("process {} {} ({lines})", op.process, verb(op))
}

pub(crate) fn witness_op(op: &Op) -> WitnessOp {
    WitnessOp {
        id: op.id,
        process: op.process,
        f: op.f.name(),
        input: op.input.to_string(),
        output: op.output.to_string(),
        lines: op.lines,
        completed: op.status == Status::Ok,
        text: describe(op),
    }
}

fn explain(
    history: &History,
    model: ModelKind,
    key: &str,
    all: &[PartOp],
    witness: &[PartOp],
    culprit: Option<&Op>,
) -> String {
    let on_key = if key.is_empty() {
        String::new()
    } else {
        format!(" on key {key}")
    };
    let generic = || {
        let last = culprit
            .map(|c| format!("; it breaks when {} completes", describe(c)))
            .unwrap_or_default();
        format!(
            "no order of these {} operations{on_key} agrees with both their real-time order and a {}{last}",
            witness.len(),
            model.name()
        )
    };
    let Some(read) = culprit.filter(|c| c.f.name() == "read") else {
        return generic();
    };
    let ops = |pred: &dyn Fn(&Action) -> bool| -> Vec<&Op> {
        all.iter()
            .filter(|o| pred(&o.action))
            .map(|o| &history.ops[o.id])
            .collect()
    };
    let done_before_read = |op: &&Op| op.status == Status::Ok && op.ret < read.call;
    match (&read.output, model) {
        (Value::Int(v), ModelKind::Register | ModelKind::Kv) => {
            let writers = ops(&|a| matches!(a, Action::Write(w) | Action::Cas(_, w) if w == v));
            if writers.is_empty() {
                return format!("{}{on_key}, but no operation wrote {v}", describe(read));
            }
            if writers.iter().all(|w| w.call > read.ret) {
                return format!(
                    "{}{on_key} before any write of {v} began (first: {})",
                    describe(read),
                    describe(writers[0])
                );
            }
            let overwritten = writers
                .iter()
                .filter(|w| w.status == Status::Ok)
                .find_map(|w| {
                    ops(&|a| matches!(a, Action::Write(x) | Action::Cas(_, x) if x != v))
                        .into_iter()
                        .rev()
                        .find(|u| done_before_read(u) && w.ret < u.call)
                        .map(|u| (*w, u))
                });
            match overwritten {
                Some((w, u)) if writers.len() == 1 => format!(
                    "stale read: {}{on_key}, the value {}, but {} had replaced it before the read began",
                    describe(read),
                    describe(w),
                    describe(u)
                ),
                _ => generic(),
            }
        }
        (Value::Nil, ModelKind::Register | ModelKind::Kv) => {
            match ops(&|a| matches!(a, Action::Write(_) | Action::Cas(..)))
                .into_iter()
                .find(done_before_read)
            {
                Some(u) => format!(
                    "stale read: {}{on_key}, but {} had completed before the read began",
                    describe(read),
                    describe(u)
                ),
                None => generic(),
            }
        }
        (Value::List(_) | Value::Nil, ModelKind::Set | ModelKind::ListAppend) => {
            let empty = Vec::new();
            let xs = if let Value::List(xs) = &read.output {
                xs
            } else {
                &empty
            };
            let missing =
                ops(&|a| matches!(a, Action::Add(e) | Action::Append(e) if !xs.contains(e)))
                    .into_iter()
                    .find(done_before_read);
            match missing {
                Some(a) => format!(
                    "{}{on_key}, missing what {} had added before the read began",
                    describe(read),
                    describe(a)
                ),
                None => generic(),
            }
        }
        _ => generic(),
    }
}

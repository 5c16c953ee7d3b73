//! Linearizability: is there one order of the operations, consistent with their
//! real-time order, in which the model accepts every completed operation?
//!
//! The history is split per key (P-compositionality: a history is linearizable iff each
//! key's sub-history is), each key's operations are split at quiescent points (where
//! nothing is in flight; the possible states at the cut are carried over), and each
//! piece is searched by [`search::explore`].

mod search;
mod witness;

pub use search::{Explored, Goal, PartOp, explore};
pub(crate) use search::{state_print, zobrist_key};
pub use witness::{Witness, WitnessOp, describe};
pub(crate) use witness::{supports, witness_op};

use crate::budget::{Budget, Exhausted};
use crate::history::{History, KeyId, Op};
use crate::model::{Action, Counter, ListAppend, Model, ModelKind, Register, Set};
use crate::verdict::Verdict;
use std::collections::BTreeMap;
use std::ops::Range;

/// A history that does not fit the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModelError {
    /// An operation the model does not have, or a value of the wrong shape.
    #[error("line {line}: {message}")]
    Op {
        /// The invocation's line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The single-register model was given several keys.
    #[error("the register model checks one register, but the history has {0} keys; use --model kv")]
    KeysForRegister(usize),
}

/// At most this many possible states are carried across a quiescent cut; past it the
/// rest of the key is searched in one piece.
const MAX_CARRIED_STATES: usize = 256;

/// The verdict of a linearizability check.
#[derive(Clone, Debug, PartialEq)]
pub struct Linearizability {
    /// Pass, fail or unknown.
    pub verdict: Verdict,
    /// Operations checked (indeterminate reads carry no information and are not counted).
    pub ops: usize,
    /// Keys checked.
    pub keys: usize,
    /// Keys with a violation.
    pub failed_keys: Vec<String>,
    /// Keys whose check ran out of budget.
    pub unknown_keys: usize,
    /// Why the verdict is unknown.
    pub reason: Option<String>,
    /// A minimal witness of the first violation.
    pub witness: Option<Witness>,
}

/// What an update puts in place: the written value, or the added / appended element.
fn produced(action: &crate::model::Action) -> Option<i64> {
    use crate::model::Action;
    match *action {
        Action::Write(v) | Action::Cas(_, v) | Action::Add(v) | Action::Append(v) => Some(v),
        Action::Read(_) | Action::Remove(_) => None,
    }
}

/// Tighten indeterminate updates using what later operations observed.
///
/// - *Unobserved*: an update that may or may not have happened, whose value no read
///   returned and no cas expected, cannot change the verdict: a linearisation that places
///   it stays one without it (nothing saw the state it produced), and one without it is
///   one where it never happened. It is dropped.
/// - *Observed, sole writer*: if exactly one operation ever wrote value `v` and a
///   completed read returned `v` (or a completed cas expected it), that write happened,
///   and before the earliest such observation completed. It is treated as completed at
///   that point.
///
/// Counter adds are left alone: every read observes all of them. Without this, each
/// indeterminate write doubles the space a violation must be proved over.
pub fn bound_indeterminate(model: ModelKind, ops: &mut Vec<PartOp>) {
    use crate::history::Value;
    use crate::model::Action;
    if model == ModelKind::Counter {
        return;
    }
    let mut writers: BTreeMap<i64, usize> = BTreeMap::new();
    let mut observed = std::collections::BTreeSet::new();
    let mut first_observed: BTreeMap<i64, u64> = BTreeMap::new();
    for op in ops.iter() {
        if let Some(v) = produced(&op.action) {
            *writers.entry(v).or_default() += 1;
        }
        let seen: Vec<i64> = match &op.action {
            Action::Read(Value::Int(v)) | Action::Cas(v, _) => vec![*v],
            Action::Read(Value::List(xs)) => xs.clone(),
            _ => Vec::new(),
        };
        for v in seen {
            observed.insert(v);
            if op.completed() {
                let t = first_observed.entry(v).or_insert(op.ret);
                *t = (*t).min(op.ret);
            }
        }
    }
    ops.retain_mut(|op| {
        if op.completed() {
            return true;
        }
        let Some(v) = produced(&op.action) else {
            return true;
        };
        if !observed.contains(&v) {
            return false;
        }
        if writers.get(&v) == Some(&1)
            && let Some(&deadline) = first_observed.get(&v)
        {
            op.ret = deadline;
        }
        true
    });
}

/// Every operation that carries information for `model`, with its action, in call
/// order; an error for an operation the model does not have.
pub(crate) fn model_actions(
    history: &History,
    model: ModelKind,
) -> Result<Vec<(&Op, Action)>, ModelError> {
    if model == ModelKind::Register && history.keys.len() > 1 {
        return Err(ModelError::KeysForRegister(history.keys.len()));
    }
    let mut out = Vec::with_capacity(history.ops.len());
    for op in &history.ops {
        let action = model.action(op).map_err(|message| ModelError::Op {
            line: op.lines.0,
            message,
        })?;
        if let Some(action) = action {
            out.push((op, action));
        }
    }
    Ok(out)
}

/// Split a history into per-key partitions of model actions, in call order.
pub fn partitions(
    history: &History,
    model: ModelKind,
) -> Result<Vec<(KeyId, Vec<PartOp>)>, ModelError> {
    let mut by_key: BTreeMap<KeyId, Vec<PartOp>> = BTreeMap::new();
    for (op, action) in model_actions(history, model)? {
        by_key.entry(op.key).or_default().push(PartOp {
            id: op.id,
            action,
            call: op.call,
            ret: op.ret,
        });
    }
    let mut parts: Vec<(KeyId, Vec<PartOp>)> = by_key.into_iter().collect();
    for (_, ops) in &mut parts {
        bound_indeterminate(model, ops);
    }
    Ok(parts)
}

/// Split `ops` (in call order) where nothing is in flight.
pub fn quiescent_segments(ops: &[PartOp]) -> Vec<Range<usize>> {
    let mut segments = Vec::new();
    let mut start = 0;
    let mut max_ret = 0u64;
    for (i, op) in ops.iter().enumerate() {
        if i > start && max_ret < op.call {
            segments.push(start..i);
            start = i;
        }
        // An indeterminate op (ret = MAX) stays in flight forever: no cut after it.
        max_ret = max_ret.max(op.ret);
    }
    if start < ops.len() {
        segments.push(start..ops.len());
    }
    segments
}

/// Whether one key's operations (in call order) are linearizable.
pub fn linearizable<M: Model>(
    model: &M,
    ops: &[PartOp],
    budget: &mut Budget,
) -> Result<bool, Exhausted> {
    let segments = quiescent_segments(ops);
    let mut starts = vec![model.init()];
    let whole_rest =
        |from: usize, starts: &[M::State], budget: &mut Budget| -> Result<bool, Exhausted> {
            for s in starts {
                if explore(model, &ops[from..], s.clone(), Goal::Any, budget)?
                    == Explored::Linearizable
                {
                    return Ok(true);
                }
            }
            Ok(false)
        };
    for (i, segment) in segments.iter().enumerate() {
        if i + 1 == segments.len() {
            return whole_rest(segment.start, &starts, budget);
        }
        let mut carried: Vec<M::State> = Vec::new();
        for s in &starts {
            match explore(
                model,
                &ops[segment.clone()],
                s.clone(),
                Goal::AllFinals {
                    cap: MAX_CARRIED_STATES,
                },
                budget,
            )? {
                Explored::Finals(finals) => {
                    for f in finals {
                        if !carried.contains(&f) {
                            carried.push(f);
                        }
                    }
                }
                Explored::TooManyFinals => return whole_rest(segment.start, &starts, budget),
                Explored::Violation | Explored::Linearizable => {}
            }
            if carried.len() > MAX_CARRIED_STATES {
                return whole_rest(segment.start, &starts, budget);
            }
        }
        if carried.is_empty() {
            return Ok(false);
        }
        starts = carried;
    }
    Ok(true)
}

/// [`linearizable`] for the model `kind` names.
pub fn linearizable_as(
    kind: ModelKind,
    ops: &[PartOp],
    budget: &mut Budget,
) -> Result<bool, Exhausted> {
    match kind {
        ModelKind::Register | ModelKind::Kv | ModelKind::MvRegister => {
            linearizable(&Register, ops, budget)
        }
        ModelKind::Set => linearizable(&Set, ops, budget),
        ModelKind::Counter => linearizable(&Counter, ops, budget),
        ModelKind::ListAppend => linearizable(&ListAppend, ops, budget),
    }
}

/// Check a whole history. A violation on any key fails it; otherwise a key that ran out
/// of budget makes it unknown.
pub fn check(
    history: &History,
    model: ModelKind,
    budget: &mut Budget,
) -> Result<Linearizability, ModelError> {
    let parts = partitions(history, model)?;
    let mut result = Linearizability {
        verdict: Verdict::Pass,
        ops: parts.iter().map(|(_, ops)| ops.len()).sum(),
        keys: parts.len(),
        failed_keys: Vec::new(),
        unknown_keys: 0,
        reason: None,
        witness: None,
    };
    for (i, (key, ops)) in parts.iter().enumerate() {
        match linearizable_as(model, ops, budget) {
            Ok(true) => {}
            Ok(false) => {
                result.failed_keys.push(history.keys[*key as usize].clone());
                if result.witness.is_none() {
                    result.witness = Some(witness::find(history, model, *key, ops, budget));
                }
            }
            Err(exhausted) => {
                result.reason.get_or_insert_with(|| exhausted.to_string());
                if matches!(exhausted, Exhausted::Time(_)) {
                    // Out of time: this key and every later one go unchecked.
                    result.unknown_keys += parts.len() - i;
                    break;
                }
                // Out of memory on this key: its memo is freed, later keys may fit.
                result.unknown_keys += 1;
            }
        }
    }
    result.verdict = if !result.failed_keys.is_empty() {
        Verdict::Fail
    } else if result.unknown_keys > 0 {
        Verdict::Unknown
    } else {
        Verdict::Pass
    };
    Ok(result)
}

//! Sequential consistency: one order of all operations, consistent with each process's
//! own order (but not with real time across processes), that the model accepts.
//!
//! Unlike linearizability this cannot be split per key: a process's order spans keys, so
//! the search runs over the whole store at once. It is a depth-first search over
//! interleavings with the same fingerprint memo as the linearizability search: process
//! positions are Zobrist-hashed and each key's state contributes a hash to a running sum.
//! Indeterminate operations may be placed or skipped.

use crate::budget::{Budget, Exhausted};
use crate::history::Op;
use crate::history::{History, Status};
use crate::linear::{
    ModelError, Witness, describe, model_actions, state_print, supports, witness_op, zobrist_key,
};
use crate::model::{Action, Counter, ListAppend, Model, ModelKind, Register, Set};
use crate::report::CheckResult;
use crate::verdict::Verdict;
use rustc_hash::FxHashSet;
use std::collections::BTreeMap;

/// One operation in a process's sequence.
#[derive(Clone, Debug)]
pub struct SeqOp {
    /// Id in the history.
    pub id: usize,
    /// Index of its key.
    pub key: usize,
    /// What it does.
    pub action: Action,
    /// Whether it must be placed (completed) or may be skipped (indeterminate).
    pub completed: bool,
    /// Invocation position: moves are tried in real-time order first.
    pub call: u64,
}

/// Each process's operations in its own order.
pub fn processes(history: &History, model: ModelKind) -> Result<Vec<Vec<SeqOp>>, ModelError> {
    let mut by_process: BTreeMap<u64, Vec<SeqOp>> = BTreeMap::new();
    for (op, action) in model_actions(history, model)? {
        let seq = SeqOp {
            id: op.id,
            key: op.key as usize,
            action,
            completed: op.status == Status::Ok,
            call: op.call,
        };
        by_process.entry(op.process).or_default().push(seq);
    }
    Ok(by_process.into_values().collect())
}

/// How far the search got before it failed: each process's next unplaced operation.
#[derive(Debug)]
struct Stuck {
    placed: usize,
    heads: Vec<usize>,
}

fn mix_key(key: usize, print: u128) -> u128 {
    print
        .wrapping_mul(u128::from(0x9e37_79b9_7f4a_7c15u64) | 1)
        .rotate_left((key % 127) as u32 + 1)
        ^ zobrist_key(usize::MAX - key)
}

/// Whether the processes' operations can be interleaved into one order the model accepts.
/// On failure, the deepest configuration reached.
fn search<M: Model>(
    model: &M,
    procs: &[Vec<SeqOp>],
    keys: usize,
    budget: &mut Budget,
) -> Result<Result<(), Stuck>, Exhausted> {
    struct Frame<U> {
        /// Processes with operations left, earliest next invocation first: following real
        /// time finds an order fast when the history is close to linearizable.
        order: Vec<usize>,
        /// Next move to try: `order[m / 2]` places its head (even m) or skips it if
        /// indeterminate (odd m).
        next_move: usize,
        /// The move that led here: process, undo, and its key's previous hash contribution.
        entered_by: Option<(usize, Option<U>, u128)>,
    }
    let mut states: Vec<M::State> = (0..keys).map(|_| model.init()).collect();
    let mut contribution: Vec<u128> = states
        .iter()
        .enumerate()
        .map(|(k, s)| mix_key(k, state_print(s)))
        .collect();
    let mut state_sum = contribution.iter().fold(0u128, |a, c| a.wrapping_add(*c));
    let mut heads = vec![0usize; procs.len()];
    // Position keys: process p at position i.
    let base: Vec<usize> = procs
        .iter()
        .scan(0, |acc, p| {
            let b = *acc;
            *acc += p.len() + 1;
            Some(b)
        })
        .collect();
    let position_key = |p: usize, i: usize| zobrist_key(base[p] + i);
    let mut positions: u128 = (0..procs.len()).fold(0, |a, p| a ^ position_key(p, 0));
    let mut remaining: usize = procs.iter().flatten().filter(|o| o.completed).count();
    let mut memo: FxHashSet<u128> = FxHashSet::default();
    memo.insert(positions ^ state_sum);
    let mut memo_bytes = 32u64;
    let order_of = |heads: &[usize]| -> Vec<usize> {
        let mut order: Vec<usize> = (0..procs.len())
            .filter(|&p| heads[p] < procs[p].len())
            .collect();
        order.sort_by_key(|&p| procs[p][heads[p]].call);
        order
    };
    let mut frames: Vec<Frame<M::Undo>> = vec![Frame {
        order: order_of(&heads),
        next_move: 0,
        entered_by: None,
    }];
    let mut stuck = Stuck {
        placed: 0,
        heads: heads.clone(),
    };
    let result = loop {
        budget.tick()?;
        if remaining == 0 {
            break Ok(Ok(()));
        }
        let Some(frame) = frames.last_mut() else {
            break Ok(Err(stuck));
        };
        let placed: usize = heads.iter().sum();
        if placed > stuck.placed {
            stuck = Stuck {
                placed,
                heads: heads.clone(),
            };
        }
        if frame.next_move < 2 * frame.order.len() {
            let (p, skip) = (frame.order[frame.next_move / 2], frame.next_move % 2 == 1);
            frame.next_move += 1;
            let Some(op) = procs[p].get(heads[p]) else {
                continue;
            };
            if skip && op.completed {
                continue;
            }
            let k = op.key;
            let undo = if skip {
                None
            } else {
                match model.step(&mut states[k], &op.action) {
                    Some(u) => Some(u),
                    None => continue,
                }
            };
            let old = contribution[k];
            let new = if skip {
                old
            } else {
                mix_key(k, state_print(&states[k]))
            };
            let new_positions =
                positions ^ position_key(p, heads[p]) ^ position_key(p, heads[p] + 1);
            let new_sum = state_sum.wrapping_sub(old).wrapping_add(new);
            if memo.insert(new_positions ^ new_sum) {
                memo_bytes += 32;
                budget.allocate(32)?;
                positions = new_positions;
                state_sum = new_sum;
                contribution[k] = new;
                heads[p] += 1;
                if op.completed {
                    remaining -= 1;
                }
                frames.push(Frame {
                    order: order_of(&heads),
                    next_move: 0,
                    entered_by: Some((p, undo, old)),
                });
            } else if let Some(u) = undo {
                model.undo(&mut states[k], u);
            }
            continue;
        }
        // Every move from here tried: take back the move that led here.
        let Some(Frame {
            entered_by: Some((p, undo, old)),
            ..
        }) = frames.pop()
        else {
            continue;
        };
        heads[p] -= 1;
        let op = &procs[p][heads[p]];
        if op.completed {
            remaining += 1;
        }
        if let Some(u) = undo {
            model.undo(&mut states[op.key], u);
        }
        state_sum = state_sum
            .wrapping_sub(contribution[op.key])
            .wrapping_add(old);
        contribution[op.key] = old;
        positions ^= position_key(p, heads[p] + 1) ^ position_key(p, heads[p]);
    };
    budget.release(memo_bytes);
    result
}

/// Whether the processes' operations (over `keys` keys) can be interleaved into one order
/// that `kind` accepts.
pub fn consistent(
    kind: ModelKind,
    procs: &[Vec<SeqOp>],
    keys: usize,
    budget: &mut Budget,
) -> Result<bool, Exhausted> {
    let outcome = match kind {
        ModelKind::Register | ModelKind::Kv | ModelKind::MvRegister => {
            search(&Register, procs, keys, budget)
        }
        ModelKind::Set => search(&Set, procs, keys, budget),
        ModelKind::Counter => search(&Counter, procs, keys, budget),
        ModelKind::ListAppend => search(&ListAppend, procs, keys, budget),
    };
    outcome.map(|r| r.is_ok())
}

/// The verdict when the history is already known to be linearizable: pass, since a
/// linearisation respects every process's order.
pub fn implied_by_linearizability(
    history: &History,
    model: ModelKind,
) -> Result<CheckResult, ModelError> {
    let procs = processes(history, model)?;
    let ops = procs.iter().map(Vec::len).sum::<usize>() as u64;
    let counts = BTreeMap::from([("ops checked", ops), ("processes", procs.len() as u64)]);
    let reason = Some("implied: the history is linearizable".to_string());
    Ok(CheckResult {
        result: Verdict::Pass,
        counts,
        reason,
        failed_keys: Vec::new(),
        witness: None,
    })
}

/// Shrink a failing history to a small set of operations that still cannot be
/// interleaved, never dropping a write that a remaining read (or cas) depends on.
/// Returns history op ids in order.
fn minimise(model: ModelKind, procs: &[Vec<SeqOp>], keys: usize, budget: &Budget) -> Vec<usize> {
    let limit = budget
        .remaining()
        .map_or(std::time::Duration::from_secs(2), |r| {
            r.min(std::time::Duration::from_secs(2))
        });
    let mut local = Budget::new(Some(limit), 1 << 30);
    let process_of: BTreeMap<usize, usize> = procs
        .iter()
        .enumerate()
        .flat_map(|(p, ops)| ops.iter().map(move |o| (o.id, p)))
        .collect();
    let fails = |ops: &[SeqOp], local: &mut Budget| {
        let mut by_process: BTreeMap<usize, Vec<SeqOp>> = BTreeMap::new();
        for op in ops {
            let p = process_of.get(&op.id).copied().unwrap_or(0);
            by_process.entry(p).or_default().push(op.clone());
        }
        let regrouped: Vec<Vec<SeqOp>> = by_process.into_values().collect();
        matches!(consistent(model, &regrouped, keys, local), Ok(false))
    };
    let clock = local.clone();
    let (keep, _) = crate::shrink::shrink(
        procs.iter().flatten().cloned().collect(),
        |_| false,
        |rest, removed| {
            rest.iter().all(|r| {
                !removed
                    .iter()
                    .any(|w| w.key == r.key && supports(&r.action, &w.action))
            })
        },
        |rest| fails(rest, &mut local),
        &clock,
    );
    let mut ids: Vec<usize> = keep.iter().map(|o| o.id).collect();
    ids.sort_unstable();
    ids
}

/// Check sequential consistency of a whole history.
pub fn check(
    history: &History,
    model: ModelKind,
    budget: &mut Budget,
) -> Result<CheckResult, ModelError> {
    let procs = processes(history, model)?;
    let keys = history.keys.len().max(1);
    let outcome = match model {
        ModelKind::Register | ModelKind::Kv | ModelKind::MvRegister => {
            search(&Register, &procs, keys, budget)
        }
        ModelKind::Set => search(&Set, &procs, keys, budget),
        ModelKind::Counter => search(&Counter, &procs, keys, budget),
        ModelKind::ListAppend => search(&ListAppend, &procs, keys, budget),
    };
    let ops = procs.iter().map(Vec::len).sum::<usize>() as u64;
    let counts = BTreeMap::from([("ops checked", ops), ("processes", procs.len() as u64)]);
    Ok(match outcome {
        Ok(Ok(())) => CheckResult {
            result: Verdict::Pass,
            counts,
            reason: None,
            failed_keys: Vec::new(),
            witness: None,
        },
        Ok(Err(stuck)) => {
            let witness_ids = minimise(model, &procs, keys, budget);
            let blocked: Vec<String> = procs
                .iter()
                .zip(&stuck.heads)
                .filter_map(|(p, &h)| p.get(h))
                .map(|o| describe(&history.ops[o.id]))
                .collect();
            let reason = format!(
                "no interleaving of the processes' operations is consistent with a {}; the deepest one placed {} of {ops} operations, after which none of these could go next: {}",
                model.name(),
                stuck.placed,
                blocked.join("; ")
            );
            let ops: Vec<&Op> = witness_ids.iter().map(|&id| &history.ops[id]).collect();
            let explanation = format!(
                "no interleaving of these {} operations respects each process's order and a {}",
                ops.len(),
                model.name()
            );
            let witness = Witness {
                key: String::new(),
                explanation,
                ops: ops.into_iter().map(witness_op).collect(),
                minimal: true,
            };
            CheckResult {
                result: Verdict::Fail,
                counts,
                reason: Some(reason),
                failed_keys: Vec::new(),
                witness: Some(witness),
            }
        }
        Err(exhausted) => CheckResult {
            result: Verdict::Unknown,
            counts,
            reason: Some(exhausted.to_string()),
            failed_keys: Vec::new(),
            witness: None,
        },
    })
}

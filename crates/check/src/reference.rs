//! A brute-force linearizability checker for small histories, to cross-check the fast
//! one: it tries every order that respects real time, skipping any subset of the
//! indeterminate operations. No memo, no segments, no cleverness: exponential, and
//! meant for at most a dozen operations.

use crate::linear::PartOp;
use crate::model::{Counter, ListAppend, Model, ModelKind, Register, Set};
use crate::sequential::SeqOp;

/// The largest history the reference accepts.
pub const MAX_OPS: usize = 12;

/// Whether `ops` (at most [`MAX_OPS`]) are linearizable under `kind`. `None` if too many.
pub fn linearizable(kind: ModelKind, ops: &[PartOp]) -> Option<bool> {
    if ops.len() > MAX_OPS {
        return None;
    }
    Some(match kind {
        ModelKind::Register | ModelKind::Kv | ModelKind::MvRegister => brute(&Register, ops),
        ModelKind::Set => brute(&Set, ops),
        ModelKind::Counter => brute(&Counter, ops),
        ModelKind::ListAppend => brute(&ListAppend, ops),
    })
}

fn brute<M: Model>(model: &M, ops: &[PartOp]) -> bool {
    let mut state = model.init();
    place(model, ops, 0, &mut state)
}

/// Extend an order in which the ops in `used` (a bitmask) are placed.
fn place<M: Model>(model: &M, ops: &[PartOp], used: u32, state: &mut M::State) -> bool {
    let all_completed_placed = ops
        .iter()
        .enumerate()
        .all(|(i, o)| !o.completed() || used & (1 << i) != 0);
    if all_completed_placed {
        return true; // unplaced indeterminate operations simply never happened
    }
    for (i, op) in ops.iter().enumerate() {
        if used & (1 << i) != 0 {
            continue;
        }
        // Every completed op that finished before `op` began must already be placed.
        let ready = ops
            .iter()
            .enumerate()
            .all(|(j, p)| !(p.completed() && p.ret < op.call) || used & (1 << j) != 0);
        if !ready {
            continue;
        }
        if let Some(undo) = model.step(state, &op.action) {
            let found = place(model, ops, used | (1 << i), state);
            model.undo(state, undo);
            if found {
                return true;
            }
        }
    }
    false
}

/// Sequential consistency by brute force: every interleaving of the processes
/// (indeterminate operations placed or skipped). For cross-checking on tiny histories.
pub fn sequential(model: ModelKind, procs: &[Vec<SeqOp>], keys: usize) -> bool {
    fn go<M: Model>(
        model: &M,
        procs: &[Vec<SeqOp>],
        heads: &mut Vec<usize>,
        states: &mut Vec<M::State>,
    ) -> bool {
        if procs
            .iter()
            .zip(heads.iter())
            .all(|(p, &h)| p[h..].iter().all(|o| !o.completed))
        {
            return true;
        }
        for p in 0..procs.len() {
            let Some(op) = procs[p].get(heads[p]).cloned() else {
                continue;
            };
            if let Some(u) = model.step(&mut states[op.key], &op.action) {
                heads[p] += 1;
                let found = go(model, procs, heads, states);
                heads[p] -= 1;
                model.undo(&mut states[op.key], u);
                if found {
                    return true;
                }
            }
            if !op.completed {
                heads[p] += 1;
                let found = go(model, procs, heads, states);
                heads[p] -= 1;
                if found {
                    return true;
                }
            }
        }
        false
    }
    fn run<M: Model>(model: &M, procs: &[Vec<SeqOp>], keys: usize) -> bool {
        let mut states = (0..keys).map(|_| model.init()).collect();
        go(model, procs, &mut vec![0; procs.len()], &mut states)
    }
    match model {
        ModelKind::Register | ModelKind::Kv | ModelKind::MvRegister => run(&Register, procs, keys),
        ModelKind::Set => run(&Set, procs, keys),
        ModelKind::Counter => run(&Counter, procs, keys),
        ModelKind::ListAppend => run(&ListAppend, procs, keys),
    }
}

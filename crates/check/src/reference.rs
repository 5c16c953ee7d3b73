//! A brute-force linearizability checker for small histories, to cross-check the fast
//! one: it tries every order that respects real time, skipping any subset of the
//! indeterminate operations. No memo, no segments, no cleverness: exponential, and
//! meant for at most a dozen operations.

use crate::linear::PartOp;
use crate::model::{Counter, ListAppend, Model, ModelKind, Register, Set};

/// The largest history the reference accepts.
pub const MAX_OPS: usize = 12;

/// Whether `ops` (at most [`MAX_OPS`]) are linearizable under `kind`. `None` if too many.
pub fn linearizable(kind: ModelKind, ops: &[PartOp]) -> Option<bool> {
    if ops.len() > MAX_OPS {
        return None;
    }
    Some(match kind {
        ModelKind::Register | ModelKind::Kv => brute(&Register, ops),
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

//! Wing–Gong–Lowe linearizability search over one partition, with memoisation.
//!
//! Calls and returns form a doubly linked list in real-time order. The search takes the
//! first call in the list, tries to linearise it (step the model); if the resulting
//! (set of linearised operations, state) is new (by fingerprint, see below), it lifts the operation out of the list
//! and starts again from the head. Reaching a return whose operation is not yet
//! linearised means the current prefix cannot be extended: undo the last choice and try
//! the next call. Indeterminate operations have no return entry: they may be linearised
//! anywhere after their call, or never. (Lowe, "Testing for linearizability", 2016;
//! Horn & Kroening's P-compositionality; Porcupine's entry list.)

use crate::budget::{Budget, Exhausted};
use crate::model::{Action, Model};
use rustc_hash::FxHashSet;
use std::hash::{Hash, Hasher};

/// One operation of a partition.
#[derive(Clone, Debug)]
pub struct PartOp {
    /// The operation's id in the history.
    pub id: usize,
    /// What it does.
    pub action: Action,
    /// Invocation position.
    pub call: u64,
    /// Completion position; `u64::MAX` if indeterminate.
    pub ret: u64,
}

impl PartOp {
    /// Whether the operation is known to have completed.
    pub fn completed(&self) -> bool {
        self.ret != u64::MAX
    }
}

/// What to search for.
#[derive(Clone, Copy, Debug)]
pub enum Goal {
    /// Stop at the first linearisation.
    Any,
    /// Every state a full linearisation can end in (at most `cap` of them).
    AllFinals {
        /// Give up past this many distinct final states.
        cap: usize,
    },
}

/// The result of a search.
#[derive(Debug, PartialEq)]
pub enum Explored<S> {
    /// A linearisation exists.
    Linearizable,
    /// The distinct states linearisations end in (non-empty).
    Finals(Vec<S>),
    /// More final states than the cap.
    TooManyFinals,
    /// No linearisation exists.
    Violation,
}

const NIL: usize = usize::MAX;

/// Bytes one memoised configuration costs: a 128-bit fingerprint in a hash set.
const MEMO_ENTRY_BYTES: u64 = 32;

/// A random 128-bit key for operation `i` (Zobrist hashing), fixed for all runs.
pub(crate) fn zobrist_key(i: usize) -> u128 {
    let mut x = (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xd1b5_4a32_d192_ed03;
    let mut next = || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    (u128::from(next()) << 64) | u128::from(next())
}

/// A 128-bit fingerprint of a model state: two SipHash digests with different prefixes.
pub(crate) fn state_print<S: Hash>(state: &S) -> u128 {
    let half = |prefix: u64| {
        // Fixed keys: the same state gives the same digest in every run.
        let mut h = std::collections::hash_map::DefaultHasher::new();
        prefix.hash(&mut h);
        state.hash(&mut h);
        h.finish()
    };
    (u128::from(half(0x5eed_0001)) << 64) | u128::from(half(0x5eed_0002))
}

/// Search `ops` (any order) from `start`.
pub fn explore<M: Model>(
    model: &M,
    ops: &[PartOp],
    start: M::State,
    goal: Goal,
    budget: &mut Budget,
) -> Result<Explored<M::State>, Exhausted> {
    let n = ops.len();
    // Entry `i < n` is the call of op i; entry `n + i` its return. `head` is a sentinel.
    let head = 2 * n;
    let mut timeline: Vec<(u64, usize)> = Vec::with_capacity(2 * n);
    for (i, op) in ops.iter().enumerate() {
        timeline.push((op.call, i));
        if op.completed() {
            timeline.push((op.ret, n + i));
        }
    }
    timeline.sort_unstable();
    let mut next = vec![NIL; 2 * n + 1];
    let mut prev = vec![NIL; 2 * n + 1];
    let mut last = head;
    for &(_, e) in &timeline {
        next[last] = e;
        prev[e] = last;
        last = e;
    }
    let remove = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = q;
        if q != NIL {
            prev[q] = p;
        }
    };
    let restore = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, q) = (prev[e], next[e]);
        next[p] = e;
        if q != NIL {
            prev[q] = e;
        }
    };

    // The memo holds 128-bit fingerprints of (set of linearised ops, state), as TLC
    // does: the set is Zobrist-hashed (XOR of per-op random keys, updated in O(1) as ops
    // are linearised and undone) and combined with a hash of the state. Nothing is
    // cloned or allocated per step. A collision could only make the search skip a
    // configuration it has not seen, so it can only ever produce a false violation, never
    // a false pass; with N configurations its probability is about N^2 / 2^128.
    let keys: Vec<u128> = (0..n).map(zobrist_key).collect();
    let mut linearised: u128 = 0;
    let mut state = start;
    // Membership only, never iterated: a fast hasher is safe for determinism.
    let mut memo: FxHashSet<u128> = FxHashSet::default();
    memo.insert(linearised ^ state_print(&state));
    let mut memo_bytes = MEMO_ENTRY_BYTES;
    let mut stack: Vec<(usize, M::Undo)> = Vec::new();
    let mut remaining = ops.iter().filter(|o| o.completed()).count();
    let mut finals: Vec<M::State> = Vec::new();
    let mut entry = next[head];

    let result = loop {
        if let Err(e) = budget.tick() {
            break Err(e);
        }
        if remaining == 0 {
            match goal {
                Goal::Any => break Ok(Explored::Linearizable),
                Goal::AllFinals { cap } => {
                    if !finals.contains(&state) {
                        finals.push(state.clone());
                        if finals.len() > cap {
                            break Ok(Explored::TooManyFinals);
                        }
                    }
                    // Fall through to backtrack and look for other endings.
                }
            }
        } else if entry != NIL && entry < n {
            let op = entry;
            if let Some(undo) = model.step(&mut state, &ops[op].action) {
                linearised ^= keys[op];
                if memo.insert(linearised ^ state_print(&state)) {
                    memo_bytes += MEMO_ENTRY_BYTES;
                    if let Err(e) = budget.allocate(MEMO_ENTRY_BYTES) {
                        break Err(e);
                    }
                    remove(&mut next, &mut prev, op);
                    if ops[op].completed() {
                        remove(&mut next, &mut prev, n + op);
                        remaining -= 1;
                    }
                    stack.push((op, undo));
                    entry = next[head];
                    continue;
                }
                linearised ^= keys[op];
                model.undo(&mut state, undo);
            }
            entry = next[op];
            continue;
        }
        // A return of an operation not yet linearised (or, for AllFinals, a finished
        // linearisation): undo the most recent choice and try the next call after it.
        let Some((op, undo)) = stack.pop() else {
            break Ok(if finals.is_empty() {
                Explored::Violation
            } else {
                Explored::Finals(std::mem::take(&mut finals))
            });
        };
        linearised ^= keys[op];
        model.undo(&mut state, undo);
        if ops[op].completed() {
            restore(&mut next, &mut prev, n + op);
            remaining += 1;
        }
        restore(&mut next, &mut prev, op);
        entry = next[op];
    };
    budget.release(memo_bytes);
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Value;
    use crate::model::Register;

    fn op(id: usize, action: Action, call: u64, ret: u64) -> PartOp {
        PartOp {
            id,
            action,
            call,
            ret,
        }
    }

    fn any(ops: &[PartOp]) -> Explored<Option<i64>> {
        explore(&Register, ops, None, Goal::Any, &mut Budget::unlimited()).unwrap()
    }

    #[test]
    fn sequential_and_concurrent_registers() {
        // w1 ; r1
        assert_eq!(
            any(&[
                op(0, Action::Write(1), 0, 1),
                op(1, Action::Read(Value::Int(1)), 2, 3)
            ]),
            Explored::Linearizable
        );
        // w1 ; r(nil): stale
        assert_eq!(
            any(&[
                op(0, Action::Write(1), 0, 1),
                op(1, Action::Read(Value::Nil), 2, 3)
            ]),
            Explored::Violation
        );
        // w1 concurrent with r(nil): fine
        assert_eq!(
            any(&[
                op(0, Action::Write(1), 0, 3),
                op(1, Action::Read(Value::Nil), 1, 2)
            ]),
            Explored::Linearizable
        );
        // An indeterminate write may have happened...
        assert_eq!(
            any(&[
                op(0, Action::Write(1), 0, u64::MAX),
                op(1, Action::Read(Value::Int(1)), 1, 2)
            ]),
            Explored::Linearizable
        );
        // ...or not.
        assert_eq!(
            any(&[
                op(0, Action::Write(1), 0, u64::MAX),
                op(1, Action::Read(Value::Nil), 1, 2)
            ]),
            Explored::Linearizable
        );
        // But not before it was invoked.
        assert_eq!(
            any(&[
                op(0, Action::Read(Value::Int(1)), 0, 1),
                op(1, Action::Write(1), 2, u64::MAX)
            ]),
            Explored::Violation
        );
    }

    #[test]
    fn all_finals_enumerates_endings() {
        // Two concurrent writes: either may land last.
        let ops = [op(0, Action::Write(1), 0, 3), op(1, Action::Write(2), 1, 2)];
        let Explored::Finals(mut finals) = explore(
            &Register,
            &ops,
            None,
            Goal::AllFinals { cap: 8 },
            &mut Budget::unlimited(),
        )
        .unwrap() else {
            panic!()
        };
        finals.sort();
        assert_eq!(finals, vec![Some(1), Some(2)]);
        let capped = explore(
            &Register,
            &ops,
            None,
            Goal::AllFinals { cap: 1 },
            &mut Budget::unlimited(),
        )
        .unwrap();
        assert_eq!(capped, Explored::TooManyFinals);
    }
}

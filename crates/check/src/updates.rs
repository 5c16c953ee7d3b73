//! Lost updates on counters and sets, judged by each key's final read (the read that
//! began after every update of the key had completed or been invoked), in the manner of
//! Jepsen's counter and set checkers.
//!
//! - **Counter:** the final value must lie between the sum of acknowledged increments
//!   plus every indeterminate decrement, and that sum plus every indeterminate increment.
//!   Outside the range an acknowledged update was lost (below: an increment; above: a
//!   decrement) or one was applied twice; `lost` counts the distance.
//! - **Set:** the final read must hold every acknowledged insert that no remove of the
//!   element could explain away (`lost`), nothing that was never inserted (`phantom`),
//!   and nothing an acknowledged remove took out after every insert of it had completed
//!   (`resurrected`: a remove that saw the element undone by a merge).

use crate::history::{History, Op, OpFn, Status, Value};
use crate::linear::describe;
use crate::model::ModelKind;
use crate::report::CheckResult;
use crate::session::{final_read, result, settled_at, witness};
use crate::verdict::Verdict;
use std::collections::BTreeSet;

/// One key's updates and completed reads.
#[derive(Default)]
struct KeyOps<'a> {
    updates: Vec<&'a Op>,
    removes: Vec<&'a Op>,
    reads: Vec<&'a Op>,
}

/// The operations of `ops` on `element`.
fn of_element<'a>(ops: &[&'a Op], element: i64) -> Vec<&'a Op> {
    ops.iter()
        .copied()
        .filter(|o| o.input == Value::Int(element))
        .collect()
}

/// Run `no-lost-updates` on a counter or set history.
pub fn check(history: &History, model: ModelKind) -> CheckResult {
    let mut keys: Vec<KeyOps<'_>> = history.keys.iter().map(|_| KeyOps::default()).collect();
    for op in &history.ops {
        let key = &mut keys[op.key as usize];
        match op.f {
            OpFn::Add => key.updates.push(op),
            OpFn::Remove => key.removes.push(op),
            OpFn::Read if op.status == Status::Ok => key.reads.push(op),
            _ => {}
        }
    }
    let (mut judged, mut acked, mut lost, mut phantom) = (0u64, 0u64, 0u64, 0u64);
    let mut resurrected = 0u64;
    let mut first = None;
    for (id, key) in keys.iter().enumerate() {
        let name = &history.keys[id];
        acked += key
            .updates
            .iter()
            .chain(&key.removes)
            .filter(|u| u.status == Status::Ok)
            .count() as u64;
        let last_update = key
            .updates
            .iter()
            .chain(&key.removes)
            .copied()
            .map(settled_at)
            .max()
            .unwrap_or(0);
        let Some(read) = final_read(key.reads.iter().copied(), last_update) else {
            continue;
        };
        judged += 1;
        match model {
            ModelKind::Counter => {
                let Value::Int(value) = read.output else {
                    continue;
                };
                // Summed in 128 bits: no run of 64-bit increments can overflow it.
                let (mut low, mut high) = (0i128, 0i128);
                for u in &key.updates {
                    let Value::Int(delta) = u.input else { continue };
                    let delta = i128::from(delta);
                    if u.status == Status::Ok {
                        low += delta;
                        high += delta;
                    } else {
                        low += delta.min(0);
                        high += delta.max(0);
                    }
                }
                let value = i128::from(value);
                let count = |gap: i128| u64::try_from(gap).unwrap_or(u64::MAX);
                if value < low {
                    lost = lost.saturating_add(count(low - value));
                    first.get_or_insert_with(|| {
                        witness(
                            name,
                            format!(
                                "lost update: the final read {} on key {name} is {value}, but the acknowledged increments alone sum to at least {low}",
                                describe(read)
                            ),
                            &[read],
                        )
                    });
                } else if value > high {
                    // Above what every update could reach: an acknowledged decrement was
                    // lost (or an update applied twice).
                    lost = lost.saturating_add(count(value - high));
                    first.get_or_insert_with(|| {
                        witness(
                            name,
                            format!(
                                "lost update: the final read {} on key {name} is {value}, above the {high} every update made could reach: an acknowledged decrement was lost, or an update applied twice",
                                describe(read)
                            ),
                            &[read],
                        )
                    });
                }
            }
            _ => {
                let Value::List(elements) = &read.output else {
                    continue;
                };
                let present: BTreeSet<i64> = elements.iter().copied().collect();
                let mut added = BTreeSet::new();
                for u in &key.updates {
                    let Value::Int(element) = u.input else {
                        continue;
                    };
                    added.insert(element);
                    // Absent after a remove of it (even one of unknown outcome): explained.
                    let removed = !of_element(&key.removes, element).is_empty();
                    if u.status == Status::Ok && !present.contains(&element) && !removed {
                        lost += 1;
                        first.get_or_insert_with(|| {
                            witness(
                                name,
                                format!(
                                    "lost update: {} was acknowledged, but the final read {} on key {name} lacks it",
                                    describe(u),
                                    describe(read)
                                ),
                                &[u, read],
                            )
                        });
                    }
                }
                for &element in present.intersection(&added) {
                    let inserts = of_element(&key.updates, element);
                    let undone = of_element(&key.removes, element).into_iter().find(|r| {
                        r.status == Status::Ok
                            && inserts
                                .iter()
                                .all(|i| i.status == Status::Ok && i.ret < r.call)
                    });
                    if let Some(r) = undone {
                        resurrected += 1;
                        first.get_or_insert_with(|| {
                            let mut ops = inserts.clone();
                            ops.extend([r, read]);
                            witness(
                                name,
                                format!(
                                    "resurrected: {} was acknowledged after the element was added, but the final read {} on key {name} holds {element}",
                                    describe(r),
                                    describe(read)
                                ),
                                &ops,
                            )
                        });
                    }
                }
                for element in present.difference(&added) {
                    phantom += 1;
                    first.get_or_insert_with(|| {
                        witness(
                            name,
                            format!(
                                "phantom update: the final read {} on key {name} holds {element}, which no one added",
                                describe(read)
                            ),
                            &[read],
                        )
                    });
                }
            }
        }
    }
    if judged == 0 {
        return CheckResult {
            result: Verdict::Unknown,
            counts: Default::default(),
            reason: Some("no final reads: no key is read after its last update".to_string()),
            failed_keys: Vec::new(),
            witness: None,
        };
    }
    let verdict = if lost + phantom + resurrected > 0 {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    result(
        verdict,
        &[
            ("keys with final reads", judged),
            ("acknowledged updates", acked),
            ("lost", lost),
            ("phantom", phantom),
            ("resurrected", resurrected),
        ],
        first,
    )
}

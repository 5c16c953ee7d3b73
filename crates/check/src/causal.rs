//! Causal consistency for register / key-value histories with unique values.
//!
//! Causal order is the transitive closure of each process's order and reads-from (the
//! write of `v` before every read of `v`; a compare-and-set reads what it expected). A
//! history is checked for the bad patterns that characterise causal consistency on
//! histories where every value is written once (Bouajjani, Enea, Guerraoui, Hamza,
//! "On verifying causal consistency", POPL 2017):
//! - *CyclicCO*: causal order has a cycle (an operation depends on its own future);
//! - *ThinAirRead*: a read returns a value no operation wrote;
//! - *WriteCOInitRead*: a read returns nil although a write to its key is causally before it;
//! - *WriteCORead*: a read returns `v` although another write to its key is causally
//!   after the write of `v` and causally before the read.
//!
//! Causal order is computed with one vector clock per operation (an entry per process),
//! in a topological order of the dependency graph.

use crate::budget::{Budget, Exhausted};
use crate::history::{History, Op, OpFn, Status, Value};
use crate::linear::{Witness, describe};
use crate::report::CheckResult;
use crate::session::{result, witness, written};
use crate::verdict::Verdict;
use std::collections::{BTreeMap, VecDeque};

/// Above this many (operations x processes) vector-clock entries the check says unknown.
const MAX_CLOCK_ENTRIES: usize = 50_000_000;

/// What an operation observed: a read's value, or the value a completed cas expected.
fn observed(op: &Op) -> Option<Option<i64>> {
    match (op.f, &op.output, &op.input) {
        (OpFn::Read, Value::Nil, _) if op.status == Status::Ok => Some(None),
        (OpFn::Read, Value::Int(v), _) if op.status == Status::Ok => Some(Some(*v)),
        (OpFn::Cas, _, Value::List(p)) if op.status == Status::Ok && p.len() == 2 => {
            Some(Some(p[0]))
        }
        _ => None,
    }
}

fn outcome(
    verdict: Verdict,
    counts: &[(&'static str, u64)],
    reason: Option<String>,
    witness: Option<Witness>,
) -> CheckResult {
    let mut r = result(verdict, counts, witness);
    r.reason = reason;
    r
}

/// Check causal consistency (register and kv histories, unique values).
pub fn check(history: &History, budget: &mut Budget) -> CheckResult {
    match run(history, budget) {
        Ok(r) => r,
        Err(e) => outcome(Verdict::Unknown, &[], Some(e.to_string()), None),
    }
}

fn run(history: &History, budget: &mut Budget) -> Result<CheckResult, Exhausted> {
    let ops = &history.ops;
    // Writers by (key, value); indeterminate writes count only if something observed them.
    let mut writer: BTreeMap<(u32, i64), usize> = BTreeMap::new();
    for op in ops {
        if let Some(v) = written(op)
            && writer.insert((op.key, v), op.id).is_some()
        {
            return Ok(outcome(
                Verdict::Unknown,
                &[],
                Some(format!(
                    "value {v} is written more than once on key {:?}; the causal check needs unique values",
                    history.keys[op.key as usize]
                )),
                None,
            ));
        }
    }
    let key_name = |op: &Op| history.keys[op.key as usize].clone();
    // ThinAirRead.
    for op in ops {
        if let Some(Some(v)) = observed(op)
            && !writer.contains_key(&(op.key, v))
        {
            let text = format!(
                "thin-air read: {} on key {}, but no operation wrote {v}",
                describe(op),
                key_name(op)
            );
            return Ok(outcome(
                Verdict::Fail,
                &[("ops", ops.len() as u64)],
                None,
                Some(witness(&key_name(op), text, &[op])),
            ));
        }
    }
    // Dependencies: process order and reads-from.
    let mut processes: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for op in ops {
        processes.entry(op.process).or_default().push(op.id);
    }
    let process_index: BTreeMap<u64, usize> =
        processes.keys().enumerate().map(|(i, p)| (*p, i)).collect();
    let mut position = vec![0usize; ops.len()];
    let mut preds: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    for ids in processes.values() {
        for (i, &id) in ids.iter().enumerate() {
            position[id] = i;
            if i > 0 {
                preds[id].push(ids[i - 1]);
            }
        }
    }
    for op in ops {
        if let Some(Some(v)) = observed(op)
            && let Some(&w) = writer.get(&(op.key, v))
            && w != op.id
        {
            preds[op.id].push(w);
        }
    }
    let p_count = processes.len();
    if ops.len().saturating_mul(p_count) > MAX_CLOCK_ENTRIES {
        return Ok(outcome(
            Verdict::Unknown,
            &[("ops", ops.len() as u64)],
            Some(format!(
                "{} operations x {p_count} processes is too large for the causal check",
                ops.len()
            )),
            None,
        ));
    }
    // Topological order (Kahn); what remains unordered lies on a cycle.
    let mut succs: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    let mut indegree = vec![0usize; ops.len()];
    for (id, ps) in preds.iter().enumerate() {
        indegree[id] = ps.len();
        for &p in ps {
            succs[p].push(id);
        }
    }
    let mut queue: VecDeque<usize> = (0..ops.len()).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(ops.len());
    while let Some(id) = queue.pop_front() {
        budget.tick()?;
        order.push(id);
        for &s in &succs[id] {
            indegree[s] -= 1;
            if indegree[s] == 0 {
                queue.push_back(s);
            }
        }
    }
    if order.len() < ops.len() {
        let on_cycle: Vec<&Op> = (0..ops.len())
            .filter(|&i| indegree[i] > 0)
            .take(6)
            .map(|i| &ops[i])
            .collect();
        let text = format!(
            "causal cycle: these operations depend on each other's results, e.g. {}",
            on_cycle
                .iter()
                .map(|o| describe(o))
                .collect::<Vec<_>>()
                .join("; ")
        );
        let key = key_name(on_cycle[0]);
        return Ok(outcome(
            Verdict::Fail,
            &[("ops", ops.len() as u64)],
            None,
            Some(witness(&key, text, &on_cycle)),
        ));
    }
    // Vector clocks: clock[id][p] = 1 + the last position of process p causally before
    // (or at) id; 0 for none.
    let mut clock: Vec<Vec<u32>> = vec![Vec::new(); ops.len()];
    for &id in &order {
        budget.tick()?;
        let mut c = vec![0u32; p_count];
        for &p in &preds[id] {
            for (x, y) in c.iter_mut().zip(&clock[p]) {
                *x = (*x).max(*y);
            }
        }
        let me = process_index[&ops[id].process];
        c[me] = c[me].max(position[id] as u32 + 1);
        clock[id] = c;
    }
    let before = |a: usize, b: usize| {
        a != b && clock[b][process_index[&ops[a].process]] > position[a] as u32
    };
    // WriteCOInitRead and WriteCORead, per key, over writes known to have happened:
    // acknowledged, or observed by some operation. (An indeterminate write nobody saw may
    // never have taken effect, so it cannot be what overwrote a value.)
    let mut observed_writes = vec![false; ops.len()];
    for op in ops {
        if let Some(Some(v)) = observed(op)
            && let Some(&w) = writer.get(&(op.key, v))
        {
            observed_writes[w] = true;
        }
    }
    let mut writes_by_key: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for op in ops {
        if written(op).is_some() && (op.status == Status::Ok || observed_writes[op.id]) {
            writes_by_key.entry(op.key).or_default().push(op.id);
        }
    }
    let mut reads = 0u64;
    let none = Vec::new();
    for r in ops {
        let Some(seen) = observed(r) else { continue };
        reads += 1;
        let writes = writes_by_key.get(&r.key).unwrap_or(&none);
        let violation = match seen {
            None => writes.iter().find(|&&w| before(w, r.id)).map(|&w| {
                (
                    format!(
                        "{} on key {}, although {} is causally before it",
                        describe(r),
                        key_name(r),
                        describe(&ops[w])
                    ),
                    vec![&ops[w], r],
                )
            }),
            Some(v) => {
                let w1 = writer[&(r.key, v)];
                let mut found = None;
                for &w2 in writes {
                    budget.tick()?;
                    if w2 != w1 && w2 != r.id && before(w1, w2) && before(w2, r.id) {
                        found = Some((
                            format!(
                                "{} on key {}, the value {}, although {} overwrote it causally before the read",
                                describe(r),
                                key_name(r),
                                describe(&ops[w1]),
                                describe(&ops[w2])
                            ),
                            vec![&ops[w1], &ops[w2], r],
                        ));
                        break;
                    }
                }
                found
            }
        };
        if let Some((text, wops)) = violation {
            return Ok(outcome(
                Verdict::Fail,
                &[("ops", ops.len() as u64), ("reads checked", reads)],
                None,
                Some(witness(
                    &key_name(r),
                    format!("causal violation: {text}"),
                    &wops,
                )),
            ));
        }
    }
    Ok(outcome(
        Verdict::Pass,
        &[
            ("ops", ops.len() as u64),
            ("reads checked", reads),
            ("processes", p_count as u64),
        ],
        None,
        None,
    ))
}

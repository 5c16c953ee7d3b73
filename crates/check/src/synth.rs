//! Synthetic histories for benchmarks and tests: linearizable by construction.
//!
//! Closed-loop clients issue reads, writes and compare-and-sets on random keys. Each
//! operation takes effect at a random instant inside its own interval, and results are
//! computed by applying operations in that order, so a linearisation exists. A share of
//! operations is made indeterminate (no completion); the client then continues as a new
//! process, as Jepsen's do.

use crate::history::{Event, EventKind, History, HistoryBuilder, OpFn, Value};
use dsys_node::DetRng;

/// The shape of a synthetic key-value history.
#[derive(Clone, Copy, Debug)]
pub struct SynthConfig {
    /// Seed.
    pub seed: u64,
    /// Operations in all.
    pub ops: usize,
    /// Distinct keys.
    pub keys: u64,
    /// Concurrent clients.
    pub clients: u64,
    /// Share of operations left indeterminate, in [0, 1].
    pub indeterminate: f64,
}

struct Planned {
    process: u64,
    key: u64,
    f: OpFn,
    input: Value,
    output: Value,
    call: u64,
    ret: Option<u64>,
    effect_at: u64,
    failed: bool,
}

/// Generate a linearizable key-value history.
pub fn kv_history(config: SynthConfig) -> History {
    let mut rng = DetRng::from_seed(config.seed);
    let clients = config.clients.max(1);
    let mut clock = vec![0u64; clients as usize];
    let mut process: Vec<u64> = (0..clients).collect();
    let mut next_value = 1i64;
    let mut planned: Vec<Planned> = Vec::with_capacity(config.ops);
    for _ in 0..config.ops {
        // The client that is free earliest goes next.
        let c = (0..clients as usize)
            .min_by_key(|&c| (clock[c], c))
            .unwrap_or(0);
        let call = clock[c] + rng.range_inclusive(1, 20);
        let duration = rng.range_inclusive(1, 100);
        let effect_at = call + rng.below(duration);
        let key = rng.below(config.keys.max(1));
        let (f, input) = match rng.below(10) {
            0..=4 => (OpFn::Read, Value::Nil),
            5..=8 => {
                next_value += 1;
                (OpFn::Write, Value::Int(next_value))
            }
            _ => {
                next_value += 1;
                // Expect a recent value; whether it holds is decided when applied.
                (
                    OpFn::Cas,
                    Value::List(vec![next_value - 1 - rng.below(3) as i64, next_value]),
                )
            }
        };
        let indeterminate = rng.chance(config.indeterminate);
        planned.push(Planned {
            process: process[c],
            key,
            f,
            output: input.clone(),
            input,
            call,
            ret: (!indeterminate).then_some(call + duration),
            effect_at,
            failed: false,
        });
        clock[c] = call + duration;
        if indeterminate {
            process[c] += clients;
        }
    }
    // Apply in effect order to fill in reads and decide compare-and-sets.
    let mut order: Vec<usize> = (0..planned.len()).collect();
    order.sort_by_key(|&i| (planned[i].effect_at, i));
    let mut registers: Vec<Option<i64>> = vec![None; config.keys.max(1) as usize];
    for i in order {
        let op = &mut planned[i];
        let register = &mut registers[op.key as usize];
        match (&op.f, &op.input) {
            (OpFn::Read, _) => op.output = register.map_or(Value::Nil, Value::Int),
            (OpFn::Write, Value::Int(v)) => *register = Some(*v),
            (OpFn::Cas, Value::List(p)) => {
                if *register == Some(p[0]) {
                    *register = Some(p[1]);
                } else {
                    op.failed = true;
                }
            }
            _ => {}
        }
    }
    // Events in time order; a completion at the same instant as an invocation goes first.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(planned.len() * 2);
    for (i, op) in planned.iter().enumerate() {
        events.push((op.call, true, i));
        if let Some(ret) = op.ret {
            events.push((ret, false, i));
        }
    }
    events.sort_unstable();
    let mut builder = HistoryBuilder::new();
    for (line, &(time, is_invoke, i)) in events.iter().enumerate() {
        let op = &planned[i];
        let kind = match (is_invoke, op.failed) {
            (true, _) => EventKind::Invoke,
            (false, true) => EventKind::Fail,
            (false, false) => EventKind::Ok,
        };
        let value = if is_invoke {
            op.input.clone()
        } else {
            op.output.clone()
        };
        let event = Event {
            line: line + 1,
            process: Some(op.process),
            kind,
            f: Some(op.f),
            nemesis_f: None,
            key: Some(op.key.to_string()),
            value,
            time: Some(time),
        };
        // Built to pair: each process has one operation at a time; a failure here is a
        // bug in this generator, not bad input.
        builder.push(event).expect("synthetic events pair up");
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::Budget;
    use crate::model::ModelKind;
    use crate::verdict::Verdict;

    #[test]
    fn synthetic_histories_are_linearizable_and_shaped_as_asked() {
        for seed in 0..20 {
            let h = kv_history(SynthConfig {
                seed,
                ops: 2_000,
                keys: 20,
                clients: 10,
                indeterminate: 0.05,
            });
            assert_eq!(h.ops.len() + h.failed, 2_000);
            assert!(
                h.ops
                    .iter()
                    .any(|o| o.status == crate::history::Status::Indeterminate)
            );
            let r = crate::linear::check(&h, ModelKind::Kv, &mut Budget::unlimited()).unwrap();
            assert_eq!(r.verdict, Verdict::Pass, "seed {seed}: {:?}", r.witness);
        }
    }
}

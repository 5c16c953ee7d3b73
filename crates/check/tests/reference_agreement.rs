//! The fast checker agrees with the brute-force reference on random small histories.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::Value;
use dsys_check::budget::Budget;
use dsys_check::linear::{self, PartOp};
use dsys_check::model::{Action, ModelKind};
use dsys_check::reference;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// One random operation before positions are assigned.
#[derive(Clone, Debug)]
struct RawOp {
    action: Action,
    start: u32,
    length: u32,
    indeterminate: bool,
}

fn action(model: ModelKind) -> BoxedStrategy<Action> {
    let small = 1i64..4;
    match model {
        // A multi-value register is checked as a register once its reads are single.
        ModelKind::Register | ModelKind::Kv | ModelKind::MvRegister => prop_oneof![
            small.clone().prop_map(Action::Write),
            prop_oneof![Just(Value::Nil), small.clone().prop_map(Value::Int)]
                .prop_map(Action::Read),
            (small.clone(), small).prop_map(|(a, b)| Action::Cas(a, b)),
        ]
        .boxed(),
        ModelKind::Set => prop_oneof![
            small.clone().prop_map(Action::Add),
            small.clone().prop_map(Action::Remove),
            proptest::collection::vec(small, 0..4).prop_map(|xs| Action::Read(Value::List(xs))),
        ]
        .boxed(),
        ModelKind::Counter => prop_oneof![
            (-1i64..3).prop_map(Action::Add),
            (-1i64..5).prop_map(|v| Action::Read(Value::Int(v)))
        ]
        .boxed(),
        ModelKind::ListAppend => prop_oneof![
            small.clone().prop_map(Action::Append),
            proptest::collection::vec(small, 0..4).prop_map(|xs| Action::Read(Value::List(xs))),
            // A never-written list reads as nil.
            Just(Action::Read(Value::Nil)),
        ]
        .boxed(),
    }
}

fn history(model: ModelKind) -> impl Strategy<Value = Vec<RawOp>> {
    proptest::collection::vec(
        (
            action(model),
            0u32..40,
            1u32..25,
            proptest::bool::weighted(0.2),
        )
            .prop_map(|(action, start, length, indeterminate)| RawOp {
                action,
                start,
                length,
                indeterminate,
            }),
        1..=8,
    )
}

/// Give every call and return a distinct position, preserving the drawn order.
fn place(raw: &[RawOp]) -> Vec<PartOp> {
    let mut points: Vec<(u32, usize, bool)> = Vec::new();
    for (i, op) in raw.iter().enumerate() {
        points.push((op.start, i, false));
        points.push((op.start + op.length, i, true));
    }
    points.sort();
    let mut ops: Vec<PartOp> = raw
        .iter()
        .enumerate()
        .map(|(i, op)| PartOp {
            id: i,
            action: op.action.clone(),
            call: 0,
            ret: 0,
        })
        .collect();
    for (position, &(_, i, is_return)) in points.iter().enumerate() {
        if is_return {
            ops[i].ret = if raw[i].indeterminate {
                u64::MAX
            } else {
                position as u64
            };
        } else {
            ops[i].call = position as u64;
        }
    }
    // As the partitioner does: indeterminate reads carry nothing; order by call.
    ops.retain(|o| o.completed() || !matches!(o.action, Action::Read(_)));
    ops.sort_by_key(|o| o.call);
    ops
}

/// The fast path as `linear::check` runs it: indeterminate updates bounded by what was observed.
fn fast(model: ModelKind, ops: &[PartOp]) -> bool {
    let mut pruned = ops.to_vec();
    linear::bound_indeterminate(model, &mut pruned);
    linear::linearizable_as(model, &pruned, &mut Budget::unlimited()).unwrap()
}

fn agree(model: ModelKind, raw: &[RawOp]) -> Result<(), TestCaseError> {
    let ops = place(raw);
    let fast = fast(model, &ops);
    let slow = reference::linearizable(model, &ops).unwrap();
    prop_assert_eq!(fast, slow, "{} disagrees on {:?}", model, ops);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 25_000, ..ProptestConfig::default() })]

    #[test]
    fn register_agrees(raw in history(ModelKind::Register)) { agree(ModelKind::Register, &raw)?; }

    #[test]
    fn set_agrees(raw in history(ModelKind::Set)) { agree(ModelKind::Set, &raw)?; }

    #[test]
    fn counter_agrees(raw in history(ModelKind::Counter)) { agree(ModelKind::Counter, &raw)?; }

    #[test]
    fn list_append_agrees(raw in history(ModelKind::ListAppend)) { agree(ModelKind::ListAppend, &raw)?; }
}

/// The generator yields both verdicts often, so agreement above is not vacuous.
#[test]
fn both_verdicts_are_exercised() {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let (mut yes, mut no) = (0, 0);
    for model in [
        ModelKind::Register,
        ModelKind::Set,
        ModelKind::Counter,
        ModelKind::ListAppend,
    ] {
        for _ in 0..2_000 {
            let raw = history(model).new_tree(&mut runner).unwrap().current();
            let ops = place(&raw);
            if reference::linearizable(model, &ops).unwrap() {
                yes += 1;
            } else {
                no += 1;
            }
        }
    }
    // Random histories must not be nearly all one verdict, or agreement would mean little.
    assert!(yes > 1_000 && no > 1_000, "linearizable {yes}, not {no}");
}

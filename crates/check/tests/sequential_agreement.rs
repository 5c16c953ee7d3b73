//! Sequential consistency: the search agrees with brute force on random small
//! histories, and known verdicts hold.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::budget::Budget;
use dsys_check::model::{Action, ModelKind};
use dsys_check::report::{CheckName, run};
use dsys_check::sequential::{SeqOp, consistent};
use dsys_check::{Value, Verdict, read_history, reference};
use proptest::prelude::*;

fn action(model: ModelKind) -> BoxedStrategy<Action> {
    let small = 1i64..4;
    match model {
        ModelKind::Set => prop_oneof![
            small.clone().prop_map(Action::Add),
            proptest::collection::vec(small, 0..3).prop_map(|xs| Action::Read(Value::List(xs)))
        ]
        .boxed(),
        ModelKind::Counter => prop_oneof![
            (-1i64..3).prop_map(Action::Add),
            (-1i64..4).prop_map(|v| Action::Read(Value::Int(v)))
        ]
        .boxed(),
        ModelKind::ListAppend => prop_oneof![
            small.clone().prop_map(Action::Append),
            proptest::collection::vec(small, 0..3).prop_map(|xs| Action::Read(Value::List(xs)))
        ]
        .boxed(),
        _ => prop_oneof![
            small.clone().prop_map(Action::Write),
            prop_oneof![Just(Value::Nil), small.clone().prop_map(Value::Int)]
                .prop_map(Action::Read),
            (small.clone(), small).prop_map(|(a, b)| Action::Cas(a, b)),
        ]
        .boxed(),
    }
}

fn processes(model: ModelKind) -> impl Strategy<Value = (Vec<Vec<SeqOp>>, usize)> {
    let keys = if model == ModelKind::Kv { 2usize } else { 1 };
    proptest::collection::vec(
        proptest::collection::vec(
            (action(model), 0..keys, proptest::bool::weighted(0.85)),
            0..4,
        ),
        1..4,
    )
    .prop_map(move |procs| {
        let mut id = 0;
        let procs = procs
            .into_iter()
            .map(|p| {
                p.into_iter()
                    .map(|(action, key, completed)| {
                        id += 1;
                        SeqOp {
                            id,
                            key,
                            action,
                            completed,
                            call: id as u64,
                        }
                    })
                    .collect()
            })
            .collect();
        (procs, keys)
    })
}

fn agree(model: ModelKind, procs: &[Vec<SeqOp>], keys: usize) -> Result<(), TestCaseError> {
    let fast = consistent(model, procs, keys, &mut Budget::unlimited()).unwrap();
    let slow = reference::sequential(model, procs, keys);
    prop_assert_eq!(fast, slow, "{} disagrees on {:?}", model, procs);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 5_000, ..ProptestConfig::default() })]

    #[test]
    fn kv_agrees((procs, keys) in processes(ModelKind::Kv)) { agree(ModelKind::Kv, &procs, keys)?; }

    #[test]
    fn set_agrees((procs, keys) in processes(ModelKind::Set)) { agree(ModelKind::Set, &procs, keys)?; }

    #[test]
    fn counter_agrees((procs, keys) in processes(ModelKind::Counter)) { agree(ModelKind::Counter, &procs, keys)?; }

    #[test]
    fn list_append_agrees((procs, keys) in processes(ModelKind::ListAppend)) { agree(ModelKind::ListAppend, &procs, keys)?; }
}

fn sequential(text: &str, model: ModelKind) -> Verdict {
    let history = read_history(text, None).unwrap();
    run(
        &history,
        model,
        &[CheckName::Sequential],
        &mut Budget::unlimited(),
    )
    .unwrap()
    .checks["sequential"]
        .result
}

#[test]
fn stale_reads_can_be_sequential_but_not_linearizable() {
    // Process 1 reads the old value after process 0's write completed: not linearizable,
    // but sequentially consistent (order p1's read before p0's write).
    let stale = "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n\
                 {:process 1, :type :invoke, :f :read, :value nil}\n{:process 1, :type :ok, :f :read, :value nil}\n";
    assert_eq!(sequential(stale, ModelKind::Register), Verdict::Pass);
    // But a process must see its own write: that breaks program order.
    let own = "{:process 0, :type :invoke, :f :write, :value 1}\n{:process 0, :type :ok, :f :write, :value 1}\n\
               {:process 0, :type :invoke, :f :read, :value nil}\n{:process 0, :type :ok, :f :read, :value nil}\n";
    assert_eq!(sequential(own, ModelKind::Register), Verdict::Fail);
}

#[test]
fn sequential_consistency_spans_keys() {
    // Each key alone is fine, but p1 sees x's write and not y's, p2 sees y's and not x's,
    // while p0 wrote x then y: no single order explains both (a classic store-buffer shape
    // across keys with a single writer).
    let text = "{:process 0, :type :invoke, :f :write, :key \"x\", :value 1}\n{:process 0, :type :ok, :f :write, :key \"x\", :value 1}\n\
                {:process 0, :type :invoke, :f :write, :key \"y\", :value 2}\n{:process 0, :type :ok, :f :write, :key \"y\", :value 2}\n\
                {:process 1, :type :invoke, :f :read, :key \"y\", :value nil}\n{:process 1, :type :ok, :f :read, :key \"y\", :value 2}\n\
                {:process 1, :type :invoke, :f :read, :key \"x\", :value nil}\n{:process 1, :type :ok, :f :read, :key \"x\", :value nil}\n";
    assert_eq!(sequential(text, ModelKind::Kv), Verdict::Fail);
    // The witness keeps what is needed: both of p0's writes and p1's two reads.
    let history = read_history(text, None).unwrap();
    let report = run(
        &history,
        ModelKind::Kv,
        &[CheckName::Sequential],
        &mut Budget::unlimited(),
    )
    .unwrap();
    let witness = report.checks["sequential"].witness.clone().unwrap();
    assert_eq!(witness.ops.len(), 4, "{witness:?}");
    assert!(
        witness
            .explanation
            .starts_with("no interleaving of these 4 operations")
    );
}

//! `no-lost-updates` on hand-built counter and set histories.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use dsys_check::budget::Budget;
use dsys_check::report::{CheckName, CheckResult, run};
use dsys_check::{ModelKind, Verdict, read_history};

/// `P TYPE F VALUE` per line, one key, times line * 1 ms.
fn check(model: ModelKind, lines: &str) -> CheckResult {
    let history = common::history_of(lines);
    run(
        &history,
        model,
        &[CheckName::NoLostUpdates],
        &mut Budget::unlimited(),
    )
    .unwrap()
    .checks["no-lost-updates"]
        .clone()
}

const ADDS: &str = "0 invoke add 5\n0 ok add 5\n1 invoke add -2\n1 ok add -2\n";

#[test]
fn counter_final_read_must_count_every_acknowledged_update() {
    let ok = check(
        ModelKind::Counter,
        &format!("{ADDS}2 invoke read nil\n2 ok read 3"),
    );
    assert_eq!(ok.result, Verdict::Pass);
    let low = check(
        ModelKind::Counter,
        &format!("{ADDS}2 invoke read nil\n2 ok read 1"),
    );
    assert_eq!((low.result, low.counts["lost"]), (Verdict::Fail, 2));
    assert!(
        low.witness
            .unwrap()
            .explanation
            .contains("sum to at least 3"),
        "explains the bound"
    );
    // A lost decrement shows above the range.
    let high = check(
        ModelKind::Counter,
        &format!("{ADDS}2 invoke read nil\n2 ok read 5"),
    );
    assert_eq!((high.result, high.counts["lost"]), (Verdict::Fail, 2));
    // Indeterminate updates widen the range both ways.
    let info = "0 invoke add 5\n0 info add 5\n1 invoke add -2\n1 info add -2\n";
    for value in [-2, 0, 3, 5] {
        let r = check(
            ModelKind::Counter,
            &format!("{info}2 invoke read nil\n2 ok read {value}"),
        );
        assert_eq!(r.result, Verdict::Pass, "{value}");
    }
    let r = check(
        ModelKind::Counter,
        &format!("{info}2 invoke read nil\n2 ok read 6"),
    );
    assert_eq!(r.result, Verdict::Fail);
}

#[test]
fn increments_beyond_64_bits_are_counted_not_wrapped() {
    // Two acknowledged increments of i64::MAX: no 64-bit counter holds their sum, and a
    // read of i64::MIN (what a wrapping sum would give, -2) is no such counter's value.
    let max = i64::MAX;
    let adds = format!("0 invoke add {max}\n0 ok add {max}\n1 invoke add {max}\n1 ok add {max}\n");
    let wrapped = check(
        ModelKind::Counter,
        &format!("{adds}2 invoke read nil\n2 ok read -2"),
    );
    assert_eq!(wrapped.result, Verdict::Fail);
    assert_eq!(wrapped.counts["lost"], u64::MAX, "saturated, not wrapped");
    let history = common::history_of(&format!("{adds}2 invoke read nil\n2 ok read -2"));
    let report = run(
        &history,
        ModelKind::Counter,
        &[CheckName::Linearizable],
        &mut Budget::unlimited(),
    )
    .unwrap();
    assert_eq!(report.checks["linearizable"].result, Verdict::Fail);
}

#[test]
fn set_final_read_must_hold_every_acknowledged_insert_and_nothing_else() {
    let adds =
        "0 invoke add 1\n0 ok add 1\n1 invoke add 2\n1 ok add 2\n3 invoke add 7\n3 info add 7\n";
    for read in ["[1 2]", "[1 2 7]"] {
        let r = check(
            ModelKind::Set,
            &format!("{adds}2 invoke read nil\n2 ok read {read}"),
        );
        assert_eq!(r.result, Verdict::Pass, "{read}");
    }
    let lost = check(
        ModelKind::Set,
        &format!("{adds}2 invoke read nil\n2 ok read [2]"),
    );
    assert_eq!((lost.result, lost.counts["lost"]), (Verdict::Fail, 1));
    assert!(lost.witness.unwrap().explanation.contains("lacks it"));
    let phantom = check(
        ModelKind::Set,
        &format!("{adds}2 invoke read nil\n2 ok read [1 2 9]"),
    );
    assert_eq!(
        (phantom.result, phantom.counts["phantom"]),
        (Verdict::Fail, 1)
    );
}

#[test]
fn set_removes_explain_absences_and_must_not_be_undone() {
    let adds = "0 invoke add 1\n0 ok add 1\n1 invoke add 2\n1 ok add 2\n";
    // 1 removed after its insert: absent is right, present is a resurrection.
    let removed = format!("{adds}0 invoke remove 1\n0 ok remove 1\n");
    let ok = check(
        ModelKind::Set,
        &format!("{removed}2 invoke read nil\n2 ok read [2]"),
    );
    assert_eq!(ok.result, Verdict::Pass);
    assert_eq!(ok.counts["acknowledged updates"], 3);
    let back = check(
        ModelKind::Set,
        &format!("{removed}2 invoke read nil\n2 ok read [1 2]"),
    );
    assert_eq!(
        (back.result, back.counts["resurrected"], back.counts["lost"]),
        (Verdict::Fail, 1, 0)
    );
    assert!(
        back.witness
            .unwrap()
            .explanation
            .starts_with("resurrected: process 0 removed 1")
    );
    // A remove of unknown outcome, or one racing the insert, explains either answer.
    for remove in [
        "0 invoke remove 1\n0 info remove 1\n",
        "0 invoke remove 1\n",
    ] {
        let racing = format!("0 invoke add 1\n{remove}0 ok add 1\n1 invoke add 2\n1 ok add 2\n");
        let racing = if remove.contains("info") {
            format!("{adds}{remove}")
        } else {
            racing.replace(
                "0 invoke remove 1\n0 ok add 1",
                "3 invoke remove 1\n0 ok add 1\n3 ok remove 1",
            )
        };
        for read in ["[2]", "[1 2]"] {
            let r = check(
                ModelKind::Set,
                &format!("{racing}2 invoke read nil\n2 ok read {read}"),
            );
            assert_eq!(r.result, Verdict::Pass, "{racing} {read}: {r:?}");
        }
    }
    // Linearizability follows removes too.
    let h = format!("{removed}2 invoke read nil\n2 ok read [1 2]");
    let history = common::history_of(&h);
    let r = run(
        &history,
        ModelKind::Set,
        &[CheckName::Linearizable],
        &mut Budget::unlimited(),
    )
    .unwrap();
    assert_eq!(r.checks["linearizable"].result, Verdict::Fail);
    assert_eq!(ModelKind::infer(&history), ModelKind::Set);
}

#[test]
fn reads_before_the_last_update_are_not_final() {
    // The only read overlaps the last update: nothing can be judged.
    let h = "0 invoke add 1\n2 invoke read nil\n0 ok add 1\n2 ok read 0\n";
    let r = check(ModelKind::Counter, h);
    assert_eq!(r.result, Verdict::Unknown);
    assert!(r.reason.unwrap().contains("no final reads"));
}

#[test]
fn the_check_is_refused_on_registers() {
    let history = read_history("{:process 0, :type :invoke, :f :write, :value 1}\n", None).unwrap();
    let err = run(
        &history,
        ModelKind::Register,
        &[CheckName::NoLostUpdates],
        &mut Budget::unlimited(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "check `no-lost-updates` does not apply to register histories"
    );
}

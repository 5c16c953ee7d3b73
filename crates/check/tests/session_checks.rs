//! Session guarantees, staleness and lost writes on hand-built histories.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use dsys_check::budget::Budget;
use dsys_check::report::{CheckName, CheckResult, run};
use dsys_check::{ModelKind, Verdict, read_history};

/// `P TYPE F VALUE` per line, one register, with times in ms (line number * 1 ms).
fn check(check: CheckName, lines: &str) -> CheckResult {
    check_as(ModelKind::Register, check, lines)
}

/// [`check`] against `model`.
fn check_as(model: ModelKind, check: CheckName, lines: &str) -> CheckResult {
    let history = common::history_of(lines);
    run(&history, model, &[check], &mut Budget::unlimited())
        .unwrap()
        .checks[check.name()]
    .clone()
}

const W1_W2: &str = "0 invoke write 1\n0 ok write 1\n0 invoke write 2\n0 ok write 2\n";

#[test]
fn read_your_writes() {
    let bad = format!("{W1_W2}0 invoke read nil\n0 ok read 1");
    let r = check(CheckName::ReadYourWrites, &bad);
    assert_eq!(r.result, Verdict::Fail);
    assert_eq!(r.counts["violations"], 1);
    let w = r.witness.unwrap();
    assert_eq!(
        w.explanation,
        "process 0 read 1 (lines 5-6) on key , after its own write completed: process 0 wrote 2 (lines 3-4)"
    );
    assert_eq!(w.ops.len(), 3);
    // Another process reading the old value is not a read-your-writes violation.
    assert_eq!(
        check(
            CheckName::ReadYourWrites,
            &format!("{W1_W2}1 invoke read nil\n1 ok read 1")
        )
        .result,
        Verdict::Pass
    );
    assert_eq!(
        check(
            CheckName::ReadYourWrites,
            &format!("{W1_W2}0 invoke read nil\n0 ok read 2")
        )
        .result,
        Verdict::Pass
    );
    // Reading nil after one's own write is a violation too.
    assert_eq!(
        check(
            CheckName::ReadYourWrites,
            "0 invoke write 1\n0 ok write 1\n0 invoke read nil\n0 ok read nil"
        )
        .result,
        Verdict::Fail
    );
}

#[test]
fn monotonic_reads() {
    let bad = format!("{W1_W2}1 invoke read nil\n1 ok read 2\n1 invoke read nil\n1 ok read 1");
    let r = check(CheckName::MonotonicReads, &bad);
    assert_eq!(r.result, Verdict::Fail);
    assert!(r.witness.unwrap().explanation.starts_with(
        "process 1 read 1 (lines 7-8) on key , after the same process had read newer 2"
    ));
    // Going backwards across processes is allowed by this guarantee.
    let ok = format!("{W1_W2}1 invoke read nil\n1 ok read 2\n2 invoke read nil\n2 ok read 1");
    assert_eq!(check(CheckName::MonotonicReads, &ok).result, Verdict::Pass);
    // Concurrent writes have no definite order: no violation either way.
    let concurrent = "0 invoke write 1\n1 invoke write 2\n0 ok write 1\n1 ok write 2\n2 invoke read nil\n2 ok read 2\n2 invoke read nil\n2 ok read 1";
    assert_eq!(
        check(CheckName::MonotonicReads, concurrent).result,
        Verdict::Pass
    );
}

#[test]
fn stale_reads_with_k_staleness_and_t_visibility() {
    let h = format!(
        "{W1_W2}0 invoke write 3\n0 ok write 3\n1 invoke read nil\n1 ok read 1\n1 invoke read nil\n1 ok read 3"
    );
    let r = check(CheckName::NoStaleReads, &h);
    assert_eq!(r.result, Verdict::Fail);
    assert_eq!((r.counts["reads"], r.counts["stale reads"]), (2, 1));
    // The read of 1 was two versions behind (2 and 3 had completed).
    assert_eq!(r.counts["k-staleness max"], 2);
    // Write 2 acknowledged at 4 ms was still missed by the read completing at 8 ms.
    assert_eq!(r.counts["t-visibility max us"], 4_000);
    assert!(
        r.witness
            .unwrap()
            .explanation
            .starts_with("stale read: process 1 read 1 (lines 7-8)")
    );
    assert_eq!(
        check(
            CheckName::NoStaleReads,
            &format!("{W1_W2}1 invoke read nil\n1 ok read 2")
        )
        .result,
        Verdict::Pass
    );
}

#[test]
fn lost_writes_need_final_reads() {
    let lost = format!("{W1_W2}1 invoke read nil\n1 ok read 1");
    let r = check(CheckName::NoLostWrites, &lost);
    assert_eq!(r.result, Verdict::Fail);
    assert_eq!(r.counts["lost"], 1);
    assert!(
        r.witness
            .unwrap()
            .explanation
            .starts_with("lost write: process 0 wrote 2 (lines 3-4) was acknowledged")
    );
    assert_eq!(
        check(
            CheckName::NoLostWrites,
            &format!("{W1_W2}1 invoke read nil\n1 ok read 2")
        )
        .result,
        Verdict::Pass
    );
    let none = check(CheckName::NoLostWrites, W1_W2);
    assert_eq!(none.result, Verdict::Unknown);
    assert!(none.reason.unwrap().contains("no final reads"));
}

#[test]
fn repeated_values_make_session_checks_unknown() {
    let r = check(
        CheckName::NoStaleReads,
        "0 invoke write 1\n0 ok write 1\n0 invoke write 1\n0 ok write 1",
    );
    assert_eq!(r.result, Verdict::Unknown);
    assert!(
        r.reason
            .unwrap()
            .contains("value 1 is written more than once")
    );
}

#[test]
fn session_checks_do_not_apply_to_sets() {
    let history = read_history("{:process 0, :type :invoke, :f :add, :value 1}\n", None).unwrap();
    let err = run(
        &history,
        ModelKind::Set,
        &[CheckName::MonotonicReads],
        &mut Budget::unlimited(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "check `monotonic-reads` does not apply to set histories"
    );
}

#[test]
fn monotonic_writes() {
    let bad = format!("{W1_W2}1 invoke read nil\n1 ok read 2\n1 invoke read nil\n1 ok read 1");
    let r = check(CheckName::MonotonicWrites, &bad);
    assert_eq!(r.result, Verdict::Fail);
    assert!(
        r.witness
            .unwrap()
            .explanation
            .contains("which its writer had written 1 before")
    );
    let ok = format!("{W1_W2}1 invoke read nil\n1 ok read 1\n1 invoke read nil\n1 ok read 2");
    assert_eq!(check(CheckName::MonotonicWrites, &ok).result, Verdict::Pass);
}

#[test]
fn writes_follow_reads() {
    // Process 1 read 1, then wrote 2: whoever sees 2 must not then see 1.
    let base = "0 invoke write 1\n0 ok write 1\n1 invoke read nil\n1 ok read 1\n1 invoke write 2\n1 ok write 2\n";
    let bad = format!("{base}2 invoke read nil\n2 ok read 2\n2 invoke read nil\n2 ok read 1");
    let r = check(CheckName::WritesFollowReads, &bad);
    assert_eq!(r.result, Verdict::Fail);
    let w = r.witness.unwrap();
    assert!(
        w.explanation
            .contains("which its writer had read 1 before writing it"),
        "{}",
        w.explanation
    );
    assert_eq!(w.ops.len(), 4);
    let ok = format!("{base}2 invoke read nil\n2 ok read 1\n2 invoke read nil\n2 ok read 2");
    assert_eq!(
        check(CheckName::WritesFollowReads, &ok).result,
        Verdict::Pass
    );
}

#[test]
fn freshness_bins_reads_by_time_since_the_last_acknowledged_write() {
    use dsys_check::session::{FreshnessBin, freshness};
    // Times are line * 1 ms: write 2 is acknowledged at 4 ms.
    // Reads begin 1 ms (stale), 3 ms (fresh) and 5 ms (fresh) after it.
    let history = common::history_of(
        "0 invoke write 1\n0 ok write 1\n0 invoke write 2\n0 ok write 2
        1 invoke read nil\n1 ok read 1
        2 invoke read nil\n2 ok read 2
        1 invoke read nil\n1 ok read 2",
    );
    let bins = freshness(&history, &[0.0, 2.0, 5.0]).unwrap();
    let bin = |from_ms, to_ms, reads, fresh| FreshnessBin {
        from_ms,
        to_ms,
        reads,
        fresh,
    };
    assert_eq!(
        bins,
        vec![
            bin(0.0, Some(2.0), 1, 0),
            bin(2.0, Some(5.0), 1, 1),
            bin(5.0, None, 1, 1)
        ]
    );
}

/// `check` on a multi-value register history.
fn check_siblings(check: CheckName, lines: &str) -> CheckResult {
    check_as(ModelKind::MvRegister, check, lines)
}

/// Writes 1 and 2 overlap (neither is older), then 3 follows both.
const OVERLAP_THEN_3: &str = "0 invoke write 1\n1 invoke write 2\n0 ok write 1\n1 ok write 2\n0 invoke write 3\n0 ok write 3\n";

#[test]
fn a_multi_value_read_is_behind_only_when_every_sibling_is_older() {
    let overlap = "0 invoke write 1\n1 invoke write 2\n0 ok write 1\n1 ok write 2\n";
    // Both concurrent writes, or either one alone: nothing newer was missed.
    for read in ["[1 2]", "[1]", "[2]"] {
        let h = format!("{overlap}2 invoke read nil\n2 ok read {read}");
        for c in [CheckName::NoStaleReads, CheckName::NoLostWrites] {
            assert_eq!(check_siblings(c, &h).result, Verdict::Pass, "{c:?} {read}");
        }
    }
    // After 3 (which followed both), siblings 1 and 2 are both older: stale, and 3 lost.
    let h = format!("{OVERLAP_THEN_3}2 invoke read nil\n2 ok read [1 2]");
    let stale = check_siblings(CheckName::NoStaleReads, &h);
    assert_eq!(stale.result, Verdict::Fail);
    assert!(stale.witness.unwrap().explanation.starts_with(
        "stale read: process 2 read [1 2] (lines 7-8) on key , but process 0 wrote 3"
    ),);
    let lost = check_siblings(CheckName::NoLostWrites, &h);
    assert_eq!(lost.result, Verdict::Fail);
    assert_eq!(lost.counts["lost"], 1);
    // One sibling that is not older is enough: 3 beside an old one is fresh.
    let h = format!("{OVERLAP_THEN_3}2 invoke read nil\n2 ok read [1 3]");
    assert_eq!(
        check_siblings(CheckName::NoStaleReads, &h).result,
        Verdict::Pass
    );
    // An empty list reads as nil: behind every acknowledged write.
    let h = format!("{OVERLAP_THEN_3}2 invoke read nil\n2 ok read []");
    assert_eq!(
        check_siblings(CheckName::NoLostWrites, &h).counts["lost"],
        3
    );
}

#[test]
fn session_guarantees_over_siblings() {
    // Having seen sibling 3, reading only older values goes backwards.
    let h = format!(
        "{OVERLAP_THEN_3}2 invoke read nil\n2 ok read [2 3]\n2 invoke read nil\n2 ok read [1 2]"
    );
    let r = check_siblings(CheckName::MonotonicReads, &h);
    assert_eq!(r.result, Verdict::Fail);
    assert!(
        r.witness
            .unwrap()
            .explanation
            .contains("after the same process had read newer 3")
    );
    // The concurrent pair in either order is not going backwards.
    let h = format!(
        "{OVERLAP_THEN_3}2 invoke read nil\n2 ok read [1 2]\n2 invoke read nil\n2 ok read [2]"
    );
    assert_eq!(
        check_siblings(CheckName::MonotonicReads, &h).result,
        Verdict::Pass
    );
    // Process 1 read siblings [1 2] and then wrote 4: whoever sees 4 must not then see 1.
    let base = "0 invoke write 1\n1 invoke write 2\n0 ok write 1\n1 ok write 2\n1 invoke read nil\n1 ok read [1 2]\n1 invoke write 4\n1 ok write 4\n";
    let bad = format!("{base}2 invoke read nil\n2 ok read [4]\n2 invoke read nil\n2 ok read [1 5]");
    let r = check_siblings(CheckName::WritesFollowReads, &bad);
    assert_eq!(r.result, Verdict::Fail);
    assert!(
        r.witness
            .unwrap()
            .explanation
            .contains("which its writer had read 1 before writing it")
    );
}

#[test]
fn linearizability_of_a_multi_value_history() {
    // Single-valued reads are judged as the register history they are.
    let ok = "0 invoke write 1\n0 ok write 1\n1 invoke read nil\n1 ok read [1]";
    let r = check_siblings(CheckName::Linearizable, ok);
    assert_eq!(r.result, Verdict::Pass, "{r:?}");
    let stale = "0 invoke write 1\n0 ok write 1\n0 invoke write 2\n0 ok write 2\n1 invoke read nil\n1 ok read [1]";
    assert_eq!(
        check_siblings(CheckName::Sequential, stale).result,
        Verdict::Pass,
        "one process behind is sequentially consistent"
    );
    assert_eq!(
        check_siblings(CheckName::Linearizable, stale).result,
        Verdict::Fail
    );
    // Two values at once: no register does that.
    let two = "0 invoke write 1\n1 invoke write 2\n0 ok write 1\n1 ok write 2\n2 invoke read nil\n2 ok read [1 2]";
    for c in [CheckName::Linearizable, CheckName::Sequential] {
        let r = check_siblings(c, two);
        assert_eq!(r.result, Verdict::Fail, "{c:?}");
        assert_eq!(r.counts["reads with siblings"], 1);
    }
}

//! Hand-built histories with known verdicts, for every model, including the tricky
//! cases: concurrent cas, indeterminate operations that must and must not be assumed to
//! have happened, reads of values never written, operations that never complete.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::budget::Budget;
use dsys_check::linear::{self, Linearizability};
use dsys_check::{InputFormat, ModelKind, Verdict, read_history};

/// Compact notation, one event per line: `P TYPE F VALUE [KEY]`, e.g. `0 invoke write 1`.
fn edn(lines: &str) -> String {
    lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let parts: Vec<&str> = l.splitn(4, ' ').collect();
            // The value is one token or a bracketed list; an optional key follows.
            let rest = parts[3];
            let (value, key) = match rest.find(']') {
                Some(end) if rest.starts_with('[') => (&rest[..=end], rest[end + 1..].trim()),
                _ => rest.split_once(' ').unwrap_or((rest, "")),
            };
            let key = if key.is_empty() {
                String::new()
            } else {
                format!(", :key \"{key}\"")
            };
            format!(
                "{{:process {}, :type :{}, :f :{}, :value {value}{key}}}\n",
                parts[0], parts[1], parts[2]
            )
        })
        .collect()
}

fn check(model: ModelKind, lines: &str) -> Linearizability {
    let history = read_history(&edn(lines), Some(InputFormat::JepsenEdn)).unwrap();
    linear::check(&history, model, &mut Budget::unlimited()).unwrap()
}

fn verdict(model: ModelKind, lines: &str) -> Verdict {
    check(model, lines).verdict
}

const REGISTER: ModelKind = ModelKind::Register;

#[test]
fn register_basics() {
    assert_eq!(
        verdict(
            REGISTER,
            "0 invoke write 1\n0 ok write 1\n1 invoke read nil\n1 ok read 1"
        ),
        Verdict::Pass
    );
    assert_eq!(
        verdict(REGISTER, "1 invoke read nil\n1 ok read nil"),
        Verdict::Pass
    );
    // Overlapping write and read may see either value.
    assert_eq!(
        verdict(
            REGISTER,
            "0 invoke write 1\n1 invoke read nil\n1 ok read nil\n0 ok write 1"
        ),
        Verdict::Pass
    );
    assert_eq!(
        verdict(
            REGISTER,
            "0 invoke write 1\n1 invoke read nil\n1 ok read 1\n0 ok write 1"
        ),
        Verdict::Pass
    );
}

#[test]
fn concurrent_cas_can_succeed_only_once() {
    let both = "0 invoke write 0\n0 ok write 0\n1 invoke cas [0 1]\n2 invoke cas [0 2]\n1 ok cas [0 1]\n2 ok cas [0 2]";
    assert_eq!(verdict(REGISTER, both), Verdict::Fail);
    let one = "0 invoke write 0\n0 ok write 0\n1 invoke cas [0 1]\n2 invoke cas [0 2]\n1 ok cas [0 1]\n2 fail cas [0 2]";
    assert_eq!(verdict(REGISTER, one), Verdict::Pass);
    // A cas chain must follow the values: 0 -> 1 -> 2 is fine, then 0 -> 3 is not.
    let chain = "0 invoke write 0\n0 ok write 0\n1 invoke cas [0 1]\n1 ok cas [0 1]\n2 invoke cas [1 2]\n2 ok cas [1 2]\n3 invoke cas [0 3]\n3 ok cas [0 3]";
    assert_eq!(verdict(REGISTER, chain), Verdict::Fail);
}

#[test]
fn indeterminate_writes_may_or_may_not_happen_but_not_both() {
    // It must be assumed to have happened: a later read saw it.
    assert_eq!(
        verdict(
            REGISTER,
            "0 invoke write 1\n0 info write 1\n1 invoke read nil\n1 ok read 1"
        ),
        Verdict::Pass
    );
    // It must not be assumed to have happened: a later read did not see it.
    assert_eq!(
        verdict(
            REGISTER,
            "0 invoke write 1\n0 info write 1\n1 invoke read nil\n1 ok read nil"
        ),
        Verdict::Pass
    );
    // But once seen it cannot un-happen.
    let flip = "0 invoke write 1\n0 info write 1\n1 invoke read nil\n1 ok read 1\n1 invoke read nil\n1 ok read nil";
    assert_eq!(verdict(REGISTER, flip), Verdict::Fail);
    // An indeterminate cas whose precondition never held did nothing.
    let cas = "0 invoke cas [5 6]\n0 info cas [5 6]\n1 invoke read nil\n1 ok read nil";
    assert_eq!(verdict(REGISTER, cas), Verdict::Pass);
    // And it cannot take effect before it was invoked.
    let early = "1 invoke read nil\n1 ok read 1\n0 invoke write 1\n0 info write 1";
    assert_eq!(verdict(REGISTER, early), Verdict::Fail);
}

#[test]
fn an_operation_that_never_completes_is_indeterminate() {
    assert_eq!(
        verdict(REGISTER, "0 invoke write 3\n1 invoke read nil\n1 ok read 3"),
        Verdict::Pass
    );
    assert_eq!(
        verdict(REGISTER, "0 invoke write 3\n1 invoke read nil\n1 ok read 4"),
        Verdict::Fail
    );
}

#[test]
fn failed_operations_did_not_happen() {
    assert_eq!(
        verdict(
            REGISTER,
            "0 invoke write 1\n0 fail write 1\n1 invoke read nil\n1 ok read 1"
        ),
        Verdict::Fail
    );
    assert_eq!(
        verdict(
            REGISTER,
            "0 invoke write 1\n0 fail write 1\n1 invoke read nil\n1 ok read nil"
        ),
        Verdict::Pass
    );
}

#[test]
fn a_read_of_a_value_never_written_is_explained() {
    let r = check(
        REGISTER,
        "0 invoke write 1\n0 ok write 1\n1 invoke read nil\n1 ok read 7",
    );
    assert_eq!(r.verdict, Verdict::Fail);
    let w = r.witness.unwrap();
    assert_eq!(
        w.explanation,
        "process 1 read 7 (lines 3-4), but no operation wrote 7"
    );
    assert_eq!(w.ops.len(), 1, "{w:?}");
}

#[test]
fn a_stale_read_is_explained_with_a_minimal_witness() {
    let h = "0 invoke write 1\n0 ok write 1\n2 invoke read nil\n2 ok read 1\n0 invoke write 2\n0 ok write 2\n\
             3 invoke write 9 other\n3 ok write 9 other\n1 invoke read nil\n1 ok read 1";
    let r = check(ModelKind::Kv, h);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.failed_keys, vec![""]);
    let w = r.witness.unwrap();
    assert!(w.minimal);
    assert_eq!(
        w.explanation,
        "stale read: process 1 read 1 (lines 9-10), the value process 0 wrote 1 (lines 1-2), but process 0 wrote 2 (lines 5-6) had replaced it before the read began"
    );
    let ids: Vec<(u64, &str)> = w.ops.iter().map(|o| (o.process, o.f)).collect();
    assert_eq!(ids, vec![(0, "write"), (0, "write"), (1, "read")]);
}

#[test]
fn a_read_from_the_future_is_explained() {
    let r = check(
        REGISTER,
        "1 invoke read nil\n1 ok read 5\n0 invoke write 5\n0 ok write 5",
    );
    assert!(
        r.witness
            .unwrap()
            .explanation
            .contains("before any write of 5 began")
    );
}

#[test]
fn kv_checks_each_key_alone() {
    let h = "0 invoke write 1 a\n1 invoke write 1 b\n0 ok write 1 a\n1 ok write 1 b\n2 invoke read nil a\n2 ok read 1 a\n3 invoke read nil b\n3 ok read nil b";
    let r = check(ModelKind::Kv, h);
    assert_eq!(r.verdict, Verdict::Fail);
    assert_eq!(r.failed_keys, vec!["b"]);
    assert_eq!(r.keys, 2);
    let register = read_history(&edn(h), None).unwrap();
    let err = linear::check(&register, REGISTER, &mut Budget::unlimited()).unwrap_err();
    assert!(err.to_string().contains("use --model kv"));
}

#[test]
fn sets() {
    let set = ModelKind::Set;
    assert_eq!(
        verdict(
            set,
            "0 invoke add 1\n0 ok add 1\n1 invoke read nil\n1 ok read [1]"
        ),
        Verdict::Pass
    );
    assert_eq!(
        verdict(
            set,
            "0 invoke add 1\n0 ok add 1\n1 invoke read nil\n1 ok read []"
        ),
        Verdict::Fail
    );
    assert_eq!(
        verdict(
            set,
            "0 invoke add 1\n1 invoke read nil\n1 ok read []\n0 ok add 1"
        ),
        Verdict::Pass
    );
    assert_eq!(
        verdict(
            set,
            "0 invoke add 1\n0 info add 1\n1 invoke read nil\n1 ok read [1]"
        ),
        Verdict::Pass
    );
    assert_eq!(
        verdict(
            set,
            "0 invoke add 1\n0 ok add 1\n1 invoke read nil\n1 ok read [1 2]"
        ),
        Verdict::Fail
    );
    let r = check(
        set,
        "0 invoke add 1\n0 ok add 1\n0 invoke add 2\n0 ok add 2\n1 invoke read nil\n1 ok read [2]",
    );
    assert!(
        r.witness
            .unwrap()
            .explanation
            .contains("missing what process 0 added 1")
    );
}

#[test]
fn counters() {
    let c = ModelKind::Counter;
    assert_eq!(
        verdict(
            c,
            "0 invoke add 1\n0 ok add 1\n0 invoke add 2\n0 ok add 2\n1 invoke read nil\n1 ok read 3"
        ),
        Verdict::Pass
    );
    assert_eq!(
        verdict(
            c,
            "0 invoke add 1\n0 ok add 1\n0 invoke add 2\n0 ok add 2\n1 invoke read nil\n1 ok read 2"
        ),
        Verdict::Fail
    );
    assert_eq!(
        verdict(
            c,
            "0 invoke add 1\n1 invoke read nil\n1 ok read 1\n0 ok add 1"
        ),
        Verdict::Pass
    );
    assert_eq!(
        verdict(
            c,
            "0 invoke add 5\n0 info add 5\n1 invoke read nil\n1 ok read 5\n1 invoke read nil\n1 ok read 0"
        ),
        Verdict::Fail
    );
    assert_eq!(
        verdict(
            c,
            "0 invoke add -2\n0 ok add -2\n1 invoke read nil\n1 ok read -2"
        ),
        Verdict::Pass
    );
}

#[test]
fn append_only_lists() {
    let l = ModelKind::ListAppend;
    assert_eq!(
        verdict(
            l,
            "0 invoke append 1\n0 ok append 1\n0 invoke append 2\n0 ok append 2\n1 invoke read nil\n1 ok read [1 2]"
        ),
        Verdict::Pass
    );
    assert_eq!(
        verdict(
            l,
            "0 invoke append 1\n0 ok append 1\n0 invoke append 2\n0 ok append 2\n1 invoke read nil\n1 ok read [2 1]"
        ),
        Verdict::Fail
    );
    assert_eq!(
        verdict(
            l,
            "0 invoke append 1\n1 invoke append 2\n0 ok append 1\n1 ok append 2\n2 invoke read nil\n2 ok read [2 1]"
        ),
        Verdict::Pass
    );
    assert_eq!(
        verdict(
            l,
            "0 invoke append 1\n0 ok append 1\n0 invoke append 2\n0 ok append 2\n1 invoke read nil\n1 ok read [1]"
        ),
        Verdict::Fail
    );
    assert_eq!(
        verdict(l, "1 invoke read nil\n1 ok read nil"),
        Verdict::Pass
    );
}

#[test]
fn jepsen_log_lines_with_timeouts() {
    let log = "INFO  jepsen.core - Running test\n\
        INFO  jepsen.util - 0\t:invoke\t:write\t1\n\
        INFO  jepsen.util - 0\t:ok\t:write\t1\n\
        INFO  jepsen.util - 1\t:invoke\t:read\tnil\n\
        INFO  jepsen.util - 1\t:fail\t:read\t:timed-out\n\
        INFO  jepsen.util - 2\t:invoke\t:cas\t[1 4]\n\
        INFO  jepsen.util - 2\t:info\t:cas\t:timed-out\n\
        INFO  jepsen.util - :nemesis\t:info\t:start\tnil\n\
        INFO  jepsen.util - 3\t:invoke\t:read\tnil\n\
        INFO  jepsen.util - 3\t:ok\t:read\t4\n";
    let history = read_history(log, None).unwrap();
    assert_eq!(
        (history.ops.len(), history.failed, history.nemesis.len()),
        (3, 1, 1)
    );
    let r = linear::check(&history, REGISTER, &mut Budget::unlimited()).unwrap();
    assert_eq!(
        r.verdict,
        Verdict::Pass,
        "the timed-out cas must be assumed to have happened"
    );
}

#[test]
fn operations_the_model_lacks_are_bad_input() {
    let history = read_history(&edn("0 invoke append 1\n0 ok append 1"), None).unwrap();
    let err = linear::check(&history, REGISTER, &mut Budget::unlimited()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 1: the register model has no `append` operation"
    );
}

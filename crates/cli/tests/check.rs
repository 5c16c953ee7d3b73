//! `dsys check` as a user meets it: verdicts, exit codes, bad files.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{TempPath, dsys, stderr, stdout, temp};

fn file(name: &str, text: &str) -> TempPath {
    let path = temp(name);
    std::fs::write(&path, text).unwrap();
    path
}

const STALE: &str = "{:process 0, :type :invoke, :f :write, :value 1}
{:process 0, :type :ok, :f :write, :value 1}
{:process 0, :type :invoke, :f :write, :value 2}
{:process 0, :type :ok, :f :write, :value 2}
{:process 1, :type :invoke, :f :read, :value nil}
{:process 1, :type :ok, :f :read, :value 1}
";

#[test]
fn a_violation_exits_1_with_its_witness() {
    let o = dsys(&["check", &file("stale.edn", STALE)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("linearizable           FAIL"), "{out}");
    assert!(
        out.contains("stale read: process 1 read 1 (lines 5-6)"),
        "{out}"
    );
    let o = dsys(&["check", &file("stale2.edn", STALE), "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["checks"]["linearizable"]["result"], "fail");
    assert_eq!(
        v["checks"]["linearizable"]["witness"]["ops"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    assert_eq!(v["model"], "register");
}

#[test]
fn a_linearizable_history_exits_0() {
    let ok = STALE.replace(
        ":type :ok, :f :read, :value 1}",
        ":type :ok, :f :read, :value 2}",
    );
    let o = dsys(&["check", &file("ok.edn", &ok)]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("linearizable           PASS"));
}

#[test]
fn a_simulated_history_round_trips_through_dsys_check() {
    let h = file("sim.jsonl", "");
    let o = dsys(&[
        "simulate",
        "--protocol",
        "single",
        "--nemesis",
        "crash-restart",
        "--seed",
        "2",
        "--history",
        &h,
        "--format",
        "json",
    ]);
    assert!(o.status.success());
    let sim: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let o = dsys(&["check", &h, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["model"], "kv");
    // The file verdict and the in-run verdict agree, on the same number of operations.
    assert_eq!(v["checks"]["linearizable"], sim["checks"]["linearizable"]);
}

/// Fifty processes whose writes never complete, all observed, then reads that see them
/// in an order no register allows: proving that means exhausting 2^50 subsets.
fn hard_history() -> String {
    let mut h = String::new();
    for p in 0..50 {
        h.push_str(&format!(
            "{{:process {p}, :type :invoke, :f :write, :value {p}}}\n"
        ));
    }
    for (i, v) in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0].iter().enumerate() {
        let p = 100 + i;
        h.push_str(&format!("{{:process {p}, :type :invoke, :f :read, :value nil}}\n{{:process {p}, :type :ok, :f :read, :value {v}}}\n"));
    }
    for (i, v) in (10..50).enumerate() {
        let p = 200 + i;
        h.push_str(&format!("{{:process {p}, :type :invoke, :f :read, :value nil}}\n{{:process {p}, :type :ok, :f :read, :value {v}}}\n"));
    }
    h
}

#[test]
fn a_budget_that_runs_out_gives_unknown_exit_3_never_pass() {
    let o = dsys(&[
        "check",
        &file("hard.edn", &hard_history()),
        "--timeout",
        "300ms",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(3), "{}{}", stdout(&o), stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["checks"]["linearizable"]["result"], "unknown");
    assert!(
        v["checks"]["linearizable"]["reason"]
            .as_str()
            .unwrap()
            .contains("time budget of 300ms ran out")
    );
}

/// Bad input: exit 2, one line naming the file and line, no panic.
fn assert_bad(name: &str, text: &str, args: &[&str], expected: &str) {
    let path = file(name, text);
    let mut all = vec!["check", path.as_str()];
    all.extend_from_slice(args);
    let o = dsys(&all);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{name}: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{name}: {err}");
    assert!(
        err.contains(expected),
        "{name}: expected {expected:?} in {err}"
    );
    assert!(!err.contains("panicked"));
}

#[test]
fn bad_history_files() {
    let truncated = &STALE[..STALE.len() - 20];
    assert_bad(
        "truncated.edn",
        truncated,
        &[],
        "line 6: `{` opened at column 1 is never closed (truncated?)",
    );
    assert_bad(
        "unknown-op.edn",
        "{:process 0, :type :invoke, :f :dequeue, :value nil}\n",
        &[],
        "line 1: unknown operation `:dequeue`",
    );
    assert_bad(
        "orphan.edn",
        "{:process 0, :type :invoke, :f :read, :value nil}\n{:process 3, :type :ok, :f :read, :value 1}\n",
        &[],
        "line 2: ok for process 3, which has no operation in progress",
    );
    assert_bad(
        "garbage.bin",
        "\u{7f}ELF\u{1}\u{2}garbage",
        &[],
        "cannot tell the history format",
    );
    assert_bad(
        "garbage.jsonl",
        "{\"process\": 1, \"type\": \"ok\", \"f\": \"read\", \"value\": tru\n",
        &[],
        "line 1: invalid JSON",
    );
    assert_bad(
        "empty.edn",
        "\n\n",
        &["--input-format", "jepsen-edn"],
        "the history has no events",
    );
    assert_bad(
        "model.edn",
        STALE,
        &["--model", "set"],
        "line 1: the set model has no `write` operation",
    );
    assert_bad(
        "keys.edn",
        "{:process 0, :type :invoke, :f :read, :key \"a\", :value nil}\n{:process 1, :type :invoke, :f :read, :key \"b\", :value nil}\n",
        &["--model", "register"],
        "use --model kv",
    );
    // A file that cannot be read at all is an I/O error (5), not bad input.
    let o = dsys(&["check", "/nonexistent/history.edn"]);
    assert_eq!(o.status.code(), Some(5));
    let o = dsys(&["check", &file("x.edn", STALE), "--checks", "psychic"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("unknown check `psychic`"),
        "{}",
        stderr(&o)
    );
    let o = dsys(&["check", &file("y.edn", STALE), "--timeout", "soon"]);
    assert!(stderr(&o).contains("expected a duration"), "{}", stderr(&o));
}

#[test]
fn hostile_history_files_are_refused_within_bounds() {
    // No line end, ever: refused at the line limit, not read to the end of memory.
    let o = dsys(&["check", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("line 1: longer than 1048576 bytes"),
        "{}",
        stderr(&o)
    );
    // Too large for the limit given.
    assert_bad(
        "large.edn",
        &STALE.repeat(100),
        &["--max-input", "1KiB"],
        "larger than 1024 bytes, the input limit (raise it with --max-input)",
    );
    let o = dsys(&["check", &file("z.edn", STALE), "--max-input", "lots"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("expected a size"), "{}", stderr(&o));
    // Escape sequences in a file come back escaped, never raw, on the terminal.
    let hostile = r#"{"index":0,"time":1,"process":0,"type":"invoke","f":"\u001b]0;owned\u0007","key":1,"value":1}"#;
    let path = file("hostile.jsonl", hostile);
    let o = dsys(&["check", path.as_str()]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains("\\u{1b}]0;owned\\u{7}"), "{err}");
}

/// Two overlapping writes kept as siblings, then a final read of both.
const SIBLINGS: &str = "{:process 0, :type :invoke, :f :write, :value 1}
{:process 1, :type :invoke, :f :write, :value 2}
{:process 0, :type :ok, :f :write, :value 1}
{:process 1, :type :ok, :f :write, :value 2}
{:process 2, :type :invoke, :f :read, :value nil}
{:process 2, :type :ok, :f :read, :value [1 2]}
";

#[test]
fn multi_value_reads_are_judged_as_siblings() {
    let checks = "linearizable,no-lost-writes,no-stale-reads,monotonic-reads";
    let o = dsys(&[
        "check",
        &file("siblings.edn", SIBLINGS),
        "--checks",
        checks,
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["model"], "mv-register");
    for check in ["no-lost-writes", "no-stale-reads", "monotonic-reads"] {
        assert_eq!(v["checks"][check]["result"], "pass", "{check}: {v}");
    }
    let lin = &v["checks"]["linearizable"];
    assert_eq!(lin["result"], "fail");
    assert!(
        lin["witness"]["explanation"]
            .as_str()
            .unwrap()
            .contains("returned several values"),
        "{lin}"
    );
    // One sibling left behind by a later write: that write is lost.
    let lost = SIBLINGS
        .replace(
            "{:process 1, :type :invoke, :f :write, :value 2}\n",
            "",
        )
        .replace(
            "{:process 1, :type :ok, :f :write, :value 2}",
            "{:process 1, :type :invoke, :f :write, :value 2}\n{:process 1, :type :ok, :f :write, :value 2}",
        )
        .replace(":value [1 2]}", ":value [1]}");
    let o = dsys(&[
        "check",
        &file("lost.edn", &lost),
        "--model",
        "mv-register",
        "--checks",
        "no-lost-writes",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("lost write: process 1 wrote 2"),
        "{}",
        stdout(&o)
    );
    // A single value among the siblings of a final read is a one-sibling read.
    let single = SIBLINGS.replace(":value [1 2]}", ":value [2]}");
    let o = dsys(&[
        "check",
        &file("single.edn", &single),
        "--model",
        "mv-register",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let o = dsys(&["check", &file("causal.edn", SIBLINGS), "--checks", "causal"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("check `causal` does not apply to mv-register histories"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn simulate_expect_exits_1_on_a_violation() {
    let o = dsys(&[
        "simulate",
        "--protocol",
        "primary-async",
        "--nemesis",
        "swarm",
        "--seed",
        "1",
        "--expect",
        "linearizable",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).starts_with("error: expected linearizable, but it failed: stale read:"),
        "{}",
        stderr(&o)
    );
    let o = dsys(&[
        "simulate",
        "--protocol",
        "single",
        "--nemesis",
        "swarm",
        "--seed",
        "1",
        "--expect",
        "linearizable",
        "--expect",
        "converged",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

#[test]
fn html_timeline_is_written_beside_the_verdict() {
    let html = temp("timeline.html");
    let o = dsys(&[
        "check",
        &file("stale-html.edn", STALE),
        "--html",
        html.as_str(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("Witness on the timeline") && page.contains("stale read"),
        "{page}"
    );
}

//! `dsys resilience`: the table of patterns against the flaky service, its JSON, and its
//! refusals of bad flags.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout};
use serde_json::Value;

#[test]
fn the_table_has_a_row_per_pattern_and_the_same_seed_gives_the_same_bytes() {
    let o = dsys(&["resilience", "--seconds", "30"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(text.contains("p99 ms"), "{text}");
    for p in [
        "none",
        "timeout",
        "retry",
        "breaker",
        "bulkhead",
        "rate-limit",
        "adaptive",
        "shed",
    ] {
        assert!(
            text.lines().any(|l| l.split_whitespace().next() == Some(p)),
            "{p} missing:\n{text}"
        );
    }
    assert_eq!(stdout(&dsys(&["resilience", "--seconds", "30"])), text);
}

#[test]
fn json_rows_account_for_every_call() {
    let o = dsys(&[
        "resilience",
        "--pattern",
        "breaker",
        "--pattern",
        "retry",
        "--seed",
        "9",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["pattern"], "breaker");
    for r in rows {
        let n = |k: &str| r[k].as_u64().unwrap();
        assert_eq!(n("ok") + n("failed") + n("rejected"), n("calls"), "{r}");
    }
    assert_eq!(doc["traffic"]["seed"], 9);
}

#[test]
fn bad_flags_are_refused_with_exit_2() {
    for args in [
        &["resilience", "--pattern", "hope"][..],
        &["resilience", "--rate", "0"],
        &["resilience", "--seconds", "99999"],
        &["resilience", "--seed", "-1"],
    ] {
        let o = dsys(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(!stderr(&o).is_empty());
    }
    let o = dsys(&["resilience", "--pattern", "hope"]);
    assert!(
        stderr(&o).contains("known: none, timeout"),
        "{}",
        stderr(&o)
    );
}

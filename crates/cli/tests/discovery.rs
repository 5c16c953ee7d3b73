//! `dsys discovery`: the balancing policies replayed, as a table and as JSON, the same
//! bytes for the same seed, and refusals of bad flags.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout};
use serde_json::Value;

#[test]
fn the_table_has_a_row_per_policy_and_the_same_seed_gives_the_same_bytes() {
    let o = dsys(&["discovery"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    for p in ["round-robin", "least-requests", "p2c-peak-ewma"] {
        assert!(
            text.lines().any(|l| l.split_whitespace().next() == Some(p)),
            "{p} missing:\n{text}"
        );
    }
    assert_eq!(stdout(&dsys(&["discovery"])), text, "one seed, one table");
    let other = dsys(&["discovery", "--seed", "2"]);
    assert_ne!(stdout(&other), text);
}

#[test]
fn json_has_the_experiment_and_a_row_per_policy_asked_for() {
    let o = dsys(&[
        "discovery",
        "--policy",
        "round-robin,p2c-peak-ewma",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(doc["experiment"]["requests"], 50_000);
    let rows = doc["rows"].as_array().unwrap();
    let names: Vec<_> = rows.iter().map(|r| r["policy"].as_str().unwrap()).collect();
    assert_eq!(names, ["round-robin", "p2c-peak-ewma"]);
    let p999 = |i: usize| rows[i]["p999_ms"].as_f64().unwrap();
    assert!(
        p999(1) < p999(0) / 5.0,
        "peak EWMA far below round robin at p999"
    );
}

#[test]
fn bad_flags_are_refused_with_the_known_names() {
    for (flag, value, known) in [
        ("--policy", "random", "p2c-peak-ewma"),
        ("--seed", "x", "x"),
        ("--format", "svg", "json"),
    ] {
        let o = dsys(&["discovery", &format!("{flag}={value}")]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&o).contains(known), "{flag} {value}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

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
        let rows = text
            .lines()
            .filter(|l| l.split_whitespace().next() == Some(p))
            .count();
        assert_eq!(rows, 2, "{p}: a row in each experiment:\n{text}");
    }
    assert!(
        text.contains("tower: ") && text.contains("linkerd: "),
        "{text}"
    );
    assert_eq!(stdout(&dsys(&["discovery"])), text, "one seed, one table");
    let other = dsys(&["discovery", "--seed", "2"]);
    assert_ne!(stdout(&other), text);
}

#[test]
fn json_has_each_experiment_asked_for_and_a_row_per_policy() {
    let o = dsys(&[
        "discovery",
        "--experiment",
        "tower",
        "--policy",
        "round-robin,p2c-peak-ewma",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let replays = doc["replays"].as_array().unwrap();
    assert_eq!(replays.len(), 1);
    assert_eq!(replays[0]["experiment"]["name"], "tower");
    let rows = replays[0]["rows"].as_array().unwrap();
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
        ("--experiment", "envoy", "linkerd"),
        ("--seed", "x", "x"),
        ("--format", "png", "svg"),
    ] {
        let o = dsys(&["discovery", &format!("{flag}={value}")]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&o).contains(known), "{flag} {value}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

#[test]
fn svg_charts_every_experiment_and_policy_in_one_picture() {
    let o = dsys(&["discovery", "--format", "svg"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg = stdout(&o);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    // Three charts (tower, linkerd, registry) nested in one.
    assert_eq!(svg.matches("<svg").count(), 4, "{svg}");
    assert_eq!(svg.matches("</svg>").count(), 4);
    for text in [
        "p2c-peak-ewma",
        "consistent-hash",
        "over 1000 ms, % of requests",
        "Eureka heartbeats, ejection",
    ] {
        assert!(svg.contains(text), "{text}");
    }
    // Bars: 4 policies x (3 + 4) panels, and 4 registries x 2.
    assert_eq!(svg.matches("<rect x=").count(), 4 * 7 + 4 * 2);
    let one = dsys(&["discovery", "--experiment", "tower", "--format", "svg"]);
    assert_eq!(stdout(&one).matches("<svg").count(), 2, "one chart");
}

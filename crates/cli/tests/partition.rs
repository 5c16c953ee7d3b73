//! `dsys partition`: the table of placements, its JSON and SVG, and its refusals of bad
//! flags.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout};
use serde_json::Value;

#[test]
fn the_table_has_a_row_per_algorithm() {
    let o = dsys(&["partition", "--nodes", "20", "--keys", "20000"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("peak/avg") && text.contains("moved on add"),
        "{text}"
    );
    for a in ["ring", "jump", "rendezvous", "maglev", "anchor", "bounded"] {
        assert!(
            text.lines().any(|l| l.split_whitespace().next() == Some(a)),
            "{a} missing:\n{text}"
        );
    }
}

/// Everything but the measured lookup time, as JSON.
fn figures(args: &[&str]) -> Value {
    let o = dsys(args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let mut doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    for row in doc["rows"].as_array_mut().unwrap() {
        row.as_object_mut().unwrap().remove("lookup_ns");
    }
    doc
}

#[test]
fn json_figures_repeat_for_the_same_flags() {
    let args = [
        "partition",
        "--nodes",
        "10",
        "--keys",
        "5000",
        "--distribution",
        "zipf:0.99",
        "--algorithm",
        "maglev",
        "--algorithm",
        "anchor",
        "--format",
        "json",
    ];
    let doc = figures(&args);
    assert_eq!(doc, figures(&args));
    let rows = doc["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["algorithm"], "maglev");
    assert_eq!(doc["setup"]["distribution"]["exponent"], 0.99);
    for row in rows {
        let moved = row["moved_on_add"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&moved), "{row}");
    }
}

#[test]
fn svg_draws_every_algorithm() {
    let o = dsys(&[
        "partition",
        "--nodes",
        "8",
        "--keys",
        "2000",
        "--format",
        "svg",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg = stdout(&o);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("bounded") && svg.contains("peak / average"));
}

#[test]
fn a_join_plan_copies_exactly_the_minimum() {
    const JOIN: [&str; 8] = [
        "partition",
        "--nodes",
        "12",
        "--keys",
        "1000",
        "--plan",
        "--shards",
        "300",
    ];
    let json = [
        &JOIN[..],
        &["--shard-bytes", "10", "--replicas", "2", "--format", "json"],
    ]
    .concat();
    let o = dsys(&json);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let doc: Value = serde_json::from_str(&stdout(&o)).unwrap();
    let plan = doc["plan"].as_array().unwrap();
    assert_eq!(plan.len(), 5, "every algorithm but bounded loads");
    for row in plan {
        assert_eq!(row["bytes_moved"], row["minimum_bytes"], "{row}");
        assert!(row["waves"].as_u64().unwrap() > 0, "{row}");
    }
    let text = stdout(&dsys(&JOIN));
    assert!(
        text.contains("node-12 joins") && text.contains("minimum bytes"),
        "{text}"
    );
}

#[test]
fn fewer_virtual_nodes_unbalance_the_ring() {
    let peak = |vnodes: &str| {
        let doc = figures(&[
            "partition",
            "--nodes",
            "10",
            "--keys",
            "50000",
            "--algorithm",
            "ring",
            "--vnodes",
            vnodes,
            "--format",
            "json",
        ]);
        assert_eq!(doc["setup"]["vnodes"], vnodes.parse::<u64>().unwrap());
        doc["rows"][0]["peak_over_average"].as_f64().unwrap()
    };
    let (one, ten, hundred) = (peak("1"), peak("10"), peak("100"));
    assert!(
        one > ten && ten > hundred && hundred < 1.25,
        "{one} {ten} {hundred}"
    );
    assert!(one > 2.0, "one point per node: {one}");
}

#[test]
fn bad_flags_are_refused_with_exit_2() {
    for args in [
        &["partition", "--nodes", "1"][..],
        &["partition", "--keys", "0"],
        &["partition", "--distribution", "gaussian"],
        &["partition", "--distribution", "zipf:-1"],
        &["partition", "--algorithm", "consistent"],
        &["partition", "--zones", "0"],
        &["partition", "--format", "png"],
        &["partition", "--nodes", "4", "--plan", "--replicas", "9"],
        &["partition", "--plan", "--per-node", "0"],
        &["partition", "--plan", "--shards", "0"],
        &["partition", "--vnodes", "0"],
        &["partition", "--vnodes", "10001"],
    ] {
        let o = dsys(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).is_empty(), "{args:?}: says why");
        assert!(stdout(&o).is_empty(), "{args:?}: prints no table");
    }
}

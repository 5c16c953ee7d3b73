//! `dsys cache`: the strategies against the simulated database, as a table and as JSON,
//! the race and its fix on one seed, and refusals of bad flags.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout};
use serde_json::Value;

#[test]
fn the_table_has_a_row_per_strategy_and_the_same_seed_gives_the_same_bytes() {
    let args = ["cache", "--seconds", "35", "--reads", "300"];
    let o = dsys(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let text = stdout(&o);
    for s in [
        "no-cache",
        "ttl",
        "cache-aside",
        "cache-aside-lease",
        "write-through",
        "refresh-ahead",
        "xfetch",
        "write-behind",
        "write-behind-journal",
    ] {
        assert!(
            text.lines().any(|l| l.split_whitespace().next() == Some(s)),
            "{s} missing:\n{text}"
        );
    }
    assert!(text.lines().all(|l| l.chars().count() <= 100), "{text}");
    assert_eq!(stdout(&dsys(&args)), text);
}

#[test]
fn one_seed_shows_the_cache_aside_race_and_the_lease_fixing_it() {
    let o = dsys(&[
        "cache",
        "--incidents",
        "stalls",
        "--strategy",
        "cache-aside,cache-aside-lease",
        "--seconds",
        "25",
        "--format",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = v["rows"].as_array().unwrap();
    let stale = |i: usize| rows[i]["stale_reads"].as_u64().unwrap();
    assert_eq!(rows[0]["strategy"], "cache-aside");
    assert!(stale(0) > 0, "the race shows: {}", rows[0]);
    assert!(
        rows[0]["first_stale_read"]
            .as_str()
            .unwrap()
            .starts_with("stale read:")
    );
    assert_eq!(rows[1]["strategy"], "cache-aside-lease");
    assert_eq!(stale(1), 0, "the lease refuses the stale fill: {}", rows[1]);
    assert_eq!(v["setup"]["incidents"]["restart"], false);
}

#[test]
fn svg_charts_every_strategy() {
    let o = dsys(&[
        "cache",
        "--seconds",
        "12",
        "--reads",
        "100",
        "--format",
        "svg",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let svg = stdout(&o);
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("write-behind-journal") && svg.contains("stale reads"));
    assert_eq!(
        svg.matches("<rect x=").count(),
        9 * 5,
        "a bar per strategy and panel"
    );
}

#[test]
fn bad_flags_are_refused_with_the_known_names() {
    for (flag, value, known) in [
        ("--strategy", "memcache", "cache-aside-lease"),
        ("--incidents", "fire", "lost-deletes"),
        ("--reads", "0", "0"),
        ("--ttl-ms", "0", "0"),
        ("--ttl-ms", "-5", "-5"),
    ] {
        // `--flag=value`, so a negative number is the flag's value, not a flag.
        let o = dsys(&["cache", &format!("{flag}={value}")]);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&o).contains(known), "{flag} {value}: {}", stderr(&o));
        assert!(o.stdout.is_empty());
    }
}

//! `dsys design --fix` and `--compare`: the ways out of contradictions, made and
//! re-designed; and what changes between two specs' designs.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout, temp};

const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/specs");

/// Every fix of every contradiction fixture, made with `--fix N`, resolves its
/// contradiction: the fixed spec's design no longer has it, and holds together when the
/// fix says so.
#[test]
fn every_fix_made_resolves_its_contradiction() {
    let mut fixtures: Vec<_> = std::fs::read_dir(FIXTURES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    fixtures.sort();
    assert!(fixtures.len() >= 3);
    let mut kinds = std::collections::BTreeSet::new();
    for fixture in fixtures {
        let path = fixture.display().to_string();
        let o = dsys(&["design", &path, "--format", "json"]);
        assert_eq!(o.status.code(), Some(1), "{path}");
        let design: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        let fixes = design["fixes"].as_array().unwrap();
        assert!(!fixes.is_empty(), "{path}: no fix");
        for fix in fixes {
            let number = fix["number"].to_string();
            kinds.insert(fix["check"].as_str().unwrap().to_string());
            let made = dsys(&["design", &path, "--fix", &number]);
            let left = fix["contradictions_left"].as_u64().unwrap();
            assert_eq!(
                made.status.code(),
                Some(if left == 0 { 0 } else { 1 }),
                "{path} fix {number}"
            );
            let file = temp("fixed.toml");
            std::fs::write(file.path(), stdout(&made)).unwrap();
            let o = dsys(&["design", &file, "--format", "json"]);
            assert_eq!(
                o.status.code(),
                Some(if left == 0 { 0 } else { 1 }),
                "{path} fix {number}: {}",
                stderr(&o)
            );
            let fixed: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
            let still = fixed["checks"].as_array().unwrap().iter().any(|c| {
                c["status"] == "contradiction"
                    && c["check"] == fix["check"]
                    && c["subject"] == fix["subject"]
            });
            assert!(
                !still,
                "{path} fix {number} ({}) leaves its contradiction",
                fix["change"]
            );
        }
    }
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["availability", "latency", "latency-budget", "quorum"],
        "a fixture per kind of contradiction"
    );
}

/// Two regions that must survive a region: a third region and a witness are offered.
#[test]
fn two_regions_surviving_a_region_are_offered_a_third_place() {
    let spec = format!("{FIXTURES}/quorum-two-regions.toml");
    let o = dsys(&["design", &spec]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("fix 1: add a third region (third-region) for the replicas of bookings"),
        "{out}"
    );
    assert!(
        out.contains(
            "fix 2: add a witness in a third location (witness) for the group of bookings"
        ),
        "{out}"
    );
    assert!(
        out.contains("re-checked: the design holds together"),
        "{out}"
    );
    let o = dsys(&["design", &spec, "--fix", "9"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("no fix 9: the design has fixes 1 to 3"),
        "{}",
        stderr(&o)
    );
}

/// The URL shortener without `freshness`: reads of links become linearizable, which the
/// far region's 20 ms objective cannot meet; --compare names every decision that moves.
#[test]
fn compare_names_what_a_spec_change_moves() {
    let spec = format!("{SPECS}/url-shortener.toml");
    let text = std::fs::read_to_string(&spec).unwrap();
    let other = temp("other.toml");
    std::fs::write(other.path(), text.replace("freshness = \"eventual\"\n", "")).unwrap();
    let o = dsys(&["design", &spec, "--compare", &other]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let out = stdout(&o);
    for line in [
        "  contradictions: 0 -> 1",
        "  ~ links/consistency",
        "      rule: CONS-ORDERED-WRITES -> CONS-LINEARIZABLE",
        "  ~ links/caching",
        "    latency follow a link (read links in us-east): ok -> CONTRADICTION",
    ] {
        assert!(out.contains(line), "{line:?} not in {out}");
    }
    let o = dsys(&["design", &spec, "--compare", &spec, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0));
    let same: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(same["changed"], serde_json::json!([]));
    assert_eq!(same["checks"], serde_json::json!([]));
}

//! `dsys explain`: every rule listed; one rule in full; an unknown id named with the
//! rules it may have meant.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout};

#[test]
fn every_rule_is_listed_with_what_fires_it() {
    let o = dsys(&["explain"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    for rule in dsys_advisor::rules::ALL {
        assert!(
            out.lines()
                .any(|l| l.starts_with(rule.id) && l.ends_with(rule.triggers)),
            "{} not listed",
            rule.id
        );
    }
    let o = dsys(&["explain", "--format", "json"]);
    let all: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(
        all.as_array().unwrap().len(),
        dsys_advisor::rules::ALL.len()
    );
}

#[test]
fn one_rule_in_full() {
    let o = dsys(&["explain", "rep-consensus"]);
    assert_eq!(o.status.code(), Some(0));
    let out = stdout(&o);
    assert!(
        out.starts_with("REP-CONSENSUS\n  Linearizable data is replicated by consensus"),
        "{out}"
    );
    assert!(out.contains("\n  fires when: writes in one order"), "{out}");
    assert!(
        out.contains("\n  source: D. Ongaro, J. Ousterhout"),
        "{out}"
    );
    assert!(
        out.contains(
            "\n  demonstrated by: dsys simulate --protocol leader-follower --set replication=async"
        ),
        "{out}"
    );
    let o = dsys(&["explain", "CONS-ORDERED-WRITES", "--format", "json"]);
    let rule: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(rule["id"], "CONS-ORDERED-WRITES");
    assert_eq!(rule["evidence"][0]["exit_code"], 0);
}

#[test]
fn an_unknown_rule_names_its_neighbours() {
    let o = dsys(&["explain", "cons-strong"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o)
            .contains("no rule cons-strong: did you mean CONS-LINEARIZABLE, CONS-ORDERED-WRITES"),
        "{}",
        stderr(&o)
    );
    let o = dsys(&["explain", "\u{1b}[2J"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!stderr(&o).contains('\u{1b}'), "{}", stderr(&o));
}

//! Causal consistency on hand-built histories: each bad pattern, and what is allowed.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_check::budget::Budget;
use dsys_check::report::{CheckName, CheckResult, run};
use dsys_check::{ModelKind, Verdict, read_history};

/// `P TYPE F KEY VALUE` per line.
fn causal(lines: &str) -> CheckResult {
    let text: String = lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| {
            let p: Vec<&str> = l.splitn(5, ' ').collect();
            format!(
                "{{:process {}, :type :{}, :f :{}, :key \"{}\", :value {}}}\n",
                p[0], p[1], p[2], p[3], p[4]
            )
        })
        .collect();
    let history = read_history(&text, None).unwrap();
    run(
        &history,
        ModelKind::Kv,
        &[CheckName::Causal],
        &mut Budget::unlimited(),
    )
    .unwrap()
    .checks["causal"]
        .clone()
}

fn explanation(r: &CheckResult) -> String {
    r.witness.as_ref().unwrap().explanation.clone()
}

#[test]
fn causally_consistent_chains_pass() {
    let h = "0 invoke write x 1\n0 ok write x 1\n1 invoke read x nil\n1 ok read x 1\n1 invoke write y 2\n1 ok write y 2\n\
             2 invoke read y nil\n2 ok read y 2\n2 invoke read x nil\n2 ok read x 1";
    assert_eq!(causal(h).result, Verdict::Pass);
    // Stale with respect to real time but not to causality: allowed.
    let h = "0 invoke write x 1\n0 ok write x 1\n0 invoke write x 2\n0 ok write x 2\n1 invoke read x nil\n1 ok read x 1";
    assert_eq!(causal(h).result, Verdict::Pass);
}

#[test]
fn a_read_of_a_causally_overwritten_value_fails() {
    let h = "0 invoke write x 1\n0 ok write x 1\n0 invoke write x 2\n0 ok write x 2\n\
             1 invoke read x nil\n1 ok read x 2\n1 invoke read x nil\n1 ok read x 1";
    let r = causal(h);
    assert_eq!(r.result, Verdict::Fail);
    assert!(
        explanation(&r).starts_with("causal violation: process 1 read 1"),
        "{}",
        explanation(&r)
    );
    assert_eq!(r.witness.unwrap().ops.len(), 3);
}

#[test]
fn nil_after_a_causally_earlier_write_fails_across_keys() {
    // p2 saw y=2, which p1 wrote after seeing x=1; so x=1 is in p2's causal past.
    let h = "0 invoke write x 1\n0 ok write x 1\n1 invoke read x nil\n1 ok read x 1\n1 invoke write y 2\n1 ok write y 2\n\
             2 invoke read y nil\n2 ok read y 2\n2 invoke read x nil\n2 ok read x nil";
    let r = causal(h);
    assert_eq!(r.result, Verdict::Fail);
    assert!(explanation(&r).contains("read nil"), "{}", explanation(&r));
}

#[test]
fn cycles_and_thin_air_fail() {
    // Each process reads the value the other writes only afterwards.
    let cycle = "0 invoke read x nil\n1 invoke read y nil\n0 ok read x 1\n1 ok read y 1\n0 invoke write y 1\n1 invoke write x 1\n0 ok write y 1\n1 ok write x 1";
    let r = causal(cycle);
    assert_eq!(r.result, Verdict::Fail);
    assert!(
        explanation(&r).starts_with("causal cycle"),
        "{}",
        explanation(&r)
    );
    let thin = causal("0 invoke read x nil\n0 ok read x 9");
    assert!(explanation(&thin).starts_with("thin-air read"));
}

#[test]
fn an_unseen_indeterminate_write_overwrites_nothing() {
    // The same process reads 1 after its write of 2 timed out: the write may never have
    // happened, so this is not a read of a causally overwritten value.
    let h = "0 invoke write x 1\n0 ok write x 1\n0 invoke write x 2\n0 info write x 2\n\
             0 invoke read x nil\n0 ok read x 1";
    assert_eq!(causal(h).result, Verdict::Pass);
    // Once someone saw 2, it happened.
    let seen = "0 invoke write x 1\n0 ok write x 1\n0 invoke write x 2\n0 info write x 2\n\
                1 invoke read x nil\n1 ok read x 2\n0 invoke read x nil\n0 ok read x 1";
    assert_eq!(causal(seen).result, Verdict::Fail);
}

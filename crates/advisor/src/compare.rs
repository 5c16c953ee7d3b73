//! `dsys design SPEC --compare OTHER`: what changes between two specs' designs. Decisions
//! are matched by id (`orders/replication`), checks by check and subject; what the first
//! has and the second lacks is removed, the reverse added, and a decision whose choice,
//! rule or settings differ is changed, with each difference named.

use crate::design::{CheckStatus, Decision, Design};
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write;

/// One decision that differs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Changed {
    /// Its id.
    pub id: String,
    /// What differs, each as `what: before -> after`.
    pub differences: Vec<String>,
}

/// One check whose verdict differs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Verdict {
    /// The check.
    pub check: String,
    /// Its subject.
    pub subject: String,
    /// Before (`None`: the first design has no such check).
    pub before: Option<CheckStatus>,
    /// After (`None`: the second has none).
    pub after: Option<CheckStatus>,
}

/// What changes from one design to another.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Comparison {
    /// The two systems.
    pub systems: [String; 2],
    /// The availability targets, percent.
    pub availability_targets: [f64; 2],
    /// Decisions only the second design makes.
    pub added: Vec<String>,
    /// Decisions only the first makes.
    pub removed: Vec<String>,
    /// Decisions both make, differently.
    pub changed: Vec<Changed>,
    /// Checks whose verdict differs (or that only one design has).
    pub checks: Vec<Verdict>,
    /// Contradictions in each.
    pub contradictions: [usize; 2],
}

fn differences(a: &Decision, b: &Decision) -> Vec<String> {
    let mut out = Vec::new();
    if a.choice != b.choice {
        out.push(format!("choice: {} -> {}", a.choice, b.choice));
    }
    if a.rule.id != b.rule.id {
        out.push(format!("rule: {} -> {}", a.rule.id, b.rule.id));
    }
    let keys: BTreeSet<&String> = a.settings.keys().chain(b.settings.keys()).collect();
    for key in keys {
        match (a.settings.get(key), b.settings.get(key)) {
            (Some(x), Some(y)) if x != y => out.push(format!("{key}: {x} -> {y}")),
            (Some(x), None) => out.push(format!("{key}: {x} -> (none)")),
            (None, Some(y)) => out.push(format!("{key}: (none) -> {y}")),
            _ => {}
        }
    }
    out
}

/// What changes from `a` to `b`.
pub fn compare(a: &Design, b: &Design) -> Comparison {
    let find = |design: &'_ Design, id: &str| design.decisions.iter().position(|d| d.id == id);
    let mut changed = Vec::new();
    let mut removed = Vec::new();
    for d in &a.decisions {
        match find(b, &d.id) {
            Some(i) => {
                let differences = differences(d, &b.decisions[i]);
                if !differences.is_empty() {
                    changed.push(Changed {
                        id: d.id.clone(),
                        differences,
                    });
                }
            }
            None => removed.push(d.id.clone()),
        }
    }
    let added = b
        .decisions
        .iter()
        .filter(|d| find(a, &d.id).is_none())
        .map(|d| d.id.clone())
        .collect();
    let status = |design: &Design, check: &str, subject: &str| {
        design
            .checks
            .iter()
            .find(|c| c.check == check && c.subject == subject)
            .map(|c| c.status)
    };
    let mut seen = BTreeSet::new();
    let mut checks = Vec::new();
    for c in a.checks.iter().chain(&b.checks) {
        if !seen.insert((c.check, c.subject.clone())) {
            continue;
        }
        let (before, after) = (
            status(a, c.check, &c.subject),
            status(b, c.check, &c.subject),
        );
        if before != after {
            checks.push(Verdict {
                check: c.check.to_string(),
                subject: c.subject.clone(),
                before,
                after,
            });
        }
    }
    Comparison {
        systems: [a.system.clone(), b.system.clone()],
        availability_targets: [a.availability_target_percent, b.availability_target_percent],
        added,
        removed,
        changed,
        checks,
        contradictions: [a.contradictions().count(), b.contradictions().count()],
    }
}

fn word(status: Option<CheckStatus>) -> &'static str {
    match status {
        None => "absent",
        Some(CheckStatus::Ok) => "ok",
        Some(CheckStatus::Unknown) => "unknown",
        Some(CheckStatus::Contradiction) => "CONTRADICTION",
    }
}

/// The comparison as terminal text; `names` are the two spec files.
pub fn text(c: &Comparison, names: [&str; 2]) -> String {
    let mut out = format!("{} -> {}\n", names[0], names[1]);
    if c.availability_targets[0] != c.availability_targets[1] {
        let _ = writeln!(
            out,
            "  availability target: {}% -> {}%",
            c.availability_targets[0], c.availability_targets[1]
        );
    }
    let _ = writeln!(
        out,
        "  contradictions: {} -> {}",
        c.contradictions[0], c.contradictions[1]
    );
    if c.added.is_empty() && c.removed.is_empty() && c.changed.is_empty() && c.checks.is_empty() {
        out.push_str("  the designs are the same\n");
        return out;
    }
    for d in &c.changed {
        let _ = writeln!(out, "\n  ~ {}", d.id);
        for line in &d.differences {
            let _ = writeln!(out, "      {line}");
        }
    }
    for id in &c.added {
        let _ = writeln!(out, "\n  + {id}");
    }
    for id in &c.removed {
        let _ = writeln!(out, "\n  - {id}");
    }
    if !c.checks.is_empty() {
        let _ = writeln!(out, "\n  checks");
        for v in &c.checks {
            let _ = writeln!(
                out,
                "    {} {}: {} -> {}",
                v.check,
                v.subject,
                word(v.before),
                word(v.after)
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::spec;

    fn links(extra: &str) -> Design {
        crate::design(&spec(&format!(
            "[[data]]\nname = \"d\"\nkind = \"catalog\"\ninvariants = [\"unique\"]\n{extra}\n\n\
             [[service]]\nname = \"s\"\nregions = [\"eu\"]\nwrites = [\"d\"]\n\n\
             [[service]]\nname = \"r\"\nregions = [\"us\"]\nreads = [\"d\"]\n"
        )))
    }

    #[test]
    fn a_changed_freshness_changes_the_decisions_it_touches() {
        let before = links("");
        let after = links("freshness = \"eventual\"");
        let c = compare(&before, &after);
        let consistency = c.changed.iter().find(|d| d.id == "d/consistency").unwrap();
        assert!(
            consistency
                .differences
                .contains(&"rule: CONS-LINEARIZABLE -> CONS-ORDERED-WRITES".to_string()),
            "{consistency:?}"
        );
        let replication = c.changed.iter().find(|d| d.id == "d/replication").unwrap();
        assert!(
            replication
                .differences
                .iter()
                .any(|l| l.starts_with("learners: (none) -> ")),
            "{replication:?}"
        );
        let t = text(&c, ["a.toml", "b.toml"]);
        assert!(
            t.starts_with("a.toml -> b.toml\n  contradictions: 0 -> 0\n"),
            "{t}"
        );
        assert!(t.contains("\n  ~ d/consistency\n"), "{t}");
        let same = compare(&before, &before);
        assert!(text(&same, ["a", "a"]).ends_with("the designs are the same\n"));
    }
}

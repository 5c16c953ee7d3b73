//! A design as terminal text or Markdown (JSON is its serde form).

use crate::design::{CheckStatus, Decision, Design, Rule, Topic};
use std::collections::BTreeMap;
use std::fmt::Write;

const TOPICS: [Topic; 8] = [
    Topic::Cap,
    Topic::Consistency,
    Topic::Replication,
    Topic::Partitioning,
    Topic::Transactions,
    Topic::Caching,
    Topic::Resilience,
    Topic::Discovery,
];

fn status_word(status: CheckStatus) -> &'static str {
    match status {
        CheckStatus::Ok => "ok",
        CheckStatus::Contradiction => "CONTRADICTION",
        CheckStatus::Unknown => "unknown",
    }
}

/// The rules the design used, by id, in order of first use.
fn rules_used(design: &Design) -> Vec<Rule> {
    let mut seen = BTreeMap::new();
    let mut out = Vec::new();
    for d in &design.decisions {
        if seen.insert(d.rule.id, ()).is_none() {
            out.push(d.rule);
        }
    }
    out
}

/// Terminal text: decisions by topic, then checks, then the rules and their sources.
pub fn text(design: &Design) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "design for {}: availability target {}%, error budget {:.1} min/month",
        design.system, design.availability_target_percent, design.error_budget_minutes_per_month
    );
    for topic in TOPICS {
        let decisions: Vec<&Decision> = design
            .decisions
            .iter()
            .filter(|d| d.topic == topic)
            .collect();
        if decisions.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n{}", topic.title());
        for d in decisions {
            let _ = writeln!(out, "  {}: {}  [{}]", d.subject, d.choice, d.rule.id);
            for (k, v) in &d.settings {
                let _ = writeln!(out, "      {k}: {v}");
            }
            for b in &d.because {
                let _ = writeln!(out, "      because {b}");
            }
            for r in &d.rejected {
                let _ = writeln!(out, "      not {}: {}", r.alternative, r.why);
            }
            for e in &d.evidence {
                let _ = writeln!(
                    out,
                    "      see: {} (exit {}: {})",
                    e.command, e.exit_code, e.shows
                );
            }
        }
    }
    let _ = writeln!(out, "\nChecks");
    for c in &design.checks {
        let _ = writeln!(
            out,
            "  {:<13} {:<13} {}: {}",
            status_word(c.status),
            c.check,
            c.subject,
            c.detail
        );
    }
    let _ = writeln!(out, "\nRules");
    for r in rules_used(design) {
        let _ = writeln!(
            out,
            "  {}: {}\n      source: {}",
            r.id, r.statement, r.citation
        );
    }
    let contradictions = design.contradictions().count();
    if contradictions > 0 {
        let _ = writeln!(
            out,
            "\n{contradictions} contradiction{} found",
            if contradictions == 1 { "" } else { "s" }
        );
    }
    out
}

/// Markdown: the same content, with headings and tables.
pub fn markdown(design: &Design) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# Design: {}\n", design.system);
    let _ = writeln!(
        out,
        "Availability target {}% (error budget {:.1} minutes per 30-day month).",
        design.availability_target_percent, design.error_budget_minutes_per_month
    );
    for topic in TOPICS {
        let decisions: Vec<&Decision> = design
            .decisions
            .iter()
            .filter(|d| d.topic == topic)
            .collect();
        if decisions.is_empty() {
            continue;
        }
        let _ = writeln!(out, "\n## {}\n", topic.title());
        for d in decisions {
            let _ = writeln!(out, "### {}: {}\n", d.subject, d.choice);
            let _ = writeln!(out, "Rule `{}`: {}\n", d.rule.id, d.rule.statement);
            for b in &d.because {
                let _ = writeln!(out, "- because {b}");
            }
            for (k, v) in &d.settings {
                let _ = writeln!(out, "- {k}: {v}");
            }
            for r in &d.rejected {
                let _ = writeln!(out, "- rejected **{}**: {}", r.alternative, r.why);
            }
            for e in &d.evidence {
                let _ = writeln!(
                    out,
                    "- demonstrated by `{}` (exit {}): {}",
                    e.command, e.exit_code, e.shows
                );
            }
            let _ = writeln!(out);
        }
    }
    let _ = writeln!(
        out,
        "## Checks\n\n| status | check | subject | numbers |\n| --- | --- | --- | --- |"
    );
    for c in &design.checks {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            status_word(c.status),
            c.check,
            c.subject,
            c.detail.replace('|', "\\|")
        );
    }
    let _ = writeln!(out, "\n## Sources\n");
    for r in rules_used(design) {
        let _ = writeln!(out, "- `{}`: {}", r.id, r.citation);
    }
    out
}

/// The first line of every decision record dsys writes: how a later run knows which
/// files in the folder are its own to replace or remove.
pub const MADR_MARKER: &str =
    "<!-- generated by dsys design: edit the spec and regenerate, not this file -->";

/// One MADR decision record per decision, as (file name, content). File names come from
/// the decision ids, so regenerating replaces the same files instead of adding new ones.
pub fn madr(design: &Design) -> Vec<(String, String)> {
    design
        .decisions
        .iter()
        .map(|d| (format!("{}.md", slug(&d.id)), madr_record(design, d)))
        .collect()
}

/// Lower-case letters, digits and single dashes.
fn slug(id: &str) -> String {
    let mut out = String::new();
    for c in id.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

fn madr_record(design: &Design, d: &Decision) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{MADR_MARKER}");
    let _ = writeln!(out, "# {}: {}\n", d.subject, d.choice);
    let _ = writeln!(out, "* Status: proposed");
    let _ = writeln!(out, "* Deciders: `dsys design`, rule `{}`", d.rule.id);
    let _ = writeln!(out, "* System: {}\n", design.system);
    let _ = writeln!(out, "## Context and Problem Statement\n");
    let _ = writeln!(out, "{} for {}.\n", d.topic.title(), d.subject);
    let _ = writeln!(out, "## Decision Drivers\n");
    for b in &d.because {
        let _ = writeln!(out, "* {b}");
    }
    let _ = writeln!(out, "\n## Considered Options\n");
    let _ = writeln!(out, "* {}", d.choice);
    for r in &d.rejected {
        let _ = writeln!(out, "* {}", r.alternative);
    }
    let _ = writeln!(out, "\n## Decision Outcome\n");
    let _ = writeln!(
        out,
        "Chosen option: \"{}\", because {}\n",
        d.choice, d.rule.statement
    );
    if !d.settings.is_empty() {
        let _ = writeln!(out, "### Settings\n");
        for (k, v) in &d.settings {
            let _ = writeln!(out, "* {k}: {v}");
        }
        let _ = writeln!(out);
    }
    if !d.rejected.is_empty() {
        let _ = writeln!(out, "## Pros and Cons of the Options\n");
        for r in &d.rejected {
            let _ = writeln!(out, "### {}\n\n* Bad, because {}\n", r.alternative, r.why);
        }
    }
    let _ = writeln!(out, "## Links\n");
    let _ = writeln!(out, "* Source: {}", d.rule.citation);
    for e in &d.evidence {
        let _ = writeln!(
            out,
            "* Demonstrated by `{}` (exit {}): {}",
            e.command, e.exit_code, e.shows
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::data;

    #[test]
    fn records_are_named_by_decision_and_carry_the_marker() {
        let design = crate::design(&data("money", ""));
        let records = madr(&design);
        assert_eq!(records.len(), design.decisions.len());
        let names: std::collections::BTreeSet<_> = records.iter().map(|(n, _)| n.clone()).collect();
        assert_eq!(names.len(), records.len(), "file names are unique");
        let (name, text) = records
            .iter()
            .find(|(n, _)| n == "d-consistency.md")
            .unwrap();
        assert_eq!(name, "d-consistency.md");
        assert!(text.starts_with(MADR_MARKER));
        assert!(text.contains("Chosen option: \"linearizable\", because Data whose invariant"));
        assert!(text.contains("### sequential\n\n* Bad, because"));
        assert_eq!(slug("api -> orders/resilience"), "api-orders-resilience");
    }
}

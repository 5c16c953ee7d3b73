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

//! A design as terminal text, Markdown, a self-contained HTML page, or MADR decision
//! records (JSON is its serde form).

use crate::design::{CheckStatus, Decision, Design, Rule, Topic};
use html_escape::encode_quoted_attribute;
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

/// The decisions grouped by topic, in report order, topics without decisions left out.
fn by_topic(design: &Design) -> Vec<(Topic, Vec<&Decision>)> {
    TOPICS
        .into_iter()
        .map(|topic| {
            let decisions = design
                .decisions
                .iter()
                .filter(|d| d.topic == topic)
                .collect();
            (topic, decisions)
        })
        .filter(|(_, decisions): &(Topic, Vec<&Decision>)| !decisions.is_empty())
        .collect()
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
    out.push_str(&summary(design));
    for (topic, decisions) in by_topic(design) {
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
        for f in design.fixes.iter().filter(|f| f.resolves(c)) {
            let _ = writeln!(
                out,
                "      fix {}: {}\n          cost: {}\n          {}",
                f.number,
                f.change,
                f.cost,
                f.rechecked()
            );
            for line in &f.diff {
                let _ = writeln!(out, "          {line}");
            }
        }
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

/// Width the summary wraps at.
const SUMMARY_WIDTH: usize = 100;

/// One screen before the details: per subject (data class, service, call) its decisions
/// in report order, then the checks' tally and the verdict.
pub fn summary(design: &Design) -> String {
    // Subjects in order of first appearance, found by name through an index.
    let mut subjects: Vec<(&str, Vec<&str>)> = Vec::new();
    let mut at: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, decisions) in by_topic(design) {
        for d in decisions {
            match at.get(d.subject.as_str()) {
                Some(&i) => subjects[i].1.push(&d.choice),
                None => {
                    at.insert(&d.subject, subjects.len());
                    subjects.push((&d.subject, vec![&d.choice]));
                }
            }
        }
    }
    let mut out = String::from("\nSummary\n");
    let width = subjects.iter().map(|(s, _)| s.len()).max().unwrap_or(0);
    for (subject, choices) in &subjects {
        let indent = " ".repeat(width + 4);
        let mut line = format!("  {subject:<width$}  ");
        let mut at_start = true;
        for choice in choices {
            let piece = if at_start {
                choice.to_string()
            } else {
                format!("; {choice}")
            };
            // `+ 1`: the `;` a line ends with when the next choice wraps.
            if !at_start && line.chars().count() + piece.chars().count() + 1 > SUMMARY_WIDTH {
                let _ = writeln!(out, "{line};");
                line = format!("{indent}{choice}");
            } else {
                line.push_str(&piece);
            }
            at_start = false;
        }
        let _ = writeln!(out, "{line}");
    }
    let count = |status: CheckStatus| design.checks.iter().filter(|c| c.status == status).count();
    let contradictions: Vec<String> = design
        .contradictions()
        .map(|c| format!("{} ({})", c.subject, c.check))
        .collect();
    let _ = writeln!(
        out,
        "  checks: {} ok, {} unknown, {} contradiction{}",
        count(CheckStatus::Ok),
        count(CheckStatus::Unknown),
        contradictions.len(),
        if contradictions.len() == 1 { "" } else { "s" }
    );
    let verdict = match contradictions.is_empty() {
        true => "the design holds together".to_string(),
        false => format!("CONTRADICTION: {}", contradictions.join(", ")),
    };
    let _ = writeln!(out, "  verdict: {verdict}");
    if !design.fixes.is_empty() {
        let _ = writeln!(
            out,
            "  ways out: {} fixes, each re-checked, under Checks; --fix N prints the spec with one made",
            design.fixes.len()
        );
    }
    let _ = writeln!(out, "\nDetails");
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
    for (topic, decisions) in by_topic(design) {
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
    if !design.fixes.is_empty() {
        let _ = writeln!(out, "\n## Ways out\n");
        for f in &design.fixes {
            let _ = writeln!(
                out,
                "{}. **{}** ({} {}). Cost: {}. {}.\n\n   ```diff\n{}\n   ```\n",
                f.number,
                f.change,
                f.check,
                f.subject,
                f.cost,
                f.rechecked(),
                f.diff
                    .iter()
                    .map(|l| format!("   {l}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            );
        }
    }
    let _ = writeln!(out, "\n## Sources\n");
    for r in rules_used(design) {
        let _ = writeln!(out, "- `{}`: {}", r.id, r.citation);
    }
    out
}

/// One self-contained HTML page: the diagram (an SVG document, inlined), the decisions
/// by topic, the checks and the sources. No scripts, no external files.
pub fn html(design: &Design, diagram_svg: &str) -> String {
    let e = |text: &str| encode_quoted_attribute(text).into_owned();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Design: {}</title>\n<style>\n\
         body {{ font-family: system-ui, sans-serif; max-width: 70rem; margin: 2rem auto; padding: 0 1rem; color: #222; }}\n\
         .decision {{ border-left: 3px solid #8a94a6; padding: 0.2rem 1rem; margin: 1rem 0; }}\n\
         .rule {{ color: #555; font-size: 0.9rem; }}\n\
         table {{ border-collapse: collapse; }} td, th {{ border: 1px solid #ccc; padding: 0.3rem 0.5rem; vertical-align: top; }}\n\
         .ok {{ color: #1a7f37; }} .contradiction {{ color: #cf222e; font-weight: bold; }} .unknown {{ color: #9a6700; }}\n\
         .diagram {{ overflow-x: auto; }}\n</style>\n</head>\n<body>",
        e(&design.system)
    );
    let _ = writeln!(out, "<h1>Design: {}</h1>", e(&design.system));
    let _ = writeln!(
        out,
        "<p>Availability target {}% (error budget {:.1} minutes per 30-day month).</p>",
        design.availability_target_percent, design.error_budget_minutes_per_month
    );
    let _ = writeln!(
        out,
        "<h2>Architecture</h2>\n<div class=\"diagram\">\n{}</div>",
        diagram_svg.trim_end()
    );
    for (topic, decisions) in by_topic(design) {
        let _ = writeln!(out, "<h2>{}</h2>", e(topic.title()));
        for d in decisions {
            let _ = writeln!(out, "<div class=\"decision\" id=\"{}\">", e(&d.id));
            let _ = writeln!(out, "<h3>{}: {}</h3>", e(&d.subject), e(&d.choice));
            let _ = writeln!(
                out,
                "<p class=\"rule\"><code>{}</code>: {}</p>\n<ul>",
                e(d.rule.id),
                e(d.rule.statement)
            );
            for b in &d.because {
                let _ = writeln!(out, "<li>because {}</li>", e(b));
            }
            for (k, v) in &d.settings {
                let _ = writeln!(out, "<li>{}: {}</li>", e(k), e(v));
            }
            for r in &d.rejected {
                let _ = writeln!(
                    out,
                    "<li>rejected <strong>{}</strong>: {}</li>",
                    e(&r.alternative),
                    e(&r.why)
                );
            }
            for ev in &d.evidence {
                let _ = writeln!(
                    out,
                    "<li>demonstrated by <code>{}</code> (exit {}): {}</li>",
                    e(ev.command),
                    ev.exit_code,
                    e(ev.shows)
                );
            }
            let _ = writeln!(out, "</ul>\n</div>");
        }
    }
    let _ = writeln!(
        out,
        "<h2>Checks</h2>\n<table>\n<tr><th>status</th><th>check</th><th>subject</th><th>numbers</th></tr>"
    );
    for c in &design.checks {
        let word = status_word(c.status);
        let _ = writeln!(
            out,
            "<tr><td class=\"{}\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            word.to_ascii_lowercase(),
            word,
            e(c.check),
            e(&c.subject),
            e(&c.detail)
        );
    }
    let _ = writeln!(out, "</table>");
    if !design.fixes.is_empty() {
        let _ = writeln!(out, "<h2>Ways out</h2>\n<ol>");
        for f in &design.fixes {
            let _ = writeln!(
                out,
                "<li><strong>{}</strong> ({} {}). Cost: {}. {}.<pre>{}</pre></li>",
                e(&f.change),
                e(f.check),
                e(&f.subject),
                e(&f.cost),
                e(&f.rechecked()),
                e(&f.diff.join("\n"))
            );
        }
        let _ = writeln!(out, "</ol>");
    }
    let _ = writeln!(out, "<h2>Sources</h2>\n<ul>");
    for r in rules_used(design) {
        let _ = writeln!(out, "<li><code>{}</code>: {}</li>", e(r.id), e(r.citation));
    }
    let _ = writeln!(out, "</ul>\n</body>\n</html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::data;

    #[test]
    fn the_html_page_holds_the_diagram_and_every_decision_escaped() {
        let spec = data("money", "invariants = [\"a < b & c\"]");
        let design = crate::design(&spec);
        let page = html(&design, "<svg id=\"x\"></svg>\n");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<div class=\"diagram\">\n<svg id=\"x\"></svg></div>"));
        assert!(
            page.contains("because invariant &quot;a &lt; b &amp; c&quot;"),
            "{page}"
        );
        for d in &design.decisions {
            assert!(
                page.contains(&format!("id=\"{}\"", encode_quoted_attribute(&d.id))),
                "{}",
                d.id
            );
        }
        assert!(page.trim_end().ends_with("</html>"));
        assert!(!page.contains("<script"));
    }
}

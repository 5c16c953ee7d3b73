//! A way out of every contradiction: for each, the smallest changes to the spec that
//! resolve it, what each costs, and the proof that it does.
//!
//! A fix is a list of edits to the spec's own text (its comments and layout kept), so
//! what is re-checked is exactly what `dsys design SPEC --fix N` prints: each candidate
//! is applied, the result parsed and checked again, and kept only if its contradiction
//! is gone and no new one appeared.

mod candidates;

use crate::checks;
use crate::design::{Check, CheckStatus};
use crate::spec::Spec;
use serde::Serialize;
use std::collections::BTreeSet;

/// Fixes offered per contradiction, at most.
const PER_CONTRADICTION: usize = 4;

/// One change to the spec's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "edit", rename_all = "kebab-case")]
pub enum Edit {
    /// Add TOML at the end of the file.
    Append {
        /// The text, whole sections.
        text: String,
    },
    /// Replace bytes `start..end` (a value the spec wrote).
    Replace {
        /// First byte.
        start: usize,
        /// One past the last byte.
        end: usize,
        /// The new text.
        text: String,
    },
    /// Add a line after the line that holds byte `after` (a field of the same table).
    AddLine {
        /// A byte of the line to follow.
        after: usize,
        /// The new line, without its newline.
        text: String,
    },
}

impl Edit {
    /// Where the edit lands, for ordering: edits are applied from the end backwards so
    /// earlier offsets stay valid.
    fn position(&self, source: &str) -> usize {
        match self {
            Edit::Append { .. } => source.len(),
            Edit::Replace { start, .. } => *start,
            Edit::AddLine { after, .. } => line_end(source, *after),
        }
    }

    /// The edit in words, for a reader: `+ line` for added text, `line N: old -> new`.
    pub fn describe(&self, source: &str) -> Vec<String> {
        match self {
            Edit::Append { text } => text.lines().map(|l| format!("+ {l}")).collect(),
            Edit::Replace { start, end, text } => {
                let line = source[..(*start).min(source.len())].matches('\n').count() + 1;
                let old = source.get(*start..*end).unwrap_or("");
                vec![format!("line {line}: {old} -> {text}")]
            }
            Edit::AddLine { after, text } => {
                let line = source[..(*after).min(source.len())].matches('\n').count() + 2;
                vec![format!("+ line {line}: {text}")]
            }
        }
    }
}

/// The end of the line holding byte `at` (the offset of its newline, or the text's end).
fn line_end(source: &str, at: usize) -> usize {
    let at = at.min(source.len());
    source[at..].find('\n').map_or(source.len(), |i| at + i)
}

/// `source` with `edits` made.
pub fn apply(source: &str, edits: &[Edit]) -> String {
    let mut ordered: Vec<&Edit> = edits.iter().collect();
    ordered.sort_by_key(|e| std::cmp::Reverse(e.position(source)));
    let mut out = source.to_string();
    for edit in ordered {
        match edit {
            Edit::Append { text } => {
                if !out.ends_with('\n') && !out.is_empty() {
                    out.push('\n');
                }
                out.push('\n');
                out.push_str(text);
                if !text.ends_with('\n') {
                    out.push('\n');
                }
            }
            Edit::Replace { start, end, text } => {
                if *start <= *end && *end <= out.len() {
                    out.replace_range(*start..*end, text);
                }
            }
            Edit::AddLine { after, text } => {
                let at = line_end(&out, *after);
                out.insert_str(at, &format!("\n{text}"));
            }
        }
    }
    out
}

/// A way out of one contradiction.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fix {
    /// The number `--fix` takes (from 1, in report order).
    pub number: usize,
    /// The contradiction's check, e.g. `quorum`.
    pub check: &'static str,
    /// The contradiction's subject.
    pub subject: String,
    /// What to change, in words.
    pub change: String,
    /// What it costs.
    pub cost: String,
    /// The edits to the spec.
    pub edits: Vec<Edit>,
    /// The edits as a reader sees them (`+ line`, `line N: old -> new`).
    pub diff: Vec<String>,
    /// Contradictions left once it is applied, re-checked (0: the design holds together).
    pub contradictions_left: usize,
}

impl Fix {
    /// What the re-check found, in words.
    pub fn rechecked(&self) -> String {
        match self.contradictions_left {
            0 => "re-checked: the design holds together".into(),
            1 => "re-checked: resolves it; 1 other contradiction remains".into(),
            n => format!("re-checked: resolves it; {n} other contradictions remain"),
        }
    }

    /// Whether it resolves `check`.
    pub fn resolves(&self, check: &Check) -> bool {
        self.check == check.check && self.subject == check.subject
    }
}

/// A candidate before its re-check.
pub(crate) struct Candidate {
    pub change: String,
    pub cost: String,
    pub edits: Vec<Edit>,
}

/// The contradictions of a spec, as (check, subject).
fn contradictions(checks: &[Check]) -> BTreeSet<(&'static str, String)> {
    checks
        .iter()
        .filter(|c| c.status == CheckStatus::Contradiction)
        .map(|c| (c.check, c.subject.clone()))
        .collect()
}

/// The contradictions left once `edits` are made to `spec`'s text; `None` when the
/// edited text is not a valid spec (a fix that breaks the spec is no fix).
fn recheck(spec: &Spec, edits: &[Edit]) -> Option<BTreeSet<(&'static str, String)>> {
    let text = apply(&spec.source, edits);
    let fixed = Spec::parse("fixed.toml", &text).ok()?;
    Some(contradictions(&checks::run(&fixed)))
}

/// Every contradiction's fixes, each re-checked; none without the spec's text.
pub fn fixes(spec: &Spec, checks: &[Check]) -> Vec<Fix> {
    if spec.source.is_empty() {
        return Vec::new();
    }
    let before = contradictions(checks);
    let mut out = Vec::new();
    for check in checks
        .iter()
        .filter(|c| c.status == CheckStatus::Contradiction)
    {
        let this = (check.check, check.subject.clone());
        let mut offered = 0;
        for candidate in candidates::for_check(spec, check) {
            if offered == PER_CONTRADICTION {
                break;
            }
            let Some(after) = recheck(spec, &candidate.edits) else {
                continue;
            };
            let resolves = !after.contains(&this);
            let adds_none = after.is_subset(&before);
            if resolves && adds_none {
                offered += 1;
                out.push(Fix {
                    number: out.len() + 1,
                    check: check.check,
                    subject: check.subject.clone(),
                    change: candidate.change,
                    cost: candidate.cost,
                    diff: candidate
                        .edits
                        .iter()
                        .flat_map(|e| e.describe(&spec.source))
                        .collect(),
                    edits: candidate.edits,
                    contradictions_left: after.len(),
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;

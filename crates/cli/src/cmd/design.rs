//! `dsys design` (with `--verify`, `--fix` and decision records), `dsys diagram` and
//! `dsys explain`.

use crate::args::{
    DesignArgs, DesignFormat, DiagramArgs, DiagramFormat, ExplainArgs, ExplainFormat,
};
use crate::exit::{Exit, Failure, verdict_and_writes};
use crate::output::Output;
use crate::progress;
use dsys_advisor::verify::{contradictions, verify};
use dsys_lab::verify::GridMeasure;
use std::path::Path;

/// Read and parse a requirement spec: unreadable is an I/O error (5), malformed is bad
/// input (2).
fn read_spec(path: &Path) -> Result<dsys_advisor::Spec, Failure> {
    let name = path.display().to_string();
    let text = dsys_diagnostic::read_text_file(path, dsys_diagnostic::MAX_FILE_BYTES).map_err(
        |e| match e {
            dsys_diagnostic::ReadFileError::Io { path, reason } => {
                Failure::new(Exit::Io, format!("cannot read the spec {path}: {reason}"))
            }
            bad => Failure::new(Exit::BadInput, format!("the spec {bad}")),
        },
    )?;
    dsys_advisor::Spec::parse(&name, &text).map_err(|e| Failure {
        exit: Exit::BadInput,
        error: e.into(),
    })
}

/// `--fix N`: the spec with fix N made, and whether it holds together.
fn print_fixed(
    spec: &dsys_advisor::Spec,
    design: &dsys_advisor::Design,
    number: u64,
    out: Output,
) -> Result<(), Failure> {
    let Some(fix) = design.fixes.iter().find(|f| f.number as u64 == number) else {
        return Err(Failure::new(
            Exit::BadInput,
            match design.fixes.len() {
                0 => "the design has no fixes: it holds together, or nothing resolves its contradictions".to_string(),
                n => format!("no fix {number}: the design has fixes 1 to {n}"),
            },
        ));
    };
    out.print(&dsys_advisor::fixes::apply(&spec.source, &fix.edits))?;
    match fix.contradictions_left {
        0 => Ok(()),
        n => Err(Failure::new(
            Exit::Violation,
            format!(
                "fix {number} leaves {n} contradiction{}",
                if n == 1 { "" } else { "s" }
            ),
        )),
    }
}

/// The model as JSON, with the connections the drawings draw for its edges.
#[derive(serde::Serialize)]
struct Drawn<'a> {
    #[serde(flatten)]
    diagram: &'a dsys_diagram::Diagram,
    connections: Vec<dsys_diagram::Connection>,
}

pub fn diagram(a: DiagramArgs, out: Output) -> Result<(), Failure> {
    let model = dsys_advisor::architecture::architecture(&read_spec(&a.spec)?);
    let width = usize::from(a.width);
    let rendered = match a.format {
        DiagramFormat::Unicode => {
            dsys_diagram::terminal(&model, width, dsys_diagram::Charset::Unicode)
        }
        DiagramFormat::Ascii => dsys_diagram::terminal(&model, width, dsys_diagram::Charset::Ascii),
        DiagramFormat::Svg => dsys_diagram::svg(&model),
        DiagramFormat::Mermaid => dsys_diagram::mermaid(&model),
        DiagramFormat::Dot => dsys_diagram::dot(&model),
        DiagramFormat::Json => {
            let drawn = Drawn {
                connections: model.connections(),
                diagram: &model,
            };
            serde_json::to_string_pretty(&drawn)? + "\n"
        }
    };
    out.print(&rendered)
}

pub fn design(a: DesignArgs, out: Output) -> Result<(), Failure> {
    let Some(path) = &a.spec else {
        let schema = dsys_advisor::spec::json_schema::schema();
        return out.print(&(serde_json::to_string_pretty(&schema)? + "\n"));
    };
    let spec = read_spec(path)?;
    let design = dsys_advisor::design(&spec);
    if let Some(number) = a.fix {
        return print_fixed(&spec, &design, number, out);
    }
    if let Some(other_path) = &a.compare {
        let other = dsys_advisor::design(&read_spec(other_path)?);
        let comparison = dsys_advisor::compare::compare(&design, &other);
        let names = [path.display().to_string(), other_path.display().to_string()];
        out.print(&match a.format {
            DesignFormat::Json => serde_json::to_string_pretty(&comparison)? + "\n",
            _ => dsys_advisor::compare::text(&comparison, [&names[0], &names[1]]),
        })?;
        return match comparison.contradictions[1] {
            0 => Ok(()),
            n => Err(Failure::new(
                Exit::Violation,
                format!(
                    "{} has {n} contradiction{}",
                    names[1],
                    if n == 1 { "" } else { "s" }
                ),
            )),
        };
    }
    let verification = match a.verify {
        true => {
            let bar = progress::count_bar("verifying", progress::enabled(out.quiet));
            let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
            let lab = GridMeasure {
                threads,
                progress: &bar,
            };
            let verification = verify(&spec, a.seeds, &lab)?;
            progress::clear();
            verification
        }
        false => dsys_advisor::verify::Verification::default(),
    };
    let mut rendered = match a.format {
        DesignFormat::Text => dsys_advisor::render::text(&design),
        DesignFormat::Markdown => dsys_advisor::render::markdown(&design),
        DesignFormat::Html => {
            let diagram = dsys_diagram::svg(&dsys_advisor::architecture::architecture(&spec));
            dsys_advisor::render::html(&design, &diagram)
        }
        DesignFormat::Json if a.verify => {
            let verified = dsys_advisor::verify::VerifiedDesign {
                design: &design,
                verification: &verification,
            };
            serde_json::to_string_pretty(&verified)? + "\n"
        }
        DesignFormat::Json => serde_json::to_string_pretty(&design)? + "\n",
    };
    if a.verify && a.format != DesignFormat::Json {
        rendered.push_str(&dsys_advisor::verify::text(&verification));
    }
    out.print(&rendered)?;
    let writes = match &a.adr_dir {
        Some(dir) => dsys_advisor::records::sync(dir, &design).map_err(|e| Failure {
            exit: Exit::Io,
            error: e.into(),
        }),
        None => Ok(()),
    };
    let contradictions = contradictions(&design, &verification);
    let verdict = match contradictions.is_empty() {
        true => Ok(()),
        false => Err(Failure::new(
            Exit::Violation,
            format!(
                "the requirements contradict each other: {}",
                contradictions.join(", ")
            ),
        )),
    };
    verdict_and_writes(verdict, writes)
}

/// A rule with its demonstrations, as `dsys explain --format json` prints it.
#[derive(serde::Serialize)]
struct Explained<'a> {
    #[serde(flatten)]
    rule: &'a dsys_advisor::Rule,
    evidence: &'a [dsys_advisor::Evidence],
}

pub fn explain(a: ExplainArgs, out: Output) -> Result<(), Failure> {
    use dsys_advisor::rules::{ALL, find};
    let explained = |r: &'static dsys_advisor::Rule| Explained {
        rule: r,
        evidence: r.evidence,
    };
    let Some(id) = &a.rule else {
        return match a.format {
            ExplainFormat::Json => {
                let all: Vec<Explained> = ALL.iter().map(explained).collect();
                out.print(&(serde_json::to_string_pretty(&all)? + "\n"))
            }
            ExplainFormat::Text => {
                let width = ALL.iter().map(|r| r.id.len()).max().unwrap_or(0);
                let lines: String = ALL
                    .iter()
                    .map(|r| format!("{:width$}  {}\n", r.id, r.triggers))
                    .collect();
                out.print(&format!(
                    "{} rules; each fires when:\n{lines}\ndsys explain RULE prints one in full.\n",
                    ALL.len()
                ))
            }
        };
    };
    let Some(rule) = find(id) else {
        let wanted = id.to_ascii_uppercase();
        let prefix = wanted.split('-').next().unwrap_or("");
        let near: Vec<&str> = ALL
            .iter()
            .map(|r| r.id)
            .filter(|r| r.starts_with(prefix) || r.contains(&wanted))
            .collect();
        let known = if near.is_empty() {
            "dsys explain lists every rule".to_string()
        } else {
            format!("did you mean {}?", near.join(", "))
        };
        return Err(Failure::new(
            Exit::BadInput,
            format!("no rule {}: {known}", id.escape_debug()),
        ));
    };
    match a.format {
        ExplainFormat::Json => out.print(&(serde_json::to_string_pretty(&explained(rule))? + "\n")),
        ExplainFormat::Text => {
            let mut text = format!(
                "{}\n  {}\n\n  fires when: {}\n  source: {}\n",
                rule.id, rule.statement, rule.triggers, rule.citation
            );
            if rule.evidence.is_empty() {
                text.push_str(
                    "  demonstrated by: no dsys command yet; the source above is the evidence\n",
                );
            }
            for e in rule.evidence {
                text.push_str(&format!(
                    "  demonstrated by: {} (exit {}: {})\n",
                    e.command, e.exit_code, e.shows
                ));
            }
            out.print(&text)
        }
    }
}

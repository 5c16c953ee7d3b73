//! `dsys design`: example specs against golden designs, contradictions with their
//! numbers, bad specs with file, line and column, and every rule's demonstration.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout, temp};
use std::path::Path;

const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs");
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/specs");
const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/design");

/// The example specs, by file stem.
fn examples() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(SPECS)
        .expect("specs/")
        .filter_map(|e| {
            let path = e.ok()?.path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(str::to_string))?
        })
        .collect();
    names.sort();
    names
}

/// Each example's JSON design is pinned. Regenerate one, when the change is intended, with
/// `scripts/regenerate-goldens.sh`.
#[test]
fn every_example_spec_matches_its_golden_design() {
    let names = examples();
    assert!(names.len() >= 3, "{names:?}");
    for name in names {
        let spec = format!("{SPECS}/{name}.toml");
        let o = dsys(&["design", &spec, "--format", "json"]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let golden = std::fs::read_to_string(format!("{GOLDEN}/{name}.json"))
            .unwrap_or_else(|_| panic!("no golden design for {name}"));
        assert_eq!(
            stdout(&o),
            golden,
            "{name}: the design changed; if intended, regenerate the golden file"
        );
        // Text, Markdown and HTML render the same design; the page inlines the diagram.
        for format in ["text", "markdown", "html"] {
            let o = dsys(&["design", &spec, "--format", format]);
            assert_eq!(o.status.code(), Some(0), "{name} {format}");
            assert!(stdout(&o).contains("Replication"), "{name} {format}");
        }
        let page = stdout(&dsys(&["design", &spec, "--format", "html"]));
        let diagram = stdout(&dsys(&["diagram", &spec, "--format", "svg"]));
        assert!(
            page.contains(diagram.trim_end()),
            "{name}: the page lacks the diagram"
        );
    }
}

/// The text report opens with one screen: a line per subject with its decisions, the
/// checks' tally and the verdict, before the details.
#[test]
fn the_text_design_opens_with_a_one_screen_summary() {
    for name in examples() {
        let out = stdout(&dsys(&["design", &format!("{SPECS}/{name}.toml")]));
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[1..3], ["", "Summary"], "{name}");
        let details = lines.iter().position(|l| *l == "Details").unwrap();
        assert!(details <= 50, "{name}: the summary runs to {details} lines");
        let summary = &lines[..details];
        assert!(
            summary.iter().any(|l| l.starts_with("  checks: ")),
            "{name}"
        );
        assert!(
            summary.contains(&"  verdict: the design holds together"),
            "{name}"
        );
        assert!(summary.iter().all(|l| l.chars().count() <= 100), "{name}");
    }
    let out = stdout(&dsys(&["design", &format!("{SPECS}/checkout.toml")]));
    assert!(
        out.contains("  stock  ") && out.contains("CP, PC/EC; linearizable"),
        "{out}"
    );
}

/// Run a contradictory fixture: exit 1, the check named on stderr, its numbers on stdout.
fn contradiction(fixture: &str, check: &str, numbers: &[&str]) {
    let spec = format!("{FIXTURES}/{fixture}.toml");
    let o = dsys(&["design", &spec]);
    assert_eq!(o.status.code(), Some(1), "{fixture}: {}", stderr(&o));
    assert!(stderr(&o).contains(&format!("({check})")), "{}", stderr(&o));
    let out = stdout(&o);
    // The summary's verdict names it first; the check's own line carries the numbers.
    let verdict = out
        .lines()
        .find(|l| l.starts_with("  verdict:"))
        .unwrap_or_default();
    assert!(
        verdict.contains("CONTRADICTION") && verdict.contains(&format!("({check})")),
        "{fixture}: {verdict}"
    );
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("CONTRADICTION") && l.contains(check))
        .unwrap_or_else(|| panic!("{fixture}: no {check} contradiction in\n{out}"));
    for n in numbers {
        assert!(line.contains(n), "{fixture}: {n:?} missing from {line}");
    }
    let json = dsys(&["design", &spec, "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).expect("JSON");
    assert!(
        v["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["status"] == "contradiction")
    );
}

#[test]
fn an_objective_below_the_round_trip_is_a_contradiction() {
    contradiction(
        "impossible-latency",
        "latency",
        &[
            "at least 82 ms",
            "80 ms to the leader in eu-west",
            "p99 objective of 50 ms",
        ],
    );
}

#[test]
fn a_target_the_topology_cannot_reach_is_a_contradiction() {
    contradiction(
        "unreachable-availability",
        "availability",
        &[
            "(api 99.4092%, billing 99.4092%) together: 98.8669%",
            "below the 99.99% target",
            "489.5 min/month against 4.3 allowed",
            "a region's outage takes everything in it down at once",
        ],
    );
}

#[test]
fn a_quorum_that_cannot_survive_the_failures_is_a_contradiction() {
    contradiction(
        "quorum-two-regions",
        "quorum",
        &[
            "may live in 2 regions (eu-west, eu-central)",
            "at least 2 in one region",
            "majority of 2",
        ],
    );
}

/// A bad spec: exit 2, `path:line:column: message`, the line, a caret and a hint.
fn bad_spec(text: &str, location: &str, message: &str) {
    let file = temp("spec.toml");
    std::fs::write(file.path(), text).unwrap();
    let o = dsys(&["design", &file]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(o.stdout.is_empty());
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        err.starts_with(&format!("error: {}:{location}: ", file.as_str())),
        "{err}"
    );
    assert!(err.contains(message), "{message:?} not in {err}");
    assert!(err.contains("  hint: "), "{err}");
    assert!(err.contains(" | "), "{err}");
}

const MINIMAL: &str =
    "[system]\nname = \"x\"\navailability = 99.9\n\n[[region]]\nname = \"eu\"\nzones = 3\n";

#[test]
fn bad_specs_point_at_the_line_and_column() {
    // Syntax.
    bad_spec("[system\nname = \"x\"\n", "1:8", "");
    // Unknown field.
    bad_spec(
        &format!("{MINIMAL}colour = \"blue\"\n"),
        "8:1",
        "unknown field `colour`",
    );
    // Wrong type.
    bad_spec(
        &MINIMAL.replace("zones = 3", "zones = \"three\""),
        "7:9",
        "invalid type",
    );
    // Missing required field.
    bad_spec(
        &MINIMAL.replace("name = \"x\"\n", ""),
        "1:1",
        "missing field `name`",
    );
    // Unknown value of a closed set.
    bad_spec(
        &format!("{MINIMAL}\n[[data]]\nname = \"d\"\nkind = \"blob\"\n"),
        "11:8",
        "unknown value `blob` for `kind`",
    );
    // A name that refers to nothing, and a percentage out of range.
    bad_spec(
        &format!("{MINIMAL}\n[[service]]\nname = \"s\"\nregions = [\"mars\"]\n"),
        "11:12",
        "unknown region `mars`",
    );
    bad_spec(
        &MINIMAL.replace("99.9", "120"),
        "3:16",
        "`availability` must be above 0 and below 100, not 120",
    );
}

#[test]
fn every_problem_in_a_spec_is_reported_at_once() {
    let text = format!(
        "{MINIMAL}\n[[service]]\nname = \"a\"\nregions = [\"eu\"]\ndepends_on = [\"b\"]\n\n[[service]]\nname = \"b\"\nregions = [\"moon\"]\ndepends_on = [\"a\"]\n"
    );
    let file = temp("spec.toml");
    std::fs::write(file.path(), &text).unwrap();
    let err = stderr(&dsys(&["design", &file]));
    assert!(err.contains("unknown region `moon`"), "{err}");
    assert!(
        err.contains("services depend on each other in a cycle: a -> b -> a"),
        "{err}"
    );
}

/// Six fields wrong in six places, of five sorts (out of bounds, outside a closed set,
/// wrong type, a name that refers to nothing, an unknown key): all six reported, in file
/// order, each at its line and column, in one run.
#[test]
fn six_wrong_fields_are_six_diagnostics() {
    let text = "[system]\nname = \"x\"\navailability = 120\ntolerate = [\"meteor\"]\n\n\
                [[region]]\nname = \"eu\"\nzones = \"three\"\n\n\
                [[data]]\nname = \"d\"\nkind = \"counter\"\nmerge = \"average\"\n\n\
                [[slo]]\noperation = \"o\"\ndata = \"d\"\nop = \"read\"\nregion = \"mars\"\np99_ms = 5\ncolour = 1\n";
    let file = temp("spec.toml");
    std::fs::write(file.path(), text).unwrap();
    let o = dsys(&["design", &file]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    let located: Vec<&str> = err
        .lines()
        .filter_map(|l| {
            l.strip_prefix(&format!("error: {}:", file.as_str()))
                .or_else(|| l.strip_prefix(&format!("{}:", file.as_str())))
        })
        .collect();
    let expected = [
        "3:16: `availability` must be above 0 and below 100, not 120",
        "4:13: unknown value `meteor` for `tolerate`",
        "8:9: invalid type: `zones` is a whole number, not the string \"three\"",
        "13:9: unknown value `average` for `merge`",
        "19:10: unknown region `mars`",
        "21:1: unknown field `colour` in [[slo]]",
    ];
    assert_eq!(located, expected, "{err}");
}

/// Each malformed spec in tests/specs/malformed names, in `# expect:` lines, the problems
/// `dsys design` must report at their line and column. (scripts/validate-spec-schema.sh
/// holds the JSON Schema to rejecting each of them too.)
#[test]
fn each_malformed_spec_reports_what_it_expects() {
    let dir = format!("{FIXTURES}/malformed");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let expected: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# expect: "))
            .collect();
        assert!(!expected.is_empty(), "{}", file.display());
        let path = file.display().to_string();
        let o = dsys(&["design", &path]);
        assert_eq!(o.status.code(), Some(2), "{path}");
        let err = stderr(&o);
        for line in expected {
            assert!(
                err.contains(&format!("{path}:{line}\n")),
                "{line:?} not in {err}"
            );
        }
    }
}

#[test]
fn the_schema_is_printed_for_editors() {
    let o = dsys(&["design", "--schema"]);
    assert_eq!(o.status.code(), Some(0));
    let published = std::fs::read_to_string(format!("{SPECS}/spec.schema.json")).unwrap();
    assert_eq!(stdout(&o), published);
    let o = dsys(&["design", "specs/checkout.toml", "--schema"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn a_missing_spec_is_an_io_error() {
    let o = dsys(&["design", "no/such/spec.toml"]);
    assert_eq!(o.status.code(), Some(5));
    assert!(
        stderr(&o).contains("cannot read the spec no/such/spec.toml"),
        "{}",
        stderr(&o)
    );
    // A file that never ends is refused at the size limit, not read into memory.
    let o = dsys(&["design", "/dev/zero"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("larger than 67108864 bytes"),
        "{}",
        stderr(&o)
    );
}

/// Every command a rule cites as its demonstration ends with the exit code it claims.
#[test]
fn every_rule_demonstration_ends_as_claimed() {
    for e in dsys_advisor::rules::evidence::ALL {
        let args: Vec<&str> = e
            .command
            .strip_prefix("dsys ")
            .expect("starts with dsys")
            .split_whitespace()
            .collect();
        let o = dsys(&args);
        assert_eq!(
            o.status.code(),
            Some(i32::from(e.exit_code)),
            "{}: {}",
            e.command,
            stderr(&o)
        );
    }
    assert!(Path::new(SPECS).join("README.md").exists());
}

#[test]
fn decision_records_are_regenerated_in_place() {
    let dir = temp("decisions");
    let spec = format!("{SPECS}/checkout.toml");
    let o = dsys(&["design", &spec, "--adr-dir", &dir, "--format", "json"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list = |d: &str| {
        let mut names: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    };
    let first = list(&dir);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(first.len(), v["decisions"].as_array().unwrap().len());
    assert!(
        first.contains(&"orders-consistency.md".to_string()),
        "{first:?}"
    );
    let record =
        std::fs::read_to_string(Path::new(dir.as_str()).join("orders-consistency.md")).unwrap();
    assert!(
        record.contains("Chosen option: \"linearizable\""),
        "{record}"
    );
    // A stale record of ours goes; a file of the user's stays; nothing is duplicated.
    let stale = Path::new(dir.as_str()).join("gone-cap.md");
    std::fs::write(
        &stale,
        format!("{}\n# old\n", dsys_advisor::records::MADR_MARKER),
    )
    .unwrap();
    let mine = Path::new(dir.as_str()).join("notes.md");
    std::fs::write(&mine, "# my notes\n").unwrap();
    let o = dsys(&["design", &spec, "--adr-dir", &dir]);
    assert_eq!(o.status.code(), Some(0));
    let mut expected = first.clone();
    expected.push("notes.md".into());
    expected.sort();
    assert_eq!(list(&dir), expected);
}

/// Every example, verified on its own topology: each claim of the chosen side holds, each
/// latency objective is measured from its users' region, and no measured p99 comes in
/// under the arithmetic's lower bound.
#[test]
fn verify_measures_every_example_on_its_own_topology() {
    for name in examples() {
        let spec = format!("{SPECS}/{name}.toml");
        let o = dsys(&[
            "design", &spec, "--verify", "--seeds", "2", "--format", "json",
        ]);
        assert_eq!(o.status.code(), Some(0), "{name}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        let verification = &v["verification"];
        assert_eq!(verification["skipped"], serde_json::json!([]), "{name}");
        let slos = std::fs::read_to_string(&spec)
            .unwrap()
            .matches("[[slo]]")
            .count();
        let mut measured = 0;
        for outcome in verification["outcomes"].as_array().unwrap() {
            assert_eq!(outcome["chosen_verdict"], "confirmed", "{name}: {outcome}");
            for l in outcome["latency"].as_array().unwrap() {
                measured += 1;
                let p99 = l["measured_p99_ms"]
                    .as_f64()
                    .unwrap_or_else(|| panic!("{name}: {l}"));
                let floor = l["objective"]["floor_ms"].as_f64().unwrap();
                assert!(
                    p99 >= floor * 0.98,
                    "{name}: p99 {p99} below the bound {floor}: {l}"
                );
                assert_eq!(l["below_floor"], false, "{name}");
            }
        }
        assert_eq!(measured, slos, "{name}: an objective was not measured");
    }
}

#[test]
fn verify_runs_each_choice_against_its_rejected_alternative() {
    let spec = format!("{SPECS}/checkout.toml");
    let o = dsys(&[
        "design", &spec, "--verify", "--seeds", "4", "--format", "json",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let outcomes = v["verification"]["outcomes"].as_array().unwrap();
    assert_eq!(
        outcomes.len(),
        v["decisions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|d| d["topic"] == "replication")
            .count()
    );
    for o in outcomes {
        assert_eq!(o["chosen_verdict"], "confirmed", "{o}");
        assert_eq!(o["chosen"]["seeds"], 4);
        assert_eq!(o["trial"]["nemesis"], "crash-restart+region-outage");
    }
    // Stock is linearizable on Raft; asynchronous leader-follower, rejected, shows why.
    let stock = outcomes
        .iter()
        .find(|o| o["trial"]["data"] == "stock")
        .unwrap();
    assert_eq!(stock["chosen"]["non_linearizable"], 0);
    assert_eq!(stock["alternative_verdict"], "confirmed");
    let text = stdout(&dsys(&["design", &spec, "--verify", "--seeds", "4"]));
    assert!(
        text.contains(
            "Verification (simulator, on the design's placement and the spec's round trips)"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "raft:prefer-first=on claims linearizable, no acknowledged write lost: confirmed"
        ),
        "{text}"
    );
    // --seeds only with --verify.
    assert_eq!(
        dsys(&["design", &spec, "--seeds", "4"]).status.code(),
        Some(2)
    );
}

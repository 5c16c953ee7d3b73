//! The spec reader: every problem at once, hostile text shown safely, what the new
//! fields mean and what old specs keep meaning, and the README and JSON Schema held to
//! the format.

use super::*;

const BASE: &str =
    "[system]\nname = \"x\"\navailability = 99.9\n\n[[region]]\nname = \"eu\"\nzones = 3\n";

fn problems(text: &str) -> Vec<String> {
    match Spec::parse("s.toml", text) {
        Ok(_) => panic!("parsed: {text}"),
        Err(e) => e
            .diagnostics
            .iter()
            .map(|d| format!("{}:{}: {}", d.line, d.column, d.message))
            .collect(),
    }
}

fn parsed(extra: &str) -> Spec {
    Spec::parse("s.toml", &format!("{BASE}{extra}")).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn two_problems_in_one_table_are_both_reported() {
    let text = format!("{BASE}\n[[service]]\nname = 5\nregions = \"eu\"\ninstances = 0\n");
    assert_eq!(
        problems(&text),
        [
            "10:8: invalid type: `name` is a string, not the integer 5",
            "11:11: invalid type: `regions` is a list in [ ], not the string \"eu\"",
            "12:13: `instances` must be a whole number from 1 up, not 0",
        ]
    );
}

#[test]
fn sections_of_the_wrong_shape_or_missing_are_named() {
    assert_eq!(
        problems(
            "[system]\nname = \"x\"\navailability = 99.9\n\n[region]\nname = \"eu\"\nzones = 3\n"
        ),
        ["5:1: invalid type: region is a list of tables, not a table"]
    );
    let p = problems("[[system]]\nname = \"x\"\n[colours]\n");
    assert!(
        p[0].starts_with("1:1: invalid type: system is one table"),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.contains("unknown section `colours`")),
        "{p:?}"
    );
    assert!(
        p.iter().any(|m| m.ends_with("the spec has no [[region]]")),
        "{p:?}"
    );
    assert_eq!(
        problems(""),
        [
            "1:1: the spec has no [system]",
            "1:1: the spec has no [[region]]"
        ]
    );
    assert_eq!(
        problems("[system]\nname = \"x\"\n\n[[region]]\nname = \"eu\"\nzones = 3\n"),
        ["1:1: missing field `availability` in [system]"]
    );
}

#[test]
fn hostile_text_is_escaped_and_cut_in_messages() {
    // TOML escapes: the file holds ESC [31m red BEL and 500 more characters.
    let evil = "\\u001b[31mred\\u0007".to_string() + &"x".repeat(500);
    let text = format!("{BASE}\n[[service]]\nname = \"s\"\nregions = [\"{evil}\"]\n");
    let e = Spec::parse("s.toml", &text).unwrap_err();
    let message = &e.diagnostics[0].message;
    assert!(
        !message.contains('\u{1b}') && !message.contains('\u{7}'),
        "{message:?}"
    );
    assert!(message.contains("\\u{1b}[31mred\\u{7}"), "{message:?}");
    assert!(message.chars().count() < 120, "{message:?}");
}

#[test]
fn syntax_errors_come_alone_and_all() {
    let p = problems("[system\nname = \"x\"\n");
    assert_eq!(p.len(), 1, "{p:?}");
    assert!(p[0].starts_with("1:8:"), "{p:?}");
}

#[test]
fn references_and_whole_spec_problems_are_reported_together() {
    let text = format!(
        "{BASE}\n[[service]]\nname = \"a\"\nregions = [\"moon\"]\ndepends_on = [\"a\"]\n\n[[link]]\nbetween = [\"eu\", \"eu\"]\nrtt_ms = 1\n"
    );
    assert_eq!(
        problems(&text),
        [
            "10:8: services depend on each other in a cycle: a -> a",
            "11:12: unknown region `moon`",
            "15:18: a link joins two different regions",
        ]
    );
}

#[test]
fn names_defined_twice_are_reported_once_each() {
    let text = format!("{BASE}\n[[region]]\nname = \"eu\"\nzones = 2\n");
    assert_eq!(problems(&text), ["10:8: region eu is defined twice"]);
}

#[test]
fn what_a_data_class_says_against_itself() {
    let data = "\n[[data]]\nname = \"d\"\nkind = \"profile\"\n";
    let p = problems(&format!(
        "{BASE}{data}invariants = [\"x\"]\nmerge = \"union\"\n"
    ));
    assert!(
        p[0].contains("has the invariant \"x\" but merges concurrent writes"),
        "{p:?}"
    );
    let p = problems(&format!(
        "{BASE}{data}freshness = \"eventual\"\nmax_staleness_ms = 5\n"
    ));
    assert!(p[0].contains("gives both freshness"), "{p:?}");
    let p = problems(&format!(
        "{BASE}{data}freshness = \"linearizable\"\nmerge = \"sum\"\n"
    ));
    assert!(
        p[0].contains("asks for linearizable reads but merges"),
        "{p:?}"
    );
    let slo = "\n[[slo]]\noperation = \"o\"\ndata = \"d\"\nregion = \"eu\"\np99_ms = 5\n";
    let p = problems(&format!(
        "{BASE}{data}{slo}op = \"write\"\nfreshness = \"eventual\"\n"
    ));
    assert!(
        p[0].contains("is a write: freshness is about reads"),
        "{p:?}"
    );
    let p = problems(&format!(
        "{BASE}{data}{slo}op = \"read\"\nfreshness = \"linearizable\"\n"
    ));
    assert!(p[0].contains("asks for linearizable reads of d"), "{p:?}");
    let p = problems(&format!("{BASE}{data}freshness = \"bounded:soon\"\n"));
    assert!(
        p[0].contains("unknown value `bounded:soon` for `freshness`"),
        "{p:?}"
    );
}

#[test]
fn old_specs_mean_what_they_meant() {
    for (kind, extra, merge, freshness) in [
        ("money", "", Merge::Reject, Freshness::Linearizable),
        ("booking", "", Merge::Reject, Freshness::Linearizable),
        (
            "catalog",
            "invariants = [\"i\"]",
            Merge::Reject,
            Freshness::Linearizable,
        ),
        ("chat", "", Merge::LastWriter, Freshness::Causal),
        (
            "chat",
            "max_staleness_ms = 5",
            Merge::LastWriter,
            Freshness::Causal,
        ),
        (
            "catalog",
            "max_staleness_ms = 5",
            Merge::LastWriter,
            Freshness::Bounded(5),
        ),
        ("profile", "", Merge::LastWriter, Freshness::Session),
        ("feed", "", Merge::Union, Freshness::Eventual),
        ("metrics", "", Merge::Sum, Freshness::Eventual),
        (
            "metrics",
            "access = [\"time-series\"]",
            Merge::LastWriter,
            Freshness::Eventual,
        ),
    ] {
        let s = parsed(&format!(
            "\n[[data]]\nname = \"d\"\nkind = \"{kind}\"\n{extra}\n"
        ));
        let needs = Needs::of(&s.data[0]);
        assert_eq!(
            (needs.merge, needs.freshness),
            (merge, freshness),
            "{kind} {extra}"
        );
    }
}

#[test]
fn what_a_spec_says_wins_over_what_its_kind_implies() {
    for (extra, merge, freshness) in [
        ("kind = \"counter\"", Merge::Sum, Freshness::Eventual),
        (
            "kind = \"profile\"\nmerge = \"union\"",
            Merge::Union,
            Freshness::Session,
        ),
        (
            "kind = \"profile\"\nmerge = \"app\"",
            Merge::App,
            Freshness::Session,
        ),
        (
            "kind = \"metrics\"\nmerge = \"max\"",
            Merge::Max,
            Freshness::Eventual,
        ),
        (
            "kind = \"catalog\"\ninvariants = [\"a code is issued once\"]\nfreshness = \"eventual\"",
            Merge::Reject,
            Freshness::Eventual,
        ),
        (
            "kind = \"profile\"\nfreshness = \"linearizable\"",
            Merge::Reject,
            Freshness::Linearizable,
        ),
        (
            "kind = \"money\"\nfreshness = \"bounded:250\"",
            Merge::Reject,
            Freshness::Bounded(250),
        ),
        (
            "kind = \"money\"\nmerge = \"sum\"",
            Merge::Sum,
            Freshness::Eventual,
        ),
    ] {
        let s = parsed(&format!("\n[[data]]\nname = \"d\"\n{extra}\n"));
        let needs = Needs::of(&s.data[0]);
        assert_eq!(
            (needs.merge, needs.freshness),
            (merge, freshness),
            "{extra}"
        );
    }
}

/// specs/README.md documents each section in a table: every field of the format has its
/// row there, and every row names a field of the format.
#[test]
fn the_readme_documents_exactly_the_format() {
    let readme = include_str!("../../../../specs/README.md");
    for section in format::SECTIONS {
        let heading = format!("### `{}`", section.header());
        let at = readme
            .find(&heading)
            .unwrap_or_else(|| panic!("README has no {heading}"));
        let table: Vec<&str> = readme[at + heading.len()..]
            .lines()
            .skip_while(|l| !l.starts_with('|'))
            .take_while(|l| l.starts_with('|'))
            .skip(2)
            .collect();
        let rows: Vec<&str> = table
            .iter()
            .flat_map(|row| row.split('|').nth(1).unwrap_or("").split(','))
            .map(|cell| cell.trim().trim_matches('`'))
            .collect();
        let fields: Vec<&str> = section.fields.iter().map(|f| f.name).collect();
        let mut sorted_rows = rows.clone();
        sorted_rows.sort_unstable();
        let mut sorted_fields = fields.clone();
        sorted_fields.sort_unstable();
        assert_eq!(sorted_rows, sorted_fields, "{heading}");
    }
}

/// The published schema is the one the format gives.
#[test]
fn the_published_json_schema_is_current() {
    let published = include_str!("../../../../specs/spec.schema.json");
    let current = serde_json::to_string_pretty(&json_schema::schema()).unwrap_or_default() + "\n";
    assert!(
        published == current,
        "specs/spec.schema.json is stale: regenerate it with `dsys design --schema > specs/spec.schema.json`"
    );
}

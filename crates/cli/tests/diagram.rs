//! `dsys diagram`: golden drawings of every example spec, and the Mermaid and DOT read
//! back by small parsers written here, checked against the model (`--format json`).

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::drawing::{EXAMPLES, SPECS, boxes_in, grid};
use common::{dsys, stderr, stdout};
use serde_json::Value;

const GOLDEN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/diagram");

fn draw(name: &str, format: &str) -> String {
    let o = dsys(&[
        "diagram",
        &format!("{SPECS}/{name}.toml"),
        "--format",
        format,
    ]);
    assert_eq!(o.status.code(), Some(0), "{name} {format}: {}", stderr(&o));
    stdout(&o)
}

/// A connection as (from, to, label, both ways).
type Link = (usize, usize, String, bool);

/// What a drawing says: per node its label and group, and the connections with labels.
#[derive(Debug, PartialEq)]
struct Read {
    nodes: Vec<(String, Option<usize>)>,
    edges: Vec<Link>,
}

/// The model as `Read`, from `--format json` (its connections: what the drawings draw).
fn model(name: &str) -> Read {
    let v: Value = serde_json::from_str(&draw(name, "json")).unwrap();
    Read {
        nodes: v["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["label"].as_str().unwrap().to_string(),
                    n["group"].as_u64().map(|g| g as usize),
                )
            })
            .collect(),
        edges: v["connections"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["from"].as_u64().unwrap() as usize,
                    e["to"].as_u64().unwrap() as usize,
                    e["label"].as_str().unwrap().to_string(),
                    e["both_ways"].as_bool().unwrap(),
                )
            })
            .collect(),
    }
}

/// `n12` -> 12.
fn node_number(token: &str) -> usize {
    token
        .strip_prefix('n')
        .and_then(|d| d.parse().ok())
        .unwrap_or_else(|| panic!("not a node id: {token:?}"))
}

/// Store node `i` at its place in `nodes`.
fn put(nodes: &mut Vec<Option<(String, Option<usize>)>>, i: usize, node: (String, Option<usize>)) {
    if nodes.len() <= i {
        nodes.resize(i + 1, None);
    }
    assert!(nodes[i].is_none(), "node n{i} defined twice");
    nodes[i] = Some(node);
}

fn finish(nodes: Vec<Option<(String, Option<usize>)>>, edges: Vec<Link>) -> Read {
    let nodes: Vec<_> = nodes
        .into_iter()
        .enumerate()
        .map(|(i, n)| n.unwrap_or_else(|| panic!("n{i} never defined")))
        .collect();
    for (a, b, _, _) in &edges {
        assert!(
            *a < nodes.len() && *b < nodes.len(),
            "edge to an undefined node"
        );
    }
    Read { nodes, edges }
}

/// A Mermaid flowchart as `dsys diagram` writes it: subgraphs, node definitions
/// `nI["label"]` or `nI[("label")]`, edges `nA -->|label| nB` (`<-->` both ways).
fn parse_mermaid(text: &str) -> Read {
    let unescape = |s: &str| s.replace("#quot;", "\"").replace("#124;", "|");
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("---"));
    assert!(lines.next().unwrap().starts_with("title: "));
    assert_eq!(lines.next(), Some("---"));
    assert_eq!(lines.next(), Some("flowchart LR"));
    let (mut nodes, mut edges, mut group) = (Vec::new(), Vec::new(), None);
    let mut groups = 0;
    for line in lines.map(str::trim) {
        if let Some(rest) = line.strip_prefix("subgraph g") {
            assert!(group.is_none(), "nested subgraph");
            let (g, label) = rest.split_once('[').unwrap();
            assert_eq!(g.parse::<usize>().unwrap(), groups);
            assert!(label.starts_with('"') && label.ends_with("\"]"), "{line}");
            group = Some(groups);
            groups += 1;
        } else if line == "end" {
            assert!(group.take().is_some(), "end without subgraph");
        } else if let Some((from, rest, both)) = line
            .split_once(" <-->|")
            .map(|(f, r)| (f, r, true))
            .or_else(|| line.split_once(" -->|").map(|(f, r)| (f, r, false)))
        {
            let (label, to) = rest.rsplit_once("| ").unwrap();
            edges.push((node_number(from), node_number(to), unescape(label), both));
        } else {
            let (id, rest) = line
                .split_once('[')
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            let label = rest
                .strip_prefix("(\"")
                .and_then(|r| r.strip_suffix("\")]"))
                .or_else(|| rest.strip_prefix('"').and_then(|r| r.strip_suffix("\"]")))
                .unwrap_or_else(|| panic!("bad node {line:?}"));
            put(&mut nodes, node_number(id), (unescape(label), group));
        }
    }
    assert!(group.is_none(), "unclosed subgraph");
    finish(nodes, edges)
}

/// A DOT string literal at the start of `s`: its text and the rest.
fn dot_string(s: &str) -> (String, &str) {
    let mut chars = s.char_indices();
    assert_eq!(chars.next().map(|c| c.1), Some('"'), "{s}");
    let mut out = String::new();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next().unwrap().1),
            '"' => return (out, &s[i + 1..]),
            c => out.push(c),
        }
    }
    panic!("unterminated string in {s}");
}

/// DOT as `dsys diagram` writes it: clusters holding `nI [label="...", shape=...];` and
/// two invisible anchors, the invisible edges that stack the clusters, and
/// `nA -> nB [label="..."(, dir=both)(, constraint=false)];`.
fn parse_dot(text: &str) -> Read {
    let mut lines = text.lines().map(str::trim);
    assert!(lines.next().unwrap().starts_with("digraph \""));
    let (mut edges, mut group, mut groups, mut depth) = (Vec::new(), None, 0, 1);
    let mut nodes: Vec<Option<(String, Option<usize>)>> = Vec::new();
    for line in lines {
        if let Some(rest) = line.strip_prefix("subgraph cluster_g") {
            assert_eq!(rest, format!("{groups} {{"));
            group = Some(groups);
            groups += 1;
            depth += 1;
        } else if line == "}" {
            depth -= 1;
            group = None;
        } else if ["rankdir=", "newrank=", "label="]
            .iter()
            .any(|p| line.starts_with(p))
            || line.ends_with("[shape=point, style=invis, width=0];")
            || line.ends_with("[style=invis];")
        {
        } else if let Some((from, rest)) = line.split_once(" -> ") {
            let (to, attrs) = rest.split_once(" [label=").unwrap();
            let (label, tail) = dot_string(attrs);
            let both = tail.contains(", dir=both");
            let across = tail.contains(", constraint=false");
            let (from, to) = (node_number(from), node_number(to));
            assert_eq!(
                across,
                nodes[from].as_ref().unwrap().1 != nodes[to].as_ref().unwrap().1,
                "{line}: constraint=false exactly between regions"
            );
            edges.push((from, to, label, both));
        } else {
            let (id, attrs) = line
                .split_once(" [label=")
                .unwrap_or_else(|| panic!("unexpected line {line:?}"));
            let (label, tail) = dot_string(attrs);
            assert!(
                tail == ", shape=box];" || tail == ", shape=cylinder];",
                "{line}"
            );
            put(&mut nodes, node_number(id), (label, group));
        }
    }
    assert_eq!(depth, 0, "unbalanced braces");
    finish(nodes, edges)
}

#[test]
fn mermaid_and_dot_read_back_as_the_model() {
    for name in EXAMPLES {
        let m = model(name);
        assert!(!m.nodes.is_empty() && !m.edges.is_empty(), "{name}");
        assert_eq!(parse_mermaid(&draw(name, "mermaid")), m, "{name} mermaid");
        assert_eq!(parse_dot(&draw(name, "dot")), m, "{name} dot");
    }
}

/// Every format, with the file extension of its golden copy.
const FORMATS: [(&str, &str); 5] = [
    ("unicode", "txt"),
    ("ascii", "ascii.txt"),
    ("svg", "svg"),
    ("mermaid", "mmd"),
    ("dot", "dot"),
];

/// Regenerate, when the change is intended, with `scripts/regenerate-goldens.sh`.
#[test]
fn every_example_draws_its_golden_bytes() {
    for name in EXAMPLES {
        for (format, ext) in FORMATS {
            let golden = std::fs::read_to_string(format!("{GOLDEN}/{name}.{ext}"))
                .unwrap_or_else(|_| panic!("no golden {name}.{ext}"));
            assert_eq!(
                draw(name, format),
                golden,
                "{name} {format}: the drawing changed; if intended, regenerate the golden file"
            );
        }
    }
}

#[test]
fn labels_with_quotes_and_pipes_survive_both_formats() {
    let spec = common::temp("odd.toml");
    std::fs::write(
        spec.path(),
        "[system]\nname = \"a \\\"quoted\\\" | piped\"\navailability = 99.9\n\n[[region]]\nname = \"r|1\"\nzones = 3\n\n[[service]]\nname = \"s \\\"x\\\"\"\nregions = [\"r|1\"]\n",
    )
    .unwrap();
    let run = |format: &str| {
        let o = dsys(&["diagram", &spec, "--format", format]);
        assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
        stdout(&o)
    };
    let m = parse_mermaid(&run("mermaid"));
    let d = parse_dot(&run("dot"));
    assert_eq!(m.nodes, [("s \"x\"".to_string(), Some(0))]);
    assert_eq!(m, d);
}

#[test]
fn a_bad_spec_draws_nothing() {
    let o = dsys(&["diagram", "no/such.toml"]);
    assert_eq!(o.status.code(), Some(5), "unreadable: an I/O error");
    assert!(o.stdout.is_empty());
}

#[test]
fn terminal_drawings_keep_to_the_width_and_never_overlap() {
    for name in EXAMPLES {
        for width in [40u16, 80, 100, 160] {
            let text = stdout(&dsys(&[
                "diagram",
                &format!("{SPECS}/{name}.toml"),
                "--width",
                &width.to_string(),
            ]));
            let lines = grid(&text);
            for l in &lines {
                assert!(
                    l.len() <= usize::from(width),
                    "{name} at {width}: {} columns",
                    l.len()
                );
            }
            let boxes = boxes_in(&lines);
            let m = model(name);
            let groups = m
                .nodes
                .iter()
                .filter_map(|n| n.1)
                .max()
                .map_or(0, |g| g + 1);
            assert_eq!(boxes.len(), m.nodes.len() + groups, "{name} at {width}");
            // Any two boxes are apart, or one lies strictly inside the other.
            for (i, a) in boxes.iter().enumerate() {
                for b in &boxes[i + 1..] {
                    let apart = a.2 < b.0 || b.2 < a.0 || a.3 < b.1 || b.3 < a.1;
                    let inside =
                        |o: &(usize, usize, usize, usize), i: &(usize, usize, usize, usize)| {
                            o.0 < i.0 && i.2 < o.2 && o.1 < i.1 && i.3 < o.3
                        };
                    assert!(
                        apart || inside(a, b) || inside(b, a),
                        "{name} at {width}: {a:?} and {b:?} overlap"
                    );
                }
            }
            // Every node's number is printed inside exactly one box, on its middle row.
            for i in 0..m.nodes.len() {
                let number = i.to_string();
                let count = boxes
                    .iter()
                    .filter(|b| {
                        let row: String = lines[b.1 + 1][b.0..b.2].iter().collect();
                        b.3 == b.1 + 2
                            && row[row.char_indices().nth(2).unwrap().0..]
                                .starts_with(&format!("{number} "))
                    })
                    .count();
                assert_eq!(count, 1, "{name} at {width}: node {i}");
            }
        }
    }
}

/// A small XML well-formedness check: tags nest and close, attributes are quoted, text
/// holds no raw `<` and only the five predefined entities.
fn assert_well_formed_xml(doc: &str) {
    let entity_ok = |s: &str| {
        s.split('&').skip(1).all(|rest| {
            ["amp;", "lt;", "gt;", "quot;", "apos;"]
                .iter()
                .any(|e| rest.starts_with(e))
        })
    };
    let mut stack: Vec<String> = Vec::new();
    let mut rest = doc;
    while let Some(open) = rest.find('<') {
        assert!(
            entity_ok(&rest[..open]),
            "bad entity in text {:?}",
            &rest[..open]
        );
        let close = rest[open..].find('>').expect("unclosed tag") + open;
        let tag = &rest[open + 1..close];
        rest = &rest[close + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "mismatched </{name}>");
            continue;
        }
        let self_closing = tag.ends_with('/');
        let body = tag.trim_end_matches('/');
        let name: String = body.chars().take_while(|c| !c.is_whitespace()).collect();
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
            "bad tag {tag:?}"
        );
        let mut attrs = body[name.len()..].trim();
        while !attrs.is_empty() {
            let (key, after) = attrs
                .split_once("=\"")
                .unwrap_or_else(|| panic!("unquoted attribute in {tag:?}"));
            assert!(
                key.trim()
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':'),
                "{tag:?}"
            );
            let end = after.find('"').expect("unterminated attribute");
            assert!(
                !after[..end].contains('<') && entity_ok(&after[..end]),
                "{tag:?}"
            );
            attrs = after[end + 1..].trim_start();
        }
        if !self_closing {
            stack.push(name);
        }
    }
    assert!(rest.trim().is_empty(), "text after the root");
    assert!(stack.is_empty(), "unclosed {stack:?}");
}

#[test]
fn svg_is_well_formed_and_the_same_every_run() {
    for name in EXAMPLES {
        let first = draw(name, "svg");
        assert!(first.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_well_formed_xml(&first);
        assert_eq!(draw(name, "svg"), first, "{name}");
        let m = model(name);
        assert_eq!(
            first.matches("<g class=\"wire\">").count()
                + first.matches("<text class=\"unrouted\"").count(),
            m.edges.len(),
            "{name}: every connection drawn or listed"
        );
        assert_eq!(
            first.matches("<g class=\"service\">").count()
                + first.matches("<g class=\"store\">").count(),
            m.nodes.len(),
            "{name}"
        );
    }
}

//! The architecture drawings draw their connections: at widths 80, 100 and 160, every
//! connection of every example spec is a wire that can be followed in the printed text,
//! character by character, from the box it starts at to the box its arrowhead touches,
//! with its label written over it, never through a box or a region it does not belong
//! to. And Graphviz, given the DOT output, routes no edge through a region it does not
//! belong to.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::drawing::{EXAMPLES, Frame, SPECS, boxes_in, follow_wires, grid, within};
use common::{dsys, stderr, stdout};
use serde_json::Value;
use std::collections::BTreeMap;

fn draw(name: &str, args: &[&str]) -> String {
    let spec = format!("{SPECS}/{name}.toml");
    let mut all = vec!["diagram", spec.as_str()];
    all.extend_from_slice(args);
    let o = dsys(&all);
    assert_eq!(o.status.code(), Some(0), "{name} {args:?}: {}", stderr(&o));
    stdout(&o)
}

/// A connection as (from, to, label, both ways); both-ways ones with the lower node first.
type Link = (usize, usize, String, bool);

fn normal((a, b, label, both): Link) -> Link {
    if both && b < a {
        (b, a, label, both)
    } else {
        (a, b, label, both)
    }
}

/// The connections the drawings draw, from `--format json`, and each node's group.
fn model(name: &str) -> (Vec<Link>, Vec<Option<u64>>) {
    let v: Value = serde_json::from_str(&draw(name, &["--format", "json"])).unwrap();
    let mut links: Vec<Link> = v["connections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            normal((
                c["from"].as_u64().unwrap() as usize,
                c["to"].as_u64().unwrap() as usize,
                c["label"].as_str().unwrap().to_string(),
                c["both_ways"].as_bool().unwrap(),
            ))
        })
        .collect();
    links.sort();
    let groups = v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["group"].as_u64())
        .collect();
    (links, groups)
}

/// The node boxes (three rows high) by the number printed in them, and the group boxes.
fn frames(lines: &[Vec<char>]) -> (BTreeMap<usize, Frame>, Vec<Frame>) {
    let (mut nodes, mut groups) = (BTreeMap::new(), Vec::new());
    for f in boxes_in(lines) {
        if f.3 == f.1 + 2 {
            let number: String = lines[f.1 + 1][f.0 + 2..]
                .iter()
                .take_while(|c| c.is_ascii_digit())
                .collect();
            nodes.insert(number.parse().unwrap(), f);
        } else {
            groups.push(f);
        }
    }
    (nodes, groups)
}

#[test]
fn every_connection_is_a_wire_that_can_be_followed_from_box_to_box() {
    for name in EXAMPLES {
        let (expected, node_groups) = model(name);
        for width in [80, 100, 160] {
            let text = draw(name, &["--width", &width.to_string()]);
            let at = format!("{name} at width {width}");
            assert!(
                !text.contains("not drawn"),
                "{at}: a connection is listed, not drawn:\n{text}"
            );
            let lines = grid(&text);
            let (nodes, groups) = frames(&lines);
            assert_eq!(nodes.len(), node_groups.len(), "{at}: every node boxed");
            // Each node's group box: the one its box lies in.
            let group_of = |n: usize| {
                groups
                    .iter()
                    .position(|g| within(*g, (nodes[&n].0, nodes[&n].1)))
            };
            let box_with = |cell| {
                nodes
                    .iter()
                    .find(|(_, f)| within(**f, cell))
                    .map(|(n, _)| *n)
                    .unwrap_or_else(|| panic!("{at}: a wire ends at {cell:?}, on no box\n{text}"))
            };
            let mut drawn: Vec<Link> = Vec::new();
            for wire in follow_wires(&lines).unwrap_or_else(|e| panic!("{at}: {e}\n{text}")) {
                let (from, to) = (box_with(wire.from), box_with(wire.to));
                let own = [group_of(from), group_of(to)];
                for &cell in &wire.cells {
                    assert!(
                        nodes.values().all(|f| !within(*f, cell)),
                        "{at}: the wire {from} -> {to} runs through a box at {cell:?}\n{text}"
                    );
                    for (g, f) in groups.iter().enumerate() {
                        assert!(
                            !within(*f, cell) || own.contains(&Some(g)),
                            "{at}: the wire {from} -> {to} crosses a region it does not belong to at {cell:?}\n{text}"
                        );
                    }
                }
                drawn.push(normal((from, to, wire.label, wire.both_ways)));
            }
            // A wire with heads at both ends was followed from each.
            drawn.sort();
            let mut once: Vec<Link> = Vec::new();
            for link in drawn {
                if link.3 && once.last() == Some(&link) {
                    continue;
                }
                once.push(link);
            }
            assert_eq!(
                once, expected,
                "{at}: the wires read back as the connections\n{text}"
            );
        }
    }
}

#[test]
fn the_ascii_drawing_is_the_unicode_one_in_ascii() {
    for name in EXAMPLES {
        let unicode = draw(name, &["--width", "100"]);
        let ascii = draw(name, &["--width", "100", "--format", "ascii"]);
        assert!(ascii.is_ascii(), "{name}");
        let mapped: String = unicode.chars().map(dsys_diagram::to_ascii).collect();
        assert_eq!(
            ascii, mapped,
            "{name}: not the Unicode drawing, character for character"
        );
    }
}

/// Points along a cubic Bézier.
fn bezier(p: &[(f64, f64)]) -> impl Iterator<Item = (f64, f64)> + '_ {
    (0..=24).map(move |i| {
        let t = f64::from(i) / 24.0;
        let u = 1.0 - t;
        let w = [u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t];
        (
            (0..4).map(|k| w[k] * p[k].0).sum(),
            (0..4).map(|k| w[k] * p[k].1).sum(),
        )
    })
}

/// Graphviz's `dot`, if installed: `scripts/test.sh` installs it and then requires it.
fn graphviz() -> bool {
    let found = std::process::Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var_os("DSYS_REQUIRE_SERVICES").is_none(),
            "Graphviz (dot) is required here: scripts/services.sh install graphviz"
        );
        eprintln!("skipped: Graphviz (dot) is not installed");
    }
    found
}

#[test]
fn graphviz_routes_no_edge_through_a_region_it_does_not_belong_to() {
    if !graphviz() {
        return;
    }
    for name in EXAMPLES {
        let source = draw(name, &["--format", "dot"]);
        let dir = common::temp(&format!("{name}.dot"));
        std::fs::write(dir.path(), &source).unwrap();
        let o = std::process::Command::new("dot")
            .args(["-Tjson", dir.as_str()])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        // Each cluster's box and members.
        let mut clusters: Vec<([f64; 4], Vec<u64>)> = Vec::new();
        for object in v["objects"].as_array().unwrap() {
            if object["name"].as_str().unwrap().starts_with("cluster_") {
                let bb: Vec<f64> = object["bb"]
                    .as_str()
                    .unwrap()
                    .split(',')
                    .map(|n| n.parse().unwrap())
                    .collect();
                let members = object["nodes"]
                    .as_array()
                    .map(|m| m.iter().map(|n| n.as_u64().unwrap()).collect())
                    .unwrap_or_default();
                clusters.push(([bb[0], bb[1], bb[2], bb[3]], members));
            }
        }
        assert!(!clusters.is_empty(), "{name}: no clusters");
        let mut drawn = 0;
        for edge in v["edges"].as_array().unwrap() {
            if edge["style"].as_str() == Some("invis") {
                continue;
            }
            drawn += 1;
            let ends = [
                edge["tail"].as_u64().unwrap(),
                edge["head"].as_u64().unwrap(),
            ];
            let label = edge["label"].as_str().unwrap_or("");
            for op in edge["_draw_"].as_array().unwrap() {
                if !matches!(op["op"].as_str(), Some("b" | "B")) {
                    continue;
                }
                let points: Vec<(f64, f64)> = op["points"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_f64().unwrap(), p[1].as_f64().unwrap()))
                    .collect();
                for piece in points.windows(4).step_by(3) {
                    for (x, y) in bezier(piece) {
                        for ([x1, y1, x2, y2], members) in &clusters {
                            let foreign = !ends.iter().any(|e| members.contains(e));
                            assert!(
                                !(foreign && *x1 < x && x < *x2 && *y1 < y && y < *y2),
                                "{name}: the edge {label:?} passes through a foreign cluster at ({x:.0}, {y:.0})"
                            );
                        }
                    }
                }
            }
        }
        assert_eq!(
            drawn,
            model(name).0.len(),
            "{name}: one edge per connection"
        );
    }
}

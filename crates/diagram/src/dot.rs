//! Graphviz DOT (graphviz.org/doc/info/lang.html), laid out so that `dot` draws no edge
//! through a region it does not belong to.
//!
//! Left to itself, `dot` ranks a cluster's nodes on their own and then places clusters by
//! the edges between them: in a four-region design it put one region beside the ranks of
//! two others, and an edge between those two could only cross it (two of checkout's
//! edges did). So the regions are stacked top to bottom in the model's order (an
//! invisible anchor above and below each region's nodes, chained from one region to the
//! next, with `newrank` so the chain ranks globally), and edges between regions take no
//! part in ranking (`constraint=false`): they only route, and `dot` routes an edge that
//! spans ranks around the clusters it does not belong to.

use crate::text::{Syntax, render};
use crate::{Connection, Diagram, Node, Shape};
use std::fmt::Write;

/// A DOT string literal.
fn quoted(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace(['\n', '\r'], " ");
    format!("\"{escaped}\"")
}

struct Dot;

/// The invisible nodes above and below group `g`'s nodes.
fn anchors(g: usize) -> (String, String) {
    (format!("g{g}_top"), format!("g{g}_bottom"))
}

impl Syntax for Dot {
    fn header(&self, out: &mut String, title: &str) {
        let _ = writeln!(
            out,
            "digraph {} {{\n  rankdir=TB;\n  newrank=true;\n  label={};",
            quoted(title),
            quoted(title)
        );
    }
    fn group_open(&self, out: &mut String, g: usize, label: &str) {
        let _ = writeln!(
            out,
            "  subgraph cluster_g{g} {{\n    label={};",
            quoted(label)
        );
    }
    fn group_close(&self, out: &mut String, g: usize) {
        let (top, bottom) = anchors(g);
        let _ = writeln!(
            out,
            "    {top} [shape=point, style=invis, width=0];\n    {bottom} [shape=point, style=invis, width=0];\n  }}"
        );
    }
    fn node(&self, out: &mut String, indent: &str, i: usize, n: &Node) {
        let shape = match n.shape {
            Shape::Service => "box",
            Shape::Store => "cylinder",
        };
        let _ = writeln!(
            out,
            "{indent}n{i} [label={}, shape={shape}];",
            quoted(&n.label)
        );
    }
    fn after_nodes(&self, out: &mut String, d: &Diagram) {
        for g in 0..d.groups.len() {
            let (top, bottom) = anchors(g);
            for (i, _) in d.members(g) {
                let _ = writeln!(out, "  {top} -> n{i} -> {bottom} [style=invis];");
            }
            if g + 1 < d.groups.len() {
                let _ = writeln!(out, "  {bottom} -> {} [style=invis];", anchors(g + 1).0);
            }
        }
        // Nodes in no group go below the last region.
        if let Some(last) = d.groups.len().checked_sub(1) {
            for (i, _) in d
                .nodes
                .iter()
                .enumerate()
                .filter(|(_, n)| n.group.is_none())
            {
                let _ = writeln!(out, "  {} -> n{i} [style=invis];", anchors(last).1);
            }
        }
    }
    fn connection(&self, out: &mut String, d: &Diagram, c: &Connection) {
        let mut attributes = vec![format!("label={}", quoted(&c.label))];
        if c.both_ways {
            attributes.push("dir=both".to_string());
        }
        if d.nodes[c.from].group != d.nodes[c.to].group {
            attributes.push("constraint=false".to_string());
        }
        let _ = writeln!(
            out,
            "  n{} -> n{} [{}];",
            c.from,
            c.to,
            attributes.join(", ")
        );
    }
    fn footer(&self, out: &mut String) {
        let _ = writeln!(out, "}}");
    }
}

/// The diagram as a DOT digraph: regions as clusters stacked top to bottom.
pub fn dot(d: &Diagram) -> String {
    render(d, &Dot)
}

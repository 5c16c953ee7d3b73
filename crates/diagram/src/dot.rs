//! Graphviz DOT (graphviz.org/doc/info/lang.html).

use crate::text::{Syntax, render};
use crate::{Diagram, Node, Shape};
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

impl Syntax for Dot {
    fn header(&self, out: &mut String, title: &str) {
        let _ = writeln!(
            out,
            "digraph {} {{\n  rankdir=LR;\n  label={};",
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
    fn group_close(&self, out: &mut String) {
        let _ = writeln!(out, "  }}");
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
    fn edge(&self, out: &mut String, from: usize, to: usize, label: &str) {
        let _ = writeln!(out, "  n{from} -> n{to} [label={}];", quoted(label));
    }
    fn footer(&self, out: &mut String) {
        let _ = writeln!(out, "}}");
    }
}

/// The diagram as a DOT digraph, left to right, one cluster per group.
pub fn dot(d: &Diagram) -> String {
    render(d, &Dot)
}

//! Mermaid flowcharts (mermaid.js.org/syntax/flowchart.html).

use crate::text::{Syntax, render};
use crate::{Connection, Diagram, Node, Shape};
use std::fmt::Write;

/// Text inside a Mermaid label: quotes and pipes as entity codes, one line.
fn label(text: &str) -> String {
    text.replace('"', "#quot;")
        .replace('|', "#124;")
        .replace(['\n', '\r'], " ")
}

struct Mermaid;

impl Syntax for Mermaid {
    fn header(&self, out: &mut String, title: &str) {
        let _ = writeln!(out, "---\ntitle: {}\n---\nflowchart LR", label(title));
    }
    fn group_open(&self, out: &mut String, g: usize, text: &str) {
        let _ = writeln!(out, "  subgraph g{g}[\"{}\"]", label(text));
    }
    fn group_close(&self, out: &mut String, _: usize) {
        let _ = writeln!(out, "  end");
    }
    fn node(&self, out: &mut String, indent: &str, i: usize, n: &Node) {
        let (open, close) = match n.shape {
            Shape::Service => ("[\"", "\"]"),
            Shape::Store => ("[(\"", "\")]"),
        };
        let _ = writeln!(out, "{indent}n{i}{open}{}{close}", label(&n.label));
    }
    fn connection(&self, out: &mut String, _: &Diagram, c: &Connection) {
        let arrow = if c.both_ways { "<-->" } else { "-->" };
        let _ = writeln!(out, "  n{} {arrow}|{}| n{}", c.from, label(&c.label), c.to);
    }
    fn footer(&self, _: &mut String) {}
}

/// The diagram as a Mermaid flowchart, left to right, one subgraph per group.
pub fn mermaid(d: &Diagram) -> String {
    render(d, &Mermaid)
}

//! The walk the text formats share: the header, each group with its nodes, the nodes in
//! no group, the connections, the footer. A format says only how each piece is spelled.

use crate::{Connection, Diagram, Node};

/// How a text format spells each piece of a diagram.
pub(crate) trait Syntax {
    /// Before everything.
    fn header(&self, out: &mut String, title: &str);
    /// Open group `g`.
    fn group_open(&self, out: &mut String, g: usize, label: &str);
    /// Close group `g`.
    fn group_close(&self, out: &mut String, g: usize);
    /// Node `i`, indented `indent`.
    fn node(&self, out: &mut String, indent: &str, i: usize, node: &Node);
    /// After the nodes, before the connections.
    fn after_nodes(&self, _out: &mut String, _d: &Diagram) {}
    /// A connection of `d`.
    fn connection(&self, out: &mut String, d: &Diagram, c: &Connection);
    /// After everything.
    fn footer(&self, out: &mut String);
}

/// `d` in `syntax`, nodes named by position (`n0`, `n1`, ...), in the model's order.
pub(crate) fn render(d: &Diagram, syntax: &impl Syntax) -> String {
    let mut out = String::new();
    syntax.header(&mut out, &d.title);
    for (g, group) in d.groups.iter().enumerate() {
        syntax.group_open(&mut out, g, &group.label);
        for (i, n) in d.members(g) {
            syntax.node(&mut out, "    ", i, n);
        }
        syntax.group_close(&mut out, g);
    }
    for (i, n) in d
        .nodes
        .iter()
        .enumerate()
        .filter(|(_, n)| n.group.is_none())
    {
        syntax.node(&mut out, "  ", i, n);
    }
    syntax.after_nodes(&mut out, d);
    for c in d.connections() {
        syntax.connection(&mut out, d, &c);
    }
    syntax.footer(&mut out);
    out
}

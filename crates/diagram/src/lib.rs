//! One architecture model, many drawings: regions as boxes holding services and data
//! stores, with labelled edges between them.
//!
//! ```
//! use dsys_diagram::{Diagram, Shape};
//! let mut d = Diagram::new("shop");
//! let eu = d.group("eu-west", "eu-west (3 zones)");
//! let api = d.node("api@eu-west", "api", Some(eu), Shape::Service);
//! let db = d.node("orders@eu-west", "orders: raft leader", Some(eu), Shape::Store);
//! d.edge(api, db, "writes");
//! assert!(dsys_diagram::mermaid(&d).contains("-->|writes|"));
//! assert!(dsys_diagram::dot(&d).contains("label=\"writes\""));
//! ```
//!
//! Every renderer writes nodes and edges in the model's order and names them by position
//! (`n0`, `n1`, ... and `g0`, ... for groups), so the same model gives the same bytes on
//! every run whatever characters the labels hold.

pub mod chart;
mod dot;
pub mod layout;
mod mermaid;
pub mod route;
mod svg;
mod terminal;
mod text;

pub use dot::dot;
pub use mermaid::mermaid;
pub use svg::svg;
pub use terminal::{Charset, terminal, to_ascii};

use serde::Serialize;

/// What a node is drawn as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shape {
    /// A service: a box.
    Service,
    /// A data store: a cylinder.
    Store,
}

/// A box that holds nodes: a region.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// Stable id, unique in the diagram.
    pub id: String,
    /// What is printed.
    pub label: String,
}

/// A service or a store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Stable id, unique in the diagram.
    pub id: String,
    /// What is printed.
    pub label: String,
    /// The group it sits in (index into [`Diagram::groups`]).
    pub group: Option<usize>,
    /// How it is drawn.
    pub shape: Shape,
}

/// A labelled arrow.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Edge {
    /// Index into [`Diagram::nodes`].
    pub from: usize,
    /// Index into [`Diagram::nodes`].
    pub to: usize,
    /// What is printed on it.
    pub label: String,
}

/// What the drawings draw for the edges between two nodes: the edges one way joined into
/// one arrow (labels in order, comma-separated), and two arrows with the same label
/// either way joined into one with a head at each end.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Connection {
    /// Index into [`Diagram::nodes`].
    pub from: usize,
    /// Index into [`Diagram::nodes`].
    pub to: usize,
    /// What is printed on it.
    pub label: String,
    /// Whether it points both ways.
    pub both_ways: bool,
}

/// The model every drawing comes from.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Diagram {
    /// The title.
    pub title: String,
    /// The groups, in drawing order.
    pub groups: Vec<Group>,
    /// The nodes, in drawing order.
    pub nodes: Vec<Node>,
    /// The edges, in drawing order.
    pub edges: Vec<Edge>,
}

impl Diagram {
    /// An empty diagram.
    pub fn new(title: &str) -> Self {
        Diagram {
            title: title.to_string(),
            ..Diagram::default()
        }
    }

    /// Add a group (or find the one with this id); returns its index.
    pub fn group(&mut self, id: &str, label: &str) -> usize {
        if let Some(i) = self.groups.iter().position(|g| g.id == id) {
            return i;
        }
        self.groups.push(Group {
            id: id.to_string(),
            label: label.to_string(),
        });
        self.groups.len() - 1
    }

    /// Add a node (or find the one with this id); returns its index.
    pub fn node(&mut self, id: &str, label: &str, group: Option<usize>, shape: Shape) -> usize {
        if let Some(i) = self.node_index(id) {
            return i;
        }
        self.nodes.push(Node {
            id: id.to_string(),
            label: label.to_string(),
            group,
            shape,
        });
        self.nodes.len() - 1
    }

    /// The index of the node with this id.
    pub fn node_index(&self, id: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.id == id)
    }

    /// Add an edge unless the same one (ends and label) is there already.
    pub fn edge(&mut self, from: usize, to: usize, label: &str) {
        let edge = Edge {
            from,
            to,
            label: label.to_string(),
        };
        if !self.edges.contains(&edge) {
            self.edges.push(edge);
        }
    }

    /// The connections to draw, in the order their first edge was added; edges whose
    /// ends do not exist are left out.
    pub fn connections(&self) -> Vec<Connection> {
        // One way first: (from, to) -> labels, in first-seen order.
        let mut one_way: Vec<Connection> = Vec::new();
        for e in self
            .edges
            .iter()
            .filter(|e| e.from < self.nodes.len() && e.to < self.nodes.len())
        {
            match one_way
                .iter_mut()
                .find(|c| (c.from, c.to) == (e.from, e.to))
            {
                Some(c) => {
                    c.label.push_str(", ");
                    c.label.push_str(&e.label);
                }
                None => one_way.push(Connection {
                    from: e.from,
                    to: e.to,
                    label: e.label.clone(),
                    both_ways: false,
                }),
            }
        }
        // Then the same label back: the later arrow joins the earlier one.
        let mut out: Vec<Connection> = Vec::new();
        for c in one_way {
            match out
                .iter_mut()
                .find(|o| (o.from, o.to) == (c.to, c.from) && o.label == c.label && !o.both_ways)
            {
                Some(o) => o.both_ways = true,
                None => out.push(c),
            }
        }
        out
    }

    /// The nodes of group `g`, in order.
    pub fn members(&self, g: usize) -> impl Iterator<Item = (usize, &Node)> {
        self.nodes
            .iter()
            .enumerate()
            .filter(move |(_, n)| n.group == Some(g))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adding_twice_finds_the_first() {
        let mut d = Diagram::new("t");
        let g = d.group("g", "G");
        assert_eq!(d.group("g", "other"), g);
        let a = d.node("a", "A", Some(g), Shape::Service);
        let b = d.node("b", "B", None, Shape::Store);
        assert_eq!(d.node("a", "A2", None, Shape::Store), a);
        d.edge(a, b, "x");
        d.edge(a, b, "x");
        d.edge(a, b, "y");
        assert_eq!(d.edges.len(), 2);
        assert_eq!(d.members(g).count(), 1);
    }

    #[test]
    fn connections_join_labels_one_way_and_equal_arrows_both_ways() {
        let mut d = Diagram::new("t");
        let a = d.node("a", "A", None, Shape::Service);
        let b = d.node("b", "B", None, Shape::Store);
        let c = d.node("c", "C", None, Shape::Store);
        d.edge(a, b, "writes");
        d.edge(b, c, "async");
        d.edge(a, b, "reads");
        d.edge(c, b, "async");
        d.edge(b, a, "calls");
        d.edge(a, 9, "dangling");
        let connections = d.connections();
        let joined: Vec<(usize, usize, &str, bool)> = connections
            .iter()
            .map(|c| (c.from, c.to, c.label.as_str(), c.both_ways))
            .collect();
        assert_eq!(
            joined,
            [
                (a, b, "writes, reads", false),
                (b, c, "async", true),
                (b, a, "calls", false)
            ]
        );
    }
}

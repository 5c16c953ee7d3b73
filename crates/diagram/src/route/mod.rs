//! Wires: every connection drawn as an orthogonal path on the layout's character grid,
//! from a cell beside its source box to a cell beside its target box, with its label
//! written over a straight stretch of the path (`──writes──▶`).
//!
//! Each wire is found by A* over (cell, heading), cheapest first: a step costs 1, a bend
//! more, crossing another wire more still. The rules make a drawing that can be followed
//! by eye (and by a test): a wire never enters a box, a label, a group title or a group
//! it does not belong to (a wire inside one group stays inside it); it crosses another
//! wire or a group border only at right angles and never where either turns; no two
//! wires share a cell along the same axis; each wire leaves and enters its boxes by a
//! border cell of its own. When a wire or its label finds no room, the layout is widened
//! (more rows and columns between boxes, a wider gutter) and everything is routed again;
//! what still fits nowhere is listed by the drawings under the picture, never dropped.

mod board;
mod search;

use crate::layout::{Layout, Rect, Spacing, layout, shorten};
use crate::{Connection, Diagram};
use board::{Board, Region, occupy, place_label};
use search::{Scratch, States, search};

/// A cell: (column, row).
pub type Cell = (usize, usize);

/// Which way a wire heads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heading {
    /// Towards row 0.
    Up,
    /// Towards the last row.
    Down,
    /// Towards column 0.
    Left,
    /// Towards the last column.
    Right,
}

impl Heading {
    const ALL: [Heading; 4] = [Heading::Up, Heading::Down, Heading::Left, Heading::Right];

    /// Along a row.
    pub fn horizontal(self) -> bool {
        matches!(self, Heading::Left | Heading::Right)
    }

    /// The way back.
    pub fn opposite(self) -> Heading {
        match self {
            Heading::Up => Heading::Down,
            Heading::Down => Heading::Up,
            Heading::Left => Heading::Right,
            Heading::Right => Heading::Left,
        }
    }

    /// The cell one step this way from `(x, y)`, if it is not off the top or left.
    pub fn step(self, (x, y): Cell) -> Option<Cell> {
        match self {
            Heading::Up => y.checked_sub(1).map(|y| (x, y)),
            Heading::Down => Some((x, y + 1)),
            Heading::Left => x.checked_sub(1).map(|x| (x, y)),
            Heading::Right => Some((x + 1, y)),
        }
    }

    /// The heading from `a` to its neighbour `b`.
    pub fn between(a: Cell, b: Cell) -> Heading {
        if b.0 > a.0 {
            Heading::Right
        } else if b.0 < a.0 {
            Heading::Left
        } else if b.1 > a.1 {
            Heading::Down
        } else {
            Heading::Up
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A label on its wire: its text, on row `y` from column `x`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Label {
    /// Left column.
    pub x: usize,
    /// Row.
    pub y: usize,
    /// What is printed (maybe shortened), over the wire itself: `──writes──▶`.
    pub text: String,
}

/// One connection, drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wire {
    /// Index into [`Drawing::connections`].
    pub connection: usize,
    /// The source box's border cell the wire leaves by.
    pub from_port: Cell,
    /// The target box's border cell the wire arrives at.
    pub to_port: Cell,
    /// The path, from the cell beside the source box to the cell beside the target box
    /// (where the arrowhead is drawn).
    pub cells: Vec<Cell>,
    /// Its label.
    pub label: Label,
}

/// A diagram laid out with its wires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Drawing {
    /// Where the boxes are.
    pub layout: Layout,
    /// What there is to draw, from [`Diagram::connections`].
    pub connections: Vec<Connection>,
    /// The connections drawn, in the order they were routed.
    pub wires: Vec<Wire>,
    /// The connections no room was found for, to be listed under the drawing.
    pub unrouted: Vec<usize>,
}

/// Widening attempts before what does not fit is listed instead.
const ATTEMPTS: usize = 8;

/// Route every connection of `d` on layout `l`, `first` before the others and the rest
/// shortest first (they have the fewest ways to go); the ones that found no room are
/// returned as unrouted.
fn route(
    d: &Diagram,
    l: &Layout,
    connections: &[Connection],
    first: &[usize],
) -> (Vec<Wire>, Vec<usize>) {
    let mut board = Board::new(l);
    let mut scratch = Scratch::new(States { width: l.width }.count(&board));
    let centre = |r: Rect| (2 * r.x + r.w, 2 * r.y + r.h);
    let mut order: Vec<usize> = (0..connections.len()).collect();
    order.sort_by_key(|&i| {
        let (a, b) = (
            centre(l.nodes[connections[i].from].0),
            centre(l.nodes[connections[i].to].0),
        );
        (
            !first.contains(&i),
            a.0.abs_diff(b.0) + a.1.abs_diff(b.1),
            i,
        )
    });
    let label_room = l.width.saturating_sub(8);
    let (mut wires, mut unrouted) = (Vec::new(), Vec::new());
    for i in order {
        let c = &connections[i];
        let region = Region {
            from: d.nodes[c.from].group,
            to: d.nodes[c.to].group,
        };
        let (from, to) = (l.nodes[c.from].0, l.nodes[c.to].0);
        let before = board.clone();
        let text = shorten(&c.label, label_room);
        let run = text.chars().count() + 2;
        let placed = search(&board, &mut scratch, (from, to), region, run)
            .filter(|path| !board::overlaps_itself(path))
            .and_then(|path| {
                occupy(&mut board, &path);
                let label = place_label(&board, &path, &text)?;
                Some((path, label))
            });
        match placed {
            Some((path, label)) => {
                for (x, _) in (label.x..).zip(label.text.chars()) {
                    board.at_mut((x, label.y)).label = true;
                }
                wires.push(Wire {
                    connection: i,
                    from_port: path.from_port,
                    to_port: path.to_port,
                    cells: path.cells,
                    label,
                });
            }
            None => {
                board = before;
                unrouted.push(i);
            }
        }
    }
    unrouted.sort_unstable();
    (wires, unrouted)
}

/// Whether a connection of `d` passes a group it does not belong to, so the layout needs
/// a gutter to take it round.
fn passes_a_group(d: &Diagram, connections: &[Connection]) -> bool {
    // Groups are stacked in order, nodes in no group below them all.
    let band = |i: usize| d.nodes[i].group.unwrap_or(d.groups.len());
    connections
        .iter()
        .any(|c| band(c.from).abs_diff(band(c.to)) > 1)
}

/// `d` laid out in `width` columns from row `top`, every connection routed: the
/// tightest spacing that fits them all, or the one that fits the most.
pub fn draw(d: &Diagram, width: usize, top: usize) -> Drawing {
    let connections = d.connections();
    let gutter_step = if passes_a_group(d, &connections) {
        2
    } else {
        0
    };
    let mut best: Option<Drawing> = None;
    for attempt in 0..ATTEMPTS {
        let spacing = Spacing {
            rows: 1 + attempt / 2,
            columns: 2 + attempt,
            gutter: gutter_step * (1 + attempt),
        };
        let l = layout(d, width, top, spacing);
        let (mut wires, mut unrouted) = route(d, &l, &connections, &[]);
        // Before widening, once more with the ones that did not fit routed first.
        if !unrouted.is_empty() {
            let again = route(d, &l, &connections, &unrouted);
            if again.1.len() < unrouted.len() {
                (wires, unrouted) = again;
            }
        }
        let drawing = Drawing {
            layout: l,
            connections: connections.clone(),
            wires,
            unrouted,
        };
        if drawing.unrouted.is_empty() {
            return drawing;
        }
        if best
            .as_ref()
            .is_none_or(|b| drawing.unrouted.len() < b.unrouted.len())
        {
            best = Some(drawing);
        }
    }
    best.unwrap_or_else(|| Drawing {
        layout: layout(d, width, top, Spacing::TIGHT),
        connections,
        wires: Vec::new(),
        unrouted: Vec::new(),
    })
}

#[cfg(test)]
mod tests;

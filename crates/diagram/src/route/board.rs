//! The grid wires are routed on: what occupies each cell, where a wire may go, and how a
//! routed wire and its label are put down.

use super::{Cell, Heading, Label};
use crate::layout::{Layout, Rect};

/// What occupies a cell.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Use {
    /// A box, a group's corner or title, or a port already taken: nothing passes.
    pub(super) solid: bool,
    /// A group border: `Some(true)` along a row, `Some(false)` along a column.
    pub(super) border: Option<bool>,
    /// The group whose rectangle holds the cell, border included.
    pub(super) group: Option<usize>,
    /// A wire runs along the row through it.
    pub(super) across: bool,
    /// A wire runs along the column through it.
    pub(super) down: bool,
    /// A label is printed here.
    pub(super) label: bool,
    /// Next to a box: a wire running here hugs it.
    pub(super) beside_box: bool,
}

impl Use {
    /// Nothing but (maybe) a group's inside: a wire may turn or end here.
    pub(super) fn empty(&self) -> bool {
        !self.solid && self.border.is_none() && !self.across && !self.down && !self.label
    }
}

/// The grid being routed on.
#[derive(Clone)]
pub(super) struct Board {
    pub(super) width: usize,
    pub(super) height: usize,
    pub(super) cells: Vec<Use>,
}

impl Board {
    pub(super) fn new(l: &Layout) -> Self {
        let mut b = Board {
            width: l.width,
            height: l.height,
            cells: vec![Use::default(); l.width * l.height],
        };
        for (g, (r, title)) in l.groups.iter().enumerate() {
            for y in r.y..r.y + r.h {
                for x in r.x..r.x + r.w {
                    let edge_row = y == r.y || y + 1 == r.y + r.h;
                    let edge_column = x == r.x || x + 1 == r.x + r.w;
                    let u = b.at_mut((x, y));
                    u.group = Some(g);
                    match (edge_row, edge_column) {
                        (true, true) => u.solid = true,
                        (true, false) => u.border = Some(true),
                        (false, true) => u.border = Some(false),
                        (false, false) => {}
                    }
                }
            }
            // The title, printed as " title " from two columns in.
            for x in r.x + 1..(r.x + 4 + title.chars().count()).min(r.x + r.w) {
                b.at_mut((x, r.y)).solid = true;
            }
        }
        for (r, _) in &l.nodes {
            for y in r.y.saturating_sub(1)..(r.y + r.h + 1).min(b.height) {
                for x in r.x.saturating_sub(1)..(r.x + r.w + 1).min(b.width) {
                    b.at_mut((x, y)).beside_box = true;
                }
            }
            for y in r.y..r.y + r.h {
                for x in r.x..r.x + r.w {
                    b.at_mut((x, y)).solid = true;
                }
            }
        }
        b
    }

    pub(super) fn at(&self, (x, y): Cell) -> Option<&Use> {
        (x < self.width && y < self.height).then(|| &self.cells[y * self.width + x])
    }

    pub(super) fn at_mut(&mut self, (x, y): Cell) -> &mut Use {
        &mut self.cells[y * self.width + x]
    }
}

/// Where one wire may go: the groups of its two ends.
#[derive(Clone, Copy)]
pub(super) struct Region {
    pub(super) from: Option<usize>,
    pub(super) to: Option<usize>,
}

impl Region {
    pub(super) fn allows(&self, u: &Use) -> bool {
        if self.from == self.to && self.from.is_some() {
            // Inside its group, off the border.
            u.group == self.from && u.border.is_none()
        } else {
            u.group.is_none() || u.group == self.from || u.group == self.to
        }
    }
}

/// The border cells of `r` a wire may leave or enter by, each with the heading that
/// leaves the box there.
pub(super) fn ports(r: Rect) -> Vec<(Cell, Heading)> {
    let mut out = Vec::new();
    if r.w < 3 || r.h < 3 {
        return out;
    }
    // Not right beside a corner where the box is wide enough: `┌─┴──` reads better
    // than `┌┴───`.
    let inset = if r.w >= 7 { 2 } else { 1 };
    for x in r.x + inset..r.x + r.w - inset {
        out.push(((x, r.y), Heading::Up));
        out.push(((x, r.y + r.h - 1), Heading::Down));
    }
    for y in r.y + 1..r.y + r.h - 1 {
        out.push(((r.x, y), Heading::Left));
        out.push(((r.x + r.w - 1, y), Heading::Right));
    }
    out
}

/// A wire's path: its ports and the cells between them.
pub(super) struct Path {
    pub(super) from_port: Cell,
    pub(super) to_port: Cell,
    pub(super) cells: Vec<Cell>,
}

/// How a wire passes one of its cells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pass {
    /// Straight along the row.
    Across,
    /// Straight along the column.
    Down,
    /// It turns, starts or ends there: the cell is the wire's alone.
    Whole,
}

/// Each cell of `path` with how the wire passes it, in order.
fn passes(path: &Path) -> impl Iterator<Item = (Cell, Pass)> + '_ {
    let last = path.cells.len() - 1;
    path.cells.iter().enumerate().map(move |(k, &c)| {
        let before = if k == 0 {
            path.from_port
        } else {
            path.cells[k - 1]
        };
        let after = if k == last {
            path.to_port
        } else {
            path.cells[k + 1]
        };
        let (a, b) = (Heading::between(before, c), Heading::between(c, after));
        let pass = if k == 0 || k == last || a != b {
            Pass::Whole
        } else if a.horizontal() {
            Pass::Across
        } else {
            Pass::Down
        };
        (c, pass)
    })
}

/// Whether `path` uses one of its cells twice other than by crossing itself at right
/// angles: the search does not see its own path, so a wire that loops back (to find a
/// stretch long enough for its label) could turn where it also runs straight. Such a
/// wire is not drawn; the layout widens instead.
pub(super) fn overlaps_itself(path: &Path) -> bool {
    let mut seen: std::collections::BTreeMap<Cell, Vec<Pass>> = std::collections::BTreeMap::new();
    for (c, pass) in passes(path) {
        seen.entry(c).or_default().push(pass);
    }
    // Only a straight crossing of itself is drawable.
    seen.values().any(|p| {
        !matches!(
            p.as_slice(),
            [_] | [Pass::Across, Pass::Down] | [Pass::Down, Pass::Across]
        )
    })
}

/// Mark `path` on the board: ends and bends take their cell whole, straight cells one
/// axis. (A port is then taken too: the cell beside it is no longer empty.)
pub(super) fn occupy(board: &mut Board, path: &Path) {
    for (c, pass) in passes(path) {
        let u = board.at_mut(c);
        match pass {
            Pass::Across => u.across = true,
            Pass::Down => u.down = true,
            Pass::Whole => {
                u.across = true;
                u.down = true;
            }
        }
    }
}

/// Where `text` goes on the wire `path` (already on the board): centred on the longest
/// straight stretch along a row that no other wire crosses, a line cell either side.
pub(super) fn place_label(board: &Board, path: &Path, text: &str) -> Option<Label> {
    let len = text.chars().count();
    let cells = &path.cells;
    let n = cells.len();
    let plain = |k: usize| {
        k > 0
            && k + 1 < n
            && cells[k - 1].1 == cells[k].1
            && cells[k + 1].1 == cells[k].1
            && board
                .at(cells[k])
                .is_some_and(|u| !u.down && u.border.is_none())
    };
    let mut best: Option<(usize, usize)> = None;
    let mut k = 0;
    while k < n {
        if !plain(k) {
            k += 1;
            continue;
        }
        let start = k;
        while k < n && plain(k) {
            k += 1;
        }
        if best.is_none_or(|(s, e)| k - start > e - s) {
            best = Some((start, k));
        }
    }
    let (start, end) = best.filter(|(s, e)| e - s >= len + 2)?;
    let first = start + (end - start - len) / 2;
    let x = (first..first + len).map(|k| cells[k].0).min()?;
    Some(Label {
        x,
        y: cells[start].1,
        text: text.to_string(),
    })
}

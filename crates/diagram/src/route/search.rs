//! The search for one wire: A* over (cell, heading, label placed yet), cheapest first.

use super::board::{Board, Path, Region, ports};
use super::{Cell, Heading};
use crate::layout::Rect;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// What a bend costs beyond its step: a few cells of detour buy one bend fewer.
const BEND: u32 = 4;
/// What crossing another wire costs beyond its step.
const CROSS: u32 = 6;
/// What a step next to a box costs beyond its step: wires keep off boxes they do not
/// enter.
const HUG: u32 = 2;
/// What crossing a group border costs beyond its step.
const BORDER: u32 = 1;

/// The search's states: a cell, the heading the wire entered it with, and whether the
/// wire has already passed a stretch that can carry its label.
#[derive(Clone, Copy)]
pub(super) struct States {
    pub(super) width: usize,
}

impl States {
    pub(super) fn count(&self, board: &Board) -> usize {
        board.width * board.height * 8
    }
    fn id(&self, (x, y): Cell, h: Heading, labelled: bool) -> usize {
        ((y * self.width + x) * 4 + h.index()) * 2 + usize::from(labelled)
    }
    fn cell(&self, s: usize) -> Cell {
        ((s / 8) % self.width, s / 8 / self.width)
    }
    fn heading(&self, s: usize) -> Heading {
        Heading::ALL[(s / 2) % 4]
    }
    fn labelled(&self, s: usize) -> bool {
        s % 2 == 1
    }
}

/// One candidate move of the search: into state `to` from state `from`, at `cost` so
/// far, arriving in `cell`.
struct Step {
    from: usize,
    to: usize,
    cost: u32,
    cell: Cell,
}

/// The search's memory, kept from one wire to the next on a board: clearing arrays of
/// every state for each wire cost more than the searches themselves. A state's entry
/// counts only if it was written in the current round.
pub(super) struct Scratch {
    cost: Vec<u32>,
    parent: Vec<usize>,
    round_of: Vec<u32>,
    round: u32,
}

impl Scratch {
    pub(super) fn new(states: usize) -> Self {
        Scratch {
            cost: vec![0; states],
            parent: vec![0; states],
            round_of: vec![0; states],
            round: 0,
        }
    }
    fn clear(&mut self) {
        self.round += 1;
    }
    fn cost(&self, s: usize) -> u32 {
        if self.round_of[s] == self.round {
            self.cost[s]
        } else {
            u32::MAX
        }
    }
    fn parent(&self, s: usize) -> usize {
        if self.round_of[s] == self.round {
            self.parent[s]
        } else {
            usize::MAX
        }
    }
    fn set(&mut self, s: usize, cost: u32, parent: usize) {
        self.round_of[s] = self.round;
        self.cost[s] = cost;
        self.parent[s] = parent;
    }
}

/// The cheapest path from box `from` to box `to` within `region` that runs straight along
/// a row for `run` cells no other wire crosses (room for its label, a line cell either
/// side), if there is one. A wire leaves its box straight for at least one cell before it
/// turns, so it reads as leaving (and a head at its start points along it).
///
/// The label's stretch is one move of the search: from a cell, `run` plain cells and one
/// more straight on. So a wire is never routed where its label would not fit, and the
/// states stay four headings times two (stretch passed or not) per cell.
pub(super) fn search(
    board: &Board,
    scratch: &mut Scratch,
    (from, to): (Rect, Rect),
    region: Region,
    run: usize,
) -> Option<Path> {
    let states = States { width: board.width };
    let open = |c: Cell| board.at(c).is_some_and(|u| u.empty() && region.allows(u));
    let passes = |c: Cell, h: Heading| {
        board.at(c).is_some_and(|u| {
            !u.solid
                && !u.label
                && region.allows(u)
                && if h.horizontal() {
                    !u.across && u.border != Some(true)
                } else {
                    !u.down && u.border != Some(false)
                }
        })
    };
    // What entering a cell costs beyond the step and any bend.
    let entering = |u: &super::board::Use| {
        (if u.across || u.down { CROSS } else { 0 })
            + if u.border.is_some() { BORDER } else { 0 }
            + if u.beside_box { HUG } else { 0 }
    };
    // A cell that can carry a label letter: passable along the row, crossed by nothing.
    let plain = |c: Cell| {
        passes(c, Heading::Right) && board.at(c).is_some_and(|u| !u.down && u.border.is_none())
    };
    let mut goal: Vec<(usize, Cell)> = Vec::new();
    for (port, out) in ports(to) {
        if let Some(c) = out.step(port).filter(|&c| open(c)) {
            goal.push(((c.1 * board.width + c.0) * 4 + out.opposite().index(), port));
        }
    }
    goal.sort_unstable();
    // Distance to the cells beside the target box: never more than the steps left.
    let estimate = |(x, y): Cell| {
        let dx = (to.x.saturating_sub(1)).saturating_sub(x) + x.saturating_sub(to.x + to.w);
        let dy = (to.y.saturating_sub(1)).saturating_sub(y) + y.saturating_sub(to.y + to.h);
        (dx + dy) as u32
    };
    scratch.clear();
    let mut queue = BinaryHeap::new();
    let mut order = 0u32;
    let mut push = |queue: &mut BinaryHeap<_>, scratch: &mut Scratch, step: Step| {
        if step.cost < scratch.cost(step.to) {
            scratch.set(step.to, step.cost, step.from);
            queue.push(Reverse((step.cost + estimate(step.cell), order, step.to)));
            order += 1;
        }
    };
    for (port, out) in ports(from) {
        if let Some(c) = out.step(port).filter(|&c| open(c)) {
            let to = states.id(c, out, false);
            push(
                &mut queue,
                scratch,
                Step {
                    from: usize::MAX,
                    to,
                    cost: 0,
                    cell: c,
                },
            );
        }
    }
    while let Some(Reverse((_, _, s))) = queue.pop() {
        let (c, heading, labelled) = (states.cell(s), states.heading(s), states.labelled(s));
        let key = (c.1 * board.width + c.0) * 4 + heading.index();
        let at_goal = goal
            .binary_search_by_key(&key, |g| g.0)
            .ok()
            .map(|k| goal[k].1);
        // A wire of one cell would leave and arrive in the same cell: not drawable.
        if let Some(to_port) = at_goal.filter(|_| labelled && scratch.parent(s) != usize::MAX) {
            return Some(trace(&states, scratch, s, to_port));
        }
        let here = board.at(c)?;
        for next in Heading::ALL {
            if next == heading.opposite() {
                continue;
            }
            // A turn needs a cell of its own, and not the first.
            let starting = scratch.parent(s) == usize::MAX;
            if next != heading && (!here.empty() || starting) {
                continue;
            }
            let Some(n) = next.step(c).filter(|&n| passes(n, next)) else {
                continue;
            };
            let turn = if next == heading { 0 } else { BEND };
            // One step; and, while the label has no place yet, along a row, the label's
            // stretch: `run` plain cells, then one more.
            let mut moves = vec![(n, labelled, 1)];
            if !labelled && next.horizontal() {
                let mut cells = std::iter::successors(Some(c), |&c| next.step(c)).skip(1);
                let stretch: Vec<Cell> = cells.by_ref().take(run).collect();
                if stretch.len() == run
                    && stretch.iter().all(|&c| plain(c))
                    && let Some(last) = cells.next().filter(|&l| passes(l, next))
                {
                    moves.push((last, true, run as u32 + 1));
                }
            }
            for (cell, labelled, steps) in moves {
                let cost = scratch.cost(s) + steps + turn + entering(board.at(cell)?);
                let to = states.id(cell, next, labelled);
                push(
                    &mut queue,
                    scratch,
                    Step {
                        from: s,
                        to,
                        cost,
                        cell,
                    },
                );
            }
        }
    }
    None
}

/// The path that ends in state `end`, arriving at `to_port`: every cell, the label's
/// stretch filled in.
fn trace(states: &States, scratch: &Scratch, end: usize, to_port: Cell) -> Path {
    let mut cells = vec![states.cell(end)];
    let mut at = end;
    while scratch.parent(at) != usize::MAX {
        let back = states.heading(at).opposite();
        let stop = states.cell(scratch.parent(at));
        let mut c = states.cell(at);
        while let Some(prev) = back.step(c).filter(|_| c != stop) {
            cells.push(prev);
            c = prev;
        }
        at = scratch.parent(at);
    }
    cells.reverse();
    let first = states.heading(at).opposite();
    Path {
        from_port: first.step(cells[0]).unwrap_or(cells[0]),
        to_port,
        cells,
    }
}

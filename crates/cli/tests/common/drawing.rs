//! Reading a terminal drawing back: its boxes, and every wire followed from its
//! arrowhead, character by character, to the box it starts from.

/// The example specs, and the names of the seven drawn in the tests.
pub const SPECS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs");
pub const EXAMPLES: [&str; 7] = [
    "checkout",
    "chat",
    "feed",
    "iot",
    "ledger",
    "metrics",
    "ride-hailing",
];

/// A box as (left, top, right, bottom) columns and rows, corners included.
pub type Frame = (usize, usize, usize, usize);
/// (column, row).
pub type Cell = (usize, usize);

/// The drawing as a grid of characters.
pub fn grid(text: &str) -> Vec<Vec<char>> {
    text.lines().map(|l| l.chars().collect()).collect()
}

fn at(lines: &[Vec<char>], (x, y): Cell) -> char {
    lines.get(y).and_then(|l| l.get(x)).copied().unwrap_or(' ')
}

/// The boxes of a terminal drawing (a node's, with its number, or a group's, with its
/// title): from each top-left corner, along the top edge to the top-right corner and down
/// the left edge (where wires may leave or cross it) to the bottom-left one.
pub fn boxes_in(lines: &[Vec<char>]) -> Vec<Frame> {
    let mut out = Vec::new();
    for (y, line) in lines.iter().enumerate() {
        for (x, &c) in line.iter().enumerate() {
            let (tr, bl) = match c {
                '┌' => ('┐', '└'),
                '╭' => ('╮', '╰'),
                _ => continue,
            };
            // A wire's corner is never on a box's edge: the first matching corner to the
            // right closes the top edge.
            let mut right = x + 1;
            while right < line.len() && at(lines, (right, y)) != tr {
                right += 1;
            }
            if at(lines, (right, y)) != tr {
                continue; // a wire's corner, not a box
            }
            let mut bottom = y + 1;
            while matches!(at(lines, (x, bottom)), '│' | '├' | '┤' | '┼') {
                bottom += 1;
            }
            // Wires can close a rectangle too: a node's box holds its number, a
            // group's top edge its title.
            let node = bottom == y + 2
                && at(lines, (x + 1, y + 1)) == ' '
                && at(lines, (x + 2, y + 1)).is_ascii_digit();
            let group = at(lines, (x + 1, y)) == '─'
                && at(lines, (x + 2, y)) == ' '
                && at(lines, (x + 3, y)) != ' ';
            if at(lines, (x, bottom)) == bl && (node || group) {
                out.push((x, y, right, bottom));
            }
        }
    }
    out
}

/// Whether `c` lies in `f`, border included.
pub fn within(f: Frame, (x, y): Cell) -> bool {
    x >= f.0 && x <= f.2 && y >= f.1 && y <= f.3
}

/// One wire as the drawing shows it.
#[derive(Debug)]
pub struct Followed {
    /// The border cell of the box it starts from.
    pub from: Cell,
    /// The border cell of the box its arrowhead points at.
    pub to: Cell,
    /// The text written over it.
    pub label: String,
    /// Whether it has an arrowhead at its start too.
    pub both_ways: bool,
    /// The cells between, arrowheads included.
    pub cells: Vec<Cell>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Way {
    Up,
    Right,
    Down,
    Left,
}

impl Way {
    fn step(self, (x, y): Cell) -> Option<Cell> {
        Some(match self {
            Way::Up => (x, y.checked_sub(1)?),
            Way::Down => (x, y + 1),
            Way::Left => (x.checked_sub(1)?, y),
            Way::Right => (x + 1, y),
        })
    }
    fn back(self) -> Way {
        match self {
            Way::Up => Way::Down,
            Way::Down => Way::Up,
            Way::Left => Way::Right,
            Way::Right => Way::Left,
        }
    }
    fn horizontal(self) -> bool {
        matches!(self, Way::Left | Way::Right)
    }
}

/// The way an arrowhead points.
fn arrowhead(c: char) -> Option<Way> {
    match c {
        '▲' => Some(Way::Up),
        '▶' => Some(Way::Right),
        '▼' => Some(Way::Down),
        '◀' => Some(Way::Left),
        _ => None,
    }
}

/// The two sides a corner joins.
fn corner(c: char) -> Option<[Way; 2]> {
    match c {
        '┌' => Some([Way::Right, Way::Down]),
        '┐' => Some([Way::Left, Way::Down]),
        '└' => Some([Way::Right, Way::Up]),
        '┘' => Some([Way::Left, Way::Up]),
        _ => None,
    }
}

/// The side of a box border a wire leaves from, by the junction drawn there.
fn port(c: char) -> Option<Way> {
    match c {
        '┴' => Some(Way::Up),
        '┬' => Some(Way::Down),
        '├' => Some(Way::Right),
        '┤' => Some(Way::Left),
        _ => None,
    }
}

/// Every wire of the drawing, each followed back from an arrowhead. A wire with a head
/// at both ends is followed from each, so it is listed twice (once each way).
pub fn follow_wires(lines: &[Vec<char>]) -> Result<Vec<Followed>, String> {
    let limit = lines.iter().map(Vec::len).sum::<usize>();
    let mut out = Vec::new();
    for (y, line) in lines.iter().enumerate() {
        for (x, &c) in line.iter().enumerate() {
            let Some(points) = arrowhead(c) else { continue };
            let to = points
                .step((x, y))
                .ok_or_else(|| format!("arrow at {x},{y} points off the drawing"))?;
            let mut way = points.back();
            let mut here = (x, y);
            let mut cells = vec![here];
            let mut letters: Vec<(Cell, char)> = Vec::new();
            let (from, both_ways) = loop {
                if cells.len() > limit {
                    return Err(format!("the wire from {x},{y} loops"));
                }
                let next = way
                    .step(here)
                    .ok_or_else(|| format!("the wire from {x},{y} runs off at {here:?}"))?;
                let c = at(lines, next);
                let broken = || format!("the wire from {x},{y} breaks at {next:?} ({c:?})");
                if let Some(head) = arrowhead(c) {
                    // The other end's head points on, into the box the wire starts from.
                    if head != way {
                        return Err(broken());
                    }
                    cells.push(next);
                    break (way.step(next).ok_or_else(broken)?, true);
                }
                if let Some(leaves) = port(c) {
                    if leaves != way.back() {
                        return Err(broken());
                    }
                    break (next, false);
                }
                if let Some(sides) = corner(c) {
                    let entered = way.back();
                    if !sides.contains(&entered) {
                        return Err(broken());
                    }
                    way = if sides[0] == entered {
                        sides[1]
                    } else {
                        sides[0]
                    };
                } else {
                    match (c, way.horizontal()) {
                        ('┼', _) | ('─', true) | ('│', false) => {}
                        // Along a row, anything else is the label written over the wire.
                        (c, true) if !"│┌┐└┘├┤┬┴╭╮╰╯".contains(c) => {
                            letters.push((next, c))
                        }
                        _ => return Err(broken()),
                    }
                }
                cells.push(next);
                here = next;
            };
            letters.sort_by_key(|((x, y), _)| (*y, *x));
            out.push(Followed {
                from,
                to,
                label: letters.into_iter().map(|(_, c)| c).collect(),
                both_ways,
                cells,
            });
        }
    }
    Ok(out)
}

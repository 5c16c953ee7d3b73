//! The terminal drawing: the title, each group as a box holding its nodes' boxes (stores
//! with rounded corners), and every connection as a wire routed between them
//! ([`crate::route`]) with its label on it or beside it. No line is wider than the width
//! asked for. The ASCII drawing is the Unicode one with each drawing character replaced
//! (`+` for every corner and junction), so both say the same.

use crate::layout::{Rect, shorten};
use crate::route::{Drawing, Heading, draw};
use crate::{Diagram, Shape};

/// The characters a drawing is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// Plain ASCII: `+`, `-`, `|`, `>`.
    Ascii,
    /// Unicode box drawing.
    Unicode,
}

/// Top-left, top-right, bottom-left, bottom-right, horizontal, vertical.
const SQUARE: [char; 6] = ['┌', '┐', '└', '┘', '─', '│'];
const ROUND: [char; 6] = ['╭', '╮', '╰', '╯', '─', '│'];

/// Which neighbours a line character joins: up, right, down, left.
const UP: u8 = 1;
const RIGHT: u8 = 2;
const DOWN: u8 = 4;
const LEFT: u8 = 8;

fn bit(h: Heading) -> u8 {
    match h {
        Heading::Up => UP,
        Heading::Right => RIGHT,
        Heading::Down => DOWN,
        Heading::Left => LEFT,
    }
}

/// The joins of a line character already drawn (a border), none for anything else.
fn joins(c: char) -> u8 {
    match c {
        '─' => LEFT | RIGHT,
        '│' => UP | DOWN,
        _ => 0,
    }
}

/// The line character that joins `j`.
fn line(j: u8) -> char {
    match j {
        0b0101 | 0b0001 | 0b0100 => '│',
        0b1010 | 0b0010 | 0b1000 => '─',
        0b0110 => '┌',
        0b1100 => '┐',
        0b0011 => '└',
        0b1001 => '┘',
        0b1110 => '┬',
        0b1011 => '┴',
        0b0111 => '├',
        0b1101 => '┤',
        _ => '┼',
    }
}

/// The arrowhead pointing `h`.
fn arrow(h: Heading) -> char {
    match h {
        Heading::Up => '▲',
        Heading::Down => '▼',
        Heading::Left => '◀',
        Heading::Right => '▶',
    }
}

/// A character of the Unicode drawing as the ASCII drawing prints it.
pub fn to_ascii(c: char) -> char {
    match c {
        '─' => '-',
        '│' => '|',
        '┌' | '┐' | '└' | '┘' | '┬' | '┴' | '├' | '┤' | '┼' => '+',
        '╭' | '╯' => '/',
        '╮' | '╰' => '\\',
        '▶' => '>',
        '◀' => '<',
        '▲' => '^',
        '▼' => 'v',
        c => c,
    }
}

struct Grid {
    width: usize,
    cells: Vec<char>,
}

impl Grid {
    fn new(width: usize, height: usize) -> Self {
        Grid {
            width,
            cells: vec![' '; width * height],
        }
    }

    fn get(&self, (x, y): (usize, usize)) -> char {
        self.cells[y * self.width + x]
    }

    fn put(&mut self, (x, y): (usize, usize), c: char) {
        if x < self.width
            && let Some(cell) = self.cells.get_mut(y * self.width + x)
        {
            *cell = c;
        }
    }

    fn text(&mut self, x: usize, y: usize, s: &str) {
        for (i, c) in s.chars().enumerate() {
            self.put((x + i, y), c);
        }
    }

    fn frame(&mut self, r: Rect, [tl, tr, bl, br, h, v]: [char; 6]) {
        if r.w < 2 || r.h < 2 {
            return;
        }
        for x in r.x + 1..r.x + r.w - 1 {
            self.put((x, r.y), h);
            self.put((x, r.y + r.h - 1), h);
        }
        for y in r.y + 1..r.y + r.h - 1 {
            self.put((r.x, y), v);
            self.put((r.x + r.w - 1, y), v);
        }
        self.put((r.x, r.y), tl);
        self.put((r.x + r.w - 1, r.y), tr);
        self.put((r.x, r.y + r.h - 1), bl);
        self.put((r.x + r.w - 1, r.y + r.h - 1), br);
    }

    fn lines(&self) -> impl Iterator<Item = String> + '_ {
        self.cells
            .chunks(self.width.max(1))
            .map(|row| row.iter().collect::<String>().trim_end().to_string())
    }
}

/// The boxes, the wires and the labels of `drawing`, on a grid.
fn paint(d: &Diagram, drawing: &Drawing) -> Grid {
    let l = &drawing.layout;
    let mut grid = Grid::new(l.width, l.height);
    for (rect, title) in &l.groups {
        grid.frame(*rect, SQUARE);
        grid.text(rect.x + 2, rect.y, &format!(" {title} "));
    }
    for (i, (rect, text)) in l.nodes.iter().enumerate() {
        let corners = match d.nodes[i].shape {
            Shape::Service => SQUARE,
            Shape::Store => ROUND,
        };
        grid.frame(*rect, corners);
        grid.text(rect.x + 2, rect.y + 1, text);
    }
    // Every wire cell joins its neighbours on the path; a group border it crosses keeps
    // its own line; the source port joins the border to the wire.
    let mut joined = vec![0u8; grid.cells.len()];
    let index = |(x, y): (usize, usize)| y * l.width + x;
    for w in &drawing.wires {
        let both_ways = drawing.connections[w.connection].both_ways;
        let first = usize::from(both_ways);
        let path: Vec<_> = std::iter::once(w.from_port)
            .chain(w.cells.iter().copied())
            .chain(std::iter::once(w.to_port))
            .collect();
        for (k, pair) in path.windows(2).enumerate() {
            let (a, b) = (pair[0], pair[1]);
            if k >= first {
                joined[index(a)] |= bit(Heading::between(a, b));
            }
            if k + 2 < path.len() {
                joined[index(b)] |= bit(Heading::between(b, a));
            }
        }
    }
    for (k, &j) in joined.iter().enumerate() {
        if j != 0 {
            let c = (k % l.width, k / l.width);
            grid.put(c, line(j | joins(grid.get(c))));
        }
    }
    for w in &drawing.wires {
        let last = w.cells[w.cells.len() - 1];
        grid.put(last, arrow(Heading::between(last, w.to_port)));
        if drawing.connections[w.connection].both_ways {
            let first = w.cells[0];
            grid.put(first, arrow(Heading::between(first, w.from_port)));
        }
        grid.text(w.label.x, w.label.y, &w.label.text);
    }
    grid
}

/// `d` drawn in at most `width` columns (at least [`crate::layout::MIN_WIDTH`]).
pub fn terminal(d: &Diagram, width: usize, charset: Charset) -> String {
    let drawing = draw(d, width, 0);
    let width = drawing.layout.width;
    let mut out = vec![shorten(&d.title, width)];
    out.extend(paint(d, &drawing).lines());
    if !drawing.unrouted.is_empty() {
        out.push("not drawn (no room at this width):".to_string());
    }
    let name = |i: usize| format!("{i} {}", d.nodes[i].label);
    for &i in &drawing.unrouted {
        let c = &drawing.connections[i];
        let tail = if c.both_ways { "◀──" } else { "──" };
        let arrow = format!(" {tail}{}──▶ ", c.label);
        let line = format!("  {}{arrow}{}", name(c.from), name(c.to));
        if line.chars().count() <= width {
            out.push(line);
        } else {
            // Too wide: the arrow and target on a line of their own, shortened if need be.
            out.push(shorten(&format!("  {}", name(c.from)), width));
            out.push(shorten(
                &format!("   {}{}", arrow.trim_start(), name(c.to)),
                width,
            ));
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    match charset {
        Charset::Unicode => text,
        Charset::Ascii => text.chars().map(to_ascii).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_diagram_draws_its_wire() {
        let mut d = Diagram::new("shop");
        let eu = d.group("eu", "eu-west");
        let api = d.node("api", "api", Some(eu), Shape::Service);
        let db = d.node("db", "orders", Some(eu), Shape::Store);
        d.edge(api, db, "writes");
        let text = terminal(&d, 40, Charset::Unicode);
        assert!(text.contains("writes"), "{text}");
        assert_eq!(text.matches('▼').count() + text.matches('▶').count(), 1);
        let ascii = terminal(&d, 40, Charset::Ascii);
        assert!(ascii.is_ascii(), "{ascii}");
        assert_eq!(
            ascii,
            text.chars().map(to_ascii).collect::<String>(),
            "ASCII is the Unicode drawing, character for character"
        );
    }

    #[test]
    fn every_drawn_line_keeps_to_the_width() {
        let mut d = Diagram::new("t");
        let a = d.node("a", &"a".repeat(30), None, Shape::Service);
        let b = d.node("b", &"b".repeat(30), None, Shape::Service);
        d.edge(a, b, "calls");
        let text = terminal(&d, 40, Charset::Unicode);
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
        assert!(text.contains("calls"), "{text}");
    }
}

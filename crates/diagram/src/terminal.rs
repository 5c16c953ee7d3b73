//! The terminal drawing: the title, each group as a box holding its nodes' boxes (stores
//! with rounded corners), then every edge as a labelled arrow between numbered nodes.
//! No line is wider than the width asked for, and no box or label is drawn over another
//! (the layout places nothing on top of anything else; edges are listed, not routed
//! through the boxes).

use crate::layout::{Layout, Rect, layout, shorten};
use crate::{Diagram, Shape};

/// The characters a drawing is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// Plain ASCII: `+`, `-`, `|`.
    Ascii,
    /// Unicode box drawing.
    Unicode,
}

struct Glyphs {
    /// Top-left, top-right, bottom-left, bottom-right, horizontal, vertical.
    square: [char; 6],
    round: [char; 6],
    arrow_line: &'static str,
    arrow_head: &'static str,
}

fn glyphs(charset: Charset) -> Glyphs {
    match charset {
        Charset::Ascii => Glyphs {
            square: ['+', '+', '+', '+', '-', '|'],
            round: ['/', '\\', '\\', '/', '-', '|'],
            arrow_line: "--",
            arrow_head: ">",
        },
        Charset::Unicode => Glyphs {
            square: ['┌', '┐', '└', '┘', '─', '│'],
            round: ['╭', '╮', '╰', '╯', '─', '│'],
            arrow_line: "──",
            arrow_head: "▶",
        },
    }
}

struct Grid {
    cells: Vec<Vec<char>>,
}

impl Grid {
    fn new(width: usize, height: usize) -> Self {
        Grid {
            cells: vec![vec![' '; width]; height],
        }
    }

    fn put(&mut self, x: usize, y: usize, c: char) {
        if let Some(cell) = self.cells.get_mut(y).and_then(|row| row.get_mut(x)) {
            *cell = c;
        }
    }

    fn text(&mut self, x: usize, y: usize, s: &str) {
        for (i, c) in s.chars().enumerate() {
            self.put(x + i, y, c);
        }
    }

    fn frame(&mut self, r: Rect, [tl, tr, bl, br, h, v]: [char; 6]) {
        if r.w < 2 || r.h < 2 {
            return;
        }
        for x in r.x + 1..r.x + r.w - 1 {
            self.put(x, r.y, h);
            self.put(x, r.y + r.h - 1, h);
        }
        for y in r.y + 1..r.y + r.h - 1 {
            self.put(r.x, y, v);
            self.put(r.x + r.w - 1, y, v);
        }
        self.put(r.x, r.y, tl);
        self.put(r.x + r.w - 1, r.y, tr);
        self.put(r.x, r.y + r.h - 1, bl);
        self.put(r.x + r.w - 1, r.y + r.h - 1, br);
    }

    fn lines(self) -> Vec<String> {
        self.cells
            .into_iter()
            .map(|row| row.into_iter().collect::<String>().trim_end().to_string())
            .collect()
    }
}

/// The boxes of `l`, drawn.
fn boxes(d: &Diagram, l: &Layout, g: &Glyphs) -> Vec<String> {
    let mut grid = Grid::new(l.width, l.height);
    for (rect, title) in &l.groups {
        grid.frame(*rect, g.square);
        grid.text(rect.x + 2, rect.y, &format!(" {title} "));
    }
    for (i, (rect, text)) in l.nodes.iter().enumerate() {
        let corners = match d.nodes[i].shape {
            Shape::Service => g.square,
            Shape::Store => g.round,
        };
        grid.frame(*rect, corners);
        grid.text(rect.x + 2, rect.y + 1, text);
    }
    grid.lines()
}

/// `d` drawn in at most `width` columns (at least [`crate::layout::MIN_WIDTH`]).
pub fn terminal(d: &Diagram, width: usize, charset: Charset) -> String {
    let g = glyphs(charset);
    let l = layout(d, width, 0);
    let width = l.width;
    let mut out = vec![shorten(&d.title, width)];
    out.extend(boxes(d, &l, &g));
    if !d.edges.is_empty() {
        out.push("edges:".to_string());
    }
    for (from, label, to) in d.named_edges() {
        let arrow = format!(" {}{label}{}{} ", g.arrow_line, g.arrow_line, g.arrow_head);
        let line = format!("  {from}{arrow}{to}");
        if line.chars().count() <= width {
            out.push(line);
        } else {
            // Too wide: the arrow and target on a line of their own, shortened if need be.
            out.push(shorten(&format!("  {from}"), width));
            out.push(shorten(&format!("   {}{to}", arrow.trim_start()), width));
        }
    }
    let mut text = out.join("\n");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_diagram_draws_as_expected() {
        let mut d = Diagram::new("shop");
        let eu = d.group("eu", "eu-west");
        let api = d.node("api", "api", Some(eu), Shape::Service);
        let db = d.node("db", "orders", Some(eu), Shape::Store);
        d.edge(api, db, "writes");
        assert_eq!(
            terminal(&d, 40, Charset::Unicode),
            "shop\n\
             ┌─ eu-west ────────────────────────────┐\n\
             │ ┌───────┐ ╭──────────╮               │\n\
             │ │ 0 api │ │ 1 orders │               │\n\
             │ └───────┘ ╰──────────╯               │\n\
             └──────────────────────────────────────┘\n\
             edges:\n  0 api ──writes──▶ 1 orders\n"
        );
        let ascii = terminal(&d, 40, Charset::Ascii);
        assert!(ascii.is_ascii());
        assert!(ascii.contains("0 api --writes--> 1 orders"), "{ascii}");
    }

    #[test]
    fn long_edges_wrap_within_the_width() {
        let mut d = Diagram::new("t");
        let a = d.node("a", &"a".repeat(30), None, Shape::Service);
        let b = d.node("b", &"b".repeat(30), None, Shape::Service);
        d.edge(a, b, "calls");
        let text = terminal(&d, 40, Charset::Unicode);
        assert!(text.lines().all(|l| l.chars().count() <= 40), "{text}");
        assert!(text.contains("──calls──▶"), "{text}");
    }
}

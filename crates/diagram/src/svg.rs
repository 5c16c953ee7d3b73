//! SVG from dsys's own layout and wires (the terminal drawing's grid, scaled): no
//! external program, the same bytes on every run. Boxes and wires are drawn through the
//! centres of the cells the terminal drawing uses for them, so a wire meets its box's
//! edge; labels sit on a light patch over the wire they name.

use crate::route::{Cell, Drawing, draw};
use crate::{Diagram, Shape};
use std::fmt::Write;

/// Pixels per character cell.
const CELL_W: usize = 8;
const CELL_H: usize = 18;
/// Columns the layout uses; SVG scales, so this only sets proportions.
const COLUMNS: usize = 120;
const MARGIN: usize = 10;

/// Text as XML character data or attribute value.
fn escape(text: &str) -> String {
    // Control characters are not allowed in XML at all: a space stands in for them.
    let printable: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    html_escape::encode_quoted_attribute(&printable).into_owned()
}

/// The centre of a cell, in pixels.
fn centre((x, y): Cell) -> (usize, usize) {
    (
        MARGIN + x * CELL_W + CELL_W / 2,
        MARGIN + y * CELL_H + CELL_H / 2,
    )
}

/// The left edge and baseline of text printed from cell `(x, y)`.
fn text_at((x, y): Cell) -> (usize, usize) {
    (MARGIN + x * CELL_W, MARGIN + y * CELL_H + CELL_H / 2 + 4)
}

/// A wire's points: its ports and the cells where it turns.
fn points(from: Cell, cells: &[Cell], to: Cell) -> String {
    let all: Vec<Cell> = std::iter::once(from)
        .chain(cells.iter().copied())
        .chain(std::iter::once(to))
        .collect();
    let mut kept = vec![all[0]];
    for k in 1..all.len() - 1 {
        let (a, b, c) = (all[k - 1], all[k], all[k + 1]);
        let straight = (a.0 == b.0 && b.0 == c.0) || (a.1 == b.1 && b.1 == c.1);
        if !straight {
            kept.push(b);
        }
    }
    kept.push(all[all.len() - 1]);
    kept.iter()
        .map(|&c| {
            let (x, y) = centre(c);
            format!("{x},{y}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn body(out: &mut String, d: &Diagram, drawing: &Drawing) {
    let l = &drawing.layout;
    for (rect, title) in &l.groups {
        let (x, y) = centre((rect.x, rect.y));
        let (w, h) = ((rect.w - 1) * CELL_W, (rect.h - 1) * CELL_H);
        let (tx, ty) = text_at((rect.x + 3, rect.y));
        let _ = writeln!(
            out,
            "<g class=\"group\"><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"#f4f6fa\" stroke=\"#8a94a6\"/><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{CELL_H}\" fill=\"#ffffff\"/><text x=\"{tx}\" y=\"{ty}\">{}</text></g>",
            tx - CELL_W,
            y - CELL_H / 2,
            (title.chars().count() + 2) * CELL_W,
            escape(title)
        );
    }
    for (i, (rect, text)) in l.nodes.iter().enumerate() {
        let (x, y) = centre((rect.x, rect.y));
        let (w, h) = ((rect.w - 1) * CELL_W, (rect.h - 1) * CELL_H);
        let (class, rx, fill) = match d.nodes[i].shape {
            Shape::Service => ("service", 2, "#ffffff"),
            Shape::Store => ("store", 12, "#fff7e6"),
        };
        let (tx, ty) = text_at((rect.x + 2, rect.y + 1));
        let _ = writeln!(
            out,
            "<g class=\"{class}\"><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"{rx}\" fill=\"{fill}\" stroke=\"#333\"/><text x=\"{tx}\" y=\"{ty}\">{}</text></g>",
            escape(text)
        );
    }
    for w in &drawing.wires {
        let both = drawing.connections[w.connection].both_ways;
        let start = if both {
            " marker-start=\"url(#head)\""
        } else {
            ""
        };
        let (lx, ly) = text_at((w.label.x, w.label.y));
        let _ = writeln!(
            out,
            "<g class=\"wire\"><polyline points=\"{}\" fill=\"none\" stroke=\"#4a5568\"{start} marker-end=\"url(#head)\"/><rect x=\"{lx}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#ffffff\" fill-opacity=\"0.9\"/><text x=\"{lx}\" y=\"{ly}\" fill=\"#1a365d\">{}</text></g>",
            points(w.from_port, &w.cells, w.to_port),
            MARGIN + w.label.y * CELL_H + 2,
            w.label.text.chars().count() * CELL_W,
            CELL_H - 4,
            escape(&w.label.text)
        );
    }
}

/// `d` as a standalone SVG document.
pub fn svg(d: &Diagram) -> String {
    let drawing = draw(d, COLUMNS, 2);
    let l = &drawing.layout;
    let listed: Vec<String> = drawing
        .unrouted
        .iter()
        .map(|&i| {
            let c = &drawing.connections[i];
            let tail = if c.both_ways { "\u{25c0}" } else { "" };
            format!(
                "{} {} {tail}\u{2500}\u{2500}{}\u{2500}\u{2500}\u{25b6} {} {}",
                c.from, d.nodes[c.from].label, c.label, c.to, d.nodes[c.to].label
            )
        })
        .collect();
    let list_rows = if listed.is_empty() {
        0
    } else {
        listed.len() + 1
    };
    let rows = l.height + list_rows;
    let (width, height) = (2 * MARGIN + l.width * CELL_W, 2 * MARGIN + rows * CELL_H);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"monospace\" font-size=\"13\">"
    );
    let _ = writeln!(out, "<title>{}</title>", escape(&d.title));
    let _ = writeln!(
        out,
        "<defs><marker id=\"head\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#4a5568\"/></marker></defs>"
    );
    let _ = writeln!(
        out,
        "<text x=\"{MARGIN}\" y=\"{}\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        MARGIN + CELL_H,
        escape(&d.title)
    );
    body(&mut out, d, &drawing);
    if !listed.is_empty() {
        let top = MARGIN + (l.height + 1) * CELL_H;
        let _ = writeln!(
            out,
            "<text x=\"{MARGIN}\" y=\"{top}\" font-weight=\"bold\">not drawn (no room)</text>"
        );
        for (k, line) in listed.iter().enumerate() {
            let _ = writeln!(
                out,
                "<text class=\"unrouted\" x=\"{}\" y=\"{}\">{}</text>",
                MARGIN + 2 * CELL_W,
                top + (k + 1) * CELL_H,
                escape(line)
            );
        }
    }
    out.push_str("</svg>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_the_document_closes() {
        let mut d = Diagram::new("a <b> & \"c\"");
        let g = d.group("g", "r'1");
        let a = d.node("a", "x<y", Some(g), Shape::Service);
        let b = d.node("b", "db", Some(g), Shape::Store);
        d.edge(a, b, "reads & writes");
        let s = svg(&d);
        assert!(
            s.contains("<title>a &lt;b&gt; &amp; &quot;c&quot;</title>"),
            "{s}"
        );
        assert!(s.contains(">reads &amp; writes</text>"), "{s}");
        assert_eq!(s.matches("<g class=\"wire\">").count(), 1);
        assert!(s.contains("r&#x27;1"));
        assert!(s.ends_with("</svg>\n"));
        assert_eq!(s, svg(&d));
    }
}

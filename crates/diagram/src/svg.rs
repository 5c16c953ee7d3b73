//! SVG from dsys's own layout (the terminal drawing's grid, scaled): no external program,
//! the same bytes on every run. As in the terminal drawing, edges are listed under the
//! boxes as labelled arrows between numbered nodes, so no line or label crosses a box.

use crate::layout::{Rect, layout};
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

/// A cell rectangle in pixels: (x, y, w, h).
fn px(r: Rect) -> (usize, usize, usize, usize) {
    (
        MARGIN + r.x * CELL_W,
        MARGIN + r.y * CELL_H,
        r.w * CELL_W,
        r.h * CELL_H,
    )
}

/// `d` as a standalone SVG document.
pub fn svg(d: &Diagram) -> String {
    let l = layout(d, COLUMNS, 2);
    let edges: Vec<String> = d
        .named_edges()
        .map(|(from, label, to)| {
            format!("{from} \u{2500}\u{2500}{label}\u{2500}\u{2500}\u{25b6} {to}")
        })
        .collect();
    let list_rows = if edges.is_empty() { 0 } else { edges.len() + 1 };
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
        "<text x=\"{MARGIN}\" y=\"{}\" font-size=\"16\" font-weight=\"bold\">{}</text>",
        MARGIN + CELL_H,
        escape(&d.title)
    );
    for (rect, title) in &l.groups {
        let (x, y, w, h) = px(*rect);
        let _ = writeln!(
            out,
            "<g class=\"group\"><rect x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" fill=\"#f4f6fa\" stroke=\"#8a94a6\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            x + CELL_W,
            y + CELL_H - 5,
            escape(title)
        );
    }
    for (i, (rect, text)) in l.nodes.iter().enumerate() {
        let (x, y, w, h) = px(*rect);
        let (class, rx, fill) = match d.nodes[i].shape {
            Shape::Service => ("service", 2, "#ffffff"),
            Shape::Store => ("store", 12, "#fff7e6"),
        };
        let _ = writeln!(
            out,
            "<g class=\"{class}\"><rect x=\"{x}\" y=\"{}\" width=\"{w}\" height=\"{}\" rx=\"{rx}\" fill=\"{fill}\" stroke=\"#333\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            y + CELL_H / 2,
            h - CELL_H,
            x + 2 * CELL_W,
            y + CELL_H + CELL_H / 2 + 4,
            escape(text)
        );
    }
    if !edges.is_empty() {
        let top = MARGIN + (l.height + 1) * CELL_H;
        let _ = writeln!(
            out,
            "<text x=\"{MARGIN}\" y=\"{top}\" font-weight=\"bold\">edges</text>"
        );
        for (k, line) in edges.iter().enumerate() {
            let _ = writeln!(
                out,
                "<text class=\"edge\" x=\"{}\" y=\"{}\">{}</text>",
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
        assert!(s.contains("0 x&lt;y ──reads &amp; writes──▶ 1 db"), "{s}");
        assert!(s.contains("r&#x27;1"));
        assert!(s.ends_with("</svg>\n"));
        assert_eq!(s, svg(&d));
    }
}

//! Where things go, in character cells: groups stacked top to bottom, each as wide as the
//! drawing less a gutter either side, its nodes packed into rows inside it with channels
//! between them for the wires ([`crate::route`] widens the channels until every wire
//! fits). The terminal drawing prints this grid; the SVG scales it. Nothing is placed on
//! top of anything else by construction, and no row is wider than the width asked for
//! (labels too long for it are shortened).

use crate::Diagram;

/// A rectangle in cells: columns `x..x + w`, rows `y..y + h`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rect {
    /// Left column.
    pub x: usize,
    /// Top row.
    pub y: usize,
    /// Width in columns.
    pub w: usize,
    /// Height in rows.
    pub h: usize,
}

impl Rect {
    /// Whether the two share any cell.
    pub fn overlaps(&self, other: &Rect) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }

    /// Whether `other` lies inside this one's border (not touching it).
    pub fn strictly_contains(&self, other: &Rect) -> bool {
        other.x > self.x
            && other.y > self.y
            && other.x + other.w < self.x + self.w
            && other.y + other.h < self.y + self.h
    }
}

/// The narrowest drawing the layout accepts, in columns.
pub const MIN_WIDTH: usize = 24;
/// Node boxes are three rows: border, label, border.
const NODE_HEIGHT: usize = 3;

/// The room left for wires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spacing {
    /// Rows between a group's border and its nodes, between rows of nodes, and between
    /// groups.
    pub rows: usize,
    /// Columns between a group's border and its nodes, and between nodes.
    pub columns: usize,
    /// Columns left and right of the groups, for wires that pass groups by.
    pub gutter: usize,
}

impl Spacing {
    /// Boxes packed tight: one cell apart, no gutter.
    pub const TIGHT: Spacing = Spacing {
        rows: 0,
        columns: 1,
        gutter: 0,
    };
}

/// A placed diagram.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// Width and height of the whole drawing, in cells.
    pub width: usize,
    /// Height in rows.
    pub height: usize,
    /// Per group, its box and its title as printed.
    pub groups: Vec<(Rect, String)>,
    /// Per node, its box and its label as printed (numbered, maybe shortened).
    pub nodes: Vec<(Rect, String)>,
}

/// The label printed for node `i`: its number and label, shortened to `max` characters.
pub fn node_text(i: usize, label: &str, max: usize) -> String {
    shorten(&format!("{i} {label}"), max)
}

/// `text` cut to at most `max` characters, ending in `~` when cut.
pub fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('~');
    out
}

/// Lay `d` out in `width` columns (at least [`MIN_WIDTH`]), starting at row `top`, with
/// `spacing` (the gutter and gaps shrink if the width leaves too little room for boxes).
pub fn layout(d: &Diagram, width: usize, top: usize, spacing: Spacing) -> Layout {
    let width = width.max(MIN_WIDTH);
    // Keep at least MIN_WIDTH columns for a group.
    let gutter = spacing.gutter.min((width - MIN_WIDTH) / 2);
    let gap = spacing.columns.clamp(1, (width - 2 * gutter - 8) / 4);
    let mut y = top;
    let mut end = top;
    let mut groups = Vec::new();
    let mut nodes: Vec<Option<(Rect, String)>> = vec![None; d.nodes.len()];
    // Nodes in no group go in a borderless band after the groups, as wide as a group's
    // inside.
    let bands: Vec<(Option<usize>, Vec<usize>)> = d
        .groups
        .iter()
        .enumerate()
        .map(|(g, _)| (Some(g), d.members(g).map(|(i, _)| i).collect()))
        .chain(std::iter::once((
            None,
            (0..d.nodes.len())
                .filter(|&i| d.nodes[i].group.is_none())
                .collect(),
        )))
        .collect();
    for (group, members) in bands {
        if group.is_none() && members.is_empty() {
            continue;
        }
        // Inside a group: border, gap, nodes, gap, border.
        let inner_left = gutter + 1 + gap;
        let inner_width = width - 2 * (gutter + 1 + gap);
        let top_row = y;
        let mut row_y = y + 1 + spacing.rows;
        let mut x = inner_left;
        let mut row_used = false;
        for i in members {
            let text = node_text(i, &d.nodes[i].label, inner_width - 4);
            let w = text.chars().count() + 4;
            if row_used && x + w > inner_left + inner_width {
                row_y += NODE_HEIGHT + spacing.rows;
                x = inner_left;
            }
            nodes[i] = Some((
                Rect {
                    x,
                    y: row_y,
                    w,
                    h: NODE_HEIGHT,
                },
                text,
            ));
            x += w + gap;
            row_used = true;
        }
        let rows_end = if row_used {
            row_y + NODE_HEIGHT + spacing.rows
        } else {
            row_y
        };
        let h = rows_end + 1 - top_row;
        if let Some(g) = group {
            let title = shorten(&d.groups[g].label, width - 2 * gutter - 6);
            groups.push((
                Rect {
                    x: gutter,
                    y: top_row,
                    w: width - 2 * gutter,
                    h,
                },
                title,
            ));
        }
        end = top_row + h;
        y = end + spacing.rows;
    }
    Layout {
        width,
        height: end,
        groups,
        nodes: nodes
            .into_iter()
            .map(|n| {
                n.unwrap_or((
                    Rect {
                        x: 0,
                        y: 0,
                        w: 0,
                        h: 0,
                    },
                    String::new(),
                ))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Shape;

    fn sample(labels: &[&str]) -> Diagram {
        let mut d = Diagram::new("t");
        let g = d.group("g", "region");
        for (i, l) in labels.iter().enumerate() {
            d.node(&i.to_string(), l, Some(g), Shape::Service);
        }
        d
    }

    #[test]
    fn nodes_wrap_inside_their_group_and_never_overlap() {
        let d = sample(&["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]);
        let l = layout(&d, 30, 0, Spacing::TIGHT);
        let (group, _) = l.groups[0];
        for (i, (a, _)) in l.nodes.iter().enumerate() {
            assert!(
                group.strictly_contains(a),
                "node {i} {a:?} outside {group:?}"
            );
            assert!(a.x + a.w <= 30);
            for (b, _) in &l.nodes[i + 1..] {
                assert!(!a.overlaps(b), "{a:?} {b:?}");
            }
        }
        assert!(l.nodes.iter().map(|(r, _)| r.y).max() > Some(1), "wrapped");
    }

    #[test]
    fn a_label_too_long_for_the_width_is_shortened() {
        let long = "x".repeat(100);
        let l = layout(&sample(&[&long]), 30, 0, Spacing::TIGHT);
        let (rect, text) = &l.nodes[0];
        assert!(text.ends_with('~'));
        assert!(rect.x + rect.w < 30, "{rect:?}");
        assert_eq!(shorten("abc", 3), "abc");
        assert_eq!(shorten("abcd", 3), "ab~");
    }
}

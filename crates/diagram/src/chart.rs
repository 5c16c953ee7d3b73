//! Bar charts: panels side by side, one bar per row in each, every panel on its own
//! scale with its value printed at the bar's end, and where a panel has one, a dashed
//! reference line (the ideal, or a bound). The demos' `--format svg` draw with it.

use std::fmt::Write;

/// One panel: a measure of every row.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    /// What it measures.
    pub title: String,
    /// One value per row (negative and non-finite values are drawn as zero; a
    /// non-finite one is printed `n/a`).
    pub values: Vec<f64>,
    /// Where to draw the reference line, if anywhere.
    pub reference: Option<f64>,
    /// Decimals printed after each value.
    pub decimals: usize,
}

const BAR_H: f64 = 18.0;
const ROW_H: f64 = BAR_H + 6.0;
const PANEL_W: f64 = 220.0;
/// Room right of a bar for its value.
const VALUE_W: f64 = 60.0;
/// Pixels per character of the 12 px sans-serif labels, generously.
const CHAR_W: f64 = 7.0;

fn escape(text: &str) -> String {
    html_escape::encode_quoted_attribute(text).into_owned()
}

/// Charts one above the other in one SVG (each keeps its own title and scales).
pub fn stack(charts: &[String]) -> String {
    // Each chart's size, from its own opening tag (written by `bars`).
    let size = |svg: &str, attr: &str| -> f64 {
        svg.split(&format!("{attr}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let width = charts.iter().map(|c| size(c, "width")).fold(0.0, f64::max);
    let height: f64 = charts.iter().map(|c| size(c, "height")).sum();
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
    );
    let mut y = 0.0;
    for chart in charts {
        // A nested <svg> placed at its offset: the chart as drawn, moved down.
        let placed = chart
            .trim_end()
            .replacen("<svg ", &format!("<svg x=\"0\" y=\"{y:.0}\" "), 1);
        s += &placed;
        y += size(chart, "height");
    }
    s += "</svg>\n";
    s
}

/// `rows` (their names) measured by `panels`, under `title`, as a standalone SVG.
pub fn bars(title: &str, rows: &[&str], panels: &[Panel]) -> String {
    let label_w = 16.0 + CHAR_W * rows.iter().map(|r| r.chars().count()).max().unwrap_or(0) as f64;
    let top = 56.0;
    let height = top + rows.len() as f64 * ROW_H + 24.0;
    let width = (label_w + panels.len() as f64 * (PANEL_W + VALUE_W))
        .max(20.0 + CHAR_W * title.chars().count() as f64);
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width:.0}\" height=\"{height:.0}\" \
         font-family=\"sans-serif\" font-size=\"12\">\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\
         <text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">{}</text>",
        escape(title)
    );
    for (i, row) in rows.iter().enumerate() {
        let y = top + i as f64 * ROW_H;
        let _ = write!(
            s,
            "<text x=\"{:.0}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label_w - 8.0,
            y + BAR_H - 4.0,
            escape(row)
        );
    }
    for (p, panel) in panels.iter().enumerate() {
        let x0 = label_w + p as f64 * (PANEL_W + VALUE_W);
        let clean = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
        let most = panel
            .values
            .iter()
            .copied()
            .map(clean)
            .chain(panel.reference.map(clean))
            .fold(0.0, f64::max);
        let scale = if most > 0.0 { PANEL_W / most } else { 0.0 };
        let _ = write!(
            s,
            "<text x=\"{x0:.0}\" y=\"{:.0}\" font-weight=\"bold\">{}</text>",
            top - 12.0,
            escape(&panel.title)
        );
        for (i, v) in panel.values.iter().copied().enumerate().take(rows.len()) {
            let y = top + i as f64 * ROW_H;
            let w = clean(v) * scale;
            let shown = match v.is_finite() {
                true => format!("{v:.*}", panel.decimals),
                false => "n/a".to_string(),
            };
            let _ = write!(
                s,
                "<rect x=\"{x0:.0}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{BAR_H}\" fill=\"#1f77b4\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\">{shown}</text>",
                x0 + w + 4.0,
                y + BAR_H - 4.0,
            );
        }
        if let Some(r) = panel.reference {
            let x = x0 + clean(r) * scale;
            let _ = write!(
                s,
                "<line x1=\"{x:.1}\" y1=\"{:.0}\" x2=\"{x:.1}\" y2=\"{:.0}\" \
                 stroke=\"#d62728\" stroke-dasharray=\"4 3\"/>",
                top - 4.0,
                top + rows.len() as f64 * ROW_H
            );
        }
    }
    s += "</svg>\n";
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_and_panel_is_drawn_and_text_is_escaped() {
        let panels = [
            Panel {
                title: "hits <%>".into(),
                values: vec![0.5, 1.0],
                reference: Some(1.0),
                decimals: 2,
            },
            Panel {
                title: "empty".into(),
                values: vec![0.0, f64::NAN],
                reference: None,
                decimals: 0,
            },
        ];
        let svg = bars("t & u", &["a", "b"], &panels);
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("hits &lt;%&gt;") && svg.contains("t &amp; u"));
        assert_eq!(svg.matches("<rect x=").count(), 4, "{svg}");
        assert_eq!(svg.matches("<line").count(), 1);
        assert!(
            !svg.contains("NaN") && svg.contains(">n/a<"),
            "a NaN is drawn as zero and printed n/a: {svg}"
        );
    }

    #[test]
    fn stacked_charts_sit_one_below_the_other_in_one_picture() {
        let panel = |v: f64| Panel {
            title: "p".into(),
            values: vec![v],
            reference: None,
            decimals: 0,
        };
        let (a, b) = (
            bars("first", &["x"], &[panel(1.0)]),
            bars("second and longer", &["x", "y"], &[panel(2.0)]),
        );
        let both = stack(&[a.clone(), b.clone()]);
        assert!(both.starts_with("<svg") && both.ends_with("</svg>\n"));
        assert_eq!(both.matches("<svg").count(), 3);
        // The second starts where the first ends; the whole is as tall as both.
        let height = |s: &str| {
            s.split("height=\"")
                .nth(1)
                .unwrap()
                .split('"')
                .next()
                .unwrap()
                .parse::<f64>()
                .unwrap()
        };
        assert!(both.contains(&format!("<svg x=\"0\" y=\"{:.0}\" ", height(&a))));
        assert_eq!(height(&both), height(&a) + height(&b));
    }
}

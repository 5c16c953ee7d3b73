//! The grid as an SVG: PACELC at a glance.
//!
//! Left: each configuration placed by its median latency without faults (the "else:
//! latency" axis) against its availability under a partition (the "partition:
//! availability" axis). Right: anomalies under that partition, per run. Below: the
//! PBS-style staleness curves (without faults, if the grid has `none`) — the share of reads that were fresh, by
//! time since the latest acknowledged write. One file, no scripts; the same grid gives
//! the same bytes.

use crate::grid::Cell;
use dsys_check::session::FreshnessBin;
use html_escape::encode_quoted_attribute as escape;
use std::fmt::Write as _;

const W: f64 = 1040.0;
/// Height of the staleness panel, axis labels included.
const CURVES_H: f64 = 300.0;
/// An anomaly kind: its legend name and how to read it from a cell.
type Anomaly = (&'static str, fn(&Cell) -> u64);

const ANOMALIES: [Anomaly; 4] = [
    ("stale reads", |c| c.stale_reads),
    ("read-your-writes", |c| c.read_your_writes_violations),
    ("lost writes", |c| c.lost_writes),
    ("LWW drops", |c| c.concurrent_writes_lost),
];

const COLORS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];

/// Render `cells`. The partition shown is `halves` if the grid has it, else the first
/// nemesis other than `none`.
pub fn to_svg(cells: &[Cell]) -> String {
    let mut configs: Vec<&str> = Vec::new();
    for c in cells {
        if !configs.contains(&c.config.as_str()) {
            configs.push(&c.config);
        }
    }
    let nemeses: Vec<&str> = cells.iter().map(|c| c.nemesis.as_str()).collect();
    let partition = if nemeses.contains(&"halves") {
        "halves"
    } else {
        nemeses
            .iter()
            .copied()
            .find(|n| *n != "none")
            .unwrap_or("none")
    };
    let find = |config: &str, nemesis: &str| {
        cells
            .iter()
            .find(|c| c.config == config && c.nemesis == nemesis)
    };

    let row = 44.0;
    let top_h = (40.0 + configs.len() as f64 * row + 40.0).max(460.0);
    let calm = crate::grid::curve_nemesis(cells).unwrap_or("none");
    let curves: Vec<(usize, &Cell)> = configs
        .iter()
        .enumerate()
        .filter_map(|(i, c)| Some((i, find(c, calm)?)))
        .filter(|(_, c)| {
            c.config.starts_with("leaderless") || c.freshness.iter().any(|b| b.fresh < b.reads)
        })
        .collect();
    let height = if curves.is_empty() {
        top_h
    } else {
        top_h + CURVES_H
    };
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">"
    );
    let _ = write!(
        s,
        "<rect width=\"{W}\" height=\"{height}\" fill=\"white\"/>"
    );

    // Left panel: latency (no faults) vs availability (partition).
    let (x0, y0, pw, ph) = (70.0, 40.0, 400.0, 340.0);
    let max_latency = configs
        .iter()
        .filter_map(|c| find(c, "none"))
        .map(|c| c.latency_p50_ms)
        .fold(0.5, f64::max)
        * 1.15;
    let min_avail = configs
        .iter()
        .filter_map(|c| find(c, partition))
        .map(|c| c.availability)
        .fold(1.0, f64::min)
        .min(0.9);
    let lo = (min_avail * 10.0).floor() / 10.0;
    let px = |ms: f64| x0 + ms / max_latency * pw;
    let py = |a: f64| y0 + ph - (a - lo) / (1.0 - lo).max(1e-9) * ph;
    panel_frame(
        &mut s,
        &format!(
            "Latency without faults vs availability under {}",
            escape(partition)
        ),
        "median latency, no faults (virtual ms)",
        (x0, y0, pw, ph),
        22.0,
    );
    for i in 0..=4 {
        let a = lo + (1.0 - lo) * f64::from(i) / 4.0;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{:.0}%</text>",
            x0 - 6.0,
            py(a) + 4.0,
            a * 100.0
        );
        let ms = max_latency * f64::from(i) / 4.0;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{ms:.2}</text>",
            px(ms),
            y0 + ph + 16.0
        );
    }
    let _ = write!(
        s,
        "<text transform=\"translate(18 {:.1}) rotate(-90)\" text-anchor=\"middle\">availability under {}</text>",
        y0 + ph / 2.0,
        escape(partition)
    );
    for (i, config) in configs.iter().enumerate() {
        let (Some(calm), Some(part)) = (find(config, "none"), find(config, partition)) else {
            continue;
        };
        let (cx, cy) = (px(calm.latency_p50_ms), py(part.availability));
        let color = COLORS[i % COLORS.len()];
        let _ = write!(
            s,
            "<circle cx=\"{cx:.1}\" cy=\"{cy:.1}\" r=\"6\" fill=\"{color}\"><title>{}: {:.1}% available, p50 {} ms</title></circle>",
            escape(config),
            part.availability * 100.0,
            calm.latency_p50_ms
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{}</text>",
            cx + 9.0,
            cy + 4.0 + (i as f64 % 2.0) * 12.0,
            i + 1
        );
    }

    // Right panel: anomalies under the partition, per run.
    let (bx, by, bw) = (560.0, 40.0, 440.0);
    let kinds = ANOMALIES;
    let per_run = |c: &Cell, f: fn(&Cell) -> u64| f(c) as f64 / c.seeds.max(1) as f64;
    let max_rate = configs
        .iter()
        .filter_map(|c| find(c, partition))
        .flat_map(|c| kinds.iter().map(move |(_, f)| per_run(c, *f)))
        .fold(1.0, f64::max);
    let _ = write!(
        s,
        "<text x=\"{bx}\" y=\"22\" font-size=\"14\" font-weight=\"bold\">Anomalies per run under {}</text>",
        escape(partition)
    );
    for (i, config) in configs.iter().enumerate() {
        let Some(part) = find(config, partition) else {
            continue;
        };
        let y = by + i as f64 * row;
        let color = COLORS[i % COLORS.len()];
        let _ = write!(
            s,
            "<text x=\"{bx}\" y=\"{:.1}\" fill=\"{color}\">{}. {} ({}/{} not linearizable)</text>",
            y + 10.0,
            i + 1,
            escape(config),
            part.non_linearizable,
            part.seeds
        );
        for (k, (name, f)) in kinds.iter().enumerate() {
            let rate = per_run(part, *f);
            let width = rate / max_rate * (bw - 130.0);
            let yy = y + 14.0 + k as f64 * 6.0;
            let shade = ["#4c78a8", "#f58518", "#e45756", "#72b7b2"][k];
            let _ = write!(
                s,
                "<rect x=\"{:.1}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"5\" fill=\"{shade}\"><title>{name}: {rate:.1} per run</title></rect>",
                bx + 120.0,
                width.max(0.5)
            );
        }
    }
    let legend_y = by + configs.len() as f64 * row + 8.0;
    for (k, (name, _)) in kinds.iter().enumerate() {
        let shade = ["#4c78a8", "#f58518", "#e45756", "#72b7b2"][k];
        let lx = bx + k as f64 * 110.0;
        let _ = write!(
            s,
            "<rect x=\"{lx:.1}\" y=\"{legend_y:.1}\" width=\"10\" height=\"10\" fill=\"{shade}\"/><text x=\"{:.1}\" y=\"{:.1}\">{name}</text>",
            lx + 14.0,
            legend_y + 9.0
        );
    }
    let _ = write!(
        s,
        "<text x=\"{x0}\" y=\"{:.1}\" fill=\"#555\">Up-left: available under partition and fast without faults (PA/EL). Numbers match the list on the right.</text>",
        top_h - 12.0
    );
    if !curves.is_empty() {
        staleness_panel(&mut s, top_h, calm, &curves);
    }
    s.push_str("</svg>\n");
    s
}

/// A panel's bold title at `title_y`, its frame `(x, y, width, height)` and the title of
/// its x axis below it.
fn panel_frame(
    s: &mut String,
    title: &str,
    x_title: &str,
    (x0, y0, pw, ph): (f64, f64, f64, f64),
    title_y: f64,
) {
    let _ = write!(
        s,
        "<text x=\"{x0}\" y=\"{title_y:.1}\" font-size=\"14\" font-weight=\"bold\">{title}</text>"
    );
    let _ = write!(
        s,
        "<rect x=\"{x0}\" y=\"{y0:.1}\" width=\"{pw}\" height=\"{ph}\" fill=\"none\" stroke=\"#999\"/>"
    );
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{x_title}</text>",
        x0 + pw / 2.0,
        y0 + ph + 34.0
    );
}

/// The PBS-style curves: P(read is fresh) per bin of time since the latest acknowledged
/// write, one line per configuration (numbered as in the panels above).
fn staleness_panel(s: &mut String, top: f64, nemesis: &str, curves: &[(usize, &Cell)]) {
    let (x0, y0, pw, ph) = (70.0, top + 40.0, 560.0, CURVES_H - 100.0);
    let bins = curves.first().map_or(0, |(_, c)| c.freshness.len()).max(1);
    let lo = curves
        .iter()
        .flat_map(|(_, c)| c.freshness.iter().filter_map(FreshnessBin::fresh_share))
        .fold(1.0, f64::min)
        .min(0.9);
    let lo = (lo * 10.0).floor() / 10.0;
    let px = |i: usize| x0 + (i as f64 + 0.5) / bins as f64 * pw;
    let py = |p: f64| y0 + ph - (p - lo) / (1.0 - lo).max(1e-9) * ph;
    panel_frame(
        s,
        &format!(
            "Staleness under {} (PBS): P(read is fresh) by time since the latest acknowledged write",
            escape(nemesis)
        ),
        "virtual ms between the write's acknowledgement and the read",
        (x0, y0, pw, ph),
        top + 22.0,
    );
    for i in 0..=4 {
        let p = lo + (1.0 - lo) * f64::from(i) / 4.0;
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{p:.2}</text>",
            x0 - 6.0,
            py(p) + 4.0
        );
    }
    if let Some((_, first)) = curves.first() {
        for (i, b) in first.freshness.iter().enumerate() {
            let label = escape(&b.label()).into_owned();
            let _ = write!(
                s,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{label}</text>",
                px(i),
                y0 + ph + 16.0
            );
        }
    }
    for (k, (i, cell)) in curves.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let points: Vec<String> = cell
            .freshness
            .iter()
            .enumerate()
            .filter_map(|(b, bin)| Some(format!("{:.1},{:.1}", px(b), py(bin.fresh_share()?))))
            .collect();
        let _ = write!(
            s,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"><title>{}</title></polyline>",
            points.join(" "),
            escape(&cell.config)
        );
        let _ = write!(
            s,
            "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{color}\">{}. {}</text>",
            x0 + pw + 20.0,
            y0 + 12.0 + k as f64 * 16.0,
            i + 1,
            escape(&cell.config)
        );
    }
}

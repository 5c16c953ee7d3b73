//! The grid for people and spreadsheets: aligned table, staleness curves, CSV.

use super::Cell;
use std::fmt::Write as _;

/// The nemesis the staleness curves are drawn for: `none` if the grid has it, else the
/// first one.
pub fn curve_nemesis(cells: &[Cell]) -> Option<&str> {
    cells
        .iter()
        .find(|c| c.nemesis == "none")
        .or(cells.first())
        .map(|c| c.nemesis.as_str())
}

/// The PBS-style staleness curves: for each configuration under [`curve_nemesis`], the
/// share of reads that were fresh, by time since the latest acknowledged write.
pub fn to_freshness_table(cells: &[Cell]) -> String {
    let Some(nemesis) = curve_nemesis(cells) else {
        return String::new();
    };
    let mut t = String::new();
    let _ = writeln!(
        t,
        "P(read is fresh) by ms since the latest acknowledged write of its key, nemesis {nemesis}"
    );
    let Some(edges) = cells.first().map(|c| &c.freshness) else {
        return t;
    };
    let cw = config_width(cells);
    let _ = write!(t, "{:<cw$}", "config");
    for b in edges {
        let label = b.label();
        let _ = write!(t, " {label:>7}");
    }
    t.push('\n');
    for c in cells.iter().filter(|c| c.nemesis == nemesis) {
        let _ = write!(t, "{:<cw$}", c.config);
        for b in &c.freshness {
            match b.fresh_share() {
                Some(p) => {
                    let _ = write!(t, " {p:>7.3}");
                }
                None => {
                    let _ = write!(t, " {:>7}", "-");
                }
            }
        }
        t.push('\n');
    }
    t
}

/// Width of the configuration column: the longest label, at least 44.
fn config_width(cells: &[Cell]) -> usize {
    cells.iter().map(|c| c.config.len()).fold(44, usize::max)
}

/// The grid as an aligned table.
pub fn to_table(cells: &[Cell]) -> String {
    let cw = config_width(cells);
    let nw = cells.iter().map(|c| c.nemesis.len()).fold(14, usize::max);
    let mut t = String::new();
    let _ = writeln!(
        t,
        "{:<cw$} {:<nw$} {:>6} {:>6} {:>8} {:>8} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>9}",
        "config",
        "nemesis",
        "avail",
        "start",
        "p50 ms",
        "p99 ms",
        "msg/op",
        "nonlin",
        "stale",
        "ryw",
        "lost",
        "lww",
        "sibs",
        "converge"
    );
    for c in cells {
        let converge = if c.not_converged > 0 {
            format!("{} no", c.not_converged)
        } else {
            format!("{}ms", c.converge_ms)
        };
        let nonlin = format!("{}/{}", c.non_linearizable, c.seeds);
        let _ = writeln!(
            t,
            "{:<cw$} {:<nw$} {:>5.1}% {:>5.1}% {:>8} {:>8} {:>7} {:>7} {:>7} {:>6} {:>6} {:>6} {:>6} {:>9}",
            c.config,
            c.nemesis,
            c.availability * 100.0,
            c.startup_availability * 100.0,
            c.latency_p50_ms,
            c.latency_p99_ms,
            c.msgs_per_op,
            nonlin,
            c.stale_reads,
            c.read_your_writes_violations,
            c.lost_writes,
            c.concurrent_writes_lost,
            c.sibling_reads,
            converge
        );
    }
    t
}

/// The grid as CSV with a header row.
pub fn to_csv(cells: &[Cell]) -> String {
    let mut t = String::from(
        "config,nemesis,seeds,availability,latency_p50_ms,latency_p99_ms,msgs_per_op,non_linearizable,stale_reads,read_your_writes_violations,lost_writes,concurrent_writes_lost,sibling_reads,not_converged,converge_ms,startup_availability\n",
    );
    for c in cells {
        let _ = writeln!(
            t,
            "\"{}\",{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            c.config,
            c.nemesis,
            c.seeds,
            c.availability,
            c.latency_p50_ms,
            c.latency_p99_ms,
            c.msgs_per_op,
            c.non_linearizable,
            c.stale_reads,
            c.read_your_writes_violations,
            c.lost_writes,
            c.concurrent_writes_lost,
            c.sibling_reads,
            c.not_converged,
            c.converge_ms,
            c.startup_availability
        );
    }
    t
}

//! A self-contained HTML timeline of a checked history: per-key swimlanes, the witness
//! highlighted, nemesis events as bands. One file, inline SVG and CSS, no scripts, no
//! network: it opens anywhere and can be attached to a bug report.

use crate::history::{History, Op, OpFn, Status};
use crate::linear::describe;
use crate::report::CheckReport;
use html_escape::encode_quoted_attribute as escape;
use std::collections::BTreeSet;
use std::fmt::Write as _;

/// Widest swimlane drawing, in pixels; longer keys are compressed to fit.
const MAX_WIDTH: f64 = 24_000.0;
/// Pixels per event position when there is room.
const PX_PER_EVENT: f64 = 6.0;
const LANE_HEIGHT: f64 = 14.0;
/// Above this many operations, labels are left to tooltips to keep the file small.
const LABEL_LIMIT: usize = 5_000;

fn label(op: &Op) -> String {
    match op.f {
        OpFn::Read => format!("r {}", op.output),
        OpFn::Write => format!("w {}", op.input),
        OpFn::Cas => format!("cas {}", op.input),
        OpFn::Add => format!("add {}", op.input),
        OpFn::Append => format!("app {}", op.input),
        OpFn::Remove => format!("rm {}", op.input),
    }
}

/// Nemesis actions that end a fault rather than start one.
fn heals(f: &str) -> bool {
    matches!(
        f,
        "heal-partition" | "heal-all" | "restart" | "resume" | "clock-reset" | "stop"
    ) || f.starts_with("stop")
}

/// When to write an operation's label beside its bar (tooltips always carry it).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Labels {
    Always,
    IfRoom,
    Never,
}

/// One swimlane drawing of `ops` (in call order), x scaled to their own span.
fn swimlane(
    h: &mut String,
    history: &History,
    ops: &[&Op],
    witnessed: &BTreeSet<usize>,
    labels: Labels,
) {
    let first = ops.iter().map(|o| o.call).min().unwrap_or(0);
    let last_ret = ops
        .iter()
        .filter(|o| o.status == Status::Ok)
        .map(|o| o.ret)
        .max()
        .unwrap_or(first);
    // An operation that never completed is drawn open-ended, as long as a slow one.
    let mut spans: Vec<u64> = ops
        .iter()
        .filter(|o| o.status == Status::Ok)
        .map(|o| o.ret - o.call)
        .collect();
    spans.sort_unstable();
    let open_span = spans
        .get(spans.len() * 9 / 10)
        .copied()
        .unwrap_or(10)
        .max(4);
    let finish = |op: &Op| {
        if op.status == Status::Ok {
            op.ret
        } else {
            op.call + open_span
        }
    };
    let end = ops
        .iter()
        .map(|o| finish(o))
        .max()
        .unwrap_or(last_ret)
        .max(last_ret);
    let span = (end.saturating_sub(first)).max(1) as f64;
    let scale = PX_PER_EVENT
        .min(MAX_WIDTH / span)
        .max(MAX_WIDTH.min(1_000.0) / span);
    let x = |p: u64| (p.clamp(first, end) - first) as f64 * scale + 2.0;
    // Greedy lane packing: each op takes the first lane free at its call.
    let mut lane_free: Vec<u64> = Vec::new();
    let mut placed: Vec<(usize, &Op)> = Vec::with_capacity(ops.len());
    for op in ops {
        let lane = match lane_free.iter().position(|&f| f < op.call) {
            Some(l) => l,
            None => {
                lane_free.push(0);
                lane_free.len() - 1
            }
        };
        lane_free[lane] = finish(op);
        placed.push((lane, op));
    }
    let width = x(end)
        + if labels == Labels::Always {
            120.0
        } else {
            20.0
        };
    let stripe = 6.0;
    let height = lane_free.len() as f64 * LANE_HEIGHT + stripe + 4.0;
    let _ = write!(
        h,
        "<div class=\"lane\"><svg width=\"{width:.0}\" height=\"{height:.0}\">"
    );
    // Faults: a marker at each nemesis event, and a stripe along the top while one lasts.
    for (i, n) in history.nemesis.iter().enumerate() {
        let stop = history.nemesis.get(i + 1).map_or(end, |m| m.position);
        if stop < first || n.position > end {
            continue;
        }
        let x0 = x(n.position);
        let _ = write!(
            h,
            "<line class=\"nemesis\" x1=\"{x0:.1}\" x2=\"{x0:.1}\" y1=\"0\" y2=\"{height:.0}\"><title>{}</title></line>",
            escape(&n.f)
        );
        if !heals(&n.f) {
            let _ = write!(
                h,
                "<rect class=\"nemesis\" x=\"{x0:.1}\" y=\"0\" width=\"{:.1}\" height=\"{stripe}\"><title>{}</title></rect>",
                (x(stop) - x0).max(1.0),
                escape(&n.f)
            );
        }
    }
    for (lane, op) in placed {
        let (x0, x1) = (x(op.call), x(finish(op)));
        let mut class = op.f.name().to_string();
        if op.status != Status::Ok {
            class.push_str(" info");
        }
        if witnessed.contains(&op.id) {
            class.push_str(" witness");
        }
        let y = lane as f64 * LANE_HEIGHT + stripe + 2.0;
        let _ = write!(
            h,
            "<rect class=\"{class}\" x=\"{x0:.1}\" y=\"{y:.0}\" width=\"{:.1}\" height=\"{:.0}\"><title>{}</title></rect>",
            (x1 - x0).max(1.0),
            LANE_HEIGHT - 3.0,
            escape(&describe(op))
        );
        match labels {
            Labels::Always => {
                let text = format!("p{} {}", op.process, label(op));
                let _ = write!(
                    h,
                    "<text x=\"{:.1}\" y=\"{:.0}\">{}</text>",
                    x1 + 3.0,
                    y + 9.0,
                    escape(&text)
                );
            }
            Labels::IfRoom if x1 - x0 > 24.0 => {
                let _ = write!(
                    h,
                    "<text x=\"{:.1}\" y=\"{:.0}\">{}</text>",
                    x0 + 2.0,
                    y + 9.0,
                    escape(&label(op))
                );
            }
            _ => {}
        }
    }
    h.push_str("</svg></div>");
}

/// Render `history` and the verdicts in `report` as one HTML document.
pub fn render(history: &History, report: &CheckReport, title: &str) -> String {
    let witnessed: BTreeSet<usize> = report
        .checks
        .values()
        .filter_map(|c| c.witness.as_ref())
        .flat_map(|w| w.ops.iter().map(|o| o.id))
        .collect();
    let failed_keys: BTreeSet<&str> = report
        .checks
        .values()
        .flat_map(|c| c.failed_keys.iter().map(String::as_str))
        .collect();
    let labels = if history.ops.len() <= LABEL_LIMIT {
        Labels::IfRoom
    } else {
        Labels::Never
    };
    let mut h = String::with_capacity(history.ops.len() * 120 + 4096);
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>{}</title><style>\
body{{font:13px system-ui,sans-serif;margin:16px;color:#222}}h1{{font-size:18px}}h2{{font-size:14px;margin:18px 0 4px}}\
.pass{{color:#1a7f37}}.fail{{color:#cf222e}}.unknown{{color:#9a6700}}table{{border-collapse:collapse}}td{{padding:2px 10px 2px 0;vertical-align:top}}\
.lane{{overflow-x:auto;border:1px solid #ddd}}rect.read{{fill:#9ecae1}}rect.write{{fill:#fdae6b}}rect.cas{{fill:#c7a5d8}}rect.add,rect.append{{fill:#a1d99b}}\
rect.info{{opacity:.45;stroke:#888;stroke-dasharray:3 2}}rect.witness{{stroke:#cf222e;stroke-width:2.5}}rect.nemesis{{fill:#e3a008}}\
line.nemesis{{stroke:#e3a008;stroke-dasharray:2 2}}text{{font-size:9px;pointer-events:none}}\
</style></head><body><h1>{}</h1>",
        escape(title),
        escape(title)
    );
    let _ = write!(
        h,
        "<p>model {} &middot; {} operations ({} ok, {} indeterminate, {} failed) &middot; {} keys</p><table>",
        report.model,
        report.ops.total,
        report.ops.ok,
        report.ops.indeterminate,
        report.ops.failed,
        report.keys
    );
    for (name, check) in &report.checks {
        let verdict = check.result.to_string();
        let detail = check.detail().unwrap_or_default();
        let _ = write!(
            h,
            "<tr><td>{name}</td><td class=\"{verdict}\"><b>{}</b></td><td>{}</td></tr>",
            verdict.to_uppercase(),
            escape(&detail)
        );
    }
    h.push_str("</table>");
    for check in report.checks.values() {
        if let Some(w) = &check.witness {
            h.push_str("<h2>Witness</h2><ol>");
            for op in &w.ops {
                let _ = write!(h, "<li>{}</li>", escape(&op.text));
            }
            h.push_str("</ol>");
            break;
        }
    }
    let witness_ops: Vec<&Op> = history
        .ops
        .iter()
        .filter(|o| witnessed.contains(&o.id))
        .collect();
    if !witness_ops.is_empty() {
        h.push_str("<h2>Witness on the timeline</h2>");
        swimlane(&mut h, history, &witness_ops, &witnessed, Labels::Always);
    }
    // Keys with a violation first, then the rest in order.
    let mut keys: Vec<u32> = (0..history.keys.len() as u32).collect();
    keys.sort_by_key(|&k| (!failed_keys.contains(history.keys[k as usize].as_str()), k));
    for key in keys {
        let ops: Vec<&Op> = history.ops.iter().filter(|o| o.key == key).collect();
        if ops.is_empty() {
            continue;
        }
        let name = &history.keys[key as usize];
        let shown = if name.is_empty() {
            "(single register)"
        } else {
            name
        };
        let flag = if failed_keys.contains(name.as_str()) {
            " &mdash; violation"
        } else {
            ""
        };
        let _ = write!(h, "<h2>key {}{flag}</h2>", escape(shown));
        swimlane(&mut h, history, &ops, &witnessed, labels);
    }
    h.push_str("<p>Bars run from invocation to completion (x: event order); faded, dashed bars never completed (drawn open-ended); red outlines are the witness; the amber stripe and dashed lines mark faults (hover for names).</p></body></html>\n");
    h
}

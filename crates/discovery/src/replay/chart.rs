//! The replays as one picture (`dsys discovery --format svg`): per experiment a bar chart
//! of the policies (success within the deadline, p50, p99, p999), and the registry's
//! staleness; stacked one below the other.

use super::staleness::{Keeping, Staleness};
use super::{Experiment, Row, describe};
use dsys_diagram::chart::{Panel, bars, stack};

fn panel(title: &str, decimals: usize, values: Vec<f64>) -> Panel {
    Panel {
        title: title.to_string(),
        values,
        reference: None,
        decimals,
    }
}

/// One experiment's rows as a chart.
fn replay(experiment: &Experiment, rows: &[Row]) -> String {
    let names: Vec<&str> = rows.iter().map(|r| r.policy).collect();
    let column = |f: fn(&Row) -> f64| rows.iter().map(f).collect::<Vec<_>>();
    let mut panels = Vec::new();
    if let Some(ms) = experiment.deadline_ms {
        // The misses, not the successes: 95% and 99.9% are bars of nearly one length,
        // 5% and 0.1% are not.
        panels.push(panel(
            &format!("over {ms} ms, % of requests"),
            2,
            column(|r| (1.0 - r.success) * 100.0),
        ));
    }
    panels.push(panel("p50, ms", 1, column(|r| r.p50_ms)));
    panels.push(panel("p99, ms", 1, column(|r| r.p99_ms)));
    panels.push(panel("p999, ms", 1, column(|r| r.p999_ms)));
    bars(&describe(experiment), &names, &panels)
}

/// The registry's rows as a chart.
fn registry(rows: &[Staleness], seed: u64) -> String {
    let names: Vec<String> = rows
        .iter()
        .map(|r| {
            let keeping = match r.keeping {
                Keeping::Lease => "lease 10 s",
                Keeping::Heartbeats => "Eureka heartbeats",
            };
            let ejection = if r.ejection { ", ejection" } else { "" };
            format!("{keeping}{ejection}")
        })
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    bars(
        &format!("registry: one of 10 instances SIGKILLed at 60 s, 100 requests/s, seed {seed}"),
        &names,
        &[
            panel(
                "visible after the kill, s",
                1,
                rows.iter().map(|r| r.visible_s).collect(),
            ),
            panel(
                "requests sent to it",
                0,
                rows.iter().map(|r| r.sent_to_dead as f64).collect(),
            ),
        ],
    )
}

/// The replays and the registry rows (if run) as one SVG.
pub fn svg(
    replays: &[(Experiment, Vec<Row>)],
    staleness: Option<&[Staleness]>,
    seed: u64,
) -> String {
    let mut charts: Vec<String> = replays.iter().map(|(e, rows)| replay(e, rows)).collect();
    charts.extend(staleness.map(|rows| registry(rows, seed)));
    stack(&charts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::Policy;
    use crate::replay::{run, staleness};

    #[test]
    fn every_experiment_and_policy_is_drawn() {
        let tower = Experiment::tower(1);
        let rows: Vec<Row> = [Policy::RoundRobin, Policy::PeakEwma]
            .iter()
            .map(|&p| run(&tower, p))
            .collect();
        let registry_rows = staleness::run_all(1);
        let picture = svg(&[(tower, rows)], Some(&registry_rows), 1);
        assert!(picture.starts_with("<svg") && picture.ends_with("</svg>\n"));
        assert_eq!(picture.matches("<svg").count(), 3, "two charts in one");
        for text in [
            "round-robin",
            "p2c-peak-ewma",
            "p999, ms",
            "lease 10 s, ejection",
            "requests sent to it",
        ] {
            assert!(picture.contains(text), "{text}");
        }
    }
}

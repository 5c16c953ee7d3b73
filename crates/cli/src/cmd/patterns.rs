//! The pattern demos: `dsys partition`, `dsys resilience`, `dsys cache` and
//! `dsys discovery`.

use crate::args::{CacheArgs, ChartFormat, DiscoveryArgs, Format, PartitionArgs, ResilienceArgs};
use crate::exit::{Exit, Failure};
use crate::output::Output;
use crate::progress;

pub fn resilience(a: ResilienceArgs, out: Output) -> Result<(), Failure> {
    use dsys_resilience::demo::{Pattern, Traffic, run_all, table};
    let patterns = match a.patterns.is_empty() {
        true => Pattern::ALL.to_vec(),
        false => a.patterns,
    };
    let traffic = Traffic {
        seed: a.seed,
        rate: a.rate,
        seconds: a.seconds,
    };
    let rows = {
        let _spinner = progress::Spinner::start("running", progress::enabled(out.quiet));
        run_all(&patterns, traffic)
    };
    let rendered = match a.format {
        Format::Text => format!(
            "{} calls/s for {} s, seed {}; the service is sick from 20 s to 35 s\n\n{}",
            a.rate,
            a.seconds,
            a.seed,
            table(&rows)
        ),
        Format::Json => {
            let doc = serde_json::json!({ "traffic": traffic, "rows": rows });
            serde_json::to_string_pretty(&doc)? + "\n"
        }
    };
    out.print(&rendered)
}

pub fn discovery(a: DiscoveryArgs, out: Output) -> Result<(), Failure> {
    use dsys_discovery::balance::Policy;
    use dsys_discovery::replay::{Experiment, run, staleness, table};
    let policies = match a.policies.is_empty() {
        true => Policy::ALL.to_vec(),
        false => a.policies,
    };
    let names = match a.experiments.is_empty() {
        true => Experiment::ALL.iter().map(|n| n.to_string()).collect(),
        false => a.experiments,
    };
    let replays: Vec<_> = names
        .iter()
        .filter_map(|name| Experiment::named(name, a.seed))
        .map(|e| {
            let rows: Vec<_> = policies.iter().map(|&p| run(&e, p)).collect();
            (e, rows)
        })
        .collect();
    let registry = names
        .iter()
        .any(|n| n == "registry")
        .then(|| staleness::run_all(a.seed));
    let rendered = match a.format {
        ChartFormat::Svg => dsys_discovery::replay::svg(&replays, registry.as_deref(), a.seed),
        ChartFormat::Text => {
            let mut tables: Vec<String> = replays.iter().map(|(e, rows)| table(e, rows)).collect();
            tables.extend(registry.iter().map(|rows| staleness::table(rows, a.seed)));
            tables.join("\n")
        }
        ChartFormat::Json => {
            let doc: Vec<_> = replays
                .iter()
                .map(|(e, rows)| serde_json::json!({ "experiment": e, "rows": rows }))
                .collect();
            let doc = serde_json::json!({ "replays": doc, "registry": registry });
            serde_json::to_string_pretty(&doc)? + "\n"
        }
    };
    out.print(&rendered)
}

pub fn partition(a: PartitionArgs, out: Output) -> Result<(), Failure> {
    use dsys_partition::evaluation::{
        Algorithm, PlanSetup, Setup, evaluate, plan_join, plan_table, svg, table,
    };
    let algorithms = match a.algorithms.is_empty() {
        true => Algorithm::ALL.to_vec(),
        false => a.algorithms,
    };
    let setup = Setup {
        nodes: a.nodes as usize,
        zones: a.zones as usize,
        keys: a.keys,
        distribution: a.distribution,
        seed: a.seed,
        vnodes: a.vnodes,
    };
    // Flags are checked by clap; what is left to refuse is a node set the algorithms
    // cannot take, which is bad input too.
    let bad = |e: dsys_partition::PartitionError| Failure {
        exit: Exit::BadInput,
        error: e.into(),
    };
    let plan_setup = PlanSetup {
        shards: a.shards,
        shard_bytes: a.shard_bytes,
        replicas: a.replicas as usize,
        per_node: a.per_node as usize,
    };
    let (rows, plan) = {
        let _spinner = progress::Spinner::start("placing keys", progress::enabled(out.quiet));
        let rows = evaluate(&setup, &algorithms).map_err(bad)?;
        let plan = match a.plan {
            true => Some(plan_join(&setup, &plan_setup, &algorithms).map_err(bad)?),
            false => None,
        };
        (rows, plan)
    };
    let rendered = match a.format {
        ChartFormat::Text => {
            let mut text = table(&setup, &rows);
            if let Some(plan) = &plan {
                text += &plan_table(&setup, &plan_setup, plan);
            }
            text
        }
        ChartFormat::Svg => svg(&setup, &rows),
        ChartFormat::Json => {
            let doc = match &plan {
                Some(plan) => serde_json::json!({
                    "setup": setup, "rows": rows, "plan_setup": plan_setup, "plan": plan
                }),
                None => serde_json::json!({ "setup": setup, "rows": rows }),
            };
            serde_json::to_string_pretty(&doc)? + "\n"
        }
    };
    out.print(&rendered)
}

pub fn cache(a: CacheArgs, out: Output) -> Result<(), Failure> {
    use dsys_cache::simulation::{Setup, Strategy, report, run_all, svg};
    let strategies = match a.strategies.is_empty() {
        true => Strategy::ALL.to_vec(),
        false => a.strategies,
    };
    let setup = Setup {
        seed: a.seed,
        seconds: a.seconds,
        keys: a.keys,
        reads: a.reads,
        writes: a.writes,
        ttl_ms: a.ttl_ms,
        incidents: a.incidents,
    };
    let rows = {
        let _spinner = progress::Spinner::start("simulating", progress::enabled(out.quiet));
        run_all(&setup, &strategies)
    };
    let rendered = match a.format {
        ChartFormat::Text => report(&setup, &rows),
        ChartFormat::Svg => svg(&setup, &rows),
        ChartFormat::Json => {
            let doc = serde_json::json!({ "setup": setup, "rows": rows });
            serde_json::to_string_pretty(&doc)? + "\n"
        }
    };
    out.print(&rendered)
}

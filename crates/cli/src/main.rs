//! `dsys`: the command-line shell over the dsys libraries. It parses, calls a library,
//! and renders; it holds no logic of its own.
//!
//! Exit codes: 0 success, 1 the run failed (a replay diverged, output could not be
//! written), a check found a violation or a design check a contradiction, 2 bad input
//! (flags, specs, artifacts, histories), 3 a check could not decide within its budget.

mod args;
mod progress;

use anyhow::Context as _;
use args::{
    ChartFormat, CheckArgs, Cli, Command, DesignArgs, DesignFormat, DiagramArgs, DiagramFormat,
    Format, GridArgs, GridFormat, PartitionArgs, ReplayArgs, ResilienceArgs, SimulateArgs,
    TableFormat,
};
use clap::Parser;
use dsys_lab::checking::{CheckRequest, check_file, check_run};
use dsys_lab::dsys_check::{CheckName, CheckReport, Verdict};
use dsys_lab::{LabError, Report, RunArtifact, RunResult};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// An error with the exit code it deserves.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

impl From<LabError> for Failure {
    fn from(e: LabError) -> Self {
        let code = match e {
            LabError::Diverged { .. } => 1,
            LabError::Internal { .. } => 70,
            _ => 2,
        };
        Failure {
            code,
            error: e.into(),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        Failure { code: 1, error }
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return args::report_clap_error(e),
    };
    let result = match cli.command {
        Command::Simulate(a) => simulate(*a),
        Command::Replay(a) => replay(a),
        Command::Check(a) => check(a),
        Command::Grid(a) => grid(a),
        Command::Design(a) => design(a),
        Command::Diagram(a) => diagram(a),
        Command::Resilience(a) => resilience(a),
        Command::Partition(a) => partition(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            // One line: the error and its causes.
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

/// Run every data class's trial in the simulator and judge it.
fn verify(
    spec: &dsys_advisor::Spec,
    seeds: u64,
) -> Result<Vec<dsys_advisor::verify::Outcome>, Failure> {
    use dsys_advisor::verify::{Measurement, judge, trials};
    use dsys_lab::grid::{self, Config, GridSpec};
    let trials = trials(spec);
    let mut configs: Vec<Config> = Vec::new();
    let mut nemeses = Vec::new();
    for t in &trials {
        for side in [&t.chosen, &t.alternative] {
            let config = Config::parse(&side.config)?;
            if !configs.iter().any(|c| c.label == config.label) {
                configs.push(config);
            }
        }
        let nemesis: dsys_lab::dsys_sim::nemesis::NemesisSpec =
            t.nemesis.parse().map_err(|e| anyhow::anyhow!("{e}"))?;
        if !nemeses.contains(&nemesis) {
            nemeses.push(nemesis);
        }
    }
    let cells = grid::run(
        &GridSpec {
            configs,
            nemeses,
            seeds,
            base: dsys_lab::dsys_sim::SimConfig::default(),
        },
        std::thread::available_parallelism().map_or(1, |n| n.get()),
    )?;
    let measure = |config: &str, nemesis: &str| -> Result<Measurement, Failure> {
        let label = Config::parse(config)?.label;
        let cell = cells
            .iter()
            .find(|c| c.config == label && c.nemesis == nemesis)
            .ok_or_else(|| anyhow::anyhow!("no run of {label} under {nemesis}"))?;
        Ok(Measurement {
            seeds: cell.seeds,
            availability: cell.availability,
            latency_p50_ms: cell.latency_p50_ms,
            latency_p99_ms: cell.latency_p99_ms,
            non_linearizable: cell.non_linearizable,
            lost_writes: cell.lost_writes,
            concurrent_writes_lost: cell.concurrent_writes_lost,
            read_your_writes_violations: cell.read_your_writes_violations,
        })
    };
    trials
        .into_iter()
        .map(|t| {
            let chosen = measure(&t.chosen.config, &t.nemesis)?;
            let alternative = measure(&t.alternative.config, &t.nemesis)?;
            Ok(judge(t, chosen, alternative))
        })
        .collect()
}

/// Read and parse a requirement spec; any failure is bad input (exit 2).
fn read_spec(path: &Path) -> Result<dsys_advisor::Spec, Failure> {
    let bad_input = |error: anyhow::Error| Failure { code: 2, error };
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the spec {name}"))
        .map_err(bad_input)?;
    dsys_advisor::Spec::parse(&name, &text).map_err(|e| bad_input(e.into()))
}

fn resilience(a: ResilienceArgs) -> Result<(), Failure> {
    use dsys_lab::resilience::{Pattern, Traffic, run_all, table};
    let patterns = if a.patterns.is_empty() {
        Pattern::ALL.to_vec()
    } else {
        a.patterns
    };
    let traffic = Traffic {
        seed: a.seed,
        rate: a.rate,
        seconds: a.seconds,
    };
    let rows = run_all(&patterns, traffic);
    let rendered = match a.format {
        TableFormat::Text => format!(
            "{} calls/s for {} s, seed {}; the service is sick from 20 s to 35 s\n\n{}",
            a.rate,
            a.seconds,
            a.seed,
            table(&rows)
        ),
        TableFormat::Json => {
            let doc = serde_json::json!({ "traffic": traffic, "rows": rows });
            serde_json::to_string_pretty(&doc).context("cannot render the table")? + "\n"
        }
    };
    write_stdout(rendered.as_bytes())
}

fn partition(a: PartitionArgs) -> Result<(), Failure> {
    use dsys_lab::partition::{
        Algorithm, PlanSetup, Setup, evaluate, plan_join, plan_table, svg, table,
    };
    let algorithms = if a.algorithms.is_empty() {
        Algorithm::ALL.to_vec()
    } else {
        a.algorithms
    };
    let setup = Setup {
        nodes: a.nodes as usize,
        zones: a.zones as usize,
        keys: a.keys,
        distribution: a.distribution,
        seed: a.seed,
    };
    // Flags are checked by clap; what is left to refuse is a node set the algorithms
    // cannot take, which is bad input too.
    let bad = |e: dsys_lab::dsys_partition::PartitionError| Failure {
        code: 2,
        error: e.into(),
    };
    let rows = evaluate(&setup, &algorithms).map_err(bad)?;
    let plan_setup = PlanSetup {
        shards: a.shards,
        shard_bytes: a.shard_bytes,
        replicas: a.replicas as usize,
        per_node: a.per_node as usize,
    };
    let plan = match a.plan {
        true => Some(plan_join(&setup, &plan_setup, &algorithms).map_err(bad)?),
        false => None,
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
            serde_json::to_string_pretty(&doc).context("cannot render the table")? + "\n"
        }
    };
    write_stdout(rendered.as_bytes())
}

fn diagram(a: DiagramArgs) -> Result<(), Failure> {
    let model = dsys_advisor::architecture::architecture(&read_spec(&a.spec)?);
    let rendered = match a.format {
        DiagramFormat::Unicode => {
            dsys_diagram::terminal(&model, usize::from(a.width), dsys_diagram::Charset::Unicode)
        }
        DiagramFormat::Ascii => {
            dsys_diagram::terminal(&model, usize::from(a.width), dsys_diagram::Charset::Ascii)
        }
        DiagramFormat::Svg => dsys_diagram::svg(&model),
        DiagramFormat::Mermaid => dsys_diagram::mermaid(&model),
        DiagramFormat::Dot => dsys_diagram::dot(&model),
        DiagramFormat::Json => {
            serde_json::to_string_pretty(&model).context("cannot render the diagram")? + "\n"
        }
    };
    write_stdout(rendered.as_bytes())
}

fn design(a: DesignArgs) -> Result<(), Failure> {
    let spec = read_spec(&a.spec)?;
    let design = dsys_advisor::design(&spec);
    let outcomes = if a.verify {
        verify(&spec, a.seeds)?
    } else {
        Vec::new()
    };
    let mut rendered = match a.format {
        DesignFormat::Text => dsys_advisor::render::text(&design),
        DesignFormat::Markdown => dsys_advisor::render::markdown(&design),
        DesignFormat::Html => {
            let diagram = dsys_diagram::svg(&dsys_advisor::architecture::architecture(&spec));
            dsys_advisor::render::html(&design, &diagram)
        }
        DesignFormat::Json if a.verify => {
            let verified = dsys_advisor::verify::VerifiedDesign {
                design: &design,
                verification: &outcomes,
            };
            serde_json::to_string_pretty(&verified).context("cannot render the design")? + "\n"
        }
        DesignFormat::Json => {
            serde_json::to_string_pretty(&design).context("cannot render the design")? + "\n"
        }
    };
    if a.verify && a.format != DesignFormat::Json {
        rendered.push_str(&dsys_advisor::verify::text(&outcomes));
    }
    write_stdout(rendered.as_bytes())?;
    if let Some(dir) = &a.adr_dir {
        write_decision_records(dir, &design)?;
    }
    let contradictions: Vec<String> = design
        .contradictions()
        .map(|c| format!("{} ({})", c.subject, c.check))
        .chain(
            outcomes
                .iter()
                .filter(|o| o.chosen_verdict == dsys_advisor::verify::Verdict::Contradicted)
                .map(|o| format!("{} (verify: {})", o.trial.data, o.trial.chosen.config)),
        )
        .collect();
    if !contradictions.is_empty() {
        return Err(anyhow::anyhow!(
            "the requirements contradict each other: {}",
            contradictions.join(", ")
        )
        .into());
    }
    Ok(())
}

/// Write the MADR records into `dir`, replacing dsys's own earlier records and removing
/// those of decisions no longer made; files dsys did not write are left alone.
fn write_decision_records(dir: &Path, design: &dsys_advisor::Design) -> Result<(), Failure> {
    let records = dsys_advisor::render::madr(design);
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let keep: std::collections::BTreeSet<&str> = records.iter().map(|(n, _)| n.as_str()).collect();
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let ours = std::fs::read_to_string(&path)
            .is_ok_and(|t| t.starts_with(dsys_advisor::render::MADR_MARKER));
        if ours && !name.to_str().is_some_and(|n| keep.contains(n)) {
            std::fs::remove_file(&path)
                .with_context(|| format!("cannot remove {}", path.display()))?;
        }
    }
    for (name, text) in &records {
        write_file(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

fn simulate(a: SimulateArgs) -> Result<(), Failure> {
    let scenario = a.scenario()?;
    let result = scenario.run(&mut progress::bar("simulating"))?;
    progress::clear();
    if let Some(path) = &a.out {
        write_file(path, RunArtifact::of(&result).to_json().as_bytes())?;
    }
    let checks = check_run(&result, &a.checks(&scenario), Some(a.check_timeout))?;
    finish(
        &result,
        checks.clone(),
        a.output.format,
        a.output.history.as_deref(),
    )?;
    expectations(&checks, &a.expect)
}

/// A protocol invariant broken inside the simulation is a failed run (exit 1), whatever
/// was `--expect`ed: the protocol itself is wrong.
fn invariants_held(report: &CheckReport) -> Result<(), Failure> {
    match report.checks.get(dsys_lab::checking::INVARIANTS_CHECK) {
        Some(check) if check.result == Verdict::Fail => Err(Failure {
            code: 1,
            error: anyhow::anyhow!(
                "a protocol invariant broke: {}",
                check.detail().unwrap_or_default()
            ),
        }),
        _ => Ok(()),
    }
}

fn replay(a: ReplayArgs) -> Result<(), Failure> {
    let artifact = RunArtifact::load(&a.artifact)?;
    let result = artifact.replay(&mut progress::bar("replaying"))?;
    progress::clear();
    let checks = check_run(
        &result,
        &dsys_lab::checking::simulation_checks(dsys_lab::checking::scenario_model(
            &result.scenario,
        )),
        None,
    )?;
    finish(
        &result,
        checks,
        a.output.format,
        a.output.history.as_deref(),
    )
}

/// `--expect`: a failed expected check exits 1, an unknown one 3.
fn expectations(report: &CheckReport, expect: &[CheckName]) -> Result<(), Failure> {
    for name in expect {
        let Some(check) = report.checks.get(name.name()) else {
            continue;
        };
        let detail = check.detail().unwrap_or_default();
        match check.result {
            Verdict::Fail => {
                return Err(Failure {
                    code: 1,
                    error: anyhow::anyhow!("expected {name}, but it failed: {detail}"),
                });
            }
            Verdict::Unknown => {
                return Err(Failure {
                    code: 3,
                    error: anyhow::anyhow!("expected {name}, but the check is unknown: {detail}"),
                });
            }
            Verdict::Pass => {}
        }
    }
    Ok(())
}

fn check(a: CheckArgs) -> Result<(), Failure> {
    let request = CheckRequest {
        format: a.input_format,
        model: a.model,
        checks: a.checks.0.clone(),
        timeout: Some(a.timeout),
    };
    let (history, report) = check_file(&a.history, &request)?;
    if let Some(path) = &a.html {
        let title = format!("dsys check {}", a.history.display());
        write_file(
            path,
            dsys_lab::dsys_check::timeline::render(&history, &report, &title).as_bytes(),
        )?;
    }
    print(&report, a.format, CheckReport::to_table)?;
    match report.overall() {
        Verdict::Pass => Ok(()),
        Verdict::Fail => Err(Failure {
            code: 1,
            error: anyhow::anyhow!("violation found"),
        }),
        Verdict::Unknown => Err(Failure {
            code: 3,
            error: anyhow::anyhow!("unknown: a check ran out of budget"),
        }),
    }
}

fn grid(a: GridArgs) -> Result<(), Failure> {
    use dsys_lab::grid::{self, Config, GridSpec};
    let configs = a
        .protocols
        .iter()
        .map(|p| Config::parse(p))
        .collect::<Result<Vec<_>, _>>()?;
    let spec = GridSpec {
        configs,
        nemeses: a.nemeses,
        seeds: a.seeds,
        base: dsys_lab::dsys_sim::SimConfig::default(),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let cells = grid::run(&spec, threads)?;
    let text = match a.format {
        GridFormat::Table => grid::to_table(&cells) + "\n" + &grid::to_freshness_table(&cells),
        GridFormat::Csv => grid::to_csv(&cells),
        GridFormat::Json => {
            serde_json::to_string_pretty(&cells).context("rendering the grid")? + "\n"
        }
        GridFormat::Svg => dsys_lab::grid_plot::to_svg(&cells),
    };
    write_stdout(text.as_bytes())
}

/// Write the history if asked, print the report, and fail the run (exit 1) if a protocol
/// invariant broke inside the simulation.
fn finish(
    result: &RunResult,
    checks: CheckReport,
    format: Format,
    history: Option<&Path>,
) -> Result<(), Failure> {
    if let Some(path) = history {
        let mut bytes = Vec::new();
        result
            .outcome
            .history
            .write_jsonl(&mut bytes)
            .context("rendering the history")?;
        write_file(path, &bytes)?;
    }
    let invariants = invariants_held(&checks);
    let report = Report::new(result).with_checks(checks);
    print(&report, format, Report::to_table)?;
    invariants
}

/// Print `value` on stdout as pretty JSON or as its table.
fn print<T: serde::Serialize>(
    value: &T,
    format: Format,
    table: fn(&T) -> String,
) -> Result<(), Failure> {
    let text = match format {
        Format::Json => serde_json::to_string_pretty(value).context("rendering the report")? + "\n",
        Format::Table => table(value),
    };
    write_stdout(text.as_bytes())
}

fn write_stdout(bytes: &[u8]) -> Result<(), Failure> {
    std::io::stdout()
        .write_all(bytes)
        .context("writing to stdout")?;
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), Failure> {
    std::fs::write(path, bytes).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

//! `dsys design` (with `--verify` and decision records) and `dsys diagram`.

use crate::args::{DesignArgs, DesignFormat, DiagramArgs, DiagramFormat};
use crate::exit::{Exit, Failure, verdict_and_writes};
use crate::output::{Output, write_file};
use crate::progress;
use dsys_advisor::verify::{Measurement, Outcome, judge, trials};
use dsys_lab::grid::{self, Config, GridSpec, Shard};
use std::path::Path;
use std::sync::atomic::AtomicBool;

/// Read and parse a requirement spec: unreadable is an I/O error (5), malformed is bad
/// input (2).
fn read_spec(path: &Path) -> Result<dsys_advisor::Spec, Failure> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        let exit = match e.kind() {
            std::io::ErrorKind::InvalidData => Exit::BadInput,
            _ => Exit::Io,
        };
        Failure::new(exit, format!("cannot read the spec {name}: {e}"))
    })?;
    dsys_advisor::Spec::parse(&name, &text).map_err(|e| Failure {
        exit: Exit::BadInput,
        error: e.into(),
    })
}

pub fn diagram(a: DiagramArgs, out: Output) -> Result<(), Failure> {
    let model = dsys_advisor::architecture::architecture(&read_spec(&a.spec)?);
    let width = usize::from(a.width);
    let rendered = match a.format {
        DiagramFormat::Unicode => {
            dsys_diagram::terminal(&model, width, dsys_diagram::Charset::Unicode)
        }
        DiagramFormat::Ascii => dsys_diagram::terminal(&model, width, dsys_diagram::Charset::Ascii),
        DiagramFormat::Svg => dsys_diagram::svg(&model),
        DiagramFormat::Mermaid => dsys_diagram::mermaid(&model),
        DiagramFormat::Dot => dsys_diagram::dot(&model),
        DiagramFormat::Json => serde_json::to_string_pretty(&model)? + "\n",
    };
    out.print(&rendered)
}

pub fn design(a: DesignArgs, out: Output) -> Result<(), Failure> {
    let spec = read_spec(&a.spec)?;
    let design = dsys_advisor::design(&spec);
    let outcomes = match a.verify {
        true => verify(&spec, a.seeds, out)?,
        false => Vec::new(),
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
            serde_json::to_string_pretty(&verified)? + "\n"
        }
        DesignFormat::Json => serde_json::to_string_pretty(&design)? + "\n",
    };
    if a.verify && a.format != DesignFormat::Json {
        rendered.push_str(&dsys_advisor::verify::text(&outcomes));
    }
    out.print(&rendered)?;
    let writes = match &a.adr_dir {
        Some(dir) => write_decision_records(dir, &design),
        None => Ok(()),
    };
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
    let verdict = match contradictions.is_empty() {
        true => Ok(()),
        false => Err(Failure::new(
            Exit::Violation,
            format!(
                "the requirements contradict each other: {}",
                contradictions.join(", ")
            ),
        )),
    };
    verdict_and_writes(verdict, writes)
}

/// Run every data class's trial in the simulator and judge it.
fn verify(spec: &dsys_advisor::Spec, seeds: u64, out: Output) -> Result<Vec<Outcome>, Failure> {
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
        let nemesis: dsys_lab::dsys_sim::NemesisSpec = t
            .nemesis
            .parse()
            .map_err(|e| Failure::new(Exit::Internal, format!("a trial's nemesis: {e}")))?;
        if !nemeses.contains(&nemesis) {
            nemeses.push(nemesis);
        }
    }
    let spec = GridSpec {
        configs,
        nemeses,
        seeds,
        seed_start: 0,
        base: dsys_lab::dsys_sim::SimConfig::default(),
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let bar = progress::count_bar("verifying", progress::enabled(out.quiet));
    let sweep = grid::sweep(&spec, Shard::WHOLE, threads, &AtomicBool::new(false), &bar)?;
    progress::clear();
    let cells = grid::cells(&spec, &sweep.records);
    let measure = |config: &str, nemesis: &str| -> Result<Measurement, Failure> {
        let label = Config::parse(config)?.label;
        let cell = cells
            .iter()
            .find(|c| c.config == label && c.nemesis == nemesis)
            .ok_or_else(|| {
                Failure::new(Exit::Internal, format!("no run of {label} under {nemesis}"))
            })?;
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

/// Write the MADR records into `dir`, replacing dsys's own earlier records and removing
/// those of decisions no longer made; files dsys did not write are left alone.
fn write_decision_records(dir: &Path, design: &dsys_advisor::Design) -> Result<(), Failure> {
    let io = |what: &str, path: &Path, e: std::io::Error| {
        Failure::new(Exit::Io, format!("cannot {what} {}: {e}", path.display()))
    };
    let records = dsys_advisor::render::madr(design);
    std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
    let keep: std::collections::BTreeSet<&str> = records.iter().map(|(n, _)| n.as_str()).collect();
    let entries = std::fs::read_dir(dir).map_err(|e| io("list", dir, e))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        let ours = std::fs::read_to_string(&path)
            .is_ok_and(|t| t.starts_with(dsys_advisor::render::MADR_MARKER));
        if ours && !name.to_str().is_some_and(|n| keep.contains(n)) {
            std::fs::remove_file(&path).map_err(|e| io("remove", &path, e))?;
        }
    }
    for (name, text) in &records {
        write_file(&dir.join(name), text.as_bytes())?;
    }
    Ok(())
}

//! `dsys grid`: a sweep (whole or one shard), stoppable with Ctrl-C; `dsys grid merge`.

use crate::args::{GridArgs, GridCommand, GridFormat, MergeArgs, ShardArg, split_configs};

use crate::exit::{Exit, Failure};
use crate::interrupt::Interrupt;
use crate::output::Output;
use crate::progress;
use dsys_lab::grid::{self, Cell, Config, GridSpec, MAX_SHARDS, Part, Shard};
use dsys_sim::SimConfig;

pub fn grid(a: GridArgs, out: Output, interrupt: &Interrupt) -> Result<(), Failure> {
    if let Some(GridCommand::Merge(m)) = a.command {
        return merge(m, out);
    }
    let configs = match a.protocols.is_empty() {
        true => grid::DEFAULT_CONFIGS
            .iter()
            .map(|c| c.to_string())
            .collect(),
        false => split_configs(&a.protocols),
    };
    let nemeses = match a.nemeses.is_empty() {
        true => grid::DEFAULT_NEMESES
            .iter()
            .map(|n| n.parse())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::new(Exit::Internal, format!("a default nemesis: {e}")))?,
        false => a.nemeses,
    };
    let spec = GridSpec {
        configs: configs
            .iter()
            .map(|c| Config::parse(c))
            .collect::<Result<Vec<_>, _>>()?,
        nemeses,
        seeds: a.seeds,
        seed_start: a.seed_start,
        base: SimConfig::default(),
    };
    let shard = match a.shard {
        None => None,
        Some(ShardArg::Fixed(shard)) => Some(shard),
        Some(ShardArg::Auto) => Some(auto_shard(a.shards)?),
    };
    let format = a.format.unwrap_or(match shard {
        Some(_) => GridFormat::Part,
        None => GridFormat::Text,
    });
    if shard.is_some() && format != GridFormat::Part {
        return Err(Failure::new(
            Exit::BadInput,
            "--shard prints a part (--format part); merge the parts with `dsys grid merge`",
        ));
    }
    let threads = a.jobs.map_or_else(
        || std::thread::available_parallelism().map_or(1, |n| n.get()),
        |j| j as usize,
    );
    let shard = shard.unwrap_or(Shard::WHOLE);
    let bar = progress::count_bar("grid", progress::enabled(out.quiet));
    let sweep = grid::sweep(&spec, shard, threads, interrupt.flag(), &bar)?;
    progress::clear();
    let finished = sweep.records.len();
    let partial = sweep.interrupted.then_some((finished, sweep.planned));
    let text = match format {
        GridFormat::Part => Part::new(&spec, &configs, shard, &sweep).to_json()?,
        _ => render(&grid::cells(&spec, &sweep.records), format, partial)?,
    };
    out.print(&text)?;
    match partial {
        Some((done, planned)) => Err(Failure::new(
            Exit::Interrupted,
            format!(
                "interrupted: {done} of {planned} runs finished; the output covers those and is marked partial"
            ),
        )),
        None => Ok(()),
    }
}

/// `--shard auto`: the index from the scheduler (0-based), the count from `--shards`,
/// `DSYS_SHARDS` or Slurm's `SLURM_ARRAY_TASK_COUNT`.
fn auto_shard(shards: Option<u64>) -> Result<Shard, Failure> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let bad = |m: String| Failure::new(Exit::BadInput, m);
    let (name, index) = ["JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID"]
        .into_iter()
        .find_map(|n| env(n).map(|v| (n, v)))
        .ok_or_else(|| {
            bad("--shard auto: neither JOB_COMPLETION_INDEX nor SLURM_ARRAY_TASK_ID is set".into())
        })?;
    let index: u64 = index.trim().parse().map_err(|_| {
        bad(format!(
            "--shard auto: {name}={index} is not a whole number"
        ))
    })?;
    let count = match shards {
        Some(n) => n,
        None => ["DSYS_SHARDS", "SLURM_ARRAY_TASK_COUNT"]
            .into_iter()
            .find_map(|n| env(n).and_then(|v| v.trim().parse::<u64>().ok()))
            .ok_or_else(|| bad("--shard auto needs --shards N (or DSYS_SHARDS)".into()))?,
    };
    if count == 0 || count > MAX_SHARDS || index >= count {
        return Err(bad(format!(
            "--shard auto: {name}={index} with {count} shards (the index is 0-based, below the count)"
        )));
    }
    Ok(Shard { index, count })
}

fn merge(m: MergeArgs, out: Output) -> Result<(), Failure> {
    if m.format == GridFormat::Part {
        return Err(Failure::new(
            Exit::BadInput,
            "merge prints text, csv, json or svg, not a part",
        ));
    }
    let mut parts = Vec::with_capacity(m.parts.len());
    for path in &m.parts {
        let origin = path.display().to_string();
        let text = dsys_diagnostic::read_text_file(path, dsys_diagnostic::MAX_FILE_BYTES).map_err(
            |e| {
                let exit = if e.is_bad_input() {
                    Exit::BadInput
                } else {
                    Exit::Io
                };
                Failure::new(exit, e.to_string())
            },
        )?;
        parts.push(Part::parse(&text, &origin)?);
    }
    let (spec, records) = Part::merge(parts)?;
    out.print(&render(&grid::cells(&spec, &records), m.format, None)?)
}

/// The cells in `format`; `partial` (runs finished, runs planned) marks an interrupted
/// sweep in every format, so a partial file is never mistaken for a whole one.
fn render(
    cells: &[Cell],
    format: GridFormat,
    partial: Option<(usize, usize)>,
) -> Result<String, Failure> {
    let note = partial.map(|(done, planned)| {
        format!("PARTIAL: interrupted after {done} of {planned} runs; the figures cover those only")
    });
    Ok(match format {
        GridFormat::Text | GridFormat::Part => {
            let body = grid::to_table(cells) + "\n" + &grid::to_freshness_table(cells);
            match note {
                Some(note) => format!("{note}\n{body}"),
                None => body,
            }
        }
        GridFormat::Csv => {
            let body = grid::to_csv(cells);
            match note {
                Some(note) => format!("{body}# {note}\n"),
                None => body,
            }
        }
        GridFormat::Json => match partial {
            Some((done, planned)) => {
                let doc = serde_json::json!({
                    "partial": true, "runs_finished": done, "runs_planned": planned, "cells": cells
                });
                serde_json::to_string_pretty(&doc)? + "\n"
            }
            None => serde_json::to_string_pretty(cells)? + "\n",
        },
        GridFormat::Svg => {
            let svg = dsys_lab::grid_plot::to_svg(cells);
            match note {
                Some(note) => format!("<!-- {note} -->\n{svg}"),
                None => svg,
            }
        }
    })
}

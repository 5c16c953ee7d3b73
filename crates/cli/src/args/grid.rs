//! `dsys grid` and `dsys grid merge`.

use super::values::{positive, seed};
use clap::{Args, Subcommand, ValueEnum};
use dsys_lab::grid::{MAX_SHARDS, Shard};
use dsys_sim::nemesis::NemesisSpec;
use std::path::PathBuf;

pub const GRID_EXAMPLES: &str = "\
Examples:
  dsys grid
  dsys grid --protocol leader-follower:replication=async,leader-follower:replication=sync \\
      --nemesis none,halves,isolate-leader --seeds 20 --format csv
  dsys grid --format svg > pacelc.svg
  dsys grid --seeds 200 --shard 3/4 > part-3.json     # one of four machines
  dsys grid merge part-*.json --format csv            # the bytes one machine would give

A configuration is PROTOCOL or PROTOCOL:KEY=VALUE,KEY=VALUE; in a comma-separated list, a
KEY=VALUE continues the configuration before it. Columns: availability, latency p50/p99 of
successful operations (virtual ms), messages per operation, seeds not linearizable, stale
reads, read-your-writes violations, acknowledged writes lost (final reads), writes dropped
by last-writer-wins, reads with siblings, and time to converge after the final heal.
The same arguments give the same bytes, whatever -j.

--shard I/N runs every N-th run starting at the I-th (1-based) and prints a part (JSON);
--shard auto reads I from JOB_COMPLETION_INDEX (Kubernetes Indexed Job, 0-based) or
SLURM_ARRAY_TASK_ID (Slurm array, 0-based) and N from --shards. docs/sweeps.md has
recipes. Ctrl-C stops after the runs in progress: what finished is printed, marked
partial, and dsys exits 130.";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GridFormat {
    /// Aligned text, and the staleness curves.
    #[value(alias = "table")]
    Text,
    /// Comma-separated values with a header.
    Csv,
    /// A JSON array of cells.
    Json,
    /// An SVG plot: latency without faults vs availability under partition, and anomalies.
    Svg,
    /// A mergeable part: the grid and one record per run (what --shard prints).
    Part,
}

/// `--shard`: `I/N` (1-based) or `auto`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShardArg {
    /// Given on the command line.
    Fixed(Shard),
    /// From the job scheduler's environment.
    Auto,
}

fn parse_shard(s: &str) -> Result<ShardArg, String> {
    if s == "auto" {
        return Ok(ShardArg::Auto);
    }
    let bad = || format!("`{s}`: expected I/N with 1 <= I <= N <= {MAX_SHARDS}, or auto");
    let (i, n) = s.split_once('/').ok_or_else(bad)?;
    let (i, n) = (
        i.trim().parse::<u64>().map_err(|_| bad())?,
        n.trim().parse::<u64>().map_err(|_| bad())?,
    );
    if i == 0 || i > n || n > MAX_SHARDS {
        return Err(bad());
    }
    Ok(ShardArg::Fixed(Shard {
        index: i - 1,
        count: n,
    }))
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct GridArgs {
    #[command(subcommand)]
    pub command: Option<GridCommand>,
    /// Configurations to compare (PROTOCOL or PROTOCOL:KEY=VALUE,...); repeat the flag
    /// or separate with commas.
    #[arg(long = "protocol", visible_alias = "protocols", value_name = "CONFIG")]
    pub protocols: Vec<String>,
    /// Nemeses; repeat the flag or separate with commas.
    #[arg(long = "nemesis", visible_alias = "nemeses", value_delimiter = ',')]
    pub nemeses: Vec<NemesisSpec>,
    /// Seeds per cell.
    #[arg(long, default_value = "10", value_parser = positive)]
    pub seeds: u64,
    /// The first seed: cells run seeds S, S+1, ..., S+seeds-1.
    #[arg(long, default_value = "0", value_parser = seed)]
    pub seed_start: u64,
    /// Runs at a time [default: the number of cores].
    #[arg(long, short = 'j', value_parser = positive)]
    pub jobs: Option<u64>,
    /// Run one shard of the grid: I/N, or auto (see below); prints a part for `merge`.
    #[arg(long, value_parser = parse_shard)]
    pub shard: Option<ShardArg>,
    /// With --shard auto: how many shards in all (or DSYS_SHARDS).
    #[arg(long, value_parser = positive)]
    pub shards: Option<u64>,
    /// Output format [default: text; part with --shard].
    #[arg(long, value_enum)]
    pub format: Option<GridFormat>,
}

#[derive(Subcommand, Debug)]
pub enum GridCommand {
    /// Merge the parts of one grid (written by --shard) into the output one machine
    /// would have printed, byte for byte.
    Merge(MergeArgs),
}

#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The part files, every shard of one grid once.
    #[arg(required = true)]
    pub parts: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GridFormat::Text)]
    pub format: GridFormat,
}

/// The configurations of `--protocol` values: each value split at commas, where a piece
/// that is KEY=VALUE (no `:` before its `=`) continues the configuration before it.
pub fn split_configs(values: &[String]) -> Vec<String> {
    let mut configs: Vec<String> = Vec::new();
    for value in values {
        let mut here: Vec<String> = Vec::new();
        for piece in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let is_setting = piece
                .split_once('=')
                .is_some_and(|(key, _)| !key.contains(':'));
            match here.last_mut() {
                Some(last) if is_setting => {
                    last.push(if last.contains(':') { ',' } else { ':' });
                    last.push_str(piece);
                }
                _ => here.push(piece.to_string()),
            }
        }
        configs.extend(here);
    }
    configs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configurations_split_at_commas_and_keep_their_settings() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            split_configs(&v(&[
                "raft,leader-follower:replication=async,reads=any,single"
            ])),
            v(&[
                "raft",
                "leader-follower:replication=async,reads=any",
                "single"
            ])
        );
        assert_eq!(
            split_configs(&v(&["leaderless:n=3,w=2,r=2", "raft:reads=lease"])),
            v(&["leaderless:n=3,w=2,r=2", "raft:reads=lease"])
        );
        // A setting with no configuration before it is kept, for the parser to refuse.
        assert_eq!(split_configs(&v(&["w=2"])), v(&["w=2"]));
    }

    #[test]
    fn shards_are_one_based_on_the_command_line() {
        assert_eq!(
            parse_shard("1/4"),
            Ok(ShardArg::Fixed(Shard { index: 0, count: 4 }))
        );
        assert_eq!(parse_shard("auto"), Ok(ShardArg::Auto));
        for bad in ["0/4", "5/4", "4", "a/b", "1/0", "-1/4"] {
            assert!(parse_shard(bad).is_err(), "{bad}");
        }
    }
}

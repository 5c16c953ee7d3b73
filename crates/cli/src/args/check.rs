//! `dsys check`.

use super::values::{CheckList, Format, parse_checks, parse_duration, size};
use clap::Args;
use dsys_check::{InputFormat, ModelKind};
use std::path::PathBuf;
use std::time::Duration;

pub const CHECK_EXAMPLES: &str = "\
Examples:
  dsys check history.jsonl
  dsys check jepsen-history.edn --model register --timeout 30s --format json
  dsys check jepsen.log --input-format jepsen-log --model register
  dsys check history.jsonl --checks linearizable,no-stale-reads --html timeline.html

Models: register (read, write, cas on one register), kv (a register per key),
mv-register (a register per key whose reads return a list of siblings), set (add, read),
counter (add, read), list-append (append, read). Inferred when omitted.

Checks: linearizable, sequential (every model; sequential spans keys, so it searches the
whole store at once; a read of several siblings fails both); causal (register and kv);
read-your-writes, monotonic-reads, monotonic-writes, writes-follow-reads, no-stale-reads
(with k-staleness and t-visibility), no-lost-writes (register, kv and mv-register; values
unique; a multi-value read is behind a write only if every sibling is older);
no-lost-updates (set and counter: lost increments and inserts, phantom and resurrected
elements).

Exit codes: 0 every check passes, 1 a violation, 2 bad input, 3 unknown (budget ran out),
5 the history could not be read or --html could not be written (the verdict is still
printed).";

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct CheckArgs {
    /// The history file.
    pub history: PathBuf,
    /// Model to check against: register, kv, mv-register, set, counter or list-append
    /// (inferred if omitted).
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// History format: dsys, jepsen-edn or jepsen-log (detected if omitted).
    #[arg(long)]
    pub input_format: Option<InputFormat>,
    /// Checks to run (repeat or separate with commas) [default: linearizable].
    #[arg(long, value_parser = parse_checks)]
    pub checks: Vec<CheckList>,
    /// Wall-time budget (30s, 2m); past it a check answers unknown (exit 3), never pass.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Also write a self-contained HTML timeline (swimlanes, witness, faults) here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Refuse history files larger than this (a size such as 512MiB or 4GiB); lines are
    /// read one at a time and may be at most 1 MiB.
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = size)]
    pub max_input: u64,
}

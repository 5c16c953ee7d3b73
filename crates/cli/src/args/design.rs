//! `dsys design` and `dsys diagram`.

use super::values::positive;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

pub const DIAGRAM_EXAMPLES: &str = "\
Examples:
  dsys diagram specs/checkout.toml
  dsys diagram specs/checkout.toml --format ascii --width 80
  dsys diagram specs/checkout.toml --format svg > checkout.svg
  dsys diagram specs/checkout.toml --format mermaid > checkout.mmd
  dsys diagram specs/checkout.toml --format dot | dot -Tpng > checkout.png

The terminal drawings (unicode, ascii) keep within --width columns and draw every
connection as a wire from box to box with its label on it, never through a box or a
region it does not belong to, never one label over another (what finds no room at a
narrow width is listed under the drawing). The SVG comes from the same layout, no
external program; the DOT stacks the regions so Graphviz routes no edge through one.
The same spec gives the same bytes on every run. Exit codes: 0 drawn, 2 the spec is
malformed (file, line and column on stderr), 5 it could not be read.";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiagramFormat {
    /// Boxes drawn with Unicode box-drawing characters.
    Unicode,
    /// Boxes drawn with plain ASCII.
    Ascii,
    /// A standalone SVG document.
    Svg,
    /// A Mermaid flowchart.
    Mermaid,
    /// Graphviz DOT.
    Dot,
    /// The diagram model as JSON: groups, nodes, edges, and the connections drawn.
    Json,
}

#[derive(Args, Debug)]
pub struct DiagramArgs {
    /// The requirement spec (TOML).
    pub spec: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiagramFormat::Unicode)]
    pub format: DiagramFormat,
    /// Columns for the terminal drawings (at least 24).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u16).range(24..))]
    pub width: u16,
}

pub const DESIGN_EXAMPLES: &str = "\
Examples:
  dsys design specs/checkout.toml
  dsys design specs/checkout.toml --format markdown > DESIGN.md
  dsys design specs/checkout.toml --format html > design.html
  dsys design specs/checkout.toml --format json | jq '.checks'
  dsys design specs/checkout.toml --adr-dir docs/decisions
  dsys design specs/checkout.toml --verify --seeds 20
  dsys design specs/bad.toml --fix 2 > fixed.toml
  dsys design specs/checkout.toml --compare checkout-eu-only.toml
  dsys design --schema > spec.schema.json

specs/README.md documents the spec format with a commented example. Exit codes: 0 the
design holds together, 1 a check found a contradiction (an objective below a round
trip, a target the topology cannot reach, a quorum that cannot survive the stated
failures; each reported with its numbers and its ways out, each re-checked) or, with
--verify, the simulator contradicted a claim, 2 the spec is malformed (every problem in
it reported) or --fix names no fix, 5 the spec could not be read or --adr-dir not
written (the design is still printed).";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DesignFormat {
    /// Text for the terminal.
    Text,
    /// Markdown, for a design document.
    Markdown,
    /// One JSON object: decisions and checks.
    Json,
    /// One self-contained HTML page with the architecture diagram.
    Html,
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct DesignArgs {
    /// The requirement spec (TOML).
    #[arg(required_unless_present = "schema")]
    pub spec: Option<PathBuf>,
    /// Print the spec format as a JSON Schema (for editors; specs/spec.schema.json) and
    /// exit.
    #[arg(long, conflicts_with_all = ["spec", "verify", "adr_dir", "fix", "compare"])]
    pub schema: bool,
    /// Compare with another spec's design: decisions added, removed and changed (choice,
    /// rule, settings), and checks whose verdict moved. Exits as OTHER's design would.
    #[arg(long, value_name = "OTHER", conflicts_with_all = ["verify", "adr_dir", "fix"])]
    pub compare: Option<PathBuf>,
    /// Print the spec with fix N made (the fixes are numbered under Checks) and exit: 0
    /// when the fixed spec holds together, 1 when contradictions remain.
    #[arg(long, value_name = "N", conflicts_with_all = ["verify", "adr_dir"], value_parser = clap::value_parser!(u64).range(1..))]
    pub fix: Option<u64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DesignFormat::Text)]
    pub format: DesignFormat,
    /// Run each data class's chosen replication and the strongest alternative it rejected
    /// in the simulator under the spec's failure model, and judge the claims.
    #[arg(long)]
    pub verify: bool,
    /// Seeds per configuration for --verify.
    #[arg(long, default_value = "10", requires = "verify", value_parser = positive)]
    pub seeds: u64,
    /// Also write one MADR decision record per decision into this folder. Rerunning
    /// replaces dsys's own records there and removes those no longer decided.
    #[arg(long, value_name = "DIR")]
    pub adr_dir: Option<PathBuf>,
}

pub const EXPLAIN_EXAMPLES: &str = "\
Examples:
  dsys explain                        every rule, one line each
  dsys explain CONS-ORDERED-WRITES    one rule: statement, what fires it, source, demonstrations
  dsys explain rep-consensus --format json

Each design decision names the rule that made it (`[REP-CONSENSUS]`). A demonstration is
a dsys command with the exit code it ends with; CI runs every one. Exit codes: 0
printed, 2 no rule has that id (the closest are named).";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExplainFormat {
    /// Text for the terminal.
    Text,
    /// JSON: the rule (or every rule) with its demonstrations.
    Json,
}

#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// A rule id, as a design names it (any case); absent: list every rule.
    pub rule: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExplainFormat::Text)]
    pub format: ExplainFormat,
}

//! Command-line flags, parsed by clap into library types. One grammar for every command:
//! lists as repeated flags or commas, durations with units, `--format text|json|...`.

mod check;
mod design;
mod gateway;
mod grid;
mod patterns;
mod simulate;
mod values;

pub use check::CheckArgs;
pub use design::{
    DesignArgs, DesignFormat, DiagramArgs, DiagramFormat, ExplainArgs, ExplainFormat,
};
pub use gateway::GatewayArgs;
pub use grid::{GridArgs, GridCommand, GridFormat, MergeArgs, ShardArg, split_configs};
pub use patterns::{CacheArgs, ChartFormat, DiscoveryArgs, PartitionArgs, ResilienceArgs};
pub use simulate::{OutputArgs, ReplayArgs, SimulateArgs};
pub use values::{CheckList, Format};

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "dsys",
    version = env!("DSYS_VERSION"),
    about = "Design distributed systems; prove the trade-offs by simulation.",
    after_help = EXIT_CODES,
    allow_negative_numbers = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// The exit codes, the same for every command.
pub const EXIT_CODES: &str = "\
Exit codes (every command): 0 ok; 1 a checked property was violated; 2 bad input or usage;
3 unknown (a budget ran out); 4 liveness (no convergence where the protocol promises it);
5 an I/O error (a file could not be read or written; the verdict is still printed);
70 an internal error (a dsys bug); 130 interrupted (what finished is written, marked partial).";

/// Flags every command takes.
#[derive(Args, Debug)]
pub struct GlobalArgs {
    /// Colour verdicts: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// No progress bars and no notes on stderr; errors still.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Notes on stderr: the options in force and where the time went.
    #[arg(long, short, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
}

/// `--color`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is not set (CLICOLOR_FORCE forces it).
    Auto,
    /// Always colour.
    Always,
    /// Never colour.
    Never,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one protocol under a nemesis in the deterministic simulator.
    #[command(after_help = simulate::simulate_help())]
    Simulate(Box<SimulateArgs>),
    /// Rerun a saved run artifact and check it reproduces the same trace hash and history.
    #[command(after_help = simulate::REPLAY_EXAMPLES)]
    Replay(ReplayArgs),
    /// Judge a recorded history (dsys JSONL, Jepsen EDN or Jepsen log lines).
    #[command(after_help = check::CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// The CAP/PACELC grid: protocol configurations x nemeses x seeds, side by side.
    #[command(after_help = grid::GRID_EXAMPLES, args_conflicts_with_subcommands = true)]
    Grid(Box<GridArgs>),
    /// Turn a requirement spec into a reasoned design: each decision with its rule, the
    /// requirements that fired it and the alternatives rejected; arithmetic checks.
    #[command(after_help = design::DESIGN_EXAMPLES)]
    Design(DesignArgs),
    /// What a design rule says, what in a spec fires it, its source, and the dsys commands
    /// that demonstrate it.
    #[command(after_help = design::EXPLAIN_EXAMPLES)]
    Explain(ExplainArgs),
    /// Draw the architecture a spec's design implies: regions as boxes holding services
    /// and data stores, with calls, reads, writes and replication as labelled edges.
    #[command(after_help = design::DIAGRAM_EXAMPLES)]
    Diagram(DiagramArgs),
    /// Each resilience pattern against the same flaky in-process service, on virtual
    /// time: calls, failures, refusals, the load the service bore, and what callers waited.
    #[command(after_help = patterns::RESILIENCE_EXAMPLES)]
    Resilience(ResilienceArgs),
    /// Each caching strategy against the same simulated database, readers, writers and
    /// incidents, on virtual time: hit ratio, database load, stale reads judged by
    /// dsys-check, stampedes, and writes lost.
    #[command(after_help = patterns::CACHE_EXAMPLES)]
    Cache(CacheArgs),
    /// Load-balancing policies replayed against published experiments on virtual time:
    /// latency percentiles and where the traffic went.
    #[command(after_help = patterns::DISCOVERY_EXAMPLES)]
    Discovery(DiscoveryArgs),
    /// Serve the discovery gateway: routes by host and path prefix to the services a
    /// registry lists, balanced, rate-limited, broken and retried; traceparent carried,
    /// Prometheus metrics, reload without dropping connections.
    #[command(after_help = gateway::GATEWAY_EXAMPLES)]
    Gateway(GatewayArgs),
    /// Hash placements compared on one node set and key stream: balance (peak over
    /// average), keys moved when a node joins or leaves (against the minimum), lookup time.
    #[command(after_help = patterns::PARTITION_EXAMPLES)]
    Partition(PartitionArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) or the man
    /// page (`man`) on stdout.
    #[command(after_help = COMPLETIONS_EXAMPLES)]
    Completions(CompletionsArgs),
}

const COMPLETIONS_EXAMPLES: &str = "\
Examples:
  dsys completions bash > ~/.local/share/bash-completion/completions/dsys
  dsys completions zsh > ~/.zfunc/_dsys
  dsys completions fish > ~/.config/fish/completions/dsys.fish
  dsys completions man > dsys.1 && man ./dsys.1";

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// bash, zsh, fish, elvish, powershell, or man for the man page.
    #[arg(value_enum)]
    pub shell: CompletionTarget,
}

/// What `dsys completions` prints.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompletionTarget {
    /// Bash.
    Bash,
    /// Zsh.
    Zsh,
    /// Fish.
    Fish,
    /// Elvish.
    Elvish,
    /// PowerShell.
    Powershell,
    /// The man page (roff).
    Man,
}

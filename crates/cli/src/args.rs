//! Command-line flags, parsed by clap into library types.

use clap::{Args, Parser, Subcommand, ValueEnum};
use dsys_lab::dsys_check::{CheckName, InputFormat, ModelKind};
use dsys_lab::dsys_sim::nemesis::NemesisSpec;
use dsys_lab::dsys_sim::network::{LinkConfig, NetworkConfig, Regions};
use dsys_lab::dsys_sim::workload::{KeyDist, OpMix, WorkloadConfig, WorkloadKind};
use dsys_lab::dsys_sim::{ConvergenceConfig, LatencyDist, SimConfig};
use dsys_lab::{LabError, Protocol, Scenario, SettingKind, Settings};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

#[derive(Parser, Debug)]
#[command(
    name = "dsys",
    version,
    about = "Design distributed systems; prove the trade-offs by simulation."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run one protocol under a nemesis in the deterministic simulator.
    #[command(after_help = simulate_help())]
    Simulate(Box<SimulateArgs>),
    /// Rerun a saved run artifact and check it reproduces the same trace hash and history.
    #[command(after_help = REPLAY_EXAMPLES)]
    Replay(ReplayArgs),
    /// Judge a recorded history (dsys JSONL, Jepsen EDN or Jepsen log lines).
    #[command(after_help = CHECK_EXAMPLES)]
    Check(CheckArgs),
    /// The CAP/PACELC grid: protocol configurations x nemeses x seeds, side by side.
    #[command(after_help = GRID_EXAMPLES)]
    Grid(GridArgs),
    /// Turn a requirement spec into a reasoned design: each decision with its rule, the
    /// requirements that fired it and the alternatives rejected; arithmetic checks.
    #[command(after_help = DESIGN_EXAMPLES)]
    Design(DesignArgs),
    /// Draw the architecture a spec's design implies: regions as boxes holding services
    /// and data stores, with calls, reads, writes and replication as labelled edges.
    #[command(after_help = DIAGRAM_EXAMPLES)]
    Diagram(DiagramArgs),
    /// Each resilience pattern against the same flaky in-process service, on virtual
    /// time: calls, failures, refusals, the load the service bore, and what callers waited.
    #[command(after_help = RESILIENCE_EXAMPLES)]
    Resilience(ResilienceArgs),
    /// Hash placements compared on one node set and key stream: balance (peak over
    /// average), keys moved when a node joins or leaves (against the minimum), lookup time.
    #[command(after_help = PARTITION_EXAMPLES)]
    Partition(PartitionArgs),
}

const PARTITION_EXAMPLES: &str = "\
Examples:
  dsys partition
  dsys partition --nodes 1000 --keys 10000000 --algorithm jump --algorithm maglev
  dsys partition --distribution zipf:0.99 --format json
  dsys partition --format svg > placement.svg
  dsys partition --plan --shards 1024 --shard-bytes 1073741824 --replicas 3

Algorithms: ring (100 virtual nodes per node), jump, rendezvous, maglev, anchor
(AnchorHash), bounded (the ring with loads capped at 1.25 x the average). Key
distributions: uniform, sequential (0, 1, 2, ... hashed), zipf or zipf:S (requests
skewed toward a few hot keys). The node added is node-N; the node removed is the middle
one. Every figure but lookup ns comes out the same for the same flags. With --plan, a
second table: for node-N joining, the shards whose replicas change, the bytes copied
(each new replica once: the minimum), and the waves of transfers under --per-node.";

fn parse_algorithm(name: &str) -> Result<dsys_lab::partition::Algorithm, String> {
    use dsys_lab::partition::Algorithm;
    Algorithm::parse(name).ok_or_else(|| {
        let known: Vec<_> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        format!("unknown algorithm '{name}' (known: {})", known.join(", "))
    })
}

#[derive(Args, Debug)]
pub struct PartitionArgs {
    /// Nodes (weight 1 each).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub nodes: u32,
    /// Zones the nodes are spread over, round-robin.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub zones: u32,
    /// Keys placed (for zipf, requests).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub keys: u64,
    /// Key distribution: uniform, sequential, zipf or zipf:S.
    #[arg(long, default_value = "uniform", value_parser = dsys_lab::partition::Keys::parse)]
    pub distribution: dsys_lab::partition::Keys,
    /// An algorithm to evaluate (repeat for several; default: all).
    #[arg(long = "algorithm", value_parser = parse_algorithm)]
    pub algorithms: Vec<dsys_lab::partition::Algorithm>,
    /// Seed for the keys.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also plan the data movement for node-N's join (text and JSON).
    #[arg(long)]
    pub plan: bool,
    /// Shards (key groups) in the plan.
    #[arg(long, default_value_t = 4_096, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub shards: u64,
    /// Bytes per shard in the plan.
    #[arg(long, default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub shard_bytes: u64,
    /// Replicas per shard in the plan (at most the nodes).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub replicas: u32,
    /// Transfers one node may take part in at once, in the plan.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub per_node: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ChartFormat::Text)]
    pub format: ChartFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartFormat {
    /// A table for people.
    Text,
    /// The rows as JSON.
    Json,
    /// A bar chart.
    Svg,
}

const RESILIENCE_EXAMPLES: &str = "\
Examples:
  dsys resilience
  dsys resilience --pattern timeout --pattern breaker --seed 7
  dsys resilience --rate 1000 --seconds 120 --format json

The service serves 40 calls at once (10 ms plus an exponential 10 ms each, slower beyond
40); 1% of its calls fail; from 20 s to 35 s half of them hang for a second and fail.
Every pattern but none times an attempt out after 200 ms. Patterns: none, timeout,
retry, breaker, bulkhead, rate-limit, adaptive, shed. The same seed gives the same table.
Columns: calls made; ok; failed (errors and timeouts, after retries); rejected by the
pattern before reaching the service; service = attempts that reached it; peak = most it
had in hand at once; p50/p99 = what callers waited, refusals included; ok p99 = over
successes only.";

fn parse_pattern(name: &str) -> Result<dsys_lab::resilience::Pattern, String> {
    dsys_lab::resilience::Pattern::parse(name).ok_or_else(|| {
        let known: Vec<_> = dsys_lab::resilience::Pattern::ALL
            .iter()
            .map(|p| p.name())
            .collect();
        format!("unknown pattern '{name}' (known: {})", known.join(", "))
    })
}

#[derive(Args, Debug)]
pub struct ResilienceArgs {
    /// A pattern to run (repeat for several; default: all).
    #[arg(long = "pattern", value_parser = parse_pattern)]
    pub patterns: Vec<dsys_lab::resilience::Pattern>,
    /// Seed for arrivals, latencies and failures.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Calls per second.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate: u32,
    /// Seconds of traffic (the incident is at 20-35 s).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3_600))]
    pub seconds: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = TableFormat::Text)]
    pub format: TableFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TableFormat {
    /// A table for people.
    Text,
    /// The rows as JSON.
    Json,
}

const DIAGRAM_EXAMPLES: &str = "\
Examples:
  dsys diagram specs/checkout.toml
  dsys diagram specs/checkout.toml --format ascii --width 80
  dsys diagram specs/checkout.toml --format svg > checkout.svg
  dsys diagram specs/checkout.toml --format mermaid > checkout.mmd
  dsys diagram specs/checkout.toml --format dot | dot -Tpng > checkout.png

The terminal drawings (unicode, ascii) keep within --width columns and never draw one
box or label over another; edges are listed under the boxes, between numbered nodes.
The SVG comes from dsys's own layout, no external program.
The same spec gives the same bytes on every run. Exit codes: 0 drawn, 2 the spec could
not be read (file, line and column on stderr).";

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
    /// The diagram model as JSON: groups, nodes, edges.
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

const DESIGN_EXAMPLES: &str = "\
Examples:
  dsys design specs/checkout.toml
  dsys design specs/checkout.toml --format markdown > DESIGN.md
  dsys design specs/checkout.toml --format html > design.html
  dsys design specs/checkout.toml --format json | jq '.checks'
  dsys design specs/checkout.toml --adr-dir docs/decisions
  dsys design specs/checkout.toml --verify --seeds 20

specs/README.md documents the spec format with a commented example. Exit codes: 0 the
design holds together, 1 a check found a contradiction (an objective below a round
trip, a target the topology cannot reach, a quorum that cannot survive the stated
failures; each reported with its numbers) or, with --verify, the simulator contradicted
a claim, 2 the spec could not be read.";

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
pub struct DesignArgs {
    /// The requirement spec (TOML).
    pub spec: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DesignFormat::Text)]
    pub format: DesignFormat,
    /// Run each data class's chosen replication and the strongest alternative it rejected
    /// in the simulator under the spec's failure model, and judge the claims.
    #[arg(long)]
    pub verify: bool,
    /// Seeds per configuration for --verify.
    #[arg(long, default_value_t = 10, requires = "verify")]
    pub seeds: u64,
    /// Also write one MADR decision record per decision into this folder. Rerunning
    /// replaces dsys's own records there and removes those no longer decided.
    #[arg(long, value_name = "DIR")]
    pub adr_dir: Option<PathBuf>,
}

const GRID_EXAMPLES: &str = "\
Examples:
  dsys grid
  dsys grid --protocols leader-follower:replication=async leader-follower:replication=sync \\
      --nemeses none,halves,isolate-leader --seeds 20 --format csv
  dsys grid --format svg > pacelc.svg

A configuration is PROTOCOL or PROTOCOL:KEY=VALUE,KEY=VALUE. Columns: availability, latency
p50/p99 of successful operations (virtual ms), messages per operation, seeds not
linearizable, stale reads, read-your-writes violations, acknowledged writes lost (final
reads), writes dropped by last-writer-wins, and time to converge after the final heal.
The same arguments give the same bytes.";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum GridFormat {
    /// Aligned text.
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// A JSON array of cells.
    Json,
    /// An SVG plot: latency without faults vs availability under partition, and anomalies.
    Svg,
}

#[derive(Args, Debug)]
pub struct GridArgs {
    /// Configurations to compare (PROTOCOL or PROTOCOL:KEY=VALUE,...).
    #[arg(long, num_args = 1.., default_values = dsys_lab::grid::DEFAULT_CONFIGS)]
    pub protocols: Vec<String>,
    /// Nemeses, comma-separated.
    #[arg(long, value_delimiter = ',', default_values = dsys_lab::grid::DEFAULT_NEMESES)]
    pub nemeses: Vec<NemesisSpec>,
    /// Seeds per cell.
    #[arg(long, default_value_t = 10)]
    pub seeds: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = GridFormat::Table)]
    pub format: GridFormat,
}

const CHECK_EXAMPLES: &str = "\
Examples:
  dsys check history.jsonl
  dsys check jepsen-history.edn --model register --timeout 30s --format json
  dsys check jepsen.log --input-format jepsen-log --model register
  dsys check history.jsonl --html timeline.html

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

Exit codes: 0 every check passes, 1 a violation, 2 bad input, 3 unknown (budget ran out).";

#[derive(Args, Debug)]
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
    /// Checks to run, comma-separated.
    #[arg(long, default_value = "linearizable", value_parser = parse_checks)]
    pub checks: CheckList,
    /// Wall-time budget; past it a check answers unknown (exit 3), never pass.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also write a self-contained HTML timeline (swimlanes, witness, faults) here.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// A comma-separated list of check names (`none` for no checks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckList(pub Vec<CheckName>);

fn parse_checks(s: &str) -> Result<CheckList, String> {
    if s == "none" {
        return Ok(CheckList(Vec::new()));
    }
    s.split(',')
        .map(|c| c.trim().parse::<CheckName>())
        .collect::<Result<Vec<_>, _>>()
        .map(CheckList)
}

/// `500ms`, `10s`, `2m`, or a plain number of seconds.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let bad = || format!("`{s}`: expected a duration such as 500ms, 10s or 2m");
    let (number, scale) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60.0)
    } else {
        (s, 1.0)
    };
    match number.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x > 0.0 && x * scale < 1e9 => {
            Ok(Duration::from_secs_f64(x * scale))
        }
        _ => Err(bad()),
    }
}

const SIMULATE_EXAMPLES: &str = "\
Examples:
  dsys simulate --protocol primary-async --nemesis halves --seed 7
  dsys simulate --protocol single --set durability=buffered --nemesis crash-restart --format json
  dsys simulate --protocol primary-async --nodes 6 --regions 2 --wan-latency constant:40 \\
      --nemesis swarm --out run.json --history history.jsonl
  dsys simulate --protocol single --schedule faults.json
  dsys simulate --protocol leader-follower --set replication=semi-sync --set acks=2 --nemesis isolate-leader
  dsys simulate --protocol leaderless --set w=1 --set r=1 --nemesis delay:exponential:20
  dsys simulate --protocol multi-leader --set conflict=crdt --workload set --nemesis halves
  dsys simulate --protocol multi-leader --set conflict=siblings --nemesis halves";

const NEMESIS_HELP: &str = "\
Nemeses, combined with '+': none, halves, isolate-one, isolate-leader, majority-ring, bridge,
one-way, crash, crash-restart, crash-leader, pause, loss:P, dup:P, delay:DIST, clock-skew, clock-strobe, swarm.
DIST is constant:MS, uniform:MIN:MAX, exponential:MEAN, lognormal:MEDIAN:SIGMA or pareto:MIN:ALPHA.

Checks (--checks, --expect): linearizable, sequential, causal, read-your-writes, monotonic-reads,
monotonic-writes, writes-follow-reads, no-stale-reads, no-lost-writes, converged; for the counter
and set workloads: linearizable, sequential, no-lost-updates, converged. Protocols that state
cluster-wide invariants (raft) are also checked after every node step; a broken one stops
the run and reports `invariants: FAIL`.

Exit codes: 0 ok, 1 the run failed (a protocol invariant broke) or an --expect'ed check failed, 2 bad input,
3 an --expect'ed check is unknown.";

/// The `simulate` help epilogue; the protocol list comes from the catalog itself.
fn simulate_help() -> String {
    let mut protocols = String::from("Protocols and their --set keys:\n");
    for protocol in Protocol::ALL {
        protocols.push_str(&format!("  {}\n", protocol.name()));
        for setting in protocol.settings() {
            let values = match setting.kind {
                SettingKind::Choice(words) => words.join("|"),
                SettingKind::Millis { min, max } => format!("MS ({min}..={max})"),
                SettingKind::Count { min, max } => format!("N ({min}..={max})"),
            };
            protocols.push_str(&format!(
                "      {}={}  (default {}) {}\n",
                setting.key, values, setting.default, setting.help
            ));
        }
    }
    format!("{SIMULATE_EXAMPLES}\n\n{protocols}\n{NEMESIS_HELP}")
}

const REPLAY_EXAMPLES: &str = "\
Examples:
  dsys simulate --nemesis swarm --seed 3 --out run.json
  dsys replay run.json --format json

Exit codes: 0 reproduced, 1 diverged, 2 unreadable artifact.";

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Aligned text for people.
    Table,
    /// One JSON object on stdout.
    Json,
}

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Write the recorded history (JSONL, see docs/history-format.md) to this file.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct SimulateArgs {
    /// Protocol to run: single, primary-async, leader-follower, multi-leader.
    #[arg(long, default_value = "primary-async")]
    pub protocol: String,
    /// A protocol setting, KEY=VALUE; repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Cluster size.
    #[arg(long, default_value_t = 5)]
    pub nodes: usize,
    /// Concurrent closed-loop clients.
    #[arg(long, default_value_t = 5)]
    pub clients: usize,
    /// Client operations in all.
    #[arg(long, default_value_t = 1000)]
    pub ops: u64,
    /// What clients operate on: kv (registers: read, write, cas), counter (read,
    /// increment) or set (read, insert, remove). Counters and sets need --protocol
    /// multi-leader.
    #[arg(long, default_value = "kv")]
    pub workload: WorkloadKind,
    /// Distinct keys.
    #[arg(long, default_value_t = 8)]
    pub keys: u64,
    /// Key distribution: uniform or zipf:S.
    #[arg(long, default_value = "uniform")]
    pub key_dist: KeyDist,
    /// Operation mix as READ:WRITE:CAS weights (counter: reads and increments; set: the
    /// CAS share removes the element the client last inserted into the key).
    #[arg(long, default_value = "50:35:15", value_parser = parse_mix)]
    pub mix: OpMix,
    /// Client think time between operations (a latency distribution, ms).
    #[arg(long, default_value = "exponential:50")]
    pub think: LatencyDist,
    /// Client operation timeout, ms; a timed-out operation is recorded as indeterminate.
    #[arg(long, default_value_t = 500.0)]
    pub timeout: f64,
    /// Faults, joined with '+': e.g. halves+loss:0.05.
    #[arg(long, default_value = "none")]
    pub nemesis: NemesisSpec,
    /// Follow this fault timeline instead of drawing faults: a JSON array of
    /// {"at": NANOS, "action": {...}}, as in a run artifact's realised_schedule.
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// Root seed; the same seed and flags reproduce the run bit for bit.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Latency of every node-to-node link (a distribution, ms).
    #[arg(long, default_value = "uniform:0.5:1.5")]
    pub latency: LatencyDist,
    /// Split the nodes into this many regions (contiguous groups).
    #[arg(long, default_value_t = 1)]
    pub regions: usize,
    /// Latency between regions (a distribution, ms).
    #[arg(long, default_value = "constant:40")]
    pub wan_latency: LatencyDist,
    /// Skip the final reads (one read of every key after the final heal).
    #[arg(long)]
    pub no_final_reads: bool,
    /// How long after the final heal to wait for replicas to converge, ms.
    #[arg(long, default_value_t = 10_000.0)]
    pub converge_deadline: f64,
    /// Checks to run on the recorded history, comma-separated, or `none` [default: every
    /// check that applies to the workload: for kv linearizable, causal, read-your-writes,
    /// monotonic-reads, monotonic-writes, writes-follow-reads, no-stale-reads,
    /// no-lost-writes, converged (without causal where reads return siblings:
    /// multi-leader conflict=siblings, leaderless versions=vector-clock); for counter and
    /// set linearizable, no-lost-updates, converged].
    #[arg(long, value_parser = parse_checks)]
    pub checks: Option<CheckList>,
    /// Exit 1 if this check fails (3 if it is unknown); repeatable. Runs it if not in --checks.
    #[arg(long = "expect", value_name = "CHECK")]
    pub expect: Vec<CheckName>,
    /// Wall-time budget for the checks; past it a check answers unknown.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub check_timeout: Duration,
    /// Save a run artifact (seed, configuration, realised faults) for `dsys replay`.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// A run artifact written by `dsys simulate --out`.
    pub artifact: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn parse_mix(s: &str) -> Result<OpMix, String> {
    let parts: Vec<&str> = s.split(':').collect();
    let bad = || format!("`{s}`: expected READ:WRITE:CAS weights, e.g. 50:35:15");
    let [r, w, c] = parts.as_slice() else {
        return Err(bad());
    };
    let n = |x: &str| x.parse::<u32>().map_err(|_| bad());
    Ok(OpMix {
        read: n(r)?,
        write: n(w)?,
        cas: n(c)?,
    })
}

impl SimulateArgs {
    /// The checks to run: `--checks` plus anything `--expect`ed.
    pub fn checks(&self, scenario: &Scenario) -> Vec<CheckName> {
        let mut checks = match &self.checks {
            Some(list) => list.0.clone(),
            None => {
                dsys_lab::checking::simulation_checks(dsys_lab::checking::scenario_model(scenario))
            }
        };
        for c in &self.expect {
            if !checks.contains(c) {
                checks.push(*c);
            }
        }
        checks
    }

    /// The scenario these flags describe.
    pub fn scenario(&self) -> Result<Scenario, LabError> {
        let protocol: Protocol = self.protocol.parse()?;
        let settings = Settings::parse(protocol, &self.set)?;
        let link = LinkConfig {
            latency: self.latency,
            ..LinkConfig::default()
        };
        let regions = (self.regions > 1).then(|| {
            Regions::contiguous(
                self.nodes,
                self.regions,
                LinkConfig {
                    latency: self.wan_latency,
                    ..LinkConfig::default()
                },
            )
        });
        let sim = SimConfig {
            seed: self.seed,
            nodes: self.nodes,
            network: NetworkConfig {
                default_link: link,
                regions,
                ..NetworkConfig::default()
            },
            nemesis: self.nemesis.clone(),
            workload: WorkloadConfig {
                kind: self.workload,
                clients: self.clients,
                ops: self.ops,
                keys: self.keys,
                key_dist: self.key_dist,
                mix: self.mix,
                think: self.think,
                timeout_ms: self.timeout,
                final_reads: !self.no_final_reads,
            },
            convergence: ConvergenceConfig {
                deadline_ms: self.converge_deadline,
                ..ConvergenceConfig::default()
            },
            ..SimConfig::default()
        };
        let schedule = self
            .schedule
            .as_deref()
            .map(Scenario::load_schedule)
            .transpose()?;
        let scenario = Scenario {
            protocol,
            settings,
            sim,
            schedule,
        };
        scenario.validate()?;
        Ok(scenario)
    }
}

/// Print a clap error as one line (plus clap's tip, if it has one) and pick the exit code:
/// help and version go to stdout with 0, anything else is bad input (2).
pub fn report_clap_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let rendered = e.render().to_string();
    let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
    let first = lines
        .next()
        .unwrap_or("error: invalid arguments")
        .to_string();
    let tip = lines.find(|l| l.starts_with("tip:"));
    match tip {
        Some(tip) => eprintln!("{first} ({tip})"),
        None => eprintln!("{first}"),
    }
    ExitCode::from(2)
}

//! `dsys simulate` and `dsys replay`.

use super::values::{CheckList, Format, parse_checks, parse_duration, seed, whole};
use clap::Args;
use dsys_check::CheckName;
use dsys_lab::{LabError, Protocol, Scenario};
use dsys_protocols::SettingKind;
use dsys_sim::nemesis::NemesisSpec;
use dsys_sim::network::LinkConfig;
use dsys_sim::workload::{KeyDist, OpMix, WorkloadConfig, WorkloadKind};
use dsys_sim::{ConvergenceConfig, LatencyDist};
use std::path::PathBuf;
use std::time::Duration;

const SIMULATE_EXAMPLES: &str = "\
Examples:
  dsys simulate --protocol primary-async --nemesis halves --seed 7
  dsys simulate --protocol single --set durability=buffered --nemesis crash-restart --format json
  dsys simulate --protocol primary-async --nodes 6 --regions 2 --wan-latency constant:40 \\
      --nemesis swarm --out run.json --history history.jsonl
  dsys simulate --protocol single --schedule faults.json
  dsys simulate --protocol leader-follower --set replication=semi-sync,acks=2 --nemesis isolate-leader
  dsys simulate --protocol leader-follower --set replication=async --nemesis crash-leader --keys 1000
  dsys simulate --protocol leaderless --set w=1 --set r=1 --nemesis delay:exponential:20
  dsys simulate --protocol multi-leader --set conflict=crdt --workload set --nemesis halves
  dsys simulate --protocol raft --nemesis swarm --timeout 200ms";

const NEMESIS_HELP: &str = "\
Nemeses, combined with '+': none, halves, isolate-one, isolate-leader, majority-ring, bridge,
one-way, crash, crash-restart, crash-leader, pause, loss:P, dup:P, delay:DIST, clock-skew,
clock-strobe, swarm. DIST is constant:MS, uniform:MIN:MAX, exponential:MEAN,
lognormal:MEDIAN:SIGMA or pareto:MIN:ALPHA.

Checks (--checks, --expect): linearizable, sequential, causal, read-your-writes, monotonic-reads,
monotonic-writes, writes-follow-reads, no-stale-reads, no-lost-writes, converged, invariants; for
the counter and set workloads: linearizable, sequential, no-lost-updates, converged, invariants.
`invariants`: protocols that state cluster-wide invariants (raft) are checked after every node
step, asked or not; a broken one stops the run and reports `invariants: FAIL`. Asked of a
protocol without such a monitor, it is unknown.

Exit codes: 0 ok; 1 a protocol invariant broke or an --expect'ed check failed; 2 bad input;
3 an --expect'ed check is unknown; 4 --expect converged failed (liveness); 5 --out or
--history could not be written (the report is still printed); 70 a dsys bug.";

/// The `simulate` help epilogue; the protocol list comes from the catalog itself.
pub fn simulate_help() -> String {
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

pub const REPLAY_EXAMPLES: &str = "\
Examples:
  dsys simulate --nemesis swarm --seed 3 --out run.json
  dsys replay run.json --format json

Exit codes: 0 reproduced, 1 diverged, 2 not a run artifact, 5 unreadable file.";

#[derive(Args, Debug)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Write the recorded history (JSONL, see docs/history-format.md) to this file.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
}

fn nodes(s: &str) -> Result<u64, String> {
    whole(s, 1, dsys_sim::MAX_NODES as u64)
}

fn regions(s: &str) -> Result<u64, String> {
    whole(s, 1, dsys_sim::MAX_NODES as u64)
}

fn clients(s: &str) -> Result<u64, String> {
    whole(s, 1, 100_000)
}

fn ops(s: &str) -> Result<u64, String> {
    whole(s, 0, dsys_sim::MAX_OPS)
}

fn keys(s: &str) -> Result<u64, String> {
    whole(s, 1, 10_000_000)
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct SimulateArgs {
    /// Protocol to run: single, primary-async, leader-follower, multi-leader, leaderless
    /// or raft (their --set keys are listed below).
    #[arg(long, default_value = "primary-async")]
    pub protocol: String,
    /// Protocol settings, KEY=VALUE; repeat the flag or separate with commas.
    #[arg(long = "set", value_name = "KEY=VALUE", value_delimiter = ',')]
    pub set: Vec<String>,
    /// Cluster size.
    #[arg(long, default_value = "5", value_parser = nodes)]
    pub nodes: u64,
    /// Concurrent closed-loop clients.
    #[arg(long, default_value = "5", value_parser = clients)]
    pub clients: u64,
    /// Client operations in all.
    #[arg(long, default_value = "1000", value_parser = ops)]
    pub ops: u64,
    /// What clients operate on: kv (registers: read, write, cas), counter (read,
    /// increment) or set (read, insert, remove). Counters and sets need --protocol
    /// multi-leader.
    #[arg(long, default_value = "kv")]
    pub workload: WorkloadKind,
    /// Distinct keys.
    #[arg(long, default_value = "8", value_parser = keys)]
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
    /// Client operation timeout (500ms, 2s); a timed-out operation is recorded as
    /// indeterminate.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Faults, joined with '+': e.g. halves+loss:0.05.
    #[arg(long, default_value = "none")]
    pub nemesis: NemesisSpec,
    /// Follow this fault timeline instead of drawing faults: a JSON array of
    /// {"at": NANOS, "action": {...}}, as in a run artifact's realised_schedule.
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<PathBuf>,
    /// Root seed; the same seed and flags reproduce the run bit for bit.
    #[arg(long, default_value = "0", value_parser = seed)]
    pub seed: u64,
    /// Latency of every node-to-node link (a distribution, ms).
    #[arg(long, default_value = "uniform:0.5:1.5")]
    pub latency: LatencyDist,
    /// Split the nodes into this many regions (contiguous groups; at most --nodes).
    #[arg(long, default_value = "1", value_parser = regions)]
    pub regions: u64,
    /// Latency between regions (a distribution, ms).
    #[arg(long, default_value = "constant:40")]
    pub wan_latency: LatencyDist,
    /// Skip the final reads (one read of every key after the final heal).
    #[arg(long)]
    pub no_final_reads: bool,
    /// Run on after the protocol's monitor finds a broken invariant (it still reports the
    /// first), so the clients' checks see what the break led to.
    #[arg(long)]
    pub keep_going: bool,
    /// How long after the final heal to wait for replicas to converge.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub converge_deadline: Duration,
    /// Checks to run on the recorded history (repeat or separate with commas), or `none`
    /// [default: every check that applies to the workload: for kv linearizable, causal,
    /// read-your-writes, monotonic-reads, monotonic-writes, writes-follow-reads,
    /// no-stale-reads, no-lost-writes, converged (without causal where reads return
    /// siblings: multi-leader conflict=siblings, leaderless versions=vector-clock); for
    /// counter and set linearizable, no-lost-updates, converged].
    #[arg(long, value_parser = parse_checks)]
    pub checks: Vec<CheckList>,
    /// Exit 1 if this check fails (3 if it is unknown, 4 for converged); repeat or
    /// separate with commas. Runs it if not in --checks.
    #[arg(long = "expect", value_name = "CHECK", value_delimiter = ',')]
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

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

impl SimulateArgs {
    /// The scenario these flags describe.
    pub fn scenario(&self) -> Result<Scenario, LabError> {
        let protocol: Protocol = self.protocol.parse()?;
        let mut builder = Scenario::builder(protocol)
            .set(&self.set)
            .seed(self.seed)
            .nodes(self.nodes as usize)
            .sim(|sim| {
                sim.nemesis = self.nemesis.clone();
                sim.network.default_link = LinkConfig {
                    latency: self.latency,
                    ..LinkConfig::default()
                };
                sim.convergence = ConvergenceConfig {
                    deadline_ms: millis(self.converge_deadline),
                    ..ConvergenceConfig::default()
                };
                sim.keep_going = self.keep_going;
            })
            .workload(|w| {
                *w = WorkloadConfig {
                    kind: self.workload,
                    clients: self.clients as usize,
                    ops: self.ops,
                    keys: self.keys,
                    key_dist: self.key_dist,
                    mix: self.mix,
                    think: self.think,
                    timeout_ms: millis(self.timeout),
                    final_reads: !self.no_final_reads,
                }
            })
            .regions(self.regions as usize, self.wan_latency);
        if let Some(path) = &self.schedule {
            builder = builder.schedule(Scenario::load_schedule(path)?);
        }
        builder.build()
    }
}

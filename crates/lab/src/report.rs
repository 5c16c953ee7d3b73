//! The summary of a run, as JSON for machines and as a table for humans.

use crate::scenario::RunResult;
use crate::sides::{Episode, Outcomes, episodes};
use dsys_check::report::{CheckReport, CheckResult};
use dsys_check::stats::percentile;
use dsys_sim::trace::{TraceHasher, hex};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::Hasher;

/// The start-up of a run: operations invoked before the cluster first answered anyone.
#[derive(Clone, Copy, Debug, Serialize, PartialEq)]
pub struct Startup {
    /// How many.
    pub ops: u64,
    /// The share of them answered.
    pub availability: f64,
}

/// Operation counts.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct OpCounts {
    /// Took effect.
    pub ok: u64,
    /// Definitely did not take effect.
    pub fail: u64,
    /// Unknown (timed out).
    pub info: u64,
    /// All operations.
    pub total: u64,
}

/// Latency of `ok` operations, virtual milliseconds.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct LatencyMs {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Slowest.
    pub max: f64,
}

/// Node-to-node message counts.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Messages {
    /// Handed to the network.
    pub sent: u64,
    /// Processed by a live node.
    pub delivered: u64,
    /// Dropped for any reason.
    pub dropped: u64,
    /// Dropped by a partition.
    pub dropped_partition: u64,
    /// Dropped by random loss.
    pub dropped_loss: u64,
    /// Addressed to a crashed node.
    pub dropped_down: u64,
    /// Extra copies made by duplication.
    pub duplicated: u64,
}

/// How fast the simulator ran (wall clock; differs between runs of the same seed).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct SimSpeed {
    /// Events processed.
    pub events: u64,
    /// Real seconds.
    pub wall_seconds: f64,
    /// Message deliveries per real second.
    pub deliveries_per_second: f64,
    /// Events per real second.
    pub events_per_second: f64,
    /// Virtual seconds simulated per real second.
    pub time_compression: f64,
}

/// What the storage faults of a run did, summed over disks.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct StorageReport {
    /// Writes a disk refused (`fsync-fail`, `disk-full`).
    pub failed_writes: u64,
    /// Nodes crashed because a write of theirs failed.
    pub crashes_on_failed_writes: u64,
    /// Synced writes a disk reported durable that were not (`fsync-lie`).
    pub lied_syncs: u64,
    /// Writes that reached a disk cut short (`torn-write`).
    pub torn_writes: u64,
    /// Entries read back corrupted at boot (`corrupt-read`).
    pub corrupted_reads: u64,
    /// Boots refused because an entry failed its checksum.
    pub refused_boots: u64,
    /// Synced writes that took time (`slow-disk`).
    pub slow_writes: u64,
}

impl StorageReport {
    /// The storage part of a run's stats; `None` if no storage fault did anything.
    pub fn of(s: &dsys_sim::RunStats) -> Option<Self> {
        let d = &s.disk;
        let report = StorageReport {
            failed_writes: d.failed_writes,
            crashes_on_failed_writes: s.crashes_on_failed_writes,
            lied_syncs: d.lied_syncs,
            torn_writes: d.torn_writes,
            corrupted_reads: d.corrupted_reads,
            refused_boots: s.refused_boots,
            slow_writes: d.slow_writes,
        };
        let counts = [
            report.failed_writes,
            report.lied_syncs,
            report.torn_writes,
            report.corrupted_reads,
            report.refused_boots,
            report.slow_writes,
        ];
        counts.iter().any(|&c| c > 0).then_some(report)
    }
}

impl std::fmt::Display for StorageReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts = [
            (self.failed_writes, "failed writes"),
            (self.crashes_on_failed_writes, "crashes on a failed write"),
            (self.lied_syncs, "fsyncs that lied"),
            (self.torn_writes, "torn writes"),
            (self.corrupted_reads, "corrupted reads"),
            (self.refused_boots, "boots refused on a bad checksum"),
            (self.slow_writes, "slow synced writes"),
        ];
        let said: Vec<String> = parts
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
        f.write_str(&said.join(", "))
    }
}

/// The summary of one run. Everything but `sim` is a function of the scenario.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Report {
    /// The protocol.
    pub protocol: String,
    /// Its settings, defaults included.
    pub settings: BTreeMap<String, String>,
    /// The root seed.
    pub seed: u64,
    /// Cluster size.
    pub nodes: usize,
    /// Concurrent clients.
    pub clients: usize,
    /// The nemesis as given.
    pub nemesis: String,
    /// The nemesis in force (`swarm` resolved; a script for replays).
    pub effective_nemesis: String,
    /// Fingerprint of the run.
    pub trace_hash: String,
    /// Fingerprint of the history's JSONL bytes.
    pub history_hash: String,
    /// Operation counts.
    pub ops: OpCounts,
    /// Share of operations the system answered (not timed out, not refused) among those
    /// invoked after it first answered a client; see [`dsys_sim::Availability::steady`].
    pub availability: f64,
    /// Operations invoked before the cluster first answered anyone, and the share of them
    /// answered: the start-up, kept out of `availability`.
    pub startup: Startup,
    /// Virtual ms at which the cluster first answered a client.
    pub first_served_ms: Option<f64>,
    /// Latency of successful operations.
    pub latency_ms: LatencyMs,
    /// Message counts.
    pub messages: Messages,
    /// Messages sent per client operation.
    pub msgs_per_op: f64,
    /// Fault actions applied.
    pub faults: usize,
    /// Node crashes.
    pub crashes: u64,
    /// Buffered writes lost to crashes.
    pub lost_buffered_writes: u64,
    /// What storage faults did, if any did anything.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<StorageReport>,
    /// Whether replicas converged after the final heal.
    pub converged: bool,
    /// Time from the final heal to convergence.
    pub time_to_converge_ms: Option<f64>,
    /// Virtual time when faults stopped.
    pub faults_stopped_ms: Option<f64>,
    /// Each partition, with what the clients on each side got.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub partitions: Vec<Episode>,
    /// Virtual seconds simulated.
    pub virtual_seconds: f64,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
    /// The protocol's own counters, summed over nodes.
    pub protocol_metrics: BTreeMap<&'static str, u64>,
    /// Verdicts of the checks run on the history (and on convergence), by name.
    pub checks: BTreeMap<&'static str, CheckResult>,
    /// Simulator speed.
    pub sim: SimSpeed,
}

fn ms(ns: u64) -> f64 {
    (ns as f64 / 1e6 * 1000.0).round() / 1000.0
}

fn per_second(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        (count as f64 / seconds).round()
    } else {
        0.0
    }
}

/// The history's fingerprint: a hash of its JSONL bytes.
pub fn history_hash(history: &dsys_sim::RunHistory) -> u64 {
    let mut bytes = Vec::new();
    // Writing to a Vec cannot fail.
    let _ = history.write_jsonl(&mut bytes);
    let mut h = TraceHasher::new();
    h.write(&bytes);
    h.digest()
}

impl Report {
    /// Summarise a run.
    pub fn new(result: &RunResult) -> Report {
        let o = &result.outcome;
        let s = &o.stats;
        let total = s.ops_ok + s.ops_fail + s.ops_info;
        let mut latencies = s.ok_latencies_ns.clone();
        latencies.sort_unstable();
        let virtual_seconds = o.virtual_end.as_nanos() as f64 / 1e9;
        let sim = &result.scenario.sim;
        Report {
            protocol: result.scenario.protocol.name().to_string(),
            settings: result.scenario.settings.effective(result.scenario.protocol),
            seed: sim.seed,
            nodes: sim.nodes,
            clients: sim.workload.clients,
            nemesis: sim.nemesis.to_string(),
            effective_nemesis: o.effective_nemesis.clone(),
            trace_hash: hex(o.trace_hash),
            history_hash: hex(result.history_hash),
            ops: OpCounts {
                ok: s.ops_ok,
                fail: s.ops_fail,
                info: s.ops_info,
                total,
            },
            availability: (s.availability().steady() * 1e4).round() / 1e4,
            startup: Startup {
                ops: s.startup_ops,
                availability: (s.availability().startup() * 1e4).round() / 1e4,
            },
            first_served_ms: s.first_served.map(|t| ms(t.as_nanos())),
            latency_ms: LatencyMs {
                p50: ms(percentile(&latencies, 50.0)),
                p99: ms(percentile(&latencies, 99.0)),
                max: ms(latencies.last().copied().unwrap_or(0)),
            },
            messages: Messages {
                sent: s.messages_sent,
                delivered: s.messages_delivered,
                dropped: s.messages_dropped(),
                dropped_partition: s.dropped_partition,
                dropped_loss: s.dropped_loss,
                dropped_down: s.dropped_down,
                duplicated: s.duplicated,
            },
            msgs_per_op: if total == 0 {
                0.0
            } else {
                (s.messages_sent as f64 / total as f64 * 100.0).round() / 100.0
            },
            faults: o.realised_schedule.len(),
            crashes: s.crashes,
            lost_buffered_writes: s.lost_buffered_writes,
            storage: StorageReport::of(s),
            converged: o.converged,
            time_to_converge_ms: o
                .time_to_converge
                .map(|d| ms(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))),
            faults_stopped_ms: o.faults_stopped_at.map(|t| ms(t.as_nanos())),
            partitions: episodes(result),
            virtual_seconds: (virtual_seconds * 1e6).round() / 1e6,
            aborted: o.aborted.clone(),
            protocol_metrics: o.protocol_metrics.clone(),
            checks: BTreeMap::new(),
            sim: SimSpeed {
                events: s.events,
                wall_seconds: result.wall_seconds,
                deliveries_per_second: per_second(s.messages_delivered, result.wall_seconds),
                events_per_second: per_second(s.events, result.wall_seconds),
                time_compression: if result.wall_seconds > 0.0 {
                    (virtual_seconds / result.wall_seconds).round()
                } else {
                    0.0
                },
            },
        }
    }

    /// Attach the verdicts of checks run on this run.
    pub fn with_checks(mut self, report: CheckReport) -> Report {
        self.checks = report.checks;
        self
    }

    /// A human-readable table.
    pub fn to_table(&self) -> String {
        let mut t = String::new();
        let settings: Vec<String> = self
            .settings
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        let mut row = |k: &str, v: String| {
            let _ = writeln!(t, "{k:<20} {v}");
        };
        row(
            "protocol",
            format!("{} {}", self.protocol, settings.join(" "))
                .trim_end()
                .to_string(),
        );
        row(
            "cluster",
            format!("{} nodes, {} clients", self.nodes, self.clients),
        );
        row(
            "nemesis",
            if self.nemesis == self.effective_nemesis {
                self.nemesis.clone()
            } else {
                format!("{} ({})", self.nemesis, self.effective_nemesis)
            },
        );
        row("seed", self.seed.to_string());
        row("trace hash", self.trace_hash.clone());
        row(
            "ops",
            format!(
                "{} ok, {} fail, {} info of {}",
                self.ops.ok, self.ops.fail, self.ops.info, self.ops.total
            ),
        );
        row(
            "availability",
            match self.first_served_ms {
                Some(at) => format!(
                    "{:.2}% of the ops invoked after the cluster first answered ({at} ms); start-up: {} ops, {:.2}% answered",
                    self.availability * 100.0,
                    self.startup.ops,
                    self.startup.availability * 100.0
                ),
                None => format!(
                    "{:.2}%: the cluster never answered a client",
                    self.availability * 100.0
                ),
            },
        );
        row(
            "latency (virtual)",
            format!(
                "p50 {} ms, p99 {} ms, max {} ms",
                self.latency_ms.p50, self.latency_ms.p99, self.latency_ms.max
            ),
        );
        row(
            "messages",
            format!(
                "{} sent, {} delivered, {} dropped ({} partition, {} loss, {} down), {} duplicated",
                self.messages.sent,
                self.messages.delivered,
                self.messages.dropped,
                self.messages.dropped_partition,
                self.messages.dropped_loss,
                self.messages.dropped_down,
                self.messages.duplicated
            ),
        );
        row("msgs/op", self.msgs_per_op.to_string());
        row(
            "faults",
            format!(
                "{} actions, {} crashes, {} buffered writes lost",
                self.faults, self.crashes, self.lost_buffered_writes
            ),
        );
        if self.lost_buffered_writes > 0 {
            // Counted at the storage layer: a write a node had buffered, not fsynced, when
            // it crashed. A client learns of the loss only if the data is read back after.
            row(
                "",
                "(acknowledged writes a node held unsynced when it crashed; no-lost-writes sees a lost write only if no later write to its key hid it: --keys 1000 shows them)".to_string(),
            );
        }
        if let Some(storage) = &self.storage {
            row("storage", storage.to_string());
        }
        self.partition_rows(&mut row);
        row(
            "converged",
            match (self.converged, self.time_to_converge_ms) {
                (true, Some(ms)) => format!("yes, {ms} ms after the final heal"),
                _ => "NO, not within the deadline".to_string(),
            },
        );
        if let Some(reason) = &self.aborted {
            row("ABORTED", reason.clone());
        }
        if !self.protocol_metrics.is_empty() {
            let counters: Vec<String> = self
                .protocol_metrics
                .iter()
                .map(|(k, v)| format!("{v} {k}"))
                .collect();
            row("protocol counters", counters.join(", "));
        }
        for (name, check) in &self.checks {
            let verdict = check.result.to_string().to_uppercase();
            match check.detail() {
                Some(detail) => row(name, format!("{verdict}: {detail}")),
                None => row(name, verdict),
            }
        }
        row(
            "simulated",
            format!(
                "{:.3} s virtual in {:.3} s wall ({}x), {} events, {} deliveries/s",
                self.virtual_seconds,
                self.sim.wall_seconds,
                self.sim.time_compression,
                self.sim.events,
                self.sim.deliveries_per_second
            ),
        );
        t
    }

    /// Up to three partitions, a line for each and one for each of its sides.
    fn partition_rows(&self, row: &mut impl FnMut(&str, String)) {
        const SHOWN: usize = 3;
        let said =
            |o: &Outcomes| format!("{} ok, {} refused, {} unknown", o.ok, o.failed, o.unknown);
        for (i, e) in self.partitions.iter().take(SHOWN).enumerate() {
            let label = if i == 0 { "partitions" } else { "" };
            row(
                label,
                format!("{} from {} ms to {} ms", e.shape, e.from_ms, e.to_ms),
            );
            for side in &e.sides {
                let nodes: Vec<String> = side.nodes.iter().map(u32::to_string).collect();
                row(
                    "",
                    format!(
                        "  nodes {}: writes {}; reads {}",
                        nodes.join(","),
                        said(&side.writes),
                        said(&side.reads)
                    ),
                );
            }
        }
        if self.partitions.len() > SHOWN {
            row(
                "",
                format!(
                    "and {} more (all in --format json)",
                    self.partitions.len() - SHOWN
                ),
            );
        }
    }
}

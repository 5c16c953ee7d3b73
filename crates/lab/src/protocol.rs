//! The protocol catalog: names, `--set` settings, and how to run each one.

use crate::error::LabError;
use dsys_node::{Durability, Duration};
use dsys_protocols::multi_leader::{Conflict, DataKind};
use dsys_protocols::{
    LeaderFollowerConfig, LeaderFollowerNode, LeaderlessConfig, LeaderlessNode, MultiLeaderConfig,
    MultiLeaderNode, PrimaryAsyncConfig, PrimaryAsyncNode, RaftConfig, RaftNode, ReadPath,
    Replication, SingleConfig, SingleNode, VersionMode,
};
use dsys_sim::workload::WorkloadKind;
use dsys_sim::{ConfigError, Progress, RunOutcome, SimConfig, TimedFault, World};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// A protocol of the catalog.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Protocol {
    /// One node holds the data.
    Single,
    /// A primary replicating asynchronously to followers, no failover.
    PrimaryAsync,
    /// A leader replicating a log (sync, semi-sync or async) with failover and fencing.
    LeaderFollower,
    /// Every node accepts writes and replicates them asynchronously.
    MultiLeader,
    /// Dynamo-style: N replicas per key on a hash ring, W/R quorums, no leader.
    Leaderless,
    /// Consensus on a replicated log, with a key-value store on top.
    Raft,
}

impl Protocol {
    /// Every protocol, in catalog order.
    pub const ALL: [Protocol; 6] = [
        Protocol::Single,
        Protocol::PrimaryAsync,
        Protocol::LeaderFollower,
        Protocol::MultiLeader,
        Protocol::Leaderless,
        Protocol::Raft,
    ];

    /// The stable CLI name.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::Single => "single",
            Protocol::PrimaryAsync => "primary-async",
            Protocol::LeaderFollower => "leader-follower",
            Protocol::MultiLeader => "multi-leader",
            Protocol::Leaderless => "leaderless",
            Protocol::Raft => "raft",
        }
    }

    /// The workloads the protocol serves: registers everywhere, counters and sets only
    /// where a key can hold them.
    pub fn workloads(self) -> &'static [WorkloadKind] {
        match self {
            Protocol::MultiLeader => &WorkloadKind::ALL,
            _ => &[WorkloadKind::Kv],
        }
    }

    /// The `--set` keys the protocol accepts.
    pub fn settings(self) -> &'static [SettingSpec] {
        match self {
            Protocol::Single => &[DURABILITY],
            Protocol::PrimaryAsync => &[DURABILITY, PRIMARY_HEARTBEAT],
            Protocol::LeaderFollower => &[
                REPLICATION,
                ACKS,
                READS,
                FENCING,
                SHIP_INTERVAL,
                LEADER_HEARTBEAT,
                ELECTION_TIMEOUT,
            ],
            Protocol::MultiLeader => &[CONFLICT, CRDT, MULTI_LEADER_HEARTBEAT],
            Protocol::Leaderless => &[
                REPLICAS,
                WRITE_QUORUM,
                READ_QUORUM,
                VERSIONS,
                SLOPPY_QUORUM,
                READ_REPAIR,
                ANTI_ENTROPY,
                ANTI_ENTROPY_INTERVAL,
                FALLBACK_AFTER,
                REQUEST_TIMEOUT,
            ],
            Protocol::Raft => &[
                RAFT_READS,
                LEASE,
                RAFT_HEARTBEAT,
                ELECTION_TIMEOUT,
                VOTERS,
                ROTATE_EVERY,
                SNAPSHOT_EVERY,
            ],
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Protocol {
    type Err = LabError;
    fn from_str(s: &str) -> Result<Self, LabError> {
        Protocol::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| LabError::UnknownProtocol {
                name: s.to_string(),
                known: Protocol::ALL.map(Protocol::name).join(", "),
            })
    }
}

/// The type of a setting's value.
#[derive(Clone, Copy, Debug)]
pub enum SettingKind {
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A whole number in `min..=max`.
    Count {
        /// Smallest.
        min: u64,
        /// Largest.
        max: u64,
    },
    /// Whole milliseconds in `min..=max`.
    Millis {
        /// Smallest.
        min: u64,
        /// Largest.
        max: u64,
    },
}

/// One `--set` key of a protocol.
#[derive(Clone, Copy, Debug)]
pub struct SettingSpec {
    /// The key.
    pub key: &'static str,
    /// Its type.
    pub kind: SettingKind,
    /// Its value when not set.
    pub default: &'static str,
    /// One line for `--help` and docs.
    pub help: &'static str,
}

const DURABILITY: SettingSpec = SettingSpec {
    key: "durability",
    kind: SettingKind::Choice(&["synced", "buffered"]),
    default: "synced",
    help: "fsync each write before acknowledging it (synced) or not (buffered: a crash loses it)",
};

const REPLICATION: SettingSpec = SettingSpec {
    key: "replication",
    kind: SettingKind::Choice(&["async", "semi-sync", "sync"]),
    default: "async",
    help: "followers that must acknowledge a write first: none, `acks` of them, or all",
};

const ACKS: SettingSpec = SettingSpec {
    key: "acks",
    kind: SettingKind::Count { min: 1, max: 999 },
    default: "1",
    help: "acknowledgements semi-sync waits for (at most nodes - 1)",
};

const READS: SettingSpec = SettingSpec {
    key: "reads",
    kind: SettingKind::Choice(&["leader", "any"]),
    default: "leader",
    help: "who answers reads: the leader only, or any replica from its own copy",
};

const FENCING: SettingSpec = SettingSpec {
    key: "fencing",
    kind: SettingKind::Choice(&["on", "off"]),
    default: "on",
    help: "reject stale epochs and step down on newer ones (off: split brain is possible)",
};

const SHIP_INTERVAL: SettingSpec = SettingSpec {
    key: "ship-interval",
    kind: SettingKind::Millis {
        min: 0,
        max: 60_000,
    },
    default: "10",
    help: "replication=async: ms between the leader's batches of new log entries to followers; a leader that crashes loses what it acknowledged since the last batch (0: each write ships at once, so no acknowledged write is only on the leader)",
};

const CONFLICT: SettingSpec = SettingSpec {
    key: "conflict",
    kind: SettingKind::Choice(&["lww", "siblings", "crdt"]),
    default: "lww",
    help: "concurrent updates of a key: last writer wins by hybrid logical clock; siblings (registers keep concurrent writes by version vector and reads return them all); or merged as CRDTs (counters: PN-counter, sets: OR-set, registers: LWW-register; choose with crdt=)",
};

const CRDT: SettingSpec = SettingSpec {
    key: "crdt",
    kind: SettingKind::Choice(&[
        "auto",
        "g-counter",
        "pn-counter",
        "or-set",
        "lww-register",
        "mv-register",
    ]),
    default: "auto",
    help: "with conflict=crdt, the CRDT each key holds; it must fit the workload (counter: g-counter, which refuses decrements, or pn-counter; set: or-set; kv: lww-register or mv-register, which keeps siblings); auto picks pn-counter, or-set or lww-register",
};

const REPLICAS: SettingSpec = SettingSpec {
    key: "n",
    kind: SettingKind::Count { min: 1, max: 999 },
    default: "3",
    help: "home replicas per key on the hash ring (N, at most the number of nodes)",
};

const WRITE_QUORUM: SettingSpec = SettingSpec {
    key: "w",
    kind: SettingKind::Count { min: 1, max: 999 },
    default: "2",
    help: "replicas that must acknowledge a write (W, at most N)",
};

const READ_QUORUM: SettingSpec = SettingSpec {
    key: "r",
    kind: SettingKind::Count { min: 1, max: 999 },
    default: "2",
    help: "replicas whose answers a read waits for (R, at most N; W + R > N overlaps)",
};

const VERSIONS: SettingSpec = SettingSpec {
    key: "versions",
    kind: SettingKind::Choice(&["timestamp", "vector-clock"]),
    default: "timestamp",
    help: "order versions by hybrid clock (last writer wins) or by vector clock (concurrent writes kept as siblings, reads return them all, a write first reads a quorum and supersedes what it read)",
};

const SLOPPY_QUORUM: SettingSpec = SettingSpec {
    key: "sloppy",
    kind: SettingKind::Choice(&["on", "off"]),
    default: "off",
    help: "borrow fallback nodes for silent home replicas, with hinted handoff",
};

const READ_REPAIR: SettingSpec = SettingSpec {
    key: "read-repair",
    kind: SettingKind::Choice(&["on", "off"]),
    default: "on",
    help: "send the merged versions to replicas that answered a read with older ones",
};

const ANTI_ENTROPY: SettingSpec = SettingSpec {
    key: "anti-entropy",
    kind: SettingKind::Choice(&["on", "off"]),
    default: "on",
    help: "compare Merkle trees with a peer each round and exchange differing ranges",
};

const ANTI_ENTROPY_INTERVAL: SettingSpec = SettingSpec {
    key: "anti-entropy-interval",
    kind: SettingKind::Millis {
        min: 1,
        max: 60_000,
    },
    default: "200",
    help: "ms between anti-entropy rounds",
};

const FALLBACK_AFTER: SettingSpec = SettingSpec {
    key: "fallback-after",
    kind: SettingKind::Millis {
        min: 1,
        max: 60_000,
    },
    default: "100",
    help: "ms a home replica may stay silent before a sloppy quorum borrows a fallback",
};

const REQUEST_TIMEOUT: SettingSpec = SettingSpec {
    key: "request-timeout",
    kind: SettingKind::Millis {
        min: 1,
        max: 60_000,
    },
    default: "300",
    help: "ms a coordinator waits for its quorum (then: unavailable, or indeterminate for writes)",
};

const RAFT_READS: SettingSpec = SettingSpec {
    key: "reads",
    kind: SettingKind::Choice(&["read-index", "lease", "local"]),
    default: "read-index",
    help: "how reads are served: the leader confirms it still leads with a majority (read-index), answers at once while its lease holds (lease), or any node answers from its own state (local)",
};

const LEASE: SettingSpec = SettingSpec {
    key: "lease",
    kind: SettingKind::Count { min: 1, max: 1000 },
    default: "900",
    help: "reads=lease: the lease as per mille of the election timeout (the rest is the margin for clock drift)",
};

const VOTERS: SettingSpec = SettingSpec {
    key: "voters",
    kind: SettingKind::Count { min: 0, max: 64 },
    default: "0",
    help: "nodes that vote at the start, the first N ids; the rest follow the log as learners (0: every node)",
};

const ROTATE_EVERY: SettingSpec = SettingSpec {
    key: "rotate-every",
    kind: SettingKind::Millis {
        min: 0,
        max: 60_000,
    },
    default: "0",
    help: "ms between single-server membership changes while the workload runs: the leader adds the next learner, then removes the oldest voter, and again (0: fixed membership; needs voters below the node count)",
};

const SNAPSHOT_EVERY: SettingSpec = SettingSpec {
    key: "snapshot-every",
    kind: SettingKind::Count {
        min: 0,
        max: 1_000_000,
    },
    default: "64",
    help: "log entries applied between snapshots: each node then drops its log up to the snapshot, and a leader sends it to a follower that needs entries it dropped (0: never compact)",
};

const ELECTION_TIMEOUT: SettingSpec = SettingSpec {
    key: "election-timeout",
    kind: SettingKind::Millis {
        min: 1,
        max: 60_000,
    },
    default: "300",
    help: "ms without a leader before a follower stands for election (randomised up to 2x)",
};

/// `heartbeat` means something a little different in each protocol; one spec each, so
/// `--help` says what it does there. Same key, same range, same default.
const fn heartbeat(help: &'static str) -> SettingSpec {
    SettingSpec {
        key: "heartbeat",
        kind: SettingKind::Millis {
            min: 1,
            max: 60_000,
        },
        default: "50",
        help,
    }
}

const PRIMARY_HEARTBEAT: SettingSpec = heartbeat(
    "ms between the primary's rounds: it resends what each follower has not acknowledged (an empty round is the heartbeat)",
);

const LEADER_HEARTBEAT: SettingSpec = heartbeat(
    "ms between the leader's heartbeats, each carrying what a follower has not acknowledged; followers that miss them for election-timeout elect a new leader",
);

const MULTI_LEADER_HEARTBEAT: SettingSpec =
    heartbeat("ms between each node's resends of its writes that a peer has not acknowledged");

const RAFT_HEARTBEAT: SettingSpec = heartbeat(
    "ms between the leader's AppendEntries heartbeats (also what read-index confirmations ride on)",
);

impl SettingSpec {
    fn check(&self, value: &str) -> Result<(), LabError> {
        let bad = |expected: String| LabError::BadSettingValue {
            key: self.key.to_string(),
            value: value.to_string(),
            expected,
        };
        match self.kind {
            SettingKind::Choice(words) => {
                if words.contains(&value) {
                    Ok(())
                } else {
                    Err(bad(format!("one of {}", words.join(", "))))
                }
            }
            SettingKind::Millis { min, max } => match value.parse::<u64>() {
                Ok(ms) if (min..=max).contains(&ms) => Ok(()),
                _ => Err(bad(format!("whole milliseconds from {min} to {max}"))),
            },
            SettingKind::Count { min, max } => match value.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(()),
                _ => Err(bad(format!("a whole number from {min} to {max}"))),
            },
        }
    }
}

/// Validated `--set` values of one protocol (unset keys take their defaults).
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Settings(BTreeMap<String, String>);

impl Settings {
    /// Parse and check `key=value` pairs against `protocol`'s settings.
    pub fn parse<S: AsRef<str>>(protocol: Protocol, pairs: &[S]) -> Result<Self, LabError> {
        let mut map = BTreeMap::new();
        for pair in pairs {
            let pair = pair.as_ref();
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| LabError::MalformedSet(pair.to_string()))?;
            map.insert(key.trim().to_string(), value.trim().to_string());
        }
        Settings::from_map(protocol, map)
    }

    /// Check an already-split map (for example, read from an artifact).
    pub fn from_map(protocol: Protocol, map: BTreeMap<String, String>) -> Result<Self, LabError> {
        let settings = Settings(map);
        settings.check(protocol)?;
        Ok(settings)
    }

    /// Check every key and value against `protocol`'s settings.
    pub fn check(&self, protocol: Protocol) -> Result<(), LabError> {
        for (key, value) in &self.0 {
            let spec = protocol
                .settings()
                .iter()
                .find(|s| s.key == key)
                .ok_or_else(|| LabError::UnknownSetting {
                    protocol: protocol.name(),
                    key: key.clone(),
                    known: protocol
                        .settings()
                        .iter()
                        .map(|s| s.key)
                        .collect::<Vec<_>>()
                        .join(", "),
                })?;
            spec.check(value)?;
        }
        Ok(())
    }

    /// The value of `spec`'s key, or its default.
    fn get(&self, spec: &SettingSpec) -> &str {
        self.0
            .get(spec.key)
            .map(String::as_str)
            .unwrap_or(spec.default)
    }

    fn durability(&self) -> Durability {
        match self.get(&DURABILITY) {
            "buffered" => Durability::Buffered,
            _ => Durability::Synced,
        }
    }

    fn millis(&self, spec: &SettingSpec) -> Duration {
        Duration::from_millis(self.get(spec).parse().unwrap_or(0))
    }

    fn count(&self, spec: &SettingSpec) -> u64 {
        self.get(spec).parse().unwrap_or(0)
    }

    /// Check settings that depend on the cluster size.
    pub fn check_for_cluster(&self, protocol: Protocol, nodes: usize) -> Result<(), LabError> {
        if protocol == Protocol::LeaderFollower && self.get(&REPLICATION) == "semi-sync" {
            let acks = self.count(&ACKS);
            if acks as usize >= nodes {
                return Err(LabError::BadSettingValue {
                    key: "acks".into(),
                    value: acks.to_string(),
                    expected: format!(
                        "at most {} (nodes - 1) for {nodes} nodes",
                        nodes.saturating_sub(1)
                    ),
                });
            }
        }
        if protocol == Protocol::Raft {
            let voters = self.count(&VOTERS) as usize;
            let bad = |key: &str, value: String, expected: String| {
                Err(LabError::BadSettingValue {
                    key: key.into(),
                    value,
                    expected,
                })
            };
            if voters > nodes {
                return bad(
                    VOTERS.key,
                    voters.to_string(),
                    format!("at most {nodes} (the number of nodes)"),
                );
            }
            let rotating = !self.millis(&ROTATE_EVERY).is_zero();
            if rotating && !(1..nodes).contains(&voters) {
                return bad(
                    VOTERS.key,
                    voters.to_string(),
                    format!(
                        "from 1 to {} with rotate-every: a membership change needs a node outside the voters",
                        nodes.saturating_sub(1)
                    ),
                );
            }
            if rotating && nodes > 64 {
                return bad(
                    ROTATE_EVERY.key,
                    self.get(&ROTATE_EVERY).to_string(),
                    format!("0 for {nodes} nodes: membership changes support at most 64 nodes"),
                );
            }
        }
        if protocol == Protocol::Leaderless {
            let n = self.count(&REPLICAS);
            if n as usize > nodes {
                return Err(LabError::BadSettingValue {
                    key: "n".into(),
                    value: n.to_string(),
                    expected: format!("at most {nodes} (the number of nodes)"),
                });
            }
            for spec in [&WRITE_QUORUM, &READ_QUORUM] {
                let q = self.count(spec);
                if q > n {
                    return Err(LabError::BadSettingValue {
                        key: spec.key.into(),
                        value: q.to_string(),
                        expected: format!("at most n = {n}: a quorum is a subset of the replicas"),
                    });
                }
            }
        }
        Ok(())
    }

    /// Check settings that depend on the workload: a `multi-leader` CRDT must fit what
    /// the keys hold, and is chosen only with `conflict=crdt`.
    pub fn check_for_workload(
        &self,
        protocol: Protocol,
        workload: WorkloadKind,
    ) -> Result<(), LabError> {
        if protocol != Protocol::MultiLeader {
            return Ok(());
        }
        let crdt = self.get(&CRDT);
        let bad = |expected: String| {
            Err(LabError::BadSettingValue {
                key: CRDT.key.into(),
                value: crdt.into(),
                expected,
            })
        };
        if crdt != "auto" && self.get(&CONFLICT) != "crdt" {
            return bad(
                "auto unless conflict=crdt (it chooses the CRDT that resolves conflicts)".into(),
            );
        }
        let fits: &[&str] = match workload {
            WorkloadKind::Kv => &["auto", "lww-register", "mv-register"],
            WorkloadKind::Counter => &["auto", "g-counter", "pn-counter"],
            WorkloadKind::Set => &["auto", "or-set"],
        };
        if !fits.contains(&crdt) {
            return bad(format!(
                "one of {} for the {} workload",
                fits.join(", "),
                workload.name()
            ));
        }
        Ok(())
    }

    /// Whether register reads return every sibling (a list) rather than one value:
    /// `multi-leader` with `conflict=siblings` (or `crdt=mv-register`), `leaderless` with
    /// `versions=vector-clock`.
    pub fn reads_siblings(&self, protocol: Protocol) -> bool {
        match protocol {
            Protocol::MultiLeader => {
                self.get(&CONFLICT) == "siblings" || self.get(&CRDT) == "mv-register"
            }
            Protocol::Leaderless => self.get(&VERSIONS) == "vector-clock",
            _ => false,
        }
    }

    /// Every setting with its effective value, defaults included.
    pub fn effective(&self, protocol: Protocol) -> BTreeMap<String, String> {
        protocol
            .settings()
            .iter()
            .map(|s| (s.key.to_string(), self.get(s).to_string()))
            .collect()
    }
}

/// Run `protocol` with `settings` in a world built from `sim`, following `script` if given.
pub fn run(
    protocol: Protocol,
    settings: &Settings,
    sim: SimConfig,
    script: Option<Vec<TimedFault>>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunOutcome, ConfigError> {
    match protocol {
        Protocol::Single => {
            let config = SingleConfig {
                durability: settings.durability(),
                ..SingleConfig::default()
            };
            world::<SingleNode>(sim, config, script).map(|w| w.run_with_progress(progress))
        }
        Protocol::PrimaryAsync => {
            let config = PrimaryAsyncConfig {
                durability: settings.durability(),
                heartbeat: settings.millis(&PRIMARY_HEARTBEAT),
                ..PrimaryAsyncConfig::default()
            };
            world::<PrimaryAsyncNode>(sim, config, script).map(|w| w.run_with_progress(progress))
        }
        Protocol::LeaderFollower => {
            let replication = match settings.get(&REPLICATION) {
                "sync" => Replication::Sync,
                "semi-sync" => Replication::SemiSync {
                    acks: settings.count(&ACKS) as usize,
                },
                _ => Replication::Async,
            };
            let config = LeaderFollowerConfig {
                replication,
                reads_from_any: settings.get(&READS) == "any",
                fencing: settings.get(&FENCING) == "on",
                heartbeat: settings.millis(&LEADER_HEARTBEAT),
                election_timeout: settings.millis(&ELECTION_TIMEOUT),
                ship_interval: settings.millis(&SHIP_INTERVAL),
            };
            world::<LeaderFollowerNode>(sim, config, script).map(|w| w.run_with_progress(progress))
        }
        Protocol::MultiLeader => {
            let config = MultiLeaderConfig {
                heartbeat: settings.millis(&MULTI_LEADER_HEARTBEAT),
                conflict: match (settings.get(&CONFLICT), settings.get(&CRDT)) {
                    // The multi-value register is what `siblings` keeps.
                    ("siblings", _) | (_, "mv-register") => Conflict::Siblings,
                    ("crdt", _) => Conflict::Crdt,
                    _ => Conflict::Lww,
                },
                data: match sim.workload.kind {
                    WorkloadKind::Kv => DataKind::Register,
                    WorkloadKind::Counter if settings.get(&CRDT) == "g-counter" => {
                        DataKind::GrowOnlyCounter
                    }
                    WorkloadKind::Counter => DataKind::Counter,
                    WorkloadKind::Set => DataKind::Set,
                },
            };
            world::<MultiLeaderNode>(sim, config, script).map(|w| w.run_with_progress(progress))
        }
        Protocol::Raft => {
            let config = RaftConfig {
                reads: match settings.get(&RAFT_READS) {
                    "lease" => ReadPath::Lease,
                    "local" => ReadPath::Local,
                    _ => ReadPath::ReadIndex,
                },
                heartbeat: settings.millis(&RAFT_HEARTBEAT),
                election_timeout: settings.millis(&ELECTION_TIMEOUT),
                lease_permille: settings.count(&LEASE),
                voters: settings.count(&VOTERS) as usize,
                rotate_every: Some(settings.millis(&ROTATE_EVERY)).filter(|d| !d.is_zero()),
                snapshot_every: settings.count(&SNAPSHOT_EVERY),
            };
            world::<RaftNode>(sim, config, script).map(|w| w.run_with_progress(progress))
        }
        Protocol::Leaderless => {
            let on = |spec: &SettingSpec| settings.get(spec) == "on";
            let config = LeaderlessConfig {
                replicas: settings.count(&REPLICAS) as usize,
                write_quorum: settings.count(&WRITE_QUORUM) as usize,
                read_quorum: settings.count(&READ_QUORUM) as usize,
                versions: match settings.get(&VERSIONS) {
                    "vector-clock" => VersionMode::VectorClock,
                    _ => VersionMode::Timestamp,
                },
                sloppy_quorum: on(&SLOPPY_QUORUM),
                read_repair: on(&READ_REPAIR),
                anti_entropy: on(&ANTI_ENTROPY),
                anti_entropy_interval: settings.millis(&ANTI_ENTROPY_INTERVAL),
                fallback_after: settings.millis(&FALLBACK_AFTER),
                request_timeout: settings.millis(&REQUEST_TIMEOUT),
                ..LeaderlessConfig::default()
            };
            world::<LeaderlessNode>(sim, config, script).map(|w| w.run_with_progress(progress))
        }
    }
}

fn world<N: dsys_node::Node>(
    sim: SimConfig,
    config: N::Config,
    script: Option<Vec<TimedFault>>,
) -> Result<World<N>, ConfigError> {
    match script {
        Some(script) => World::with_script(sim, config, script),
        None => World::new(sim, config),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_protocol_lists_the_catalog() {
        let err = "raft2".parse::<Protocol>().unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown protocol `raft2` (known: single, primary-async, leader-follower, multi-leader, leaderless, raft)"
        );
    }

    #[test]
    fn settings_are_checked_by_key_and_type() {
        let err = |pairs: &[&str]| {
            Settings::parse(Protocol::PrimaryAsync, pairs)
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err(&["fencing=on"]),
            "protocol `primary-async` has no setting `fencing` (settings: durability, heartbeat)"
        );
        assert_eq!(
            err(&["heartbeat=fast"]),
            "--set heartbeat=fast: expected whole milliseconds from 1 to 60000"
        );
        assert_eq!(
            err(&["heartbeat=0"]),
            "--set heartbeat=0: expected whole milliseconds from 1 to 60000"
        );
        assert_eq!(
            err(&["durability=maybe"]),
            "--set durability=maybe: expected one of synced, buffered"
        );
        assert_eq!(
            err(&["durability"]),
            "--set `durability`: expected key=value"
        );
        assert!(Settings::parse(Protocol::Single, &["heartbeat=5"]).is_err());
        let ok = Settings::parse(Protocol::PrimaryAsync, &["heartbeat=20"]).unwrap();
        assert_eq!(ok.effective(Protocol::PrimaryAsync)["heartbeat"], "20");
        assert_eq!(ok.effective(Protocol::PrimaryAsync)["durability"], "synced");
    }
}

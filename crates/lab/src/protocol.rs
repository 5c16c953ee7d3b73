//! The protocol catalog: names, the `--set` pairs as given, and the typed config they
//! make. Each protocol's keys, defaults, help and checks live beside its code, in
//! [`dsys_protocols::catalog`]; this module only picks the protocol.

use crate::error::LabError;
use dsys_protocols::multi_leader::DataKind;
use dsys_protocols::{
    Configurable, LeaderFollowerConfig, LeaderFollowerNode, LeaderlessConfig, LeaderlessNode,
    MultiLeaderConfig, MultiLeaderNode, PrimaryAsyncConfig, PrimaryAsyncNode, RaftConfig, RaftNode,
    SettingError, SettingSpec, SingleConfig, SingleNode,
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
            Protocol::Single => SingleConfig::PROTOCOL,
            Protocol::PrimaryAsync => PrimaryAsyncConfig::PROTOCOL,
            Protocol::LeaderFollower => LeaderFollowerConfig::PROTOCOL,
            Protocol::MultiLeader => MultiLeaderConfig::PROTOCOL,
            Protocol::Leaderless => LeaderlessConfig::PROTOCOL,
            Protocol::Raft => RaftConfig::PROTOCOL,
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

    /// The `--set` keys the protocol accepts, from its config.
    pub fn settings(self) -> &'static [SettingSpec] {
        match self {
            Protocol::Single => SingleConfig::SETTINGS,
            Protocol::PrimaryAsync => PrimaryAsyncConfig::SETTINGS,
            Protocol::LeaderFollower => LeaderFollowerConfig::SETTINGS,
            Protocol::MultiLeader => MultiLeaderConfig::SETTINGS,
            Protocol::Leaderless => LeaderlessConfig::SETTINGS,
            Protocol::Raft => RaftConfig::SETTINGS,
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

/// A protocol's typed config, made from its `--set` pairs.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum ProtocolConfig {
    /// `single`.
    Single(SingleConfig),
    /// `primary-async`.
    PrimaryAsync(PrimaryAsyncConfig),
    /// `leader-follower`.
    LeaderFollower(LeaderFollowerConfig),
    /// `multi-leader` (what its keys hold set from the workload).
    MultiLeader(MultiLeaderConfig),
    /// `leaderless`.
    Leaderless(LeaderlessConfig),
    /// `raft`.
    Raft(RaftConfig),
}

impl ProtocolConfig {
    /// Whether register reads return every sibling (a list) rather than one value:
    /// `multi-leader` with `conflict=siblings` (or `crdt=mv-register`), `leaderless` with
    /// `versions=vector-clock`.
    pub fn reads_siblings(&self) -> bool {
        match self {
            ProtocolConfig::MultiLeader(c) => c.reads_siblings(),
            ProtocolConfig::Leaderless(c) => c.reads_siblings(),
            _ => false,
        }
    }
}

/// The `--set` pairs of one protocol as given (unset keys take their defaults); what
/// artifacts store and grid labels show. [`Settings::config`] makes the typed config.
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
                .ok_or_else(|| SettingError::Malformed(pair.to_string()))?;
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

    /// Check every key and value against `protocol`'s settings, and the combinations
    /// that need no cluster.
    pub fn check(&self, protocol: Protocol) -> Result<(), LabError> {
        self.typed(protocol).map(|_| ())
    }

    fn pairs(&self) -> Vec<(String, String)> {
        self.0.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    fn typed(&self, protocol: Protocol) -> Result<ProtocolConfig, LabError> {
        let pairs = self.pairs();
        Ok(match protocol {
            Protocol::Single => ProtocolConfig::Single(SingleConfig::configured(&pairs)?),
            Protocol::PrimaryAsync => {
                ProtocolConfig::PrimaryAsync(PrimaryAsyncConfig::configured(&pairs)?)
            }
            Protocol::LeaderFollower => {
                ProtocolConfig::LeaderFollower(LeaderFollowerConfig::configured(&pairs)?)
            }
            Protocol::MultiLeader => {
                ProtocolConfig::MultiLeader(MultiLeaderConfig::configured(&pairs)?)
            }
            Protocol::Leaderless => {
                ProtocolConfig::Leaderless(LeaderlessConfig::configured(&pairs)?)
            }
            Protocol::Raft => ProtocolConfig::Raft(RaftConfig::configured(&pairs)?),
        })
    }

    /// The typed config for a cluster of `nodes` running `workload`: every check that
    /// needs the cluster or the workload made.
    pub fn config(
        &self,
        protocol: Protocol,
        nodes: usize,
        workload: WorkloadKind,
    ) -> Result<ProtocolConfig, LabError> {
        let mut config = self.typed(protocol)?;
        match &mut config {
            ProtocolConfig::Single(c) => c.check(nodes)?,
            ProtocolConfig::PrimaryAsync(c) => c.check(nodes)?,
            ProtocolConfig::LeaderFollower(c) => c.check(nodes)?,
            ProtocolConfig::Leaderless(c) => c.check(nodes)?,
            ProtocolConfig::Raft(c) => c.check(nodes)?,
            ProtocolConfig::MultiLeader(c) => {
                c.check(nodes)?;
                c.hold(match workload {
                    WorkloadKind::Kv => DataKind::Register,
                    WorkloadKind::Counter => DataKind::Counter,
                    WorkloadKind::Set => DataKind::Set,
                })?;
            }
        }
        Ok(config)
    }

    /// Every setting with its effective value, defaults included.
    pub fn effective(&self, protocol: Protocol) -> BTreeMap<String, String> {
        protocol
            .settings()
            .iter()
            .map(|s| {
                let value = self.0.get(s.key).map_or(s.default, String::as_str);
                (s.key.to_string(), value.to_string())
            })
            .collect()
    }
}

/// Run `config` in a world built from `sim`, following `script` if given.
pub fn run(
    config: ProtocolConfig,
    sim: SimConfig,
    script: Option<Vec<TimedFault>>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunOutcome, ConfigError> {
    match config {
        ProtocolConfig::Single(c) => world::<SingleNode>(sim, c, script, progress),
        ProtocolConfig::PrimaryAsync(c) => world::<PrimaryAsyncNode>(sim, c, script, progress),
        ProtocolConfig::LeaderFollower(c) => world::<LeaderFollowerNode>(sim, c, script, progress),
        ProtocolConfig::MultiLeader(c) => world::<MultiLeaderNode>(sim, c, script, progress),
        ProtocolConfig::Leaderless(c) => world::<LeaderlessNode>(sim, c, script, progress),
        ProtocolConfig::Raft(c) => world::<RaftNode>(sim, c, script, progress),
    }
}

fn world<N: dsys_node::Node>(
    sim: SimConfig,
    config: N::Config,
    script: Option<Vec<TimedFault>>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<RunOutcome, ConfigError> {
    let world = match script {
        Some(script) => World::<N>::with_script(sim, config, script)?,
        None => World::<N>::new(sim, config)?,
    };
    Ok(world.run_with_progress(progress))
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

    #[test]
    fn the_typed_config_carries_what_was_set() {
        let settings = Settings::parse(
            Protocol::LeaderFollower,
            &["replication=semi-sync", "acks=2"],
        )
        .unwrap();
        let config = settings
            .config(Protocol::LeaderFollower, 5, WorkloadKind::Kv)
            .unwrap();
        let ProtocolConfig::LeaderFollower(c) = config else {
            panic!("{config:?}")
        };
        assert_eq!(
            c.replication,
            dsys_protocols::Replication::SemiSync { acks: 2 }
        );
        assert!(
            settings
                .config(Protocol::LeaderFollower, 2, WorkloadKind::Kv)
                .is_err()
        );
    }
}

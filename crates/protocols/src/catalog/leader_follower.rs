//! `leader-follower`.

use super::{
    Configurable, ELECTION_TIMEOUT, SettingError, SettingKind, SettingSpec, SettingValue,
    heartbeat, refuse,
};
use crate::{LeaderFollowerConfig, Replication};

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

const LEADER_HEARTBEAT: SettingSpec = heartbeat(
    "ms between the leader's heartbeats, each carrying what a follower has not acknowledged; followers that miss them for election-timeout elect a new leader",
);

impl Configurable for LeaderFollowerConfig {
    const PROTOCOL: &'static str = "leader-follower";
    const SETTINGS: &'static [SettingSpec] = &[
        REPLICATION,
        ACKS,
        READS,
        FENCING,
        SHIP_INTERVAL,
        LEADER_HEARTBEAT,
        ELECTION_TIMEOUT,
    ];

    fn set(&mut self, key: &'static str, value: SettingValue<'_>) -> Result<(), SettingError> {
        match key {
            "replication" => {
                self.replication = match value.word() {
                    "sync" => Replication::Sync,
                    // `acks` (applied next) refines it; one by default.
                    "semi-sync" => Replication::SemiSync { acks: 1 },
                    _ => Replication::Async,
                }
            }
            "acks" => {
                if let Replication::SemiSync { acks } = &mut self.replication {
                    *acks = value.count() as usize;
                }
            }
            "reads" => self.reads_from_any = value.word() == "any",
            "fencing" => self.fencing = value.on(),
            "ship-interval" => self.ship_interval = value.millis(),
            "heartbeat" => self.heartbeat = value.millis(),
            "election-timeout" => self.election_timeout = value.millis(),
            _ => {}
        }
        Ok(())
    }

    fn check(&self, nodes: usize) -> Result<(), SettingError> {
        match self.replication {
            Replication::SemiSync { acks } if acks >= nodes => Err(refuse(
                ACKS.key,
                acks,
                format!(
                    "at most {} (nodes - 1) for {nodes} nodes",
                    nodes.saturating_sub(1)
                ),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::defaults_agree;
    use super::*;

    #[test]
    fn declared_defaults_are_the_defaults() {
        defaults_agree::<LeaderFollowerConfig>();
    }

    #[test]
    fn acks_refine_semi_sync_whatever_order_they_are_given_in() {
        let pairs = |p: &[(&str, &str)]| -> Vec<(String, String)> {
            p.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let c = LeaderFollowerConfig::configured(&pairs(&[
            ("acks", "2"),
            ("replication", "semi-sync"),
        ]))
        .unwrap();
        assert_eq!(c.replication, Replication::SemiSync { acks: 2 });
        assert!(c.check(3).is_ok());
        assert_eq!(
            c.check(2).unwrap_err().to_string(),
            "--set acks=2: expected at most 1 (nodes - 1) for 2 nodes"
        );
    }
}

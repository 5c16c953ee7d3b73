//! `raft`.

use super::{
    Configurable, ELECTION_TIMEOUT, SettingError, SettingKind, SettingSpec, SettingValue,
    durability, durability_setting, heartbeat, refuse,
};
use crate::{RaftConfig, ReadPath};
use dsys_node::AfterFailedWrite;

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

const RAFT_HEARTBEAT: SettingSpec = heartbeat(
    "ms between the leader's AppendEntries heartbeats (also what read-index confirmations ride on)",
);

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

const PREFER_FIRST: SettingSpec = SettingSpec {
    key: "prefer-first",
    kind: SettingKind::Choice(&["off", "on"]),
    default: "off",
    help: "node 0 leads whenever it can: another leader hands over to it (TimeoutNow) once it holds the whole log, as a leader preference does; a leader placed where a design puts it",
};

const RAFT_DURABILITY: SettingSpec = durability_setting(
    "log entries fsynced before the node acknowledges them (synced, as Raft requires) or acknowledged first and written to the OS buffer (buffered: a power loss forgets what a majority acknowledged)",
);

const FSYNC_ERROR: SettingSpec = SettingSpec {
    key: "fsync-error",
    kind: SettingKind::Choice(&["crash", "continue"]),
    default: "crash",
    help: "what a failed fsync or a full disk does: stop the node, which recovers from its log (crash), or carry on as if the write had succeeded (continue: PostgreSQL's behaviour before 2018)",
};

/// Membership changes track voters in a 64-bit set.
const MAX_ROTATING_NODES: usize = 64;

impl Configurable for RaftConfig {
    const PROTOCOL: &'static str = "raft";
    const SETTINGS: &'static [SettingSpec] = &[
        RAFT_READS,
        LEASE,
        RAFT_HEARTBEAT,
        ELECTION_TIMEOUT,
        VOTERS,
        ROTATE_EVERY,
        SNAPSHOT_EVERY,
        PREFER_FIRST,
        RAFT_DURABILITY,
        FSYNC_ERROR,
    ];

    fn set(&mut self, key: &'static str, value: SettingValue<'_>) -> Result<(), SettingError> {
        match key {
            "reads" => {
                self.reads = match value.word() {
                    "lease" => ReadPath::Lease,
                    "local" => ReadPath::Local,
                    _ => ReadPath::ReadIndex,
                }
            }
            "lease" => self.lease_permille = value.count(),
            "heartbeat" => self.heartbeat = value.millis(),
            "election-timeout" => self.election_timeout = value.millis(),
            "voters" => self.voters = value.count() as usize,
            "rotate-every" => self.rotate_every = Some(value.millis()).filter(|d| !d.is_zero()),
            "snapshot-every" => self.snapshot_every = value.count(),
            "prefer-first" => self.prefer_first = value.word() == "on",
            "durability" => self.durability = durability(value),
            "fsync-error" => {
                self.on_failed_write = match value.word() {
                    "continue" => AfterFailedWrite::Continue,
                    _ => AfterFailedWrite::Crash,
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn check(&self, nodes: usize) -> Result<(), SettingError> {
        let voters = self.voters;
        if voters > nodes {
            return Err(refuse(
                VOTERS.key,
                voters,
                format!("at most {nodes} (the number of nodes)"),
            ));
        }
        let Some(every) = self.rotate_every else {
            return Ok(());
        };
        if !(1..nodes).contains(&voters) {
            return Err(refuse(
                VOTERS.key,
                voters,
                format!(
                    "from 1 to {} with rotate-every: a membership change needs a node outside the voters",
                    nodes.saturating_sub(1)
                ),
            ));
        }
        if nodes > MAX_ROTATING_NODES {
            return Err(refuse(
                ROTATE_EVERY.key,
                every.as_millis(),
                format!(
                    "0 for {nodes} nodes: membership changes support at most {MAX_ROTATING_NODES} nodes"
                ),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::defaults_agree;
    use super::*;

    #[test]
    fn declared_defaults_are_the_defaults() {
        defaults_agree::<RaftConfig>();
    }
}

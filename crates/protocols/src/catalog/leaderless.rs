//! `leaderless`: N, W, R and the machinery around them.

use super::{Configurable, SettingError, SettingKind, SettingSpec, SettingValue, refuse};
use crate::{LeaderlessConfig, VersionMode};

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

impl Configurable for LeaderlessConfig {
    const PROTOCOL: &'static str = "leaderless";
    const SETTINGS: &'static [SettingSpec] = &[
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
    ];

    fn set(&mut self, key: &'static str, value: SettingValue<'_>) -> Result<(), SettingError> {
        match key {
            "n" => self.replicas = value.count() as usize,
            "w" => self.write_quorum = value.count() as usize,
            "r" => self.read_quorum = value.count() as usize,
            "versions" => {
                self.versions = match value.word() {
                    "vector-clock" => VersionMode::VectorClock,
                    _ => VersionMode::Timestamp,
                }
            }
            "sloppy" => self.sloppy_quorum = value.on(),
            "read-repair" => self.read_repair = value.on(),
            "anti-entropy" => self.anti_entropy = value.on(),
            "anti-entropy-interval" => self.anti_entropy_interval = value.millis(),
            "fallback-after" => self.fallback_after = value.millis(),
            "request-timeout" => self.request_timeout = value.millis(),
            _ => {}
        }
        Ok(())
    }

    fn check(&self, nodes: usize) -> Result<(), SettingError> {
        let n = self.replicas;
        if n > nodes {
            return Err(refuse(
                REPLICAS.key,
                n,
                format!("at most {nodes} (the number of nodes)"),
            ));
        }
        for (spec, q) in [
            (WRITE_QUORUM, self.write_quorum),
            (READ_QUORUM, self.read_quorum),
        ] {
            if q > n {
                return Err(refuse(
                    spec.key,
                    q,
                    format!("at most n = {n}: a quorum is a subset of the replicas"),
                ));
            }
        }
        Ok(())
    }
}

impl LeaderlessConfig {
    /// Whether register reads return every sibling (a list) rather than one value.
    pub fn reads_siblings(&self) -> bool {
        self.versions == VersionMode::VectorClock
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::defaults_agree;
    use super::*;

    #[test]
    fn declared_defaults_are_the_defaults() {
        defaults_agree::<LeaderlessConfig>();
    }
}

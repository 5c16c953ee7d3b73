//! The full configuration of one simulated run.

use crate::nemesis::{NemesisSpec, NemesisTiming};
use crate::network::{LinkConfig, NetworkConfig};
use crate::workload::WorkloadConfig;
use dsys_node::NodeId;
use serde::{Deserialize, Serialize};

/// After the faults stop: how long to wait for replicas to converge, and how often to look.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConvergenceConfig {
    /// Give up after this long, ms.
    pub deadline_ms: f64,
    /// Compare replica digests this often, ms.
    pub probe_interval_ms: f64,
}

impl Default for ConvergenceConfig {
    fn default() -> Self {
        ConvergenceConfig {
            deadline_ms: 10_000.0,
            probe_interval_ms: 10.0,
        }
    }
}

/// Everything that determines a run, together with the protocol's own configuration.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// The root seed; every random stream is derived from it.
    pub seed: u64,
    /// Cluster size.
    pub nodes: usize,
    /// Links and regions.
    pub network: NetworkConfig,
    /// Which faults.
    pub nemesis: NemesisSpec,
    /// How long faults and quiet spells last.
    pub nemesis_timing: NemesisTiming,
    /// Clients and operations.
    pub workload: WorkloadConfig,
    /// The final heal phase.
    pub convergence: ConvergenceConfig,
    /// A run that processes more events than this stops and says so (a guard against a
    /// protocol that re-arms a zero-delay timer forever).
    pub max_events: u64,
    /// Run on after the protocol's monitor finds a broken invariant (it still reports the
    /// first), so the clients' checks see what the break led to. Off: the run stops there.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_going: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            nodes: 5,
            network: NetworkConfig::default(),
            nemesis: NemesisSpec::none(),
            nemesis_timing: NemesisTiming::default(),
            workload: WorkloadConfig::default(),
            convergence: ConvergenceConfig::default(),
            max_events: 500_000_000,
            keep_going: false,
        }
    }
}

/// The largest cluster the simulator accepts.
pub const MAX_NODES: usize = 1_000;

/// The most client operations one run takes: its history (two events an operation) stays
/// within a few GiB of memory (1,000,000 operations make a 209 MB history file).
pub const MAX_OPS: u64 = 10_000_000;

/// A configuration that cannot be run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A field is out of range.
    #[error("{field}: {reason}")]
    OutOfRange {
        /// The field, as a user would name it.
        field: &'static str,
        /// What is allowed.
        reason: String,
    },
    /// The nemesis needs a larger cluster.
    #[error("nemesis `{nemesis}` needs at least {needed} nodes, the cluster has {nodes}")]
    TooFewNodes {
        /// The spec.
        nemesis: String,
        /// Nodes it needs.
        needed: usize,
        /// Nodes configured.
        nodes: usize,
    },
}

fn out_of_range(field: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::OutOfRange {
        field,
        reason: reason.into(),
    }
}

fn check_probability(field: &'static str, p: f64) -> Result<(), ConfigError> {
    if (0.0..=1.0).contains(&p) {
        Ok(())
    } else {
        Err(out_of_range(
            field,
            format!("must be a probability in [0, 1], got {p}"),
        ))
    }
}

fn check_link(field: &'static str, link: &LinkConfig) -> Result<(), ConfigError> {
    check_probability(field, link.loss)?;
    check_probability(field, link.duplicate)
}

fn check_ms(field: &'static str, ms: f64, min: f64) -> Result<(), ConfigError> {
    if ms.is_finite() && ms >= min {
        Ok(())
    } else {
        Err(out_of_range(
            field,
            format!("must be a number of milliseconds >= {min}, got {ms}"),
        ))
    }
}

impl SimConfig {
    /// The node client `index` sits beside: it sends there first and shares that node's
    /// side of any partition.
    pub fn client_home(&self, index: usize) -> NodeId {
        let homes = &self.network.client_homes;
        if let Some(place) = homes.get(index % homes.len().max(1)) {
            return place.node;
        }
        NodeId((index % self.nodes.max(1)) as u32)
    }

    /// The node beside which `process` runs: a client that gives up continues as a new
    /// process, `process + clients` (Jepsen's convention), so process `p` is client
    /// `p mod clients`.
    pub fn process_home(&self, process: u64) -> NodeId {
        let clients = self.workload.clients.max(1) as u64;
        self.client_home((process % clients) as usize)
    }

    /// Check that the configuration can be run.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.nodes == 0 || self.nodes > MAX_NODES {
            return Err(out_of_range(
                "nodes",
                format!("must be between 1 and {MAX_NODES}, got {}", self.nodes),
            ));
        }
        let w = &self.workload;
        if w.clients == 0 || w.clients > 100_000 {
            return Err(out_of_range(
                "clients",
                format!("must be between 1 and 100000, got {}", w.clients),
            ));
        }
        if w.ops > MAX_OPS {
            return Err(out_of_range(
                "ops",
                format!("must be at most {MAX_OPS}, got {}", w.ops),
            ));
        }
        if w.keys == 0 {
            return Err(out_of_range("keys", "must be at least 1"));
        }
        if w.keys > 10_000_000 {
            return Err(out_of_range("keys", "must be at most 10000000"));
        }
        if u64::from(w.mix.read) + u64::from(w.mix.write) + u64::from(w.mix.cas) == 0 {
            return Err(out_of_range(
                "mix",
                "at least one of read, write, cas must have weight",
            ));
        }
        check_ms("timeout", w.timeout_ms, 0.001)?;
        check_ms("convergence deadline", self.convergence.deadline_ms, 0.0)?;
        check_ms(
            "convergence probe interval",
            self.convergence.probe_interval_ms,
            0.001,
        )?;
        let t = &self.nemesis_timing;
        for (field, v) in [
            ("quiet_min_ms", t.quiet_min_ms),
            ("quiet_max_ms", t.quiet_max_ms),
            ("fault_min_ms", t.fault_min_ms),
            ("fault_max_ms", t.fault_max_ms),
        ] {
            check_ms(field, v, 0.001)?;
        }
        if t.quiet_min_ms > t.quiet_max_ms || t.fault_min_ms > t.fault_max_ms {
            return Err(out_of_range(
                "nemesis_timing",
                "each minimum must not exceed its maximum",
            ));
        }
        let net = &self.network;
        check_link("link loss/duplicate", &net.default_link)?;
        for (i, place) in net.client_homes.iter().enumerate() {
            if place.node.index() >= self.nodes {
                return Err(out_of_range(
                    "network.client_homes",
                    format!(
                        "client home {i} names node {}, outside the {}-node cluster",
                        place.node, self.nodes
                    ),
                ));
            }
        }
        if let Some(regions) = &net.regions {
            check_link("inter-region link", &regions.inter_region)?;
            if regions.region_of.len() != self.nodes {
                return Err(out_of_range(
                    "regions",
                    format!(
                        "region_of lists {} nodes, the cluster has {}",
                        regions.region_of.len(),
                        self.nodes
                    ),
                ));
            }
        }
        for o in &net.links {
            check_link("link override", &o.link)?;
            if o.from.index() >= self.nodes || o.to.index() >= self.nodes {
                return Err(out_of_range(
                    "links",
                    format!("link {}->{} names a node outside the cluster", o.from, o.to),
                ));
            }
        }
        let needed = self.nemesis.min_nodes();
        if needed > self.nodes {
            return Err(ConfigError::TooFewNodes {
                nemesis: self.nemesis.to_string(),
                needed,
                nodes: self.nodes,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_is_valid() {
        SimConfig::default().validate().unwrap();
    }

    #[test]
    fn invalid_configs_name_the_field() {
        let mut c = SimConfig {
            nodes: 0,
            ..SimConfig::default()
        };
        assert!(c.validate().unwrap_err().to_string().starts_with("nodes:"));
        c.nodes = 3;
        c.nemesis = "majority-ring".parse().unwrap();
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .contains("needs at least 4 nodes")
        );
        c.nemesis = NemesisSpec::none();
        c.workload.timeout_ms = 0.0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .starts_with("timeout:")
        );
        c.workload.timeout_ms = f64::NAN;
        assert!(c.validate().is_err());
        c.workload.timeout_ms = 100.0;
        c.nemesis_timing.quiet_max_ms = c.nemesis_timing.quiet_min_ms - 1.0;
        assert!(
            c.validate()
                .unwrap_err()
                .to_string()
                .starts_with("nemesis_timing:")
        );
        c.nemesis_timing = NemesisTiming::default();
        c.workload.ops = MAX_OPS + 1;
        assert!(c.validate().unwrap_err().to_string().starts_with("ops:"));
        c.workload.ops = MAX_OPS;
        c.validate().unwrap();
    }
}

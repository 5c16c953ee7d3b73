//! Building a scenario step by step, the one way the CLI, the tests and the benches
//! describe a run: what is not said keeps the simulator's defaults, and everything is
//! checked once, at [`ScenarioBuilder::build`].

use crate::error::LabError;
use crate::protocol::{Protocol, Settings};
use crate::scenario::{RunResult, Scenario};
use dsys_sim::network::{LinkConfig, Regions};
use dsys_sim::workload::WorkloadConfig;
use dsys_sim::{ConfigError, LatencyDist, NemesisSpec, SimConfig, TimedFault};

/// A [`Scenario`] under construction; see [`Scenario::builder`].
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    protocol: Protocol,
    pairs: Vec<String>,
    sim: SimConfig,
    nemesis: Option<String>,
    regions: Option<(usize, LatencyDist)>,
    schedule: Option<Vec<TimedFault>>,
}

impl Scenario {
    /// Start describing a run of `protocol` on the simulator's defaults (five nodes, 1 ms
    /// links, 1,000 operations on 8 keys, no faults, seed 0).
    pub fn builder(protocol: Protocol) -> ScenarioBuilder {
        ScenarioBuilder {
            protocol,
            pairs: Vec::new(),
            sim: SimConfig::default(),
            nemesis: None,
            regions: None,
            schedule: None,
        }
    }
}

impl ScenarioBuilder {
    /// Protocol settings, `key=value` each (as `--set` takes them).
    pub fn set<S: AsRef<str>>(mut self, pairs: &[S]) -> Self {
        self.pairs
            .extend(pairs.iter().map(|p| p.as_ref().to_string()));
        self
    }

    /// The root seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.sim.seed = seed;
        self
    }

    /// The cluster size.
    pub fn nodes(mut self, nodes: usize) -> Self {
        self.sim.nodes = nodes;
        self
    }

    /// Faults drawn from the seed, in the nemesis vocabulary (`halves+loss:0.05`).
    pub fn nemesis(mut self, spec: &str) -> Self {
        self.nemesis = Some(spec.to_string());
        self
    }

    /// A fault timeline to follow instead of drawing faults.
    pub fn schedule(mut self, schedule: Vec<TimedFault>) -> Self {
        self.schedule = Some(schedule);
        self
    }

    /// Split the nodes into `regions` contiguous groups, `wan` apart.
    pub fn regions(mut self, regions: usize, wan: LatencyDist) -> Self {
        self.regions = Some((regions, wan));
        self
    }

    /// Change the workload (clients, operations, keys, mix, timeout...).
    pub fn workload(mut self, change: impl FnOnce(&mut WorkloadConfig)) -> Self {
        change(&mut self.sim.workload);
        self
    }

    /// Change anything else of the simulated world (links, timing, convergence...).
    pub fn sim(mut self, change: impl FnOnce(&mut SimConfig)) -> Self {
        change(&mut self.sim);
        self
    }

    /// The scenario, every part checked: settings against the protocol and the cluster,
    /// the nemesis spelling, regions against nodes, the world's ranges.
    pub fn build(self) -> Result<Scenario, LabError> {
        let mut sim = self.sim;
        if let Some(spec) = &self.nemesis {
            sim.nemesis = spec.parse::<NemesisSpec>().map_err(|e| {
                LabError::Config(ConfigError::OutOfRange {
                    field: "nemesis",
                    reason: e.to_string(),
                })
            })?;
        }
        if let Some((regions, wan)) = self.regions {
            if regions == 0 || regions > sim.nodes {
                return Err(LabError::Config(ConfigError::OutOfRange {
                    field: "regions",
                    reason: format!(
                        "{regions} regions for {} nodes: each region needs a node (from 1 to the number of nodes)",
                        sim.nodes
                    ),
                }));
            }
            let inter_region = LinkConfig {
                latency: wan,
                ..LinkConfig::default()
            };
            sim.network.regions =
                (regions > 1).then(|| Regions::contiguous(sim.nodes, regions, inter_region));
        }
        let scenario = Scenario {
            protocol: self.protocol,
            settings: Settings::parse(self.protocol, &self.pairs)?,
            sim,
            schedule: self.schedule,
        };
        scenario.validate()?;
        Ok(scenario)
    }

    /// Build and run it, with no progress reports.
    pub fn run(self) -> Result<RunResult, LabError> {
        self.build()?.run(&mut |_| {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_is_checked_at_build() {
        let err = |b: ScenarioBuilder| b.build().unwrap_err().to_string();
        assert!(
            err(Scenario::builder(Protocol::Raft).nemesis("halfs"))
                .contains("unknown fault `halfs`")
        );
        assert!(
            err(Scenario::builder(Protocol::Raft).regions(6, LatencyDist::Constant { ms: 40.0 }))
                .contains("6 regions for 5 nodes")
        );
        assert!(err(Scenario::builder(Protocol::Raft).set(&["w=2"])).contains("no setting `w`"));
        assert!(
            err(Scenario::builder(Protocol::LeaderFollower)
                .set(&["replication=semi-sync", "acks=3"])
                .nodes(3))
            .contains("at most 2 (nodes - 1)")
        );
        let s = Scenario::builder(Protocol::Raft)
            .seed(7)
            .nodes(6)
            .regions(2, LatencyDist::Constant { ms: 150.0 })
            .workload(|w| w.ops = 200)
            .nemesis("halves")
            .build()
            .unwrap();
        assert_eq!((s.sim.seed, s.sim.nodes, s.sim.workload.ops), (7, 6, 200));
        assert_eq!(s.sim.nemesis.to_string(), "halves");
        assert!(s.sim.network.regions.is_some());
    }
}

//! The network model: per-link latency, loss and duplication; partitions as blocked
//! directed links; network-wide faults injected by the nemesis.

use crate::dist::LatencyDist;
use dsys_node::{DetRng, NodeId};
use serde::{Deserialize, Serialize};

/// How one directed link behaves.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkConfig {
    /// One-way latency.
    pub latency: LatencyDist,
    /// Probability a message is lost.
    #[serde(default)]
    pub loss: f64,
    /// Probability a message is delivered twice (the copy with its own latency).
    #[serde(default)]
    pub duplicate: f64,
}

impl Default for LinkConfig {
    /// A same-zone link: 0.5–1.5 ms, reliable.
    fn default() -> Self {
        LinkConfig {
            latency: LatencyDist::Uniform { min: 0.5, max: 1.5 },
            loss: 0.0,
            duplicate: 0.0,
        }
    }
}

/// One link configured individually.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkOverride {
    /// Sender.
    pub from: NodeId,
    /// Receiver.
    pub to: NodeId,
    /// Its behaviour.
    pub link: LinkConfig,
}

/// Nodes grouped into regions, with one configuration for every inter-region link.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Regions {
    /// `region_of[i]` is node i's region.
    pub region_of: Vec<u32>,
    /// Links between nodes of different regions.
    pub inter_region: LinkConfig,
}

impl Regions {
    /// `nodes` split into `regions` contiguous groups of (nearly) equal size.
    pub fn contiguous(nodes: usize, regions: usize, inter_region: LinkConfig) -> Self {
        let regions = regions.clamp(1, nodes.max(1));
        let region_of = (0..nodes)
            .map(|i| (i * regions / nodes.max(1)) as u32)
            .collect();
        Regions {
            region_of,
            inter_region,
        }
    }
}

/// Where a client sits: beside a node, at some latency from it (a client in a region
/// that holds no replica is far from the nearest one).
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientHome {
    /// The node it sends to first and whose side of a partition it shares.
    pub node: NodeId,
    /// One-way latency between the client and that node.
    pub latency: LatencyDist,
}

/// The network's static configuration.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkConfig {
    /// Every link not otherwise configured.
    pub default_link: LinkConfig,
    /// Latency between a client and the node it is attached to.
    pub client_latency: LatencyDist,
    /// Optional region grouping.
    #[serde(default)]
    pub regions: Option<Regions>,
    /// Individually configured links; later entries win.
    #[serde(default)]
    pub links: Vec<LinkOverride>,
    /// Where clients sit (client `i` takes entry `i mod len`); empty: client `i` beside
    /// node `i mod nodes` at `client_latency`. A client talking to a node other than its
    /// home pays its own latency plus the link from its home.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_homes: Vec<ClientHome>,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        NetworkConfig {
            default_link: LinkConfig::default(),
            client_latency: LatencyDist::Constant { ms: 0.1 },
            regions: None,
            links: Vec::new(),
            client_homes: Vec::new(),
        }
    }
}

/// Network-wide faults the nemesis switches on, on top of every link's own behaviour.
#[derive(Clone, Copy, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkFault {
    /// Extra loss probability.
    #[serde(default)]
    pub loss: f64,
    /// Extra duplication probability.
    #[serde(default)]
    pub duplicate: f64,
    /// Extra delay added to every message.
    #[serde(default)]
    pub delay: Option<LatencyDist>,
}

/// What became of one message handed to the network.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Route {
    /// Dropped because the link is blocked by a partition.
    Partitioned,
    /// Dropped by random loss.
    Lost,
    /// Delivered after `first` ns, and a duplicate after `duplicate` ns if any.
    Deliver {
        /// Latency of the message.
        first: u64,
        /// Latency of a duplicate copy.
        duplicate: Option<u64>,
    },
}

/// The live network: link table, partition state and injected faults.
#[derive(Clone, Debug)]
pub struct Network {
    nodes: usize,
    links: Vec<LinkConfig>,
    blocked: Vec<bool>,
    fault: NetworkFault,
    client_latency: LatencyDist,
    client_homes: Vec<ClientHome>,
}

impl Network {
    /// Build the link table for `nodes` nodes.
    pub fn new(nodes: usize, config: &NetworkConfig) -> Self {
        let mut links = vec![config.default_link; nodes * nodes];
        if let Some(regions) = &config.regions {
            for a in 0..nodes {
                for b in 0..nodes {
                    if regions.region_of.get(a) != regions.region_of.get(b) {
                        links[a * nodes + b] = regions.inter_region;
                    }
                }
            }
        }
        for o in &config.links {
            if o.from.index() < nodes && o.to.index() < nodes {
                links[o.from.index() * nodes + o.to.index()] = o.link;
            }
        }
        Network {
            nodes,
            links,
            blocked: vec![false; nodes * nodes],
            fault: NetworkFault::default(),
            client_latency: config.client_latency,
            client_homes: config.client_homes.clone(),
        }
    }

    /// The configuration of the link `from -> to`.
    pub fn link(&self, from: NodeId, to: NodeId) -> &LinkConfig {
        &self.links[from.index() * self.nodes + to.index()]
    }

    /// Whether messages from `from` to `to` are currently blocked.
    #[inline]
    pub fn is_blocked(&self, from: NodeId, to: NodeId) -> bool {
        self.blocked[from.index() * self.nodes + to.index()]
    }

    /// Replace the partition: exactly the listed directed links are blocked.
    pub fn set_blocked(&mut self, links: &[(NodeId, NodeId)]) {
        self.blocked.iter_mut().for_each(|b| *b = false);
        for &(a, b) in links {
            if a.index() < self.nodes && b.index() < self.nodes {
                self.blocked[a.index() * self.nodes + b.index()] = true;
            }
        }
    }

    /// Remove every partition.
    pub fn heal(&mut self) {
        self.blocked.iter_mut().for_each(|b| *b = false);
    }

    /// Set (or with the default, clear) the injected network-wide faults.
    pub fn set_fault(&mut self, fault: NetworkFault) {
        self.fault = fault;
    }

    /// Decide the fate of one message from `from` to `to`.
    #[inline]
    pub fn route(&self, from: NodeId, to: NodeId, rng: &mut DetRng) -> Route {
        if self.is_blocked(from, to) {
            return Route::Partitioned;
        }
        let link = self.link(from, to);
        if rng.chance(link.loss) || rng.chance(self.fault.loss) {
            return Route::Lost;
        }
        let first = self.latency(link, rng);
        let duplicate = (rng.chance(link.duplicate) || rng.chance(self.fault.duplicate))
            .then(|| self.latency(link, rng));
        Route::Deliver { first, duplicate }
    }

    #[inline]
    fn latency(&self, link: &LinkConfig, rng: &mut DetRng) -> u64 {
        let base = link.latency.sample_nanos(rng);
        match &self.fault.delay {
            Some(extra) => base.saturating_add(extra.sample_nanos(rng)),
            None => base,
        }
    }

    /// Latency of a client message between a client attached to `home` and node `node`.
    /// A client sits beside its home node: it talks to it over a local link, to other
    /// nodes over its home node's links, and shares its home node's side of any
    /// partition (the world checks that). Random loss does not apply to client traffic:
    /// clients do not retry, so loss would only turn into timeouts.
    pub fn client_latency(
        &self,
        client: usize,
        home: NodeId,
        node: NodeId,
        rng: &mut DetRng,
    ) -> u64 {
        if let Some(place) = self
            .client_homes
            .get(client % self.client_homes.len().max(1))
        {
            let to_home = place.latency.sample_nanos(rng);
            return if home == node {
                to_home
            } else {
                to_home.saturating_add(self.link(home, node).latency.sample_nanos(rng))
            };
        }
        if home == node {
            self.client_latency.sample_nanos(rng)
        } else {
            self.link(home, node).latency.sample_nanos(rng)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: u32) -> NodeId {
        NodeId(i)
    }

    #[test]
    fn two_regions_with_a_slow_inter_region_link() {
        let wan = LinkConfig {
            latency: LatencyDist::Constant { ms: 40.0 },
            ..LinkConfig::default()
        };
        let config = NetworkConfig {
            default_link: LinkConfig {
                latency: LatencyDist::Constant { ms: 1.0 },
                ..LinkConfig::default()
            },
            regions: Some(Regions::contiguous(4, 2, wan)),
            ..NetworkConfig::default()
        };
        let net = Network::new(4, &config);
        let mut rng = DetRng::from_seed(0);
        let lat = |a, b, rng: &mut DetRng| match net.route(n(a), n(b), rng) {
            Route::Deliver { first, .. } => first / 1_000_000,
            other => panic!("{other:?}"),
        };
        assert_eq!(lat(0, 1, &mut rng), 1);
        assert_eq!(lat(2, 3, &mut rng), 1);
        assert_eq!(lat(1, 2, &mut rng), 40);
        assert_eq!(lat(3, 0, &mut rng), 40);
    }

    #[test]
    fn a_single_link_can_be_overridden() {
        let slow = LinkConfig {
            latency: LatencyDist::Constant { ms: 9.0 },
            ..LinkConfig::default()
        };
        let config = NetworkConfig {
            links: vec![LinkOverride {
                from: n(0),
                to: n(1),
                link: slow,
            }],
            ..NetworkConfig::default()
        };
        let net = Network::new(3, &config);
        assert_eq!(
            net.link(n(0), n(1)).latency,
            LatencyDist::Constant { ms: 9.0 }
        );
        assert_ne!(
            net.link(n(1), n(0)).latency,
            LatencyDist::Constant { ms: 9.0 }
        );
    }

    #[test]
    fn loss_and_duplication_happen_at_their_rates() {
        let mut net = Network::new(2, &NetworkConfig::default());
        net.set_fault(NetworkFault {
            loss: 0.2,
            duplicate: 0.1,
            delay: None,
        });
        let mut rng = DetRng::from_seed(5);
        let (mut lost, mut dups) = (0, 0);
        for _ in 0..100_000 {
            match net.route(n(0), n(1), &mut rng) {
                Route::Lost => lost += 1,
                Route::Deliver {
                    duplicate: Some(_), ..
                } => dups += 1,
                _ => {}
            }
        }
        assert!((19_000..21_000).contains(&lost), "lost {lost}");
        assert!((7_500..8_500).contains(&dups), "dups {dups}"); // 10% of the 80% delivered
    }

    #[test]
    fn blocked_links_are_directed() {
        let mut net = Network::new(2, &NetworkConfig::default());
        net.set_blocked(&[(n(0), n(1))]);
        let mut rng = DetRng::from_seed(1);
        assert_eq!(net.route(n(0), n(1), &mut rng), Route::Partitioned);
        assert!(matches!(
            net.route(n(1), n(0), &mut rng),
            Route::Deliver { .. }
        ));
        net.heal();
        assert!(matches!(
            net.route(n(0), n(1), &mut rng),
            Route::Deliver { .. }
        ));
    }

    #[test]
    fn injected_delay_adds_to_link_latency() {
        let config = NetworkConfig {
            default_link: LinkConfig {
                latency: LatencyDist::Constant { ms: 1.0 },
                ..LinkConfig::default()
            },
            ..NetworkConfig::default()
        };
        let mut net = Network::new(2, &config);
        net.set_fault(NetworkFault {
            delay: Some(LatencyDist::Constant { ms: 4.0 }),
            ..NetworkFault::default()
        });
        let mut rng = DetRng::from_seed(1);
        assert_eq!(
            net.route(n(0), n(1), &mut rng),
            Route::Deliver {
                first: 5_000_000,
                duplicate: None
            }
        );
    }

    #[test]
    fn a_placed_client_pays_its_own_latency_and_the_link_from_its_home() {
        let config = NetworkConfig {
            default_link: LinkConfig {
                latency: LatencyDist::Constant { ms: 30.0 },
                ..LinkConfig::default()
            },
            client_homes: vec![
                ClientHome {
                    node: n(0),
                    latency: LatencyDist::Constant { ms: 0.1 },
                },
                ClientHome {
                    node: n(1),
                    latency: LatencyDist::Constant { ms: 40.0 },
                },
            ],
            ..NetworkConfig::default()
        };
        let net = Network::new(2, &config);
        let mut rng = DetRng::from_seed(1);
        assert_eq!(net.client_latency(0, n(0), n(0), &mut rng), 100_000);
        assert_eq!(net.client_latency(1, n(1), n(1), &mut rng), 40_000_000);
        // Sent on to the other node: its own 40 ms, then the 30 ms link.
        assert_eq!(net.client_latency(1, n(1), n(0), &mut rng), 70_000_000);
        // Client 2 takes entry 0.
        assert_eq!(net.client_latency(2, n(0), n(0), &mut rng), 100_000);
    }
}

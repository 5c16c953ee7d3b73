//! Geographic placement: replicas only where the data may live. Each data class has a
//! residency rule — the regions it may be stored in, its home first — and a fallback for
//! when those regions cannot hold enough replicas: refuse (strict residency, as GDPR
//! transfers or data-sovereignty law may demand), or borrow listed regions in order and
//! say so. Within a region, replicas go to distinct nodes on distinct zones, by
//! rendezvous hashing, so a key's replicas move only when its own nodes change.

use crate::placement::Placement;
use crate::{Nodes, PartitionError, Rendezvous};
use std::collections::BTreeMap;

/// What happens when a class's regions cannot hold all its replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fallback {
    /// Fail: the data may not leave its regions.
    Refuse,
    /// Place the rest in these regions, in order, and report it.
    Regions(Vec<String>),
}

/// Where one class of data may live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Residency {
    /// Regions allowed, the home region first.
    pub allowed: Vec<String>,
    /// Spread replicas across the allowed regions (surviving a region's loss) rather
    /// than filling the home region first (lowest latency).
    pub spread: bool,
    /// When the allowed regions run out of nodes.
    pub fallback: Fallback,
}

/// A key's replicas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeoReplicas {
    /// `(region, node id)`, the leader's first.
    pub replicas: Vec<(String, String)>,
    /// Whether any replica had to go to a fallback region.
    pub fell_back: bool,
}

/// Nodes by region.
#[derive(Clone, Debug)]
pub struct Geo {
    regions: BTreeMap<String, Rendezvous>,
}

impl Geo {
    /// Each region's nodes (zones within a region are its failure domains).
    pub fn new(regions: Vec<(String, Nodes)>) -> Result<Geo, PartitionError> {
        if regions.is_empty() {
            return Err(PartitionError::NoNodes);
        }
        let mut map = BTreeMap::new();
        let mut ids = BTreeMap::new();
        for (region, nodes) in regions {
            for n in nodes.nodes() {
                if ids.insert(n.id.clone(), ()).is_some() {
                    return Err(PartitionError::DuplicateNode(n.id.clone()));
                }
            }
            if map
                .insert(region.clone(), Rendezvous::new(nodes)?)
                .is_some()
            {
                return Err(PartitionError::DuplicateRegion(region));
            }
        }
        Ok(Geo { regions: map })
    }

    fn region(&self, name: &str) -> Result<&Rendezvous, PartitionError> {
        self.regions
            .get(name)
            .ok_or_else(|| PartitionError::NoSuchRegion(name.to_string()))
    }

    /// `replicas` replicas of `key` under `residency`.
    pub fn place(
        &self,
        key: u64,
        residency: &Residency,
        replicas: usize,
    ) -> Result<GeoReplicas, PartitionError> {
        if residency.allowed.is_empty() {
            return Err(PartitionError::NoSuchRegion("(no region allowed)".into()));
        }
        // How many each allowed region takes: spread evenly, or home first.
        let capacity = |name: &str| -> Result<usize, PartitionError> {
            Ok(Placement::nodes(self.region(name)?).len())
        };
        let mut quota: Vec<(String, usize)> = Vec::new();
        let mut left = replicas;
        if residency.spread {
            let mut room: Vec<(String, usize)> = residency
                .allowed
                .iter()
                .map(|r| Ok((r.clone(), capacity(r)?)))
                .collect::<Result<_, PartitionError>>()?;
            quota = room.iter().map(|(r, _)| (r.clone(), 0)).collect();
            // Round-robin, one replica per region per round, while any has room.
            while left > 0 && room.iter().any(|(_, c)| *c > 0) {
                for (i, (_, c)) in room.iter_mut().enumerate() {
                    if left > 0 && *c > 0 {
                        *c -= 1;
                        quota[i].1 += 1;
                        left -= 1;
                    }
                }
            }
        } else {
            for r in &residency.allowed {
                let take = left.min(capacity(r)?);
                quota.push((r.clone(), take));
                left -= take;
            }
        }
        let mut fell_back = false;
        if left > 0 {
            match &residency.fallback {
                Fallback::Refuse => {
                    return Err(PartitionError::Residency {
                        replicas,
                        available: replicas - left,
                    });
                }
                Fallback::Regions(extra) => {
                    for r in extra {
                        if residency.allowed.contains(r) {
                            continue;
                        }
                        let take = left.min(capacity(r)?);
                        if take > 0 {
                            fell_back = true;
                            quota.push((r.clone(), take));
                            left -= take;
                        }
                    }
                    if left > 0 {
                        return Err(PartitionError::Residency {
                            replicas,
                            available: replicas - left,
                        });
                    }
                }
            }
        }
        let mut placed = Vec::with_capacity(replicas);
        for (region, count) in quota.into_iter().filter(|(_, c)| *c > 0) {
            let hrw = self.region(&region)?;
            for i in hrw.replicas(key, count)? {
                placed.push((region.clone(), Placement::nodes(hrw).node(i).id.clone()));
            }
        }
        Ok(GeoReplicas {
            replicas: placed,
            fell_back,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Node;
    use proptest::prelude::*;

    fn region(name: &str, nodes: usize) -> (String, Nodes) {
        let set = (0..nodes)
            .map(|i| Node::new(format!("{name}-{i}"), format!("{name}-z{}", i % 3)))
            .collect();
        (name.to_string(), Nodes::new(set).unwrap())
    }

    fn world() -> Geo {
        Geo::new(vec![
            region("eu-west", 3),
            region("eu-central", 2),
            region("us-east", 5),
        ])
        .unwrap()
    }

    fn eu(spread: bool, fallback: Fallback) -> Residency {
        Residency {
            allowed: vec!["eu-west".into(), "eu-central".into()],
            spread,
            fallback,
        }
    }

    #[test]
    fn eu_data_stays_in_the_eu_home_first_or_spread() {
        let g = world();
        let home = g.place(7, &eu(false, Fallback::Refuse), 3).unwrap();
        assert!(
            home.replicas.iter().all(|(r, _)| r == "eu-west"),
            "{home:?}"
        );
        let spread = g.place(7, &eu(true, Fallback::Refuse), 3).unwrap();
        let regions: Vec<&str> = spread.replicas.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(regions, ["eu-west", "eu-west", "eu-central"]);
        assert!(!spread.fell_back);
    }

    #[test]
    fn too_few_nodes_refuse_or_fall_back_as_told() {
        let g = world();
        assert_eq!(
            g.place(1, &eu(true, Fallback::Refuse), 6),
            Err(PartitionError::Residency {
                replicas: 6,
                available: 5
            })
        );
        let borrowed = g
            .place(1, &eu(true, Fallback::Regions(vec!["us-east".into()])), 6)
            .unwrap();
        assert!(borrowed.fell_back);
        assert_eq!(
            borrowed
                .replicas
                .iter()
                .filter(|(r, _)| r == "us-east")
                .count(),
            1
        );
        assert!(
            g.place(1, &eu(true, Fallback::Regions(vec!["us-east".into()])), 11)
                .is_err()
        );
    }

    #[test]
    fn bad_geography_is_an_error() {
        assert!(matches!(Geo::new(vec![]), Err(PartitionError::NoNodes)));
        assert_eq!(
            Geo::new(vec![region("a", 1), region("a", 1)]).unwrap_err(),
            PartitionError::DuplicateNode("a-0".into())
        );
        let twice = Geo::new(vec![
            region("a", 1),
            ("a".into(), Nodes::uniform(1, 1).unwrap()),
        ]);
        assert_eq!(
            twice.unwrap_err(),
            PartitionError::DuplicateRegion("a".into())
        );
        let unknown = Residency {
            allowed: vec!["mars".into()],
            spread: false,
            fallback: Fallback::Refuse,
        };
        assert_eq!(
            world().place(1, &unknown, 1),
            Err(PartitionError::NoSuchRegion("mars".into()))
        );
    }

    proptest! {
        #[test]
        fn replicas_are_distinct_and_never_outside_allowed_or_fallback(
            key in any::<u64>(),
            replicas in 1usize..8,
            spread in any::<bool>(),
            fallback in any::<bool>(),
        ) {
            let g = world();
            let fallback = if fallback { Fallback::Regions(vec!["us-east".into()]) } else { Fallback::Refuse };
            let rule = eu(spread, fallback.clone());
            match g.place(key, &rule, replicas) {
                Ok(placed) => {
                    prop_assert_eq!(placed.replicas.len(), replicas);
                    let mut ids: Vec<&String> = placed.replicas.iter().map(|(_, n)| n).collect();
                    ids.sort();
                    ids.dedup();
                    prop_assert_eq!(ids.len(), replicas);
                    for (r, _) in &placed.replicas {
                        let allowed = rule.allowed.contains(r);
                        prop_assert!(allowed || (placed.fell_back && r == "us-east"));
                    }
                    prop_assert_eq!(placed.fell_back, replicas > 5);
                }
                Err(PartitionError::Residency { .. }) => {
                    prop_assert!(replicas > 5 && (fallback == Fallback::Refuse || replicas > 10));
                }
                Err(e) => prop_assert!(false, "{e}"),
            }
        }
    }
}

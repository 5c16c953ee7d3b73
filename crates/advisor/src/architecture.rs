//! The architecture a design implies, as a diagram model: each region a box holding the
//! services that run there and the copies of each data class placed there, with edges
//! for calls, reads, writes and replication.

use crate::rules::consistency::{self, Model};
use crate::rules::replication::{Topology, topology};
use crate::spec::Spec;
use dsys_diagram::{Diagram, Shape};
use std::collections::BTreeMap;

/// Of `candidates`, the one nearest `from` (itself if listed; ties by name).
fn nearest<'a>(spec: &Spec, from: &str, candidates: &'a [String]) -> Option<&'a String> {
    candidates.iter().min_by(|a, b| {
        let d = |r: &str| spec.rtt_ms(from, r).unwrap_or(f64::INFINITY);
        d(a).total_cmp(&d(b)).then_with(|| a.cmp(b))
    })
}

fn service_id(service: &str, region: &str) -> String {
    format!("{service}@{region}")
}

fn store_id(data: &str, region: &str) -> String {
    format!("{data}@{region}:store")
}

/// The diagram model of `spec`'s design.
pub fn architecture(spec: &Spec) -> Diagram {
    let mut d = Diagram::new(&spec.system.name);
    for r in &spec.regions {
        let zones = *r.zones.get_ref();
        d.group(
            r.name.get_ref(),
            &format!(
                "{} ({zones} zone{})",
                r.name.get_ref(),
                if zones == 1 { "" } else { "s" }
            ),
        );
    }
    let group_of = |d: &Diagram, region: &str| d.groups.iter().position(|g| g.id == region);
    for s in &spec.services {
        for r in &s.regions {
            let g = group_of(&d, r.get_ref());
            d.node(
                &service_id(s.name.get_ref(), r.get_ref()),
                s.name.get_ref(),
                g,
                Shape::Service,
            );
        }
    }
    // Stores, and replication from each leader copy to the others. Per data class: the
    // regions that take its writes (and linearizable reads), and every copy.
    let mut copies: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for data in &spec.data {
        let name = data.name.get_ref();
        let topo = topology(spec, data);
        let placement = topo.placement();
        for (region, role) in &placement {
            let g = group_of(&d, region);
            d.node(
                &store_id(name, region),
                &format!("{name}: {role}"),
                g,
                Shape::Store,
            );
        }
        let label = match &topo {
            Topology::Consensus { .. } => "raft".to_string(),
            Topology::LeaderPerPartition { .. } | Topology::LeaderFollower { .. } => {
                "async".to_string()
            }
            Topology::MultiLeader { conflict, .. } => format!("multi-leader, {conflict}"),
        };
        let leaders = topo.leaders();
        let all: Vec<String> = placement.into_iter().map(|(region, _)| region).collect();
        for leader in &leaders {
            for other in all.iter().filter(|other| *other != leader) {
                if let (Some(a), Some(b)) = (
                    d.node_index(&store_id(name, leader)),
                    d.node_index(&store_id(name, other)),
                ) {
                    d.edge(a, b, &label);
                }
            }
        }
        let readable = if consistency::model(data).0 == Model::Linearizable {
            leaders.clone()
        } else {
            all
        };
        copies.insert(name, (leaders, readable));
    }
    // Calls, then reads and writes, from every copy of every service.
    for s in &spec.services {
        for r in &s.regions {
            let Some(from) = d.node_index(&service_id(s.name.get_ref(), r.get_ref())) else {
                continue;
            };
            for dep in &s.depends_on {
                let Some(callee) = spec.service(dep.get_ref()) else {
                    continue;
                };
                let regions: Vec<String> =
                    callee.regions.iter().map(|x| x.get_ref().clone()).collect();
                if let Some(to) = nearest(spec, r.get_ref(), &regions)
                    .and_then(|to| d.node_index(&service_id(dep.get_ref(), to)))
                {
                    d.edge(from, to, "calls");
                }
            }
            for (names, verb) in [(&s.writes, "writes"), (&s.reads, "reads")] {
                for data_name in names {
                    let Some((leaders, readable)) = copies.get(data_name.get_ref().as_str()) else {
                        continue;
                    };
                    // Writes go to a leader; reads to any copy they may be served from.
                    let targets = if verb == "writes" { leaders } else { readable };
                    if let Some(to) = nearest(spec, r.get_ref(), targets)
                        .and_then(|to| d.node_index(&store_id(data_name.get_ref(), to)))
                    {
                        d.edge(from, to, verb);
                    }
                }
            }
        }
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::spec;

    #[test]
    fn services_and_copies_sit_in_their_regions_with_their_edges() {
        let s = spec(
            r#"
[[data]]
name = "ledger"
kind = "money"

[[data]]
name = "posts"
kind = "catalog"

[[service]]
name = "api"
regions = ["eu", "us"]
depends_on = ["pay"]
reads = ["posts"]

[[service]]
name = "pay"
regions = ["eu"]
writes = ["ledger", "posts"]
"#,
        );
        let d = architecture(&s);
        let labels: Vec<(&str, Option<usize>)> = d
            .nodes
            .iter()
            .map(|n| (n.label.as_str(), n.group))
            .collect();
        assert_eq!(
            labels,
            [
                ("api", Some(0)),
                ("api", Some(1)),
                ("pay", Some(0)),
                ("ledger: raft group, 3 zones", Some(0)),
                ("posts: leader", Some(0)),
                ("posts: follower", Some(1)),
            ]
        );
        let edges: Vec<(String, String, &str)> = d
            .edges
            .iter()
            .map(|e| {
                (
                    d.nodes[e.from].id.clone(),
                    d.nodes[e.to].id.clone(),
                    e.label.as_str(),
                )
            })
            .collect();
        let has =
            |a: &str, b: &str, l: &str| edges.iter().any(|(x, y, z)| x == a && y == b && *z == l);
        assert!(
            has("posts@eu:store", "posts@us:store", "async"),
            "{edges:?}"
        );
        // api in us calls pay in eu (the only one), and reads posts from its own copy.
        assert!(has("api@us", "pay@eu", "calls"), "{edges:?}");
        assert!(has("api@us", "posts@us:store", "reads"), "{edges:?}");
        assert!(has("pay@eu", "ledger@eu:store", "writes"), "{edges:?}");
        assert_eq!(edges.len(), 7, "{edges:?}");
    }
}

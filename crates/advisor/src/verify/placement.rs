//! The simulated cluster a design implies for one data class: a node for each copy the
//! design places (in its region and zone), the round trips between them from the spec,
//! clients where the objectives' users are, and the workload the data's merge needs.

use crate::checks::ZONE_RTT_MS;
use crate::rules::replication::{GROUP_IN_ZONES, topology};
use crate::spec::{DataClass, Merge, Needs, Spec};
use serde::Serialize;

/// Latency between a client and a node of its own region, ms.
pub const LOCAL_CLIENT_MS: f64 = 0.1;

/// What the simulated clients do: the data's shape, for the merge the design chose.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// Registers: read, write, compare-and-set.
    Register,
    /// Counters: increments and reads (merge = sum).
    Counter,
    /// Sets: inserts, removes and reads (merge = union).
    Set,
}

impl Workload {
    /// As `dsys simulate --workload` spells it.
    pub fn word(self) -> &'static str {
        match self {
            Workload::Register => "kv",
            Workload::Counter => "counter",
            Workload::Set => "set",
        }
    }
}

/// One simulated node: the copy of the data it stands for.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NodePlace {
    /// Its region.
    pub region: String,
    /// Its zone within the region, from 0.
    pub zone: u32,
    /// What the design makes it ("raft leader", "learner", ...).
    pub role: &'static str,
}

/// Clients in one region, beside the nearest node.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ClientGroup {
    /// Where the users are.
    pub region: String,
    /// The node they send to first (an index into [`Placement::nodes`]).
    pub home: usize,
    /// One-way latency to it, ms.
    pub latency_ms: f64,
}

/// The cluster to simulate.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Placement {
    /// The nodes, the leader's first.
    pub nodes: Vec<NodePlace>,
    /// One-way latency from node i to node j, ms (half the round trip).
    pub one_way_ms: Vec<Vec<f64>>,
    /// The client groups, one per region with an objective (or one where it is written).
    pub clients: Vec<ClientGroup>,
    /// What the clients do.
    pub workload: Workload,
}

/// Why a data class's placement cannot be simulated.
pub type Missing = String;

fn place(region: &str, zone: u32, role: &'static str) -> NodePlace {
    NodePlace {
        region: region.to_string(),
        zone,
        role,
    }
}

/// The nodes of `d`'s design, the leader (or first leader) first: one per copy the
/// design places, three in three zones for a group inside one region.
pub fn nodes(spec: &Spec, d: &DataClass) -> Vec<NodePlace> {
    let mut nodes = Vec::new();
    for (region, role) in topology(spec, d).placement() {
        if role == GROUP_IN_ZONES {
            nodes.extend((0..3).map(|z| {
                place(
                    &region,
                    z,
                    if z == 0 {
                        "raft leader"
                    } else {
                        "raft follower"
                    },
                )
            }));
        } else {
            nodes.push(place(&region, 0, role));
        }
    }
    // A lone copy cannot fail over: its region's zones hold the others, as the design's
    // arithmetic assumes.
    if let [only] = nodes.as_slice() {
        let (region, role) = (only.region.clone(), only.role);
        nodes = (0..3)
            .map(|z| place(&region, z, if z == 0 { role } else { "follower" }))
            .collect();
    }
    nodes
}

/// The round trip between two places, ms.
fn rtt(spec: &Spec, a: &NodePlace, b: &NodePlace) -> Result<f64, Missing> {
    if a.region == b.region {
        return Ok(if a.zone == b.zone { 0.0 } else { ZONE_RTT_MS });
    }
    spec.rtt_ms(&a.region, &b.region)
        .ok_or_else(|| format!("no rtt_ms between {} and {}", a.region, b.region))
}

/// The regions `d`'s clients are in: its objectives' regions, else where it is written.
fn client_regions(spec: &Spec, d: &DataClass) -> Vec<String> {
    let mut regions: Vec<String> = Vec::new();
    for slo in spec
        .slos
        .iter()
        .filter(|s| s.data.get_ref() == d.name.get_ref())
    {
        if !regions.contains(slo.region.get_ref()) {
            regions.push(slo.region.get_ref().clone());
        }
    }
    if regions.is_empty() {
        regions = crate::rules::replication::write_regions(spec, d)
            .into_iter()
            .collect();
    }
    if regions.is_empty() {
        regions = spec.home_regions(d).into_iter().take(1).collect();
    }
    regions
}

/// The workload `d`'s merge needs.
pub fn workload(d: &DataClass) -> Workload {
    match Needs::of(d).merge {
        Merge::Sum => Workload::Counter,
        Merge::Union => Workload::Set,
        _ => Workload::Register,
    }
}

/// The cluster for `d`, or why it cannot be built (a round trip the spec does not give).
pub fn placement(spec: &Spec, d: &DataClass) -> Result<Placement, Missing> {
    let nodes = nodes(spec, d);
    let mut one_way_ms = vec![vec![0.0; nodes.len()]; nodes.len()];
    for (i, a) in nodes.iter().enumerate() {
        for (j, b) in nodes.iter().enumerate() {
            if i != j {
                one_way_ms[i][j] = rtt(spec, a, b)? / 2.0;
            }
        }
    }
    let mut clients = Vec::new();
    for region in client_regions(spec, d) {
        let user = place(&region, 0, "client");
        let mut nearest: Option<(f64, usize)> = None;
        for (i, n) in nodes.iter().enumerate() {
            // Users of a region are beside its first zone; any zone of it is local.
            let ms = if n.region == region {
                0.0
            } else {
                rtt(spec, &user, n)?
            };
            if nearest.is_none_or(|(best, _)| ms < best) {
                nearest = Some((ms, i));
            }
        }
        let (ms, home) = nearest.unwrap_or((0.0, 0));
        clients.push(ClientGroup {
            region,
            home,
            latency_ms: if ms == 0.0 { LOCAL_CLIENT_MS } else { ms / 2.0 },
        });
    }
    Ok(Placement {
        nodes,
        one_way_ms,
        clients,
        workload: workload(d),
    })
}

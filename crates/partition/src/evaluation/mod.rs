//! Hash placements compared on one node set and one key stream: how evenly they spread
//! the keys, how many keys move when a node is added or removed (against the minimum),
//! and what a lookup costs. What `dsys partition` prints.
//!
//! Keys: `uniform` (random 64-bit ids), `sequential` (the integers 0, 1, 2, ... as bytes,
//! hashed), or `zipf:S` (requests for keys drawn with probability proportional to
//! `1 / (k + 1)^S`, so a few hot keys carry much of the load). The node added is
//! `node-N`, appended; the node removed is the middle one, `node-N/2` (jump can only drop
//! its last bucket, so it renumbers the rest and moves their keys: the table shows what
//! that costs).

use crate::quality::{moved, peak_over_share};
use crate::{
    Anchor, BoundedLoads, Jump, Maglev, Node, Nodes, PartitionError, Placement, Rendezvous, Ring,
    key_hash, mix,
};
use dsys_node::DetRng;
use dsys_sim::zipf::Zipf;
use serde::Serialize;
use std::fmt::Write as _;

/// A placement algorithm, as `dsys partition --algorithm` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Algorithm {
    /// Ring with [`Setup::vnodes`] virtual nodes per node (100 by default).
    Ring,
    /// Jump consistent hash.
    Jump,
    /// Rendezvous (highest random weight).
    Rendezvous,
    /// Maglev.
    Maglev,
    /// AnchorHash.
    Anchor,
    /// The ring with loads bounded at 1.25 × the average.
    Bounded,
}

impl Algorithm {
    /// Every algorithm, in table order.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Ring,
        Algorithm::Jump,
        Algorithm::Rendezvous,
        Algorithm::Maglev,
        Algorithm::Anchor,
        Algorithm::Bounded,
    ];

    /// Its name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Ring => "ring",
            Algorithm::Jump => "jump",
            Algorithm::Rendezvous => "rendezvous",
            Algorithm::Maglev => "maglev",
            Algorithm::Anchor => "anchor",
            Algorithm::Bounded => "bounded",
        }
    }

    /// The algorithm called `name`.
    pub fn parse(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Which keys are placed.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Keys {
    /// Random 64-bit ids.
    Uniform,
    /// 0, 1, 2, ... as 8 bytes each, hashed.
    Sequential,
    /// Requests for key `k` with probability proportional to `1 / (k + 1)^exponent`.
    Zipf {
        /// The skew (0: uniform; 1: classic Zipf).
        exponent: f64,
    },
}

impl Keys {
    /// `uniform`, `sequential`, `zipf` (exponent 1) or `zipf:S`.
    pub fn parse(s: &str) -> Result<Keys, String> {
        match s {
            "uniform" => Ok(Keys::Uniform),
            "sequential" => Ok(Keys::Sequential),
            "zipf" => Ok(Keys::Zipf { exponent: 1.0 }),
            _ => match s.strip_prefix("zipf:").map(str::parse::<f64>) {
                Some(Ok(exponent)) if exponent.is_finite() && exponent >= 0.0 => {
                    Ok(Keys::Zipf { exponent })
                }
                Some(_) => Err(format!(
                    "`{s}`: the Zipf exponent must be a non-negative number"
                )),
                None => Err(format!(
                    "unknown key distribution `{s}` (known: uniform, sequential, zipf, zipf:S)"
                )),
            },
        }
    }

    /// Its name, as parsed.
    pub fn name(self) -> String {
        match self {
            Keys::Uniform => "uniform".into(),
            Keys::Sequential => "sequential".into(),
            Keys::Zipf { exponent } => format!("zipf:{exponent}"),
        }
    }
}

/// What to evaluate on.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Setup {
    /// Nodes, all of weight 1.
    pub nodes: usize,
    /// Zones the nodes are spread over, round-robin.
    pub zones: usize,
    /// Keys (or, for Zipf, requests) placed.
    pub keys: u64,
    /// Which keys.
    pub distribution: Keys,
    /// Seed for the keys.
    pub seed: u64,
    /// Virtual nodes per node of the ring (and of the ring under bounded loads).
    pub vnodes: u32,
}

/// One algorithm's figures.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The most loaded node's keys over the average (1.0 is perfect).
    pub peak_over_average: f64,
    /// Share of keys that moved when `node-N` was added.
    pub moved_on_add: f64,
    /// The least that must move: `1 / (N + 1)`.
    pub minimum_on_add: f64,
    /// Share of keys that moved when the middle node was removed.
    pub moved_on_remove: f64,
    /// The least that must move: the removed node's keys, about `1 / N`.
    pub minimum_on_remove: f64,
    /// Nanoseconds per lookup over the key stream, this machine, one thread (for bounded
    /// loads, per assignment). Measured, so it varies from run to run.
    pub lookup_ns: f64,
}

/// The key stream for `setup`: 64-bit positions.
pub fn keys(setup: &Setup) -> Vec<u64> {
    let mut rng = DetRng::from_seed(setup.seed);
    match setup.distribution {
        Keys::Uniform => (0..setup.keys).map(|_| rng.next_u64()).collect(),
        Keys::Sequential => (0..setup.keys)
            .map(|i| key_hash(&i.to_le_bytes()))
            .collect(),
        Keys::Zipf { exponent } => {
            let zipf = Zipf::new(setup.keys, exponent);
            (0..setup.keys)
                .map(|_| mix(zipf.sample(&mut rng) ^ setup.seed.rotate_left(32)))
                .collect()
        }
    }
}

/// Nanoseconds per call of `f` over `keys`.
fn time_per_key(keys: &[u64], mut f: impl FnMut(u64) -> usize) -> f64 {
    // Wall time is what this figure is; nothing here runs in a simulated world.
    #[allow(clippy::disallowed_methods)]
    let start = std::time::Instant::now();
    let mut sink = 0usize;
    for &k in keys {
        sink = sink.wrapping_add(f(std::hint::black_box(k)));
    }
    std::hint::black_box(sink);
    start.elapsed().as_nanos() as f64 / keys.len().max(1) as f64
}

/// The node set, grown by `node-N` and shrunk by the middle node.
struct NodeSets {
    base: Nodes,
    grown: Nodes,
    shrunk: Nodes,
    removed: String,
    vnodes: u32,
}

impl NodeSets {
    fn new(setup: &Setup) -> Result<NodeSets, PartitionError> {
        let base = Nodes::uniform(setup.nodes, setup.zones)?;
        let n = setup.nodes;
        let grown = base.with(Node::new(
            format!("node-{n}"),
            format!("zone-{}", n % setup.zones.max(1)),
        ))?;
        let removed = format!("node-{}", n / 2);
        let shrunk = base.without(&removed)?;
        Ok(NodeSets {
            base,
            grown,
            shrunk,
            removed,
            vnodes: setup.vnodes,
        })
    }
}

/// Evaluate one placement: built on the base set, the grown one and the shrunk one.
fn placement_row(
    algorithm: Algorithm,
    keys: &[u64],
    removed: &str,
    base: &dyn Placement,
    grown: &dyn Placement,
    shrunk: &dyn Placement,
) -> Row {
    let n = base.nodes().len();
    let mut count = vec![0u64; n];
    let lookup_ns = time_per_key(keys, |k| {
        let i = base.locate(k);
        count[i] += 1;
        i
    });
    let held = base.nodes().index_of(removed).map_or(0, |i| count[i]);
    Row {
        algorithm,
        peak_over_average: peak_over_share(base, &count, keys.len() as u64),
        moved_on_add: moved(base, grown, keys.iter().copied()),
        minimum_on_add: 1.0 / (n as f64 + 1.0),
        moved_on_remove: moved(base, shrunk, keys.iter().copied()),
        minimum_on_remove: held as f64 / keys.len().max(1) as f64,
        lookup_ns,
    }
}

/// A placement on the base node set, the grown one and the shrunk one.
type BaseGrownShrunk = [Box<dyn Placement>; 3];

/// `algorithm` on each node set, or `None` for bounded loads (not a pure placement).
fn placements(
    algorithm: Algorithm,
    sets: &NodeSets,
) -> Result<Option<BaseGrownShrunk>, PartitionError> {
    fn each<P: Placement + 'static>(
        sets: &NodeSets,
        build: impl Fn(Nodes) -> Result<P, PartitionError>,
    ) -> Result<Option<BaseGrownShrunk>, PartitionError> {
        Ok(Some([
            Box::new(build(sets.base.clone())?),
            Box::new(build(sets.grown.clone())?),
            Box::new(build(sets.shrunk.clone())?),
        ]))
    }
    match algorithm {
        Algorithm::Ring => each(sets, |n| Ring::new(n, sets.vnodes)),
        Algorithm::Jump => each(sets, Jump::new),
        Algorithm::Rendezvous => each(sets, Rendezvous::new),
        Algorithm::Maglev => each(sets, Maglev::new),
        Algorithm::Anchor => {
            // Room for the node added; the removal and the addition each change the base
            // anchor, as a running system would.
            let base = Anchor::new(sets.base.clone(), sets.base.len() + 1)?;
            let mut grown = base.clone();
            grown.add(sets.grown.node(sets.base.len()).clone())?;
            let mut shrunk = base.clone();
            shrunk.remove(&sets.removed)?;
            Ok(Some([Box::new(base), Box::new(grown), Box::new(shrunk)]))
        }
        Algorithm::Bounded => Ok(None),
    }
}

/// The bounded-loads ring: keys assigned in stream order, on each node set.
fn bounded_row(sets: &NodeSets, keys: &[u64]) -> Result<Row, PartitionError> {
    const C: f64 = 1.25;
    let assign_all = |nodes: &Nodes| -> Result<(Vec<String>, f64, f64), PartitionError> {
        let mut b = BoundedLoads::new(Ring::new(nodes.clone(), sets.vnodes)?, C)?;
        let mut owners = Vec::with_capacity(keys.len());
        let ns = time_per_key(keys, |k| {
            let i = b.assign(k);
            owners.push(i as u32);
            i
        });
        let peak = b.loads().iter().copied().max().unwrap_or(0) as f64;
        let average = keys.len() as f64 / nodes.len() as f64;
        let ids = owners
            .into_iter()
            .map(|i| nodes.node(i as usize).id.clone())
            .collect();
        Ok((ids, if average > 0.0 { peak / average } else { 0.0 }, ns))
    };
    let (base, peak, ns) = assign_all(&sets.base)?;
    let held = base.iter().filter(|id| **id == sets.removed).count();
    let share_moved = |other: &[String]| {
        let changed = base.iter().zip(other).filter(|(a, b)| a != b).count();
        changed as f64 / keys.len().max(1) as f64
    };
    let (grown, _, _) = assign_all(&sets.grown)?;
    let (shrunk, _, _) = assign_all(&sets.shrunk)?;
    Ok(Row {
        algorithm: Algorithm::Bounded,
        peak_over_average: peak,
        moved_on_add: share_moved(&grown),
        minimum_on_add: 1.0 / (sets.base.len() as f64 + 1.0),
        moved_on_remove: share_moved(&shrunk),
        minimum_on_remove: held as f64 / keys.len().max(1) as f64,
        lookup_ns: ns,
    })
}

/// The most node scores rendezvous may be asked for (nodes × keys): about half a minute.
const RENDEZVOUS_WORK: u64 = 5_000_000_000;

/// Evaluate `algorithms` on `setup`.
pub fn evaluate(setup: &Setup, algorithms: &[Algorithm]) -> Result<Vec<Row>, PartitionError> {
    if setup.nodes < 2 {
        return Err(PartitionError::OutOfRange {
            name: "nodes",
            value: setup.nodes as u64,
            expected: "at least 2 (one is removed to measure movement)",
        });
    }
    // Rendezvous scores every node for every key, three times over: past this it would
    // run for minutes, which a typo should not cost.
    let work = setup.nodes as u64 * setup.keys;
    if algorithms.contains(&Algorithm::Rendezvous) && work > RENDEZVOUS_WORK {
        return Err(PartitionError::OutOfRange {
            name: "nodes x keys with rendezvous",
            value: work,
            expected: "at most 5 x 10^9 (fewer keys, or leave rendezvous out)",
        });
    }
    let sets = NodeSets::new(setup)?;
    let keys = keys(setup);
    let removed = sets.removed.as_str();
    let mut rows = Vec::with_capacity(algorithms.len());
    for &algorithm in algorithms {
        let row = match placements(algorithm, &sets)? {
            Some([base, grown, shrunk]) => {
                placement_row(algorithm, &keys, removed, &*base, &*grown, &*shrunk)
            }
            None => bounded_row(&sets, &keys)?,
        };
        rows.push(row);
    }
    Ok(rows)
}

/// What moving data for a join takes: shards of equal size, each on `replicas` nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PlanSetup {
    /// Shards (key groups); shard `i` sits at key position `mix(i)`.
    pub shards: u64,
    /// Bytes per shard.
    pub shard_bytes: u64,
    /// Replicas per shard.
    pub replicas: usize,
    /// Transfers one node may take part in at once.
    pub per_node: usize,
}

/// One algorithm's plan for `node-N` joining.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanRow {
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Shards that gain a replica.
    pub shards_moved: usize,
    /// Bytes the plan copies.
    pub bytes_moved: u64,
    /// Bytes any plan must copy.
    pub minimum_bytes: u64,
    /// Waves of transfers under the throttle.
    pub waves: usize,
}

/// Plan `node-N`'s join for each of `algorithms` that places by hash alone (bounded loads
/// depends on assignment order, so it is left out).
pub fn plan_join(
    setup: &Setup,
    plan: &PlanSetup,
    algorithms: &[Algorithm],
) -> Result<Vec<PlanRow>, PartitionError> {
    use crate::planner::{Throttle, hash_changes, plan as make_plan};
    let sets = NodeSets::new(setup)?;
    let shards: Vec<(u64, u64)> = (0..plan.shards)
        .map(|i| (mix(i), plan.shard_bytes))
        .collect();
    let throttle = Throttle {
        per_node: plan.per_node,
        wave_bytes: None,
    };
    let mut rows = Vec::new();
    for &algorithm in algorithms {
        let Some([before, after, _]) = placements(algorithm, &sets)? else {
            continue; // bounded loads depends on assignment order
        };
        let changes = hash_changes(before.as_ref(), after.as_ref(), &shards, plan.replicas)?;
        let p = make_plan(&changes, throttle)?;
        rows.push(PlanRow {
            algorithm,
            shards_moved: changes.iter().filter(|c| c.before != c.after).count(),
            bytes_moved: p.bytes_moved,
            minimum_bytes: p.minimum_bytes,
            waves: p.waves.len(),
        });
    }
    Ok(rows)
}

/// The plan rows as a table.
pub fn plan_table(setup: &Setup, plan: &PlanSetup, rows: &[PlanRow]) -> String {
    let mut out = format!(
        "\nnode-{} joins: {} shards of {} bytes, {} replicas each, at most {} transfers per node at once\n\n",
        setup.nodes, plan.shards, plan.shard_bytes, plan.replicas, plan.per_node
    );
    let _ = writeln!(
        out,
        "{:<11} {:>13} {:>16} {:>16} {:>6}",
        "algorithm", "shards moved", "bytes moved", "minimum bytes", "waves"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<11} {:>13} {:>16} {:>16} {:>6}",
            r.algorithm.name(),
            r.shards_moved,
            r.bytes_moved,
            r.minimum_bytes,
            r.waves
        );
    }
    out
}

/// The rows as a table.
pub fn table(setup: &Setup, rows: &[Row]) -> String {
    let n = setup.nodes;
    let mut out = format!(
        "{} nodes in {} zones, {} {} keys, seed {}\n\n",
        n,
        setup.zones,
        setup.keys,
        setup.distribution.name(),
        setup.seed
    );
    let _ = writeln!(
        out,
        "{:<11} {:>10} {:>14} {:>10} {:>16} {:>10} {:>10}",
        "algorithm",
        "peak/avg",
        "moved on add",
        "x minimum",
        "moved on remove",
        "x minimum",
        "lookup ns"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<11} {:>10.4} {:>13.3}% {:>10.3} {:>15.3}% {:>10.3} {:>10.1}",
            r.algorithm.name(),
            r.peak_over_average,
            100.0 * r.moved_on_add,
            ratio(r.moved_on_add, r.minimum_on_add),
            100.0 * r.moved_on_remove,
            ratio(r.moved_on_remove, r.minimum_on_remove),
            r.lookup_ns
        );
    }
    let _ = write!(
        out,
        "\npeak/avg: the most loaded node over the average (1 is perfect).\n\
         moved on add: keys that changed node when node-{n} joined; the minimum is 1/(N+1).\n\
         moved on remove: keys that changed node when node-{} left; the minimum is its own.\n\
         lookup ns: this machine, one thread (for bounded, one assignment).\n\
         ring and bounded: {} virtual nodes per node (--vnodes).\n",
        n / 2,
        setup.vnodes
    );
    out
}

/// The rows as an SVG: peak over average, and keys moved on add and remove as a
/// multiple of the minimum, one bar per algorithm; 1, the ideal, marked in each.
pub fn svg(setup: &Setup, rows: &[Row]) -> String {
    use dsys_diagram::chart::{Panel, bars};
    let panel = |title: &str, value: fn(&Row) -> f64| Panel {
        title: title.to_string(),
        values: rows.iter().map(value).collect(),
        reference: Some(1.0),
        decimals: 3,
    };
    let names: Vec<&str> = rows.iter().map(|r| r.algorithm.name()).collect();
    bars(
        &format!(
            "{} nodes, {} {} keys: balance and movement (1 is ideal)",
            setup.nodes,
            setup.keys,
            setup.distribution.name()
        ),
        &names,
        &[
            panel("peak / average", |r| r.peak_over_average),
            panel("moved on add, x minimum", |r| {
                ratio(r.moved_on_add, r.minimum_on_add)
            }),
            panel("moved on remove, x minimum", |r| {
                ratio(r.moved_on_remove, r.minimum_on_remove)
            }),
        ],
    )
}

fn ratio(moved: f64, minimum: f64) -> f64 {
    if minimum > 0.0 { moved / minimum } else { 0.0 }
}

#[cfg(test)]
mod tests;

//! Rebalancing plans: given each shard's replicas before and after a change of nodes (or
//! a split), what to copy where, how many bytes that is, and an order that never lets a
//! shard fall below its replica count and never asks a node to take part in more than a
//! set number of transfers at once.
//!
//! A shard is a unit of data that moves whole: a key group under hash placement, a range
//! under range partitioning. Each replica the shard gains is copied once, from a node
//! that holds it; the replica it loses is dropped only once the copy has landed. So the
//! bytes moved are exactly the least any plan must move, and the plan says so.
//!
//! Transfers run in *waves*: every copy in a wave may run at once, within the throttle
//! (at most `per_node` transfers touching any one node, at most `wave_bytes` in all);
//! a wave's drops happen once all its copies have landed.

use crate::{PartitionError, Placement};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// One shard: its size, and who holds it before and after the change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShardChange {
    /// The shard's id (a key group's number, a range's start).
    pub shard: u64,
    /// Its size in bytes.
    pub bytes: u64,
    /// Node ids holding it now.
    pub before: Vec<String>,
    /// Node ids that must hold it after.
    pub after: Vec<String>,
}

/// How fast to move data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Throttle {
    /// At most this many transfers touching one node (as source or target) in a wave.
    pub per_node: usize,
    /// At most this many bytes in a wave (a shard larger than this moves alone).
    pub wave_bytes: Option<u64>,
}

/// One copy, and the replica it replaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    /// The shard.
    pub shard: u64,
    /// Bytes copied.
    pub bytes: u64,
    /// The node copied from (one that holds the shard at the wave's start).
    pub from: String,
    /// The node copied to.
    pub to: String,
    /// The replica dropped once the wave's copies have landed, if the shard loses one.
    pub drop: Option<String>,
}

/// A plan: waves of transfers.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Plan {
    /// Transfers, wave by wave.
    pub waves: Vec<Vec<Transfer>>,
    /// Replicas dropped with no copy to wait for (a shard that loses more replicas than
    /// it gains), done at the end.
    pub drops: Vec<(u64, String)>,
    /// Bytes the plan copies.
    pub bytes_moved: u64,
    /// Bytes any plan must copy: each new replica's shard, once.
    pub minimum_bytes: u64,
}

impl Plan {
    /// Transfers in all.
    pub fn transfers(&self) -> usize {
        self.waves.iter().map(Vec::len).sum()
    }
}

/// A copy still to schedule.
#[derive(Debug)]
struct Pending {
    shard: usize,
    to: String,
    drop: Option<String>,
}

/// Plan the moves that take every shard from its `before` replicas to its `after` ones.
pub fn plan(changes: &[ShardChange], throttle: Throttle) -> Result<Plan, PartitionError> {
    if throttle.per_node == 0 {
        return Err(PartitionError::OutOfRange {
            name: "transfers per node",
            value: 0,
            expected: "at least 1",
        });
    }
    let mut holders: Vec<BTreeSet<String>> = Vec::with_capacity(changes.len());
    let mut pending = Vec::new();
    let mut plan = Plan::default();
    let mut seen = BTreeSet::new();
    for (i, c) in changes.iter().enumerate() {
        let before: BTreeSet<String> = c.before.iter().cloned().collect();
        let after: BTreeSet<String> = c.after.iter().cloned().collect();
        if before.is_empty() || after.is_empty() {
            return Err(PartitionError::NoReplicas { shard: c.shard });
        }
        if !seen.insert(c.shard) {
            return Err(PartitionError::DuplicateShard(c.shard));
        }
        let gained: Vec<&String> = after.difference(&before).collect();
        let mut lost: Vec<&String> = before.difference(&after).collect();
        plan.minimum_bytes += c.bytes * gained.len() as u64;
        for to in gained {
            pending.push(Pending {
                shard: i,
                to: to.clone(),
                // Pair each gain with a loss: the lost replica waits for its successor.
                drop: (!lost.is_empty()).then(|| lost.remove(0).clone()),
            });
        }
        plan.drops
            .extend(lost.into_iter().map(|node| (c.shard, node.clone())));
        holders.push(before);
    }
    // Pending copies by target node: a wave fills each target up to the throttle from the
    // front of its own queue, so one wave costs what it schedules plus what it passes
    // over for a busy source — not a scan of every copy still pending (which made a
    // million-shard plan quadratic).
    let mut by_target: BTreeMap<String, VecDeque<Pending>> = BTreeMap::new();
    for p in pending {
        by_target.entry(p.to.clone()).or_default().push_back(p);
    }
    while !by_target.is_empty() {
        let mut busy: BTreeMap<String, usize> = BTreeMap::new();
        let mut wave = Vec::new();
        let mut wave_bytes = 0u64;
        let free = |node: &String, busy: &BTreeMap<String, usize>| {
            busy.get(node).copied().unwrap_or(0) < throttle.per_node
        };
        for (to, queue) in by_target.iter_mut() {
            let mut passed = VecDeque::new();
            while free(to, &busy) {
                let Some(p) = queue.pop_front() else { break };
                let c = &changes[p.shard];
                let fits_budget = throttle
                    .wave_bytes
                    .is_none_or(|max| wave.is_empty() || wave_bytes + c.bytes <= max);
                // The least busy holder as the source; ties to the first by id.
                let source = holders[p.shard]
                    .iter()
                    .filter(|h| free(h, &busy))
                    .min_by_key(|h| busy.get(*h).copied().unwrap_or(0))
                    .cloned();
                match source {
                    Some(from) if fits_budget => {
                        *busy.entry(from.clone()).or_default() += 1;
                        *busy.entry(p.to.clone()).or_default() += 1;
                        wave_bytes += c.bytes;
                        wave.push((
                            p.shard,
                            Transfer {
                                shard: c.shard,
                                bytes: c.bytes,
                                from,
                                to: p.to,
                                drop: p.drop,
                            },
                        ));
                    }
                    _ => passed.push_back(p),
                }
            }
            // What was passed over keeps its place at the front.
            while let Some(p) = passed.pop_back() {
                queue.push_front(p);
            }
        }
        by_target.retain(|_, queue| !queue.is_empty());
        if wave.is_empty() {
            // Cannot happen (a wave's first copy always fits); never loop for ever.
            break;
        }
        // The wave's copies land, then its drops happen.
        for (i, t) in &wave {
            holders[*i].insert(t.to.clone());
        }
        for (i, t) in &wave {
            if let Some(d) = &t.drop {
                holders[*i].remove(d);
            }
        }
        plan.bytes_moved += wave_bytes;
        plan.waves.push(wave.into_iter().map(|(_, t)| t).collect());
    }
    Ok(plan)
}

/// The shard changes when `shards` (ids, sizes) placed by `before` are placed by
/// `after`, with `replicas` replicas each: shard `id` is placed as the key position `id`.
pub fn hash_changes(
    before: &dyn Placement,
    after: &dyn Placement,
    shards: &[(u64, u64)],
    replicas: usize,
) -> Result<Vec<ShardChange>, PartitionError> {
    let ids = |p: &dyn Placement, key: u64| -> Result<Vec<String>, PartitionError> {
        Ok(p.replicas(key, replicas)?
            .into_iter()
            .map(|i| p.nodes().node(i).id.clone())
            .collect())
    };
    shards
        .iter()
        .map(|&(shard, bytes)| {
            Ok(ShardChange {
                shard,
                bytes,
                before: ids(before, shard)?,
                after: ids(after, shard)?,
            })
        })
        .collect()
}

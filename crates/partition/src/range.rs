//! Range partitioning: the key space cut into contiguous ranges, each held by a set of
//! replicas, split when a range grows too big or too busy and merged with its neighbour
//! when both shrink (Bigtable tablets, HBase regions, CockroachDB and TiKV ranges).
//!
//! Each range counts its bytes and load exactly, and keeps a small sample of its keys
//! (the `SAMPLE` keys with the smallest hashes, a uniform sample of the distinct keys
//! seen) with their bytes and operations, from which it picks a split key: the sampled
//! key with half the range's bytes (or load) below it. A range whose load comes mostly
//! from one key is reported as a hot key rather than split, since no split can divide
//! one key's load. Busy keys are found by Space-Saving (Metwally et al., 2005): a few
//! counters that any key with a large enough share of the load is sure to hold.

use crate::PartitionError;
use crate::hash::key_hash;
use crate::planner::ShardChange;
use std::collections::{BTreeMap, BTreeSet};

/// Keys each range samples to choose split points.
pub const SAMPLE: usize = 64;

/// Keys each range tracks as its busiest (Space-Saving: any key carrying more than
/// `1 / HEAVY` of the range's load is among them).
pub const HEAVY: usize = 8;

/// When to split and merge, and what counts as hot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RangePolicy {
    /// Split a range above this many bytes.
    pub max_bytes: u64,
    /// Split a range above this load (operations per accounting period).
    pub max_load: f64,
    /// Merge two neighbours with the same replicas once together they are below this
    /// (under half of `max_bytes`, so a merge is never split straight back).
    pub merge_bytes: u64,
    /// A range is a hot spot above this many times the average range load.
    pub hot: f64,
}

impl RangePolicy {
    /// Check the settings.
    pub fn new(
        max_bytes: u64,
        max_load: f64,
        merge_bytes: u64,
        hot: f64,
    ) -> Result<RangePolicy, PartitionError> {
        if max_bytes == 0 {
            return Err(PartitionError::OutOfRange {
                name: "max range bytes",
                value: 0,
                expected: "at least 1",
            });
        }
        if merge_bytes > max_bytes / 2 {
            return Err(PartitionError::OutOfRange {
                name: "merge bytes",
                value: merge_bytes,
                expected: "at most half the max range bytes",
            });
        }
        if !(max_load.is_finite() && max_load > 0.0) {
            return Err(PartitionError::OutOfRange {
                name: "max range load",
                value: max_load.max(0.0) as u64,
                expected: "a positive number",
            });
        }
        if !(hot.is_finite() && hot >= 1.0) {
            return Err(PartitionError::OutOfRange {
                name: "hot-spot factor",
                value: hot.max(0.0) as u64,
                expected: "at least 1",
            });
        }
        Ok(RangePolicy {
            max_bytes,
            max_load,
            merge_bytes,
            hot,
        })
    }
}

/// A sampled key and what it has carried.
#[derive(Clone, Debug, PartialEq)]
struct Sampled {
    hash: u64,
    key: Vec<u8>,
    bytes: i64,
    load: f64,
}

/// A busy key: its counted load, and how much of that may belong to keys it displaced.
#[derive(Clone, Debug, PartialEq)]
struct Heavy {
    key: Vec<u8>,
    load: f64,
    error: f64,
}

/// One range: keys from `start` (inclusive) to `end` (exclusive; `None`: no end).
#[derive(Clone, Debug, PartialEq)]
pub struct Range {
    /// The first key in the range (empty: the start of the key space).
    pub start: Vec<u8>,
    /// The first key past the range, if any.
    pub end: Option<Vec<u8>>,
    /// Bytes stored.
    pub bytes: u64,
    /// Operations this accounting period.
    pub load: f64,
    /// The nodes that hold it.
    pub replicas: Vec<String>,
    sample: Vec<Sampled>,
    heavy: Vec<Heavy>,
}

impl Range {
    /// Count `ops` on `key` among the busiest keys.
    fn count_heavy(&mut self, key: &[u8], ops: f64) {
        if ops <= 0.0 {
            return;
        }
        if let Some(h) = self.heavy.iter_mut().find(|h| h.key == key) {
            h.load += ops;
        } else if self.heavy.len() < HEAVY {
            self.heavy.push(Heavy {
                key: key.to_vec(),
                load: ops,
                error: 0.0,
            });
        } else if let Some(least) = self
            .heavy
            .iter_mut()
            .min_by(|a, b| a.load.total_cmp(&b.load))
        {
            // Space-Saving: the newcomer takes the least counter, inheriting its count
            // as possible error.
            *least = Heavy {
                key: key.to_vec(),
                load: least.load + ops,
                error: least.load,
            };
        }
    }

    /// Whether `key` falls in this range.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|end| key < end)
    }
}

/// What [`RangeMap::maintain`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RangeChange {
    /// The range containing `at` was split there, because it was too big.
    SplitBySize {
        /// The new range's first key.
        at: Vec<u8>,
    },
    /// ... or too busy.
    SplitByLoad {
        /// The new range's first key.
        at: Vec<u8>,
    },
    /// The range starting at `at` was merged into the one before it.
    Merged {
        /// The first key of the range that was absorbed.
        at: Vec<u8>,
    },
}

/// A hot spot.
#[derive(Clone, Debug, PartialEq)]
pub struct HotSpot {
    /// The range's first key.
    pub start: Vec<u8>,
    /// Its load over the average range's.
    pub times_average: f64,
    /// If one sampled key carries most of the range's load: that key (splitting the
    /// range cannot spread it; cache it, replicate it for reads, or salt the key).
    pub hot_key: Option<Vec<u8>>,
}

/// The key space as contiguous ranges.
#[derive(Clone, Debug, PartialEq)]
pub struct RangeMap {
    ranges: Vec<Range>,
    policy: RangePolicy,
}

impl RangeMap {
    /// One range over every key, on `replicas`.
    pub fn new(replicas: Vec<String>, policy: RangePolicy) -> Result<RangeMap, PartitionError> {
        if replicas.is_empty() {
            return Err(PartitionError::NoNodes);
        }
        Ok(RangeMap {
            ranges: vec![Range {
                start: Vec::new(),
                end: None,
                bytes: 0,
                load: 0.0,
                replicas,
                sample: Vec::new(),
                heavy: Vec::new(),
            }],
            policy,
        })
    }

    /// The ranges, in key order.
    pub fn ranges(&self) -> &[Range] {
        &self.ranges
    }

    fn index_of(&self, key: &[u8]) -> usize {
        // The last range starting at or before `key` (the first starts at the empty key).
        self.ranges
            .partition_point(|r| r.start.as_slice() <= key)
            .saturating_sub(1)
    }

    /// The range holding `key`.
    pub fn locate(&self, key: &[u8]) -> &Range {
        &self.ranges[self.index_of(key)]
    }

    /// Account for a write of `bytes` (negative: a delete) and `ops` operations on `key`.
    pub fn record(&mut self, key: &[u8], bytes: i64, ops: f64) {
        let i = self.index_of(key);
        let range = &mut self.ranges[i];
        range.bytes = range.bytes.saturating_add_signed(bytes);
        range.load += ops;
        range.count_heavy(key, ops);
        let hash = key_hash(key);
        match range.sample.iter_mut().find(|s| s.key == key) {
            Some(s) => {
                s.bytes += bytes;
                s.load += ops;
            }
            None => {
                let largest = range.sample.iter().map(|s| s.hash).max().unwrap_or(0);
                if range.sample.len() < SAMPLE || hash < largest {
                    range.sample.push(Sampled {
                        hash,
                        key: key.to_vec(),
                        bytes,
                        load: ops,
                    });
                    if range.sample.len() > SAMPLE {
                        // Keep the smallest hashes: drop the largest.
                        if let Some(at) = range.sample.iter().position(|s| s.hash == largest) {
                            range.sample.swap_remove(at);
                        }
                    }
                }
            }
        }
    }

    /// Start a new accounting period: loads back to zero.
    pub fn reset_load(&mut self) {
        for r in &mut self.ranges {
            r.load = 0.0;
            for s in &mut r.sample {
                s.load = 0.0;
            }
            r.heavy.clear();
        }
    }

    /// Split the range containing `at` so that a new range starts at `at`. The halves keep
    /// the replicas; bytes and load are shared out as the sample suggests.
    pub fn split(&mut self, at: &[u8]) -> Result<(), PartitionError> {
        let i = self.index_of(at);
        if self.ranges[i].start.as_slice() == at {
            return Err(PartitionError::BadSplit(format!(
                "{at:?} already starts a range"
            )));
        }
        let range = &mut self.ranges[i];
        let (below, above): (Vec<Sampled>, Vec<Sampled>) =
            range.sample.drain(..).partition(|s| s.key.as_slice() < at);
        let (heavy_below, heavy_above): (Vec<Heavy>, Vec<Heavy>) =
            range.heavy.drain(..).partition(|h| h.key.as_slice() < at);
        let share = |part: &[Sampled], all: f64, f: fn(&Sampled) -> f64| {
            let total: f64 = below.iter().chain(&above).map(f).sum();
            if total > 0.0 {
                all * part.iter().map(f).sum::<f64>() / total
            } else {
                all / 2.0
            }
        };
        let bytes_below = share(&below, range.bytes as f64, |s| s.bytes.max(0) as f64)
            .round()
            .min(range.bytes as f64) as u64;
        let load_below = share(&below, range.load, |s| s.load).min(range.load);
        let right = Range {
            start: at.to_vec(),
            end: range.end.take(),
            bytes: range.bytes - bytes_below,
            load: range.load - load_below,
            replicas: range.replicas.clone(),
            sample: above,
            heavy: heavy_above,
        };
        range.end = Some(at.to_vec());
        range.bytes = bytes_below;
        range.load = load_below;
        range.sample = below;
        range.heavy = heavy_below;
        self.ranges.insert(i + 1, right);
        Ok(())
    }

    /// The sampled key with half of `weight` below it, if it splits range `i` in two.
    fn median_key(&self, i: usize, weight: fn(&Sampled) -> f64) -> Option<Vec<u8>> {
        let range = &self.ranges[i];
        let mut sample: Vec<&Sampled> = range.sample.iter().collect();
        sample.sort_by(|a, b| a.key.cmp(&b.key));
        let total: f64 = sample.iter().map(|s| weight(s)).sum();
        let mut below = 0.0;
        for s in sample {
            if below >= total / 2.0 && s.key != range.start {
                return Some(s.key.clone());
            }
            below += weight(s);
        }
        None
    }

    /// Split what is too big or too busy, then merge what is small, until nothing
    /// changes; what was done.
    pub fn maintain(&mut self) -> Vec<RangeChange> {
        let mut changes = Vec::new();
        let mut i = 0;
        while i < self.ranges.len() {
            let r = &self.ranges[i];
            let split = if r.bytes > self.policy.max_bytes {
                self.median_key(i, |s| s.bytes.max(0) as f64)
                    .map(|at| RangeChange::SplitBySize { at })
            } else if r.load > self.policy.max_load && self.hot_key(i).is_none() {
                self.median_key(i, |s| s.load)
                    .map(|at| RangeChange::SplitByLoad { at })
            } else {
                None
            };
            match split {
                Some(change) => {
                    let (RangeChange::SplitBySize { at } | RangeChange::SplitByLoad { at }) =
                        &change
                    else {
                        unreachable!("only splits are made here")
                    };
                    // A split key is strictly inside the range, so this cannot fail.
                    if self.split(&at.clone()).is_ok() {
                        changes.push(change);
                        continue; // look at the left half again
                    }
                    i += 1;
                }
                None => i += 1,
            }
        }
        let mut i = 1;
        while i < self.ranges.len() {
            let (left, right) = (&self.ranges[i - 1], &self.ranges[i]);
            if left.replicas == right.replicas
                && left.bytes + right.bytes < self.policy.merge_bytes
                && left.load + right.load <= self.policy.max_load / 2.0
            {
                let right = self.ranges.remove(i);
                let left = &mut self.ranges[i - 1];
                left.end = right.end;
                left.bytes += right.bytes;
                left.load += right.load;
                left.sample.extend(right.sample);
                left.sample.sort_by_key(|s| s.hash);
                left.sample.truncate(SAMPLE);
                // Keys are in one range or the other, so the counters just join; the
                // busiest stay.
                left.heavy.extend(right.heavy);
                left.heavy
                    .sort_by(|a, b| b.load.total_cmp(&a.load).then(a.key.cmp(&b.key)));
                left.heavy.truncate(HEAVY);
                changes.push(RangeChange::Merged { at: right.start });
            } else {
                i += 1;
            }
        }
        changes
    }

    /// Even out bytes over `nodes`: move replicas of ranges from the fullest node to the
    /// emptiest while that narrows the gap (never two replicas of a range on one node,
    /// every range keeping its replica count). Updates the map and returns each moved
    /// range's change, for [`crate::planner::plan`]; a range's shard id is the hash of
    /// its first key.
    pub fn balance(&mut self, nodes: &[String]) -> Result<Vec<ShardChange>, PartitionError> {
        let pool: BTreeSet<&String> = nodes.iter().collect();
        if pool.is_empty() {
            return Err(PartitionError::NoNodes);
        }
        if pool.len() != nodes.len() {
            return Err(PartitionError::DuplicateNode(
                "(in the balance pool)".into(),
            ));
        }
        let most = self
            .ranges
            .iter()
            .map(|r| r.replicas.len())
            .max()
            .unwrap_or(0);
        if most > pool.len() {
            return Err(PartitionError::TooManyReplicas {
                replicas: most,
                nodes: pool.len(),
            });
        }
        let before: Vec<Vec<String>> = self.ranges.iter().map(|r| r.replicas.clone()).collect();
        // Replicas on nodes outside the pool must move first: onto the emptiest node.
        let mut held: BTreeMap<String, u64> = nodes.iter().map(|n| (n.clone(), 0)).collect();
        for r in &self.ranges {
            for n in &r.replicas {
                if let Some(b) = held.get_mut(n) {
                    *b += r.bytes;
                }
            }
        }
        let emptiest = |held: &BTreeMap<String, u64>, avoid: &[String]| {
            held.iter()
                .filter(|(n, _)| !avoid.contains(n))
                .min_by_key(|(n, b)| (**b, (*n).clone()))
                .map(|(n, _)| n.clone())
        };
        for r in &mut self.ranges {
            for k in 0..r.replicas.len() {
                if !pool.contains(&r.replicas[k]) {
                    let to = emptiest(&held, &r.replicas).ok_or(PartitionError::NoNodes)?;
                    *held.entry(to.clone()).or_default() += r.bytes;
                    r.replicas[k] = to;
                }
            }
        }
        // Then from fullest to emptiest, the largest range that narrows the gap.
        let extremes = |held: &BTreeMap<String, u64>| {
            let (full, most) = held
                .iter()
                .max_by_key(|(n, b)| (**b, std::cmp::Reverse((*n).clone())))?;
            let (empty, least) = held.iter().min_by_key(|(n, b)| (**b, (*n).clone()))?;
            Some((full.clone(), empty.clone(), most - least))
        };
        while let Some((full, empty, gap)) = extremes(&held) {
            // Moving b bytes narrows the gap if 0 < b < gap; the largest such range.
            let candidate = self
                .ranges
                .iter()
                .enumerate()
                .filter(|(_, r)| {
                    r.replicas.contains(&full)
                        && !r.replicas.contains(&empty)
                        && r.bytes > 0
                        && r.bytes < gap
                })
                .max_by_key(|(i, r)| (r.bytes, std::cmp::Reverse(*i)))
                .map(|(i, _)| i);
            let Some(i) = candidate else { break };
            let r = &mut self.ranges[i];
            if let Some(slot) = r.replicas.iter_mut().find(|n| **n == full) {
                *slot = empty.clone();
            }
            *held.entry(full).or_default() -= r.bytes;
            *held.entry(empty).or_default() += r.bytes;
        }
        Ok(self
            .ranges
            .iter()
            .zip(before)
            .filter(|(r, b)| {
                let now: BTreeSet<&String> = r.replicas.iter().collect();
                let was: BTreeSet<&String> = b.iter().collect();
                now != was
            })
            .map(|(r, b)| ShardChange {
                shard: key_hash(&r.start),
                bytes: r.bytes,
                before: b,
                after: r.replicas.clone(),
            })
            .collect())
    }

    /// Range `i`'s dominant key: one surely carrying over half its load (its count less
    /// its possible error).
    fn hot_key(&self, i: usize) -> Option<Vec<u8>> {
        let range = &self.ranges[i];
        range
            .heavy
            .iter()
            .find(|h| range.load > 0.0 && h.load - h.error > range.load / 2.0)
            .map(|h| h.key.clone())
    }

    /// Ranges over their load limit, or above the policy's multiple of the average.
    pub fn hot_spots(&self) -> Vec<HotSpot> {
        let average = self.ranges.iter().map(|r| r.load).sum::<f64>() / self.ranges.len() as f64;
        (0..self.ranges.len())
            .filter(|&i| {
                let load = self.ranges[i].load;
                average > 0.0 && (load > self.policy.max_load || load > self.policy.hot * average)
            })
            .map(|i| HotSpot {
                start: self.ranges[i].start.clone(),
                times_average: self.ranges[i].load / average,
                hot_key: self.hot_key(i),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests;

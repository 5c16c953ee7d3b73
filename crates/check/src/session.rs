//! Session guarantees, staleness and lost writes for register / key-value histories,
//! single- or multi-valued.
//!
//! These checks need to know when one value is older than another. Values are assumed
//! unique per key (dsys workloads write each value once); `u` is *definitely older* than
//! `v` when the operation that wrote `u` completed before the one that wrote `v` began,
//! and `nil` is older than any written value. Violations are counted only under that
//! order, so they hold whatever order the system picked for overlapping writes.
//! A history whose values repeat makes these checks *unknown*.
//!
//! A read of a multi-value register returns a list: every sibling the replica kept.
//! Such a read is behind a write only when *every* sibling is definitely older than it
//! (a sibling that is not could be that write's successor), and a single value is the
//! one-sibling case, so the same checks judge both kinds of history.

use crate::budget::{Budget, Exhausted};
use crate::history::{History, Op, OpFn, Status, Value};
use crate::linear::{Witness, describe, witness_op};
use crate::report::CheckResult;
use crate::stats::percentile;
use crate::verdict::Verdict;
use std::collections::BTreeMap;

/// One key's operations, indexed for the session checks.
struct KeyView<'a> {
    name: &'a str,
    /// Acknowledged or indeterminate writes and compare-and-sets, by the value they wrote.
    writer: BTreeMap<i64, &'a Op>,
    /// Completed writes and compare-and-sets, in call order.
    acked_writes: Vec<&'a Op>,
    /// Completed reads, in call order.
    reads: Vec<&'a Op>,
    /// Latest point any update was invoked or completed.
    last_update: u64,
}

/// The value a write or compare-and-set puts in place.
pub(crate) fn written(op: &Op) -> Option<i64> {
    match (op.f, &op.input) {
        (OpFn::Write, Value::Int(v)) => Some(*v),
        (OpFn::Cas, Value::List(p)) if p.len() == 2 => Some(p[1]),
        _ => None,
    }
}

/// What a read returned, as siblings: none for `nil`, one for a value, the list of a
/// multi-value read; `None` for anything else.
fn read_value(op: &Op) -> Option<&[i64]> {
    match &op.output {
        Value::Nil => Some(&[]),
        Value::Int(v) => Some(std::slice::from_ref(v)),
        Value::List(siblings) => Some(siblings),
        _ => None,
    }
}

impl<'a> KeyView<'a> {
    /// Every value of the read `u` is definitely older than the value `v` (whose write
    /// exists): nothing `u` returned could be `v` or follow it.
    fn older(&self, u: &[i64], v: i64) -> bool {
        let Some(w_v) = self.writer.get(&v) else {
            return false;
        };
        u.iter()
            .all(|u| self.writer.get(u).is_some_and(|w_u| w_u.ret < w_v.call))
    }

    /// The writes of the values `u` returned (those the history has).
    fn writers_of(&self, u: &[i64]) -> Vec<&'a Op> {
        u.iter()
            .filter_map(|u| self.writer.get(u).copied())
            .collect()
    }
}

/// Index every key; `Err` names a value written twice.
fn views(history: &History) -> Result<Vec<KeyView<'_>>, String> {
    let mut views: Vec<KeyView<'_>> = history
        .keys
        .iter()
        .map(|name| KeyView {
            name,
            writer: BTreeMap::new(),
            acked_writes: Vec::new(),
            reads: Vec::new(),
            last_update: 0,
        })
        .collect();
    for op in &history.ops {
        let view = &mut views[op.key as usize];
        if let Some(v) = written(op) {
            if view.writer.insert(v, op).is_some() {
                return Err(format!(
                    "value {v} is written more than once on key {:?}; these checks need unique values",
                    view.name
                ));
            }
            view.last_update = view.last_update.max(settled_at(op));
            if op.status == Status::Ok {
                view.acked_writes.push(op);
            }
        } else if op.f == OpFn::Read && op.status == Status::Ok {
            view.reads.push(op);
        }
    }
    Ok(views)
}

/// When an update has settled: its completion, or, if indeterminate, its invocation (it
/// may take effect any time after).
pub(crate) fn settled_at(op: &Op) -> u64 {
    if op.status == Status::Ok {
        op.ret
    } else {
        op.call
    }
}

/// A key's final read: the latest of `reads` that began after `last_update` (the latest
/// point any update of the key settled), as Jepsen's final reads are.
pub(crate) fn final_read<'a>(
    reads: impl Iterator<Item = &'a Op>,
    last_update: u64,
) -> Option<&'a Op> {
    reads
        .filter(|r| r.call > last_update)
        .max_by_key(|r| r.call)
}

/// A result with these counts and witness.
pub(crate) fn result(
    verdict: Verdict,
    counts: &[(&'static str, u64)],
    witness: Option<Witness>,
) -> CheckResult {
    CheckResult {
        result: verdict,
        counts: counts.iter().copied().collect(),
        reason: None,
        failed_keys: Vec::new(),
        witness,
    }
}

/// A result that fails when `violations` is not zero.
fn counted(
    violations: u64,
    counts: &[(&'static str, u64)],
    witness: Option<Witness>,
) -> CheckResult {
    result(
        if violations > 0 {
            Verdict::Fail
        } else {
            Verdict::Pass
        },
        counts,
        witness,
    )
}

fn unknown(reason: String) -> CheckResult {
    CheckResult {
        result: Verdict::Unknown,
        counts: BTreeMap::new(),
        reason: Some(reason),
        failed_keys: Vec::new(),
        witness: None,
    }
}

/// A witness of `ops` (in invocation order, each once).
pub(crate) fn witness(key: &str, explanation: String, ops: &[&Op]) -> Witness {
    let mut ops: Vec<&Op> = ops.to_vec();
    ops.sort_by_key(|o| o.call);
    ops.dedup_by_key(|o| o.id);
    Witness {
        key: key.to_string(),
        explanation,
        ops: ops.into_iter().map(witness_op).collect(),
        minimal: true,
    }
}

/// The session checks of this module, by name.
pub const SESSION_CHECKS: [&str; 6] = [
    "read-your-writes",
    "monotonic-reads",
    "monotonic-writes",
    "writes-follow-reads",
    "no-stale-reads",
    "no-lost-writes",
];

/// Run the check named `name` (one of [`SESSION_CHECKS`]).
pub fn check(history: &History, name: &str, budget: &mut Budget) -> CheckResult {
    let views = match views(history) {
        Ok(v) => v,
        Err(reason) => return unknown(reason),
    };
    let outcome = match name {
        "read-your-writes" => read_your_writes(&views, budget),
        "monotonic-reads" => monotonic_reads(&views, budget),
        "monotonic-writes" => ordered_writes(&views, budget, WriterOrder::SessionWrites),
        "writes-follow-reads" => ordered_writes(&views, budget, WriterOrder::ReadsBeforeWrites),
        "no-stale-reads" => no_stale_reads(&views, budget),
        _ => Ok(no_lost_writes(&views)),
    };
    outcome.unwrap_or_else(|e| unknown(e.to_string()))
}

/// Each process's operations on each key, in call order.
fn sessions<'a>(view: &KeyView<'a>) -> BTreeMap<u64, Vec<&'a Op>> {
    let mut by_process: BTreeMap<u64, Vec<&'a Op>> = BTreeMap::new();
    for op in view.acked_writes.iter().chain(view.reads.iter()) {
        by_process.entry(op.process).or_default().push(op);
    }
    for ops in by_process.values_mut() {
        ops.sort_by_key(|o| o.call);
    }
    by_process
}

fn read_your_writes(views: &[KeyView<'_>], budget: &mut Budget) -> Result<CheckResult, Exhausted> {
    let (mut checked, mut violations, mut first) = (0u64, 0u64, None);
    for view in views {
        for ops in sessions(view).values() {
            let mut own: Option<&Op> = None;
            for op in ops {
                budget.tick()?;
                if written(op).is_some() {
                    own = Some(op);
                    continue;
                }
                let (Some(w), Some(u)) = (own, read_value(op)) else {
                    continue;
                };
                checked += 1;
                if w.ret < op.call && written(w).is_some_and(|v| view.older(u, v)) {
                    violations += 1;
                    first.get_or_insert_with(|| {
                        let mut ops = vec![w, op];
                        ops.extend(view.writers_of(u));
                        let text = format!(
                            "{} on key {}, after its own write completed: {}",
                            describe(op),
                            view.name,
                            describe(w)
                        );
                        witness(view.name, text, &ops)
                    });
                }
            }
        }
    }
    Ok(counted(
        violations,
        &[
            ("reads after own write", checked),
            ("violations", violations),
        ],
        first,
    ))
}

fn monotonic_reads(views: &[KeyView<'_>], budget: &mut Budget) -> Result<CheckResult, Exhausted> {
    let (mut checked, mut violations, mut first) = (0u64, 0u64, None);
    for view in views {
        for ops in sessions(view).values() {
            let mut seen: Vec<(&Op, i64)> = Vec::new();
            for op in ops.iter().filter(|o| o.f == OpFn::Read) {
                let Some(u) = read_value(op) else { continue };
                checked += 1;
                for &(earlier, s) in &seen {
                    budget.tick()?;
                    if earlier.ret < op.call && view.older(u, s) {
                        violations += 1;
                        first.get_or_insert_with(|| {
                            let text = format!(
                                "{} on key {}, after the same process had read newer {s}: {}",
                                describe(op),
                                view.name,
                                describe(earlier)
                            );
                            witness(view.name, text, &[earlier, op])
                        });
                        break;
                    }
                }
                seen.extend(u.iter().map(|&u| (*op, u)));
            }
        }
    }
    Ok(counted(
        violations,
        &[("reads", checked), ("violations", violations)],
        first,
    ))
}

/// Which writer-side order an observer must not see reversed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum WriterOrder {
    /// A process's own earlier writes come before its later ones (monotonic writes).
    SessionWrites,
    /// What a process read comes before what it then writes (writes follow reads).
    ReadsBeforeWrites,
}

/// Monotonic writes and writes-follow-reads, in their observable same-key form: for each
/// write `v`, the values that must be ordered before it (the writer's earlier writes, or
/// the values it had read); an observer that saw `v` and later sees one of those has seen
/// the writer's order reversed.
fn ordered_writes(
    views: &[KeyView<'_>],
    budget: &mut Budget,
    order: WriterOrder,
) -> Result<CheckResult, Exhausted> {
    let (mut observed_pairs, mut violations, mut first) = (0u64, 0u64, None);
    for view in views {
        let sessions = sessions(view);
        // Values that must precede each written value, with the op that made them so.
        let mut before: BTreeMap<i64, Vec<(i64, &Op)>> = BTreeMap::new();
        for ops in sessions.values() {
            let mut prior: Vec<(i64, &Op)> = Vec::new();
            for op in ops {
                match (written(op), read_value(op)) {
                    (Some(v), _) => {
                        before.insert(v, prior.clone());
                        if order == WriterOrder::SessionWrites {
                            prior.push((v, op));
                        }
                    }
                    (None, Some(u)) if order == WriterOrder::ReadsBeforeWrites => {
                        prior.extend(u.iter().map(|&u| (u, *op)))
                    }
                    _ => {}
                }
            }
        }
        for ops in sessions.values() {
            let mut seen: Vec<(&Op, i64)> = Vec::new();
            for op in ops.iter().filter(|o| o.f == OpFn::Read) {
                let Some(u) = read_value(op) else {
                    continue;
                };
                for &(earlier, v) in &seen {
                    budget.tick()?;
                    let Some(preds) = before.get(&v) else {
                        continue;
                    };
                    observed_pairs += 1;
                    // Seeing a value its writer had ordered before `v`, once `v` was seen.
                    if let Some(&(u, cause)) = preds.iter().find(|(p, _)| u.contains(p))
                        && earlier.ret < op.call
                    {
                        violations += 1;
                        first.get_or_insert_with(|| {
                            let why = match order {
                                WriterOrder::SessionWrites => {
                                    format!("its writer had written {u} before")
                                }
                                WriterOrder::ReadsBeforeWrites => {
                                    format!("its writer had read {u} before writing it")
                                }
                            };
                            let text = format!(
                                "{} on key {}, after reading {v} ({}), which {why}: {}",
                                describe(op),
                                view.name,
                                describe(earlier),
                                describe(cause)
                            );
                            let mut ops = vec![cause, earlier, op];
                            ops.extend(view.writers_of(&[v]));
                            witness(view.name, text, &ops)
                        });
                        break;
                    }
                }
                seen.extend(u.iter().map(|&u| (*op, u)));
            }
        }
    }
    Ok(counted(
        violations,
        &[
            ("ordered pairs observed", observed_pairs),
            ("violations", violations),
        ],
        first,
    ))
}

fn no_stale_reads(views: &[KeyView<'_>], budget: &mut Budget) -> Result<CheckResult, Exhausted> {
    let (mut checked, mut stale, mut first) = (0u64, 0u64, None);
    let mut behind: Vec<u64> = Vec::new();
    let mut visibility: Vec<u64> = Vec::new();
    let times = views.iter().all(|v| {
        v.reads
            .iter()
            .chain(v.acked_writes.iter())
            .all(|o| o.times.1.is_some())
    });
    for view in views {
        for read in &view.reads {
            let Some(u) = read_value(read) else { continue };
            checked += 1;
            let mut newer: Vec<&Op> = Vec::new();
            for w in &view.acked_writes {
                budget.tick()?;
                if w.ret < read.call && written(w).is_some_and(|v| view.older(u, v)) {
                    newer.push(w);
                }
            }
            behind.push(newer.len() as u64);
            if let Some(latest) = newer.iter().max_by_key(|w| w.ret) {
                stale += 1;
                first.get_or_insert_with(|| {
                    let writers = view.writers_of(u);
                    let text = match writers.as_slice() {
                        [w] => format!("stale read: {} on key {}, the value {}, but {} had replaced it before the read began", describe(read), view.name, describe(w), describe(latest)),
                        _ => format!("stale read: {} on key {}, but {} had completed before the read began", describe(read), view.name, describe(latest)),
                    };
                    let mut ops = vec![*read, *latest];
                    ops.extend(writers);
                    witness(view.name, text, &ops)
                });
            }
        }
        // t-visibility: how long after a write was acknowledged reads could still miss it.
        if times {
            for w in &view.acked_writes {
                let Some(v) = written(w) else { continue };
                let acked = w.times.1.unwrap_or(0);
                let mut lag = 0;
                for read in &view.reads {
                    budget.tick()?;
                    if w.ret < read.call && read_value(read).is_some_and(|u| view.older(u, v)) {
                        lag = lag.max(read.times.1.unwrap_or(0).saturating_sub(acked));
                    }
                }
                visibility.push(lag);
            }
        }
    }
    behind.sort_unstable();
    visibility.sort_unstable();
    let mut counts = vec![
        ("reads", checked),
        ("stale reads", stale),
        ("k-staleness p50", percentile(&behind, 50.0)),
        ("k-staleness p99", percentile(&behind, 99.0)),
        ("k-staleness max", behind.last().copied().unwrap_or(0)),
    ];
    if times {
        counts.extend([
            ("t-visibility p50 us", percentile(&visibility, 50.0) / 1_000),
            ("t-visibility p99 us", percentile(&visibility, 99.0) / 1_000),
            (
                "t-visibility max us",
                visibility.last().copied().unwrap_or(0) / 1_000,
            ),
        ]);
    }
    let verdict = if stale > 0 {
        Verdict::Fail
    } else {
        Verdict::Pass
    };
    Ok(result(verdict, &counts, first))
}

fn no_lost_writes(views: &[KeyView<'_>]) -> CheckResult {
    let (mut keys_with_final, mut acked, mut lost, mut first) = (0u64, 0u64, 0u64, None);
    let mut final_siblings = 0u64;
    for view in views {
        // Final reads begin after every update to the key was acknowledged or invoked.
        let Some(last) = final_read(view.reads.iter().copied(), view.last_update) else {
            continue;
        };
        let Some(f) = read_value(last) else { continue };
        keys_with_final += 1;
        final_siblings += u64::from(f.len() > 1);
        for w in &view.acked_writes {
            acked += 1;
            if written(w).is_some_and(|v| view.older(f, v)) {
                lost += 1;
                first.get_or_insert_with(|| {
                    let text = format!("lost write: {} was acknowledged, but the final read {} on key {} shows an older value", describe(w), describe(last), view.name);
                    witness(view.name, text, &[w, last])
                });
            }
        }
    }
    if keys_with_final == 0 {
        return unknown("no final reads: no key is read after its last write".to_string());
    }
    let mut counts = vec![
        ("keys with final reads", keys_with_final),
        ("acknowledged writes", acked),
        ("lost", lost),
    ];
    // Multi-value histories: keys that ended with concurrent writes kept side by side.
    if final_siblings > 0 {
        counts.push(("final reads with siblings", final_siblings));
    }
    counted(lost, &counts, first)
}

/// Reads that began `from_ms..to_ms` after the latest write acknowledged before them, and
/// how many of those were fresh (returned that write or one not definitely older): one
/// point of a PBS-style t-visibility curve (Bailis et al., "Probabilistically Bounded
/// Staleness", 2012).
#[derive(Clone, Copy, PartialEq, Debug, serde::Serialize)]
pub struct FreshnessBin {
    /// Lower edge, inclusive, virtual ms.
    pub from_ms: f64,
    /// Upper edge, exclusive; `None` for the open last bin.
    pub to_ms: Option<f64>,
    /// Reads in the bin.
    pub reads: u64,
    /// Of those, fresh.
    pub fresh: u64,
}

impl FreshnessBin {
    /// The share of the bin's reads that were fresh, or `None` for an empty bin.
    pub fn fresh_share(&self) -> Option<f64> {
        (self.reads > 0).then(|| self.fresh as f64 / self.reads as f64)
    }

    /// The bin's range in ms: `5-10`, or `>=100` for the open last bin.
    pub fn label(&self) -> String {
        match self.to_ms {
            Some(to) => format!("{}-{to}", self.from_ms),
            None => format!(">={}", self.from_ms),
        }
    }
}

/// The default bin edges of [`freshness`], virtual ms.
pub const FRESHNESS_EDGES_MS: [f64; 8] = [0.0, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0];

/// Bin every read of `history` by how long after the latest write acknowledged before it
/// began (a read with no such write is left out), with `edges_ms` as the lower edges of the
/// bins (ascending). Needs event times; `Err` says why a history cannot be binned.
pub fn freshness(history: &History, edges_ms: &[f64]) -> Result<Vec<FreshnessBin>, String> {
    let views = views(history)?;
    let mut bins: Vec<FreshnessBin> = edges_ms
        .iter()
        .enumerate()
        .map(|(i, &from_ms)| FreshnessBin {
            from_ms,
            to_ms: edges_ms.get(i + 1).copied(),
            reads: 0,
            fresh: 0,
        })
        .collect();
    for view in &views {
        for read in &view.reads {
            let (Some(u), Some(began)) = (read_value(read), read.times.0) else {
                continue;
            };
            let latest = view
                .acked_writes
                .iter()
                .filter(|w| w.ret < read.call)
                .filter_map(|w| Some((w.times.1?, w)))
                .max_by_key(|(acked, _)| *acked);
            let Some((acked, w)) = latest else { continue };
            let Some(v) = written(w) else { continue };
            let lag_ms = began.saturating_sub(acked) as f64 / 1e6;
            let Some(bin) = bins.iter_mut().rev().find(|b| lag_ms >= b.from_ms) else {
                continue;
            };
            bin.reads += 1;
            if !view.older(u, v) {
                bin.fresh += 1;
            }
        }
    }
    Ok(bins)
}

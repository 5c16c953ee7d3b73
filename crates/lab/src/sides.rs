//! What each side of a partition did. For every partition a run went through, from the
//! fault to the heal: the groups of nodes that could still reach each other, and per
//! group what the clients beside those nodes got (writes and reads acknowledged, refused,
//! or left unknown). The textbook outcomes read straight off it: a strict quorum refuses
//! the minority side, a sloppy quorum accepts it, a CP protocol answers only where a
//! majority is.
//!
//! A process counts on the side of the node it sits beside
//! ([`dsys_sim::SimConfig::process_home`]). An operation counts where it was invoked:
//! one invoked during the partition counts there even if it completes after the heal.

use crate::scenario::RunResult;
use dsys_history::{EventType, EventValue, Process};
use dsys_node::NodeId;
use dsys_sim::FaultAction;
use serde::Serialize;
use std::collections::BTreeMap;

/// How a kind of operation ended.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    /// Acknowledged.
    pub ok: u64,
    /// Refused: definitely not applied.
    pub failed: u64,
    /// No answer in time, or an answer that could not tell: maybe applied.
    pub unknown: u64,
}

impl Outcomes {
    fn count(&mut self, kind: Option<EventType>) {
        match kind {
            Some(EventType::Ok) => self.ok += 1,
            Some(EventType::Fail) => self.failed += 1,
            _ => self.unknown += 1,
        }
    }

    /// Operations counted.
    pub fn total(&self) -> u64 {
        self.ok + self.failed + self.unknown
    }
}

/// Nodes that could reach each other during a partition, and what their clients got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Side {
    /// The nodes, ascending.
    pub nodes: Vec<u32>,
    /// Writes (write, compare-and-set, add, remove) invoked by clients beside them.
    pub writes: Outcomes,
    /// Reads invoked by clients beside them.
    pub reads: Outcomes,
}

/// One partition, from the fault to the heal.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Episode {
    /// The partition's shape (`halves`, `isolate-one`, ...).
    pub shape: String,
    /// When it began, virtual ms.
    pub from_ms: f64,
    /// When it healed (or the next partition replaced it), virtual ms.
    pub to_ms: f64,
    /// The sides, the largest first (ties: the lowest node first).
    pub sides: Vec<Side>,
}

/// Groups of nodes connected in both directions once `blocked` links drop messages.
fn sides(nodes: usize, blocked: &[(NodeId, NodeId)]) -> Vec<Vec<u32>> {
    let cut = |a: usize, b: usize| {
        blocked
            .iter()
            .any(|&(x, y)| (x.index(), y.index()) == (a, b) || (x.index(), y.index()) == (b, a))
    };
    let mut side_of: Vec<Option<usize>> = vec![None; nodes];
    let mut groups: Vec<Vec<u32>> = Vec::new();
    for start in 0..nodes {
        if side_of[start].is_some() {
            continue;
        }
        let id = groups.len();
        let mut group = Vec::new();
        let mut stack = vec![start];
        side_of[start] = Some(id);
        while let Some(n) = stack.pop() {
            group.push(n as u32);
            for (m, side) in side_of.iter_mut().enumerate() {
                if side.is_none() && !cut(n, m) {
                    *side = Some(id);
                    stack.push(m);
                }
            }
        }
        group.sort_unstable();
        groups.push(group);
    }
    groups.sort_by(|a, b| b.len().cmp(&a.len()).then(a.cmp(b)));
    groups
}

/// The partitions of `run`, with what each side did.
pub fn episodes(run: &RunResult) -> Vec<Episode> {
    let sim = &run.scenario.sim;
    let nodes = sim.nodes;
    let mut episodes: Vec<Episode> = Vec::new();
    let mut open: Option<usize> = None;
    // An operation in flight: its episode and side, and whether it writes.
    let mut pending: BTreeMap<u64, (usize, usize, bool)> = BTreeMap::new();
    for e in run.outcome.history.events() {
        // Milliseconds to the microsecond, as the report's other times.
        let ms = (e.time as f64 / 1e3).round() / 1e3;
        match e.process {
            Process::Nemesis => {
                let partition = match &e.value {
                    Some(EventValue::Fault(FaultAction::Partition { shape, blocked })) => {
                        Some((shape, blocked))
                    }
                    _ => None,
                };
                let heals = partition.is_some() || e.f == "heal-partition" || e.f == "heal-all";
                if heals && let Some(i) = open.take() {
                    episodes[i].to_ms = ms;
                }
                if let Some((shape, blocked)) = partition {
                    let shape = serde_json::to_value(shape)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default();
                    open = Some(episodes.len());
                    episodes.push(Episode {
                        shape,
                        from_ms: ms,
                        to_ms: (run.outcome.virtual_end.as_nanos() as f64 / 1e3).round() / 1e3,
                        sides: sides(nodes, blocked)
                            .into_iter()
                            .map(|nodes| Side {
                                nodes,
                                writes: Outcomes::default(),
                                reads: Outcomes::default(),
                            })
                            .collect(),
                    });
                }
            }
            Process::Client(p) if e.kind == EventType::Invoke => {
                if let Some(i) = open {
                    let node = sim.process_home(p).0;
                    if let Some(s) = episodes[i]
                        .sides
                        .iter()
                        .position(|s| s.nodes.contains(&node))
                    {
                        pending.insert(p, (i, s, e.f != "read"));
                    }
                }
            }
            Process::Client(p) => {
                if let Some((i, s, writes)) = pending.remove(&p) {
                    let side = &mut episodes[i].sides[s];
                    let outcomes = if writes {
                        &mut side.writes
                    } else {
                        &mut side.reads
                    };
                    outcomes.count(Some(e.kind));
                }
            }
        }
    }
    // Invoked during a partition and never answered before the run ended: unknown.
    for (i, s, writes) in pending.into_values() {
        let side = &mut episodes[i].sides[s];
        let outcomes = if writes {
            &mut side.writes
        } else {
            &mut side.reads
        };
        outcomes.count(None);
    }
    episodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Protocol;
    use crate::scenario::Scenario;

    #[test]
    fn sides_are_what_still_connects() {
        let n = |i: u32| NodeId(i);
        let halves = dsys_sim::nemesis::partition::halves(&[n(0), n(1), n(2), n(3), n(4)]);
        assert_eq!(sides(5, &halves), vec![vec![2, 3, 4], vec![0, 1]]);
        assert_eq!(sides(3, &[]), vec![vec![0, 1, 2]]);
        // One direction cut is enough to part two nodes.
        assert_eq!(sides(2, &[(n(0), n(1))]), vec![vec![0], vec![1]]);
    }

    #[test]
    fn other_faults_during_a_partition_do_not_end_it() {
        // Halves with crashes and restarts between: every episode ends at a heal (or at
        // the next partition), and ops keep counting while other faults come and go.
        let r = Scenario::builder(Protocol::Raft)
            .seed(3)
            .nemesis("halves+crash-restart")
            .run()
            .unwrap();
        let episodes = episodes(&r);
        assert!(!episodes.is_empty());
        let heals: Vec<f64> = r
            .outcome
            .history
            .events()
            .iter()
            .filter(|e| e.f == "heal-partition" || e.f == "heal-all" || e.f == "partition")
            .map(|e| (e.time as f64 / 1e3).round() / 1e3)
            .collect();
        for e in &episodes {
            assert!(heals.contains(&e.to_ms), "{e:?} does not end at a heal");
        }
        assert!(
            episodes
                .iter()
                .any(|e| e.sides.iter().any(|s| s.writes.total() > 0))
        );
    }

    #[test]
    fn a_strict_quorum_refuses_the_minority_side_and_a_sloppy_one_does_not() {
        let run = |settings: &[&str]| {
            let r = Scenario::builder(Protocol::Leaderless)
                .set(settings)
                .seed(1)
                .nemesis("halves")
                .run()
                .unwrap();
            episodes(&r)
        };
        // Every key has all five nodes as homes: two can never make a quorum of three.
        let strict = run(&["n=5", "w=3", "r=3"]);
        assert!(!strict.is_empty());
        for e in &strict {
            assert_eq!(e.shape, "halves");
            let minority = &e.sides[1];
            assert_eq!(minority.nodes.len(), 2, "{e:?}");
            assert_eq!(minority.writes.ok, 0, "{e:?}");
            assert!(
                minority.writes.total() > 0 || minority.reads.total() > 0,
                "{e:?}"
            );
        }
        // Three homes per key: fallbacks beside the minority stand in for the others.
        let sloppy = run(&["n=3", "w=2", "r=2", "sloppy=on"]);
        let minority_ok: u64 = sloppy.iter().map(|e| e.sides[1].writes.ok).sum();
        assert!(
            minority_ok > 0,
            "a sloppy quorum takes minority-side writes"
        );
    }
}

//! Raft's safety properties (Ongaro and Ousterhout, 2014, figure 3), checked over the
//! whole cluster after every step of every node, plus the measurements only a global
//! view can take.
//!
//! | property | how it is checked |
//! | --- | --- |
//! | Election Safety: at most one leader per term | the leader of each term is remembered |
//! | Log Matching: equal (index, term) means equal logs up to there | each (index, term) ever seen keeps its prefix hash; a log that holds it with another prefix breaks the property |
//! | Leader Completeness: a leader holds every entry committed in earlier terms | a leader's log must match the committed prefix up to the highest index committed before its term |
//! | committed entries never lost or changed | a node's commit index must lie on the committed prefix, and the part of the committed prefix a node's log holds never shrinks |
//! | State Machine Safety: all nodes apply the same command at an index | the state after applying index *i* must have the same digest on every node |
//!
//! Prefix hashes ([`Log::prefix_hash`]) make each check constant time per step, plus the
//! entries a step appended, so the monitor can stay on in every simulated run.

use super::{Command, Log, RaftNode, Role};
use dsys_node::{Instant, Monitor, NodeId};
use std::collections::BTreeMap;
use std::collections::btree_map::Entry as MapEntry;

/// What the monitor remembers of one node from its last step.
#[derive(Clone, Copy, Debug, Default)]
struct NodeView {
    /// It believed it led (and has not crashed since).
    leader: bool,
    /// The highest committed index its log matched.
    holds: u64,
    /// `holds` when its storage last caught up with its state: what a crash must not
    /// take from it.
    holds_durably: u64,
    /// The index its state machine had applied.
    applied: u64,
}

/// The invariant monitor of `raft` (see the module documentation).
#[derive(Debug)]
pub struct RaftMonitor {
    steps: u64,
    views: Vec<NodeView>,
    /// Election Safety: who led each term.
    leader_of_term: BTreeMap<u64, NodeId>,
    /// Log Matching: the prefix hash of every (index, term) seen in any log.
    seen: BTreeMap<(u64, u64), u64>,
    /// The committed prefix: `committed[i - 1]` is the prefix hash at index `i`.
    committed: Vec<u64>,
    /// Leader Completeness: the highest index committed while each term was current.
    committed_in_term: BTreeMap<u64, u64>,
    /// State Machine Safety: the state digest after applying each index.
    applied_digest: BTreeMap<u64, u64>,
    /// When each not-yet-committed entry (index → term) first appeared in a log.
    first_seen: BTreeMap<u64, (u64, Instant)>,
    commit_latencies_ns: Vec<u64>,
    commands_committed: u64,
    changes_committed: u64,
    leaderless_since: Option<Instant>,
    leaderless_ns: u64,
}

impl RaftMonitor {
    /// A monitor for a cluster of `n` nodes.
    pub fn new(n: usize) -> Self {
        RaftMonitor {
            steps: 0,
            views: vec![NodeView::default(); n],
            leader_of_term: BTreeMap::new(),
            seen: BTreeMap::new(),
            committed: Vec::new(),
            committed_in_term: BTreeMap::new(),
            applied_digest: BTreeMap::new(),
            first_seen: BTreeMap::new(),
            commit_latencies_ns: Vec::new(),
            commands_committed: 0,
            changes_committed: 0,
            leaderless_since: Some(Instant::ZERO),
            leaderless_ns: 0,
        }
    }

    /// The committed prefix hash at `index` (0 for the empty prefix).
    fn committed_hash(&self, index: u64) -> Option<u64> {
        match index {
            0 => Some(0),
            i => self.committed.get(i as usize - 1).copied(),
        }
    }

    /// The highest index up to which `log` matches the committed prefix (0 if even its
    /// snapshot does not: that is a lost commit too).
    fn held_prefix(&self, log: &Log) -> u64 {
        let end = (self.committed.len() as u64).min(log.last_index());
        let matches = |i: u64| log.prefix_hash(i) == self.committed_hash(i);
        if matches(end) {
            return end;
        }
        let start = log.snapshot_index();
        if start >= end || !matches(start) {
            return 0;
        }
        // Matching is a prefix property: binary search for its end.
        let (mut lo, mut hi) = (start, end);
        while lo + 1 < hi {
            let mid = lo + (hi - lo) / 2;
            if matches(mid) { lo = mid } else { hi = mid }
        }
        lo
    }

    fn check_election_safety(&mut self, node: NodeId, term: u64) -> Result<(), String> {
        match self.leader_of_term.entry(term) {
            MapEntry::Vacant(e) => {
                e.insert(node);
                Ok(())
            }
            MapEntry::Occupied(e) if *e.get() == node => Ok(()),
            MapEntry::Occupied(e) => Err(format!(
                "election safety: {node} and {} both led term {term}",
                e.get()
            )),
        }
    }

    /// Walk back from the end of `log` over entries not seen before; stop at the first
    /// one seen before, whose prefix hash must agree.
    fn check_log_matching(&mut self, now: Instant, node: NodeId, log: &Log) -> Result<(), String> {
        let mut index = log.last_index();
        while index > 0 {
            let (Some(term), Some(hash)) = (log.term_at(index), log.prefix_hash(index)) else {
                break;
            };
            match self.seen.entry((index, term)) {
                MapEntry::Occupied(e) if *e.get() == hash => break,
                MapEntry::Occupied(_) => {
                    return Err(format!(
                        "log matching: {node} holds entry {index} of term {term} after \
                         different entries than another log holding it"
                    ));
                }
                MapEntry::Vacant(e) => {
                    e.insert(hash);
                    if index > self.committed.len() as u64 {
                        self.first_seen.insert(index, (term, now));
                    }
                }
            }
            index -= 1;
        }
        Ok(())
    }

    /// The node's commit index must lie on the committed prefix; past its end, it extends it.
    fn check_commit(&mut self, now: Instant, node: NodeId, state: &RaftNode) -> Result<(), String> {
        let (log, commit) = (&state.log, state.commit);
        if commit > log.last_index() {
            return Err(format!(
                "{node} has commit index {commit} beyond its log's end {}",
                log.last_index()
            ));
        }
        let known = self.committed.len() as u64;
        let shared = commit.min(known);
        if log.prefix_hash(shared) != self.committed_hash(shared) {
            return Err(format!(
                "state machine safety: {node} commits index {shared} over different entries \
                 than were committed there before"
            ));
        }
        for index in known + 1..=commit {
            let (Some(hash), Some(entry)) = (log.prefix_hash(index), log.get(index)) else {
                break;
            };
            self.committed.push(hash);
            if let Some((term, at)) = self.first_seen.remove(&index)
                && term == entry.term
            {
                let latency = now.saturating_duration_since(at);
                self.commit_latencies_ns
                    .push(u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX));
            }
            match entry.command {
                Command::Client { .. } => self.commands_committed += 1,
                Command::Config { .. } => self.changes_committed += 1,
                Command::Noop => {}
            }
        }
        if commit > known {
            let highest = self.committed_in_term.entry(state.term).or_default();
            *highest = (*highest).max(commit);
        }
        Ok(())
    }

    fn check_applied(&mut self, node: NodeId, state: &RaftNode) -> Result<(), String> {
        let applied = state.applied;
        if applied == self.views[node.index()].applied || applied == 0 {
            return Ok(());
        }
        let digest = state.state.data.digest();
        match self.applied_digest.entry(applied) {
            MapEntry::Vacant(e) => {
                e.insert(digest);
                Ok(())
            }
            MapEntry::Occupied(e) if *e.get() == digest => Ok(()),
            MapEntry::Occupied(_) => Err(format!(
                "state machine safety: after applying index {applied}, {node}'s data differs \
                 from another node's after the same index"
            )),
        }
    }

    fn note_leadership(&mut self, now: Instant) {
        let led = self.views.iter().any(|v| v.leader);
        match (led, self.leaderless_since) {
            (true, Some(since)) => {
                self.leaderless_ns += now.saturating_duration_since(since).as_nanos() as u64;
                self.leaderless_since = None;
            }
            (false, None) => self.leaderless_since = Some(now),
            _ => {}
        }
    }
}

/// The `q`-quantile (0..=1) of sorted values, nearest rank.
fn quantile(sorted: &[u64], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

impl Monitor<RaftNode> for RaftMonitor {
    fn after_step(&mut self, now: Instant, node: NodeId, state: &RaftNode) -> Result<(), String> {
        self.steps += 1;
        let leader = matches!(state.role, Role::Leader(_));
        if leader {
            self.check_election_safety(node, state.term)?;
        }
        self.check_log_matching(now, node, &state.log)?;
        self.check_commit(now, node, state)?;
        let holds = self.held_prefix(&state.log);
        let before = self.views[node.index()].holds_durably;
        if holds < before {
            return Err(format!(
                "committed entry lost: {node}'s log held the committed prefix up to index \
                 {before}, now only up to {holds}"
            ));
        }
        if leader {
            let required = self
                .committed_in_term
                .range(..state.term)
                .map(|(_, index)| *index)
                .max()
                .unwrap_or(0);
            if holds < required {
                return Err(format!(
                    "leader completeness: {node} leads term {} without committed index {required}",
                    state.term
                ));
            }
        }
        self.check_applied(node, state)?;
        let view = &mut self.views[node.index()];
        view.leader = leader;
        view.holds = holds;
        view.applied = state.applied;
        self.note_leadership(now);
        Ok(())
    }

    fn on_caught_up(&mut self, _now: Instant, node: NodeId) {
        let view = &mut self.views[node.index()];
        view.holds_durably = view.holds;
    }

    fn on_crash(&mut self, now: Instant, node: NodeId) {
        // What the node held once its storage had caught up survives; leadership and
        // the applied state do not.
        let view = &mut self.views[node.index()];
        view.leader = false;
        view.applied = 0;
        self.note_leadership(now);
    }

    fn metrics(&self, end: Instant) -> Vec<(&'static str, u64)> {
        let leaderless = self.leaderless_ns
            + self.leaderless_since.map_or(0, |since| {
                end.saturating_duration_since(since).as_nanos() as u64
            });
        let mut latencies = self.commit_latencies_ns.clone();
        latencies.sort_unstable();
        let mut metrics = vec![
            ("ms without a leader", leaderless / 1_000_000),
            ("commands committed", self.commands_committed),
        ];
        if self.changes_committed > 0 {
            metrics.push(("membership changes committed", self.changes_committed));
        }
        if !latencies.is_empty() {
            metrics.push(("µs to commit, p50", quantile(&latencies, 0.5) / 1_000));
            metrics.push(("µs to commit, p99", quantile(&latencies, 0.99) / 1_000));
        }
        metrics
    }

    fn steps_checked(&self) -> u64 {
        self.steps
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Entry, Leadership, RaftConfig};
    use super::*;
    use dsys_node::{Node, Op, RequestId, Storage};
    use std::collections::BTreeSet;

    fn write(term: u64, seq: u64, value: u64) -> Entry {
        Entry {
            term,
            command: Command::Client {
                request: RequestId { client: 1, seq },
                op: Op::Write { key: 1, value },
            },
        }
    }

    /// A node `id` of a 3-node cluster in `term` holding `entries`, with `commit`.
    fn node(id: u32, term: u64, entries: Vec<Entry>, commit: u64, leads: bool) -> RaftNode {
        let mut n = RaftNode::boot(&RaftConfig::default(), NodeId(id), 3, &Storage::default());
        n.term = term;
        n.log = Log::from_entries(entries);
        n.commit = commit;
        if leads {
            n.role = Role::Leader(Box::new(Leadership {
                next: vec![1; 3],
                matched: vec![0; 3],
                acked_round: vec![0; 3],
                round: 0,
                round_sent: BTreeMap::new(),
                lease_until: Instant::ZERO,
                noop_index: 0,
                waiting: BTreeMap::new(),
                reads: Vec::new(),
                heard: BTreeSet::new(),
                handed_over: false,
            }));
        }
        n
    }

    fn at(ms: u64) -> Instant {
        Instant::ZERO + std::time::Duration::from_millis(ms)
    }

    #[test]
    fn a_correct_history_passes_and_is_measured() {
        let mut m = RaftMonitor::new(3);
        let a = [write(1, 1, 10), write(1, 2, 20)];
        m.after_step(at(1), NodeId(0), &node(0, 1, a.to_vec(), 0, true))
            .unwrap();
        m.after_step(at(2), NodeId(1), &node(1, 1, a.to_vec(), 0, false))
            .unwrap();
        m.after_step(at(4), NodeId(0), &node(0, 1, a.to_vec(), 2, true))
            .unwrap();
        // A later leader that holds everything committed; a follower rejoining with a
        // conflicting uncommitted suffix truncated.
        let b = [write(1, 1, 10), write(1, 2, 20), write(2, 3, 30)];
        m.after_step(at(5), NodeId(1), &node(1, 2, b.to_vec(), 2, true))
            .unwrap();
        m.after_step(at(6), NodeId(2), &node(2, 2, b.to_vec(), 3, false))
            .unwrap();
        // Both leaders crash at 8 ms: leaderless from then on, as before the first one.
        m.on_crash(at(8), NodeId(0));
        m.on_crash(at(8), NodeId(1));
        let metrics: BTreeMap<_, _> = m.metrics(at(10)).into_iter().collect();
        assert_eq!(metrics["commands committed"], 3);
        // Entries 1 and 2 took 3 ms (appended at 1, committed at 4), entry 3 took 1 ms.
        assert_eq!(metrics["µs to commit, p50"], 3_000, "{metrics:?}");
        assert_eq!(metrics["µs to commit, p99"], 3_000, "{metrics:?}");
        assert_eq!(metrics["ms without a leader"], 1 + 2, "{metrics:?}");
        assert_eq!(m.steps_checked(), 5);
    }

    /// Step each state in turn (1 ms apart); all but the last pass, the last breaks an
    /// invariant: returns what it says.
    fn violation(states: &[RaftNode]) -> String {
        let mut m = RaftMonitor::new(3);
        let (last, before) = states.split_last().unwrap();
        for (i, state) in before.iter().enumerate() {
            m.after_step(at(i as u64 + 1), state.id, state).unwrap();
            m.on_caught_up(at(i as u64 + 1), state.id);
        }
        m.after_step(at(states.len() as u64), last.id, last)
            .unwrap_err()
    }

    #[test]
    fn entries_a_node_never_made_durable_may_be_lost_in_a_crash() {
        let full = vec![write(1, 1, 1), write(1, 2, 2)];
        let mut m = RaftMonitor::new(3);
        m.after_step(at(1), NodeId(0), &node(0, 1, full.clone(), 2, true))
            .unwrap();
        m.on_caught_up(at(1), NodeId(0));
        // Node 2 takes both entries, but its disk is still writing the second ...
        m.after_step(at(2), NodeId(2), &node(2, 1, full, 2, false))
            .unwrap();
        m.on_crash(at(3), NodeId(2));
        // ... so it may come back holding only the first ...
        let shorter = node(2, 1, vec![write(1, 1, 1)], 0, false);
        m.after_step(at(4), NodeId(2), &shorter).unwrap();
        m.on_caught_up(at(4), NodeId(2));
        // ... but not less than that, once its storage had caught up.
        let err = m
            .after_step(at(5), NodeId(2), &node(2, 1, vec![], 0, false))
            .unwrap_err();
        assert!(err.starts_with("committed entry lost"), "{err}");
    }

    #[test]
    fn two_leaders_in_one_term_break_election_safety() {
        let err = violation(&[node(0, 4, vec![], 0, true), node(1, 4, vec![], 0, true)]);
        assert!(err.starts_with("election safety"), "{err}");
    }

    #[test]
    fn equal_index_and_term_over_different_prefixes_break_log_matching() {
        let err = violation(&[
            node(0, 2, vec![write(1, 1, 1), write(2, 2, 2)], 0, false),
            node(1, 2, vec![write(1, 1, 9), write(2, 2, 2)], 0, false),
        ]);
        assert!(err.starts_with("log matching"), "{err}");
    }

    #[test]
    fn committing_another_entry_at_a_committed_index_breaks_state_machine_safety() {
        let err = violation(&[
            node(0, 1, vec![write(1, 1, 1), write(1, 2, 2)], 2, true),
            node(1, 2, vec![write(1, 1, 1), write(2, 2, 3)], 2, false),
        ]);
        assert!(err.starts_with("state machine safety"), "{err}");
    }

    #[test]
    fn a_leader_missing_a_committed_entry_breaks_leader_completeness() {
        let err = violation(&[
            node(0, 1, vec![write(1, 1, 1), write(1, 2, 2)], 2, true),
            node(1, 2, vec![write(1, 1, 1)], 0, true),
        ]);
        assert!(err.starts_with("leader completeness"), "{err}");
    }

    #[test]
    fn truncating_a_committed_entry_is_a_lost_commit() {
        let full = vec![write(1, 1, 1), write(1, 2, 2)];
        let err = violation(&[
            node(0, 1, full.clone(), 2, true),
            // A follower seen holding the committed entries (after the commit: the monitor
            // judges each node against what was committed when it last saw it) ...
            node(2, 1, full, 1, false),
            // ... must not drop one later.
            node(2, 1, vec![write(1, 1, 1)], 0, false),
        ]);
        assert!(err.starts_with("committed entry lost"), "{err}");
    }

    #[test]
    fn different_data_after_the_same_index_breaks_state_machine_safety() {
        let log = vec![write(1, 1, 1)];
        let mut a = node(0, 1, log.clone(), 1, true);
        a.applied = 1;
        a.state.data.set(1, 1);
        let mut b = node(1, 1, log, 1, false);
        b.applied = 1;
        b.state.data.set(1, 7);
        let err = violation(&[a, b]);
        assert!(err.starts_with("state machine safety"), "{err}");
    }

    #[test]
    fn compacted_logs_are_judged_by_the_prefix_hash_at_their_snapshot() {
        let full = vec![write(1, 1, 1), write(1, 2, 2), write(1, 3, 3)];
        let mut m = RaftMonitor::new(3);
        m.after_step(at(1), NodeId(0), &node(0, 1, full.clone(), 3, true))
            .unwrap();
        let mut compacted = node(1, 1, full.clone(), 2, false);
        compacted.log.compact_to(2);
        m.after_step(at(2), NodeId(1), &compacted).unwrap();
        assert_eq!(m.views[1].holds, 3);
        // A snapshot over other entries than were committed.
        let mut other = node(2, 1, vec![write(1, 1, 9), write(1, 2, 2)], 2, false);
        other.log.compact_to(2);
        let err = m.after_step(at(3), NodeId(2), &other).unwrap_err();
        assert!(err.starts_with("log matching"), "{err}");
    }

    #[test]
    fn a_commit_index_past_the_log_is_refused() {
        let err = violation(&[node(0, 1, vec![write(1, 1, 1)], 2, true)]);
        assert!(err.contains("beyond its log"), "{err}");
    }
}

//! Applying nemesis actions, the final heal, and the convergence probe.

use super::{Event, Phase, World};
use crate::clock::Strobe;
use crate::dist::millis_to_nanos;
use crate::nemesis::{DiskFault, FaultAction, PartitionKind, TimedFault, partition};
use crate::network::NetworkFault;
use dsys_node::{Duration, Key, KeyDigests, Node, NodeId};
use std::collections::{BTreeMap, BTreeSet};
use std::hash::Hasher;

const TAG_FAULT: u8 = 20;
const TAG_HEAL_ALL: u8 = 21;

impl<N: Node> World<N> {
    /// Ask the nemesis for its next action and schedule it.
    pub(super) fn schedule_next_fault(&mut self) {
        if let Some(TimedFault { at, action }) = self.nemesis.next_fault() {
            let at = at.max(self.now);
            self.queue.push(
                at,
                Event::Nemesis {
                    token: self.nemesis_token,
                    action,
                },
            );
        }
    }

    /// The node most live nodes name as leader (ties to the lowest id), if any.
    fn current_leader(&self) -> Option<NodeId> {
        let mut votes: BTreeMap<NodeId, usize> = BTreeMap::new();
        for slot in &self.nodes {
            if let Some(leader) = slot.state.as_ref().and_then(N::leader) {
                *votes.entry(leader).or_default() += 1;
            }
        }
        let best = votes.values().copied().max()?;
        votes
            .into_iter()
            .find(|&(_, v)| v == best)
            .map(|(node, _)| node)
    }

    pub(super) fn apply_fault(&mut self, action: FaultAction) {
        let action = match action {
            FaultAction::IsolateLeader => {
                let all: Vec<NodeId> = (0..self.nodes.len() as u32).map(NodeId).collect();
                let blocked = self
                    .current_leader()
                    .map(|l| partition::isolate(l, &all))
                    .unwrap_or_default();
                FaultAction::Partition {
                    shape: PartitionKind::IsolateLeader,
                    blocked,
                }
            }
            FaultAction::CrashLeader => match self.current_leader() {
                Some(node) => {
                    self.crashed_leader = Some(node);
                    FaultAction::Crash { node }
                }
                None => FaultAction::CrashLeader,
            },
            FaultAction::RestartLeader => match self.crashed_leader.take() {
                Some(node) => FaultAction::Restart { node },
                None => FaultAction::RestartLeader,
            },
            other => other,
        };
        match &action {
            FaultAction::Partition { blocked, .. } => self.network.set_blocked(blocked),
            FaultAction::IsolateLeader | FaultAction::CrashLeader | FaultAction::RestartLeader => {}
            FaultAction::HealPartition => self.network.heal(),
            FaultAction::Crash { node } => {
                self.crash(*node);
            }
            FaultAction::Restart { node } => {
                self.restart(*node);
            }
            FaultAction::Pause { node } => {
                self.pause(*node);
            }
            FaultAction::Resume { node } => {
                self.resume(*node);
            }
            FaultAction::ClockOffset { node, offset_ns } => {
                self.nodes[node.index()].clock.set_offset(*offset_ns)
            }
            FaultAction::ClockBump { node, delta_ns } => {
                self.nodes[node.index()].clock.bump(*delta_ns)
            }
            FaultAction::ClockDrift { node, ppm } => {
                self.nodes[node.index()].clock.set_drift(self.now, *ppm)
            }
            FaultAction::ClockStrobe {
                node,
                amplitude_ns,
                period_ns,
                duration_ns,
            } => {
                self.nodes[node.index()].clock.strobe(Strobe {
                    amplitude_ns: *amplitude_ns,
                    period_ns: (*period_ns).max(1),
                    start: self.now,
                    end: self.now + Duration::from_nanos(*duration_ns),
                });
            }
            FaultAction::ClockReset { node } => self.nodes[node.index()].clock.reset(),
            FaultAction::NetworkFault(fault) => self.network.set_fault(*fault),
            FaultAction::DiskFault { node, fault } => self.disk_fault(*node, *fault),
            FaultAction::DiskHeal { node, fault } => self.disk_heal(*node, *fault),
        }
        self.trace.write_u8(TAG_FAULT);
        self.trace.write_u64(self.now.as_nanos());
        if let Ok(json) = serde_json::to_vec(&action) {
            self.trace.write(&json);
        }
        self.history
            .nemesis(self.now, action.name(), Some(action.clone()));
        self.realised.push(TimedFault {
            at: self.now,
            action,
        });
    }

    /// `node`'s disk starts failing; `corrupt-read` shows at once, in a reboot (of a node
    /// that is up: one another fault keeps down stays down).
    fn disk_fault(&mut self, node: NodeId, fault: DiskFault) {
        self.nodes[node.index()].store.set_fault(fault);
        if fault == DiskFault::CorruptRead && self.crash(node) {
            self.restart(node);
        }
    }

    /// `node`'s disk stops failing. A fault whose harm shows only at a crash ends with a
    /// power loss under it and a clean reboot; a node its disk kept down boots again. A
    /// node down for another reason (a `crash` nemesis) stays down.
    fn disk_heal(&mut self, node: NodeId, fault: DiskFault) {
        let power_cycled = fault.ends_with_power_loss() && self.crash(node);
        self.nodes[node.index()].store.clear_fault(fault);
        if power_cycled || self.nodes[node.index()].down_by_disk {
            self.restart(node);
        }
    }

    /// The workload is done: stop injecting faults, heal everything, and start waiting
    /// for the replicas to converge.
    pub(super) fn stop_faults(&mut self) {
        if self.phase != Phase::Workload {
            return;
        }
        self.nemesis_token += 1;
        self.phase = Phase::Healing { since: self.now };
        self.faults_stopped_at = Some(self.now);
        self.network.heal();
        self.network.set_fault(NetworkFault::default());
        for i in 0..self.nodes.len() {
            let node = NodeId(i as u32);
            self.nodes[i].clock.reset();
            // Each storage fault still on ends as its own heal would have ended it.
            for fault in self.nodes[i].store.faults().to_vec() {
                self.disk_heal(node, fault);
            }
            self.resume(node);
            self.restart(node);
        }
        self.trace.write_u8(TAG_HEAL_ALL);
        self.trace.write_u64(self.now.as_nanos());
        self.history.nemesis(self.now, "heal-all", None);
        self.queue.push(self.now, Event::ConvergenceProbe);
    }

    /// Whether every data-holding node reports the same digest — or, for protocols that
    /// place keys on some nodes only, every key's home replicas agree and no hand-off is
    /// pending.
    fn replicas_agree(&self) -> bool {
        let states: Vec<&N> = self.nodes.iter().filter_map(|s| s.state.as_ref()).collect();
        let per_key: Vec<(&N, KeyDigests)> = states
            .iter()
            .filter_map(|n| Some((*n, n.key_digests()?)))
            .collect();
        if !per_key.is_empty() {
            if per_key.iter().any(|(_, d)| d.handoffs_pending > 0) {
                return false;
            }
            let held: Vec<BTreeMap<Key, u64>> = per_key
                .iter()
                .map(|(_, d)| d.entries.iter().copied().collect())
                .collect();
            let keys: BTreeSet<Key> = held.iter().flat_map(|m| m.keys().copied()).collect();
            return keys.iter().all(|key| {
                let mut digests = per_key
                    .iter()
                    .zip(&held)
                    .filter(|((n, _), _)| n.is_replica_of(*key))
                    .map(|(_, m)| m.get(key));
                let first = digests.next();
                digests.all(|d| Some(d) == first)
            });
        }
        let mut digests = states.iter().filter_map(|n| n.replica_digest());
        match digests.next() {
            None => true,
            Some(first) => digests.all(|d| d == first),
        }
    }

    pub(super) fn probe_convergence(&mut self) {
        let Phase::Healing { since } = self.phase else {
            return;
        };
        let waited = self.now.saturating_duration_since(since);
        if self.replicas_agree() {
            self.converged = true;
            self.time_to_converge = Some(waited);
            self.start_final_reads();
            return;
        }
        let deadline = Duration::from_nanos(millis_to_nanos(self.config.convergence.deadline_ms));
        if waited >= deadline {
            self.start_final_reads();
            return;
        }
        let interval =
            Duration::from_nanos(millis_to_nanos(self.config.convergence.probe_interval_ms).max(1));
        self.queue
            .push(self.now + interval, Event::ConvergenceProbe);
    }
}

//! What a run produced: counters, the history, the realised fault schedule, the trace hash.

use crate::history::RunHistory;
use crate::nemesis::TimedFault;
use crate::store::DiskStats;
use dsys_node::{Duration, Instant};

/// Counters gathered while the world ran.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Events popped from the queue.
    pub events: u64,
    /// Node-to-node messages handed to the network.
    pub messages_sent: u64,
    /// Node-to-node messages a live node processed.
    pub messages_delivered: u64,
    /// Messages dropped because a partition blocked the link.
    pub dropped_partition: u64,
    /// Messages dropped by random loss.
    pub dropped_loss: u64,
    /// Messages addressed to a crashed node.
    pub dropped_down: u64,
    /// Client requests and replies dropped because a partition separates the client's
    /// home node from the node it talks to.
    pub client_messages_partitioned: u64,
    /// Extra copies created by duplication.
    pub duplicated: u64,
    /// Timers that fired into a live node.
    pub timers_fired: u64,
    /// Client operations that completed and took effect.
    pub ops_ok: u64,
    /// Client operations that definitely did not take effect.
    pub ops_fail: u64,
    /// Client operations whose effect is unknown (timed out).
    pub ops_info: u64,
    /// Of `ops_fail`, those the system refused (unavailable, no leader) rather than
    /// answered (a compare-and-set that found another value).
    pub ops_refused: u64,
    /// When the cluster first answered a client (an `ok`, or a compare-and-set told
    /// no): operations invoked before it are the start-up, not counted in availability.
    pub first_served: Option<Instant>,
    /// Workload operations invoked before the cluster first answered anyone.
    pub startup_ops: u64,
    /// Of those, the ones answered (the first answer among them).
    pub startup_answered: u64,
    /// Final reads made after the heal (not counted as workload operations).
    pub final_reads: u64,
    /// Virtual latency of every `ok` operation, ns, in completion order.
    pub ok_latencies_ns: Vec<u64>,
    /// Node crashes.
    pub crashes: u64,
    /// Buffered writes lost to crashes.
    pub lost_buffered_writes: u64,
    /// What the storage faults did, summed over disks.
    pub disk: DiskStats,
    /// Nodes crashed because a write of theirs failed (the default answer to a failed
    /// fsync or a full disk).
    pub crashes_on_failed_writes: u64,
    /// Boots a node refused because what it read failed its checksums.
    pub refused_boots: u64,
}

impl RunStats {
    /// Workload operations in all.
    pub fn ops(&self) -> u64 {
        self.ops_ok + self.ops_fail + self.ops_info
    }

    /// The operation counts availability is computed from.
    pub fn availability(&self) -> Availability {
        Availability {
            served: self.first_served.is_some(),
            ops: self.ops(),
            answered: self.ops() - self.ops_info - self.ops_refused,
            startup_ops: self.startup_ops,
            startup_answered: self.startup_answered,
        }
    }

    /// Messages dropped for any reason.
    pub fn messages_dropped(&self) -> u64 {
        self.dropped_partition + self.dropped_loss + self.dropped_down
    }
}

/// Operation counts split at the cluster's first answer to a client. Whole numbers, so
/// they travel through JSON and sum over runs exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Availability {
    /// Whether the cluster ever answered a client.
    pub served: bool,
    /// Workload operations in all.
    pub ops: u64,
    /// Operations answered: not timed out, not refused (a compare-and-set told no is an
    /// answer).
    pub answered: u64,
    /// Operations invoked before the first answer (the start-up).
    pub startup_ops: u64,
    /// Of those, answered.
    pub startup_answered: u64,
}

impl Availability {
    /// The share of operations answered among those invoked once the cluster had first
    /// answered a client: a cluster electing its first leader is not down, it is not up
    /// yet. A cluster that never answered anyone is 0; a run without operations 1.
    pub fn steady(&self) -> f64 {
        let ops = self.ops - self.startup_ops;
        match (self.served, ops) {
            (false, _) if self.ops > 0 => 0.0,
            (_, 0) => 1.0,
            _ => (self.answered - self.startup_answered) as f64 / ops as f64,
        }
    }

    /// The share of start-up operations answered (1 when there were none).
    pub fn startup(&self) -> f64 {
        match self.startup_ops {
            0 => 1.0,
            n => self.startup_answered as f64 / n as f64,
        }
    }
}

/// The result of one run.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// Fingerprint of everything that happened.
    pub trace_hash: u64,
    /// Client operations and nemesis events.
    pub history: RunHistory,
    /// Every fault action as applied, with leader-dependent targets resolved.
    pub realised_schedule: Vec<TimedFault>,
    /// The nemesis spec in force (`swarm` resolved to what it drew).
    pub effective_nemesis: String,
    /// Counters.
    pub stats: RunStats,
    /// When the last event ran.
    pub virtual_end: Instant,
    /// When the last client operation completed and faults stopped.
    pub faults_stopped_at: Option<Instant>,
    /// Whether replicas converged after the final heal (within the deadline).
    pub converged: bool,
    /// Time from the final heal to convergence.
    pub time_to_converge: Option<Duration>,
    /// Why the run stopped early, if it did.
    pub aborted: Option<String>,
    /// The protocol's own counters ([`dsys_node::Node::metrics`]), summed over the nodes
    /// alive at the end, plus those of nodes that crashed before it, and the measurements
    /// of its monitor ([`dsys_node::Monitor::metrics`]).
    pub protocol_metrics: std::collections::BTreeMap<&'static str, u64>,
    /// What the protocol's cluster-wide invariant monitor found, if it has one.
    pub invariants: Option<InvariantsOutcome>,
}

/// The verdict of a protocol's invariant monitor ([`dsys_node::Node::monitor`]).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct InvariantsOutcome {
    /// Node steps after which the invariants were checked.
    pub steps_checked: u64,
    /// The first invariant that broke (the run stopped there), if any.
    pub violation: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn availability_leaves_the_start_up_out() {
        let a = |served, ops, answered, startup_ops, startup_answered| Availability {
            served,
            ops,
            answered,
            startup_ops,
            startup_answered,
        };
        // 40 ops before the first answer (1 of them answered), then 960 all answered.
        let raft = a(true, 1000, 961, 40, 1);
        assert_eq!(raft.steady(), 1.0);
        assert_eq!(raft.startup(), 1.0 / 40.0);
        // Half of what followed went unanswered.
        assert_eq!(a(true, 100, 51, 2, 1).steady(), 50.0 / 98.0);
        // Never answered anyone: 0, not "no operations after the start-up".
        assert_eq!(a(false, 10, 0, 10, 0).steady(), 0.0);
        // No operations at all.
        assert_eq!(a(false, 0, 0, 0, 0).steady(), 1.0);
        assert_eq!(a(false, 0, 0, 0, 0).startup(), 1.0);
    }
}

//! Concrete fault actions: what the nemesis does at one instant.

use super::disk::DiskFault;
use super::partition::PartitionKind;
use crate::network::NetworkFault;
use dsys_node::{Instant, NodeId};
use serde::{Deserialize, Serialize};

/// One thing the nemesis does to the world.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum FaultAction {
    /// Block exactly these directed links (replacing any earlier partition).
    Partition {
        /// The shape, for humans.
        shape: PartitionKind,
        /// Blocked `[from, to]` pairs.
        blocked: Vec<(NodeId, NodeId)>,
    },
    /// Isolate whichever node leads when this fires; the world records the resolved
    /// [`FaultAction::Partition`] in the realised schedule.
    IsolateLeader,
    /// Crash whichever node leads when this fires; the world records the resolved
    /// [`FaultAction::Crash`] in the realised schedule (this action itself only when no
    /// node leads, as a no-op).
    CrashLeader,
    /// Restart the node the last [`FaultAction::CrashLeader`] crashed; recorded as the
    /// resolved [`FaultAction::Restart`].
    RestartLeader,
    /// Remove every partition.
    HealPartition,
    /// Crash a node: in-memory and buffered state lost, synced state kept.
    Crash {
        /// The node.
        node: NodeId,
    },
    /// Boot a crashed node from its synced state.
    Restart {
        /// The node.
        node: NodeId,
    },
    /// Stop a node from processing anything; inputs queue up.
    Pause {
        /// The node.
        node: NodeId,
    },
    /// Let a paused node process what queued up, then carry on.
    Resume {
        /// The node.
        node: NodeId,
    },
    /// Set a node's wall-clock offset.
    ClockOffset {
        /// The node.
        node: NodeId,
        /// Offset from true time, ns.
        offset_ns: i64,
    },
    /// Jump a node's wall clock once.
    ClockBump {
        /// The node.
        node: NodeId,
        /// The jump, ns.
        delta_ns: i64,
    },
    /// Make a node's clock run fast or slow.
    ClockDrift {
        /// The node.
        node: NodeId,
        /// Rate error, parts per million.
        ppm: i64,
    },
    /// Flip a node's wall clock between two offsets.
    ClockStrobe {
        /// The node.
        node: NodeId,
        /// Size of the flip, ns.
        amplitude_ns: i64,
        /// Length of each phase, ns.
        period_ns: u64,
        /// How long the strobe lasts, ns.
        duration_ns: u64,
    },
    /// Put a node's clock right.
    ClockReset {
        /// The node.
        node: NodeId,
    },
    /// Switch network-wide loss, duplication and delay on (or, all zero, off).
    NetworkFault(NetworkFault),
    /// A node's disk starts to fail this way (`corrupt-read`: the node reboots and its
    /// reads come back damaged).
    DiskFault {
        /// The node.
        node: NodeId,
        /// How its disk fails.
        fault: DiskFault,
    },
    /// A node's disk stops failing this way; for faults whose harm shows only at a
    /// crash, the node loses power first and boots again.
    DiskHeal {
        /// The node.
        node: NodeId,
        /// The fault that ends.
        fault: DiskFault,
    },
}

impl FaultAction {
    /// A short name for tables and history events.
    pub fn name(&self) -> &'static str {
        match self {
            FaultAction::Partition { .. } => "partition",
            FaultAction::IsolateLeader => "isolate-leader",
            FaultAction::CrashLeader => "crash-leader",
            FaultAction::RestartLeader => "restart-leader",
            FaultAction::HealPartition => "heal-partition",
            FaultAction::Crash { .. } => "crash",
            FaultAction::Restart { .. } => "restart",
            FaultAction::Pause { .. } => "pause",
            FaultAction::Resume { .. } => "resume",
            FaultAction::ClockOffset { .. } => "clock-offset",
            FaultAction::ClockBump { .. } => "clock-bump",
            FaultAction::ClockDrift { .. } => "clock-drift",
            FaultAction::ClockStrobe { .. } => "clock-strobe",
            FaultAction::ClockReset { .. } => "clock-reset",
            FaultAction::NetworkFault(_) => "network-fault",
            FaultAction::DiskFault { .. } => "disk-fault",
            FaultAction::DiskHeal { .. } => "disk-heal",
        }
    }

    /// The node the action targets, if it targets one.
    pub fn node(&self) -> Option<NodeId> {
        match *self {
            FaultAction::Crash { node }
            | FaultAction::Restart { node }
            | FaultAction::Pause { node }
            | FaultAction::Resume { node }
            | FaultAction::ClockOffset { node, .. }
            | FaultAction::ClockBump { node, .. }
            | FaultAction::ClockDrift { node, .. }
            | FaultAction::ClockStrobe { node, .. }
            | FaultAction::ClockReset { node }
            | FaultAction::DiskFault { node, .. }
            | FaultAction::DiskHeal { node, .. } => Some(node),
            _ => None,
        }
    }
}

/// A fault action and when it happens (true virtual time since the run started).
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedFault {
    /// When, ns since the start of the run.
    pub at: Instant,
    /// What.
    pub action: FaultAction,
}

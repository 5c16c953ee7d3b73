//! Whole-cluster monitors: safety invariants and measurements that need every node's
//! view at once, which no single node has.

use crate::{Instant, NodeId};
use std::fmt;

/// Watches a cluster from outside, one step at a time.
///
/// A driver that can see every node (the simulator) calls [`Monitor::after_step`] after
/// each input a node handled, with the node's state at that moment and the true time.
/// The monitor keeps whatever summary of earlier steps it needs — a node that is down
/// keeps the view it had when it was last seen, which for synced state is what it will
/// boot from. It never influences the run: it only answers whether an invariant broke.
pub trait Monitor<N>: fmt::Debug {
    /// `node` just handled one input (or booted). `Err` names the invariant that broke
    /// and how; the driver stops the run there.
    fn after_step(&mut self, now: Instant, node: NodeId, state: &N) -> Result<(), String>;

    /// `node` crashed: its volatile state is gone.
    fn on_crash(&mut self, _now: Instant, _node: NodeId) {}

    /// Every write `node` asked for up to its last step has been carried out, with the
    /// durability it asked for: its storage now holds what its last-seen state says. (A
    /// slow disk lets a node's state run ahead of its storage; what it loses in a crash
    /// while behind was never acknowledged.)
    fn on_caught_up(&mut self, _now: Instant, _node: NodeId) {}

    /// What the monitor measured, at the end of a run that ended at `end`.
    fn metrics(&self, end: Instant) -> Vec<(&'static str, u64)>;

    /// How many steps were checked.
    fn steps_checked(&self) -> u64;
}

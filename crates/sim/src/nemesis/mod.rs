//! The nemesis: which faults happen, when, and to whom.

mod action;
mod disk;
mod generator;
pub mod partition;
#[cfg(test)]
mod region_tests;
mod spec;

pub use action::{FaultAction, TimedFault};
pub use disk::DiskFault;
pub use generator::{Generator, NemesisTiming};
pub use partition::PartitionKind;
pub use spec::{Fault, NemesisSpec, NemesisSpecError};

/// Where a run's faults come from.
#[derive(Debug)]
pub enum NemesisSource {
    /// Drawn from the seed by a [`Generator`].
    Generated(Generator),
    /// A fixed timeline (for example the realised schedule of an earlier run).
    Scripted(std::vec::IntoIter<TimedFault>),
}

impl NemesisSource {
    /// The next fault, in time order.
    pub fn next_fault(&mut self) -> Option<TimedFault> {
        match self {
            NemesisSource::Generated(g) => g.next_fault(),
            NemesisSource::Scripted(script) => script.next(),
        }
    }
}

//! Logical clocks: Lamport clocks, version vectors, hybrid logical clocks.

mod hlc;
mod lamport;
mod version_vector;

pub use hlc::{Hlc, HlcTimestamp};
pub use lamport::LamportClock;
pub use version_vector::{Causality, VersionVector};

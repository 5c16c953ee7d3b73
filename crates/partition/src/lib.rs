//! Partitioning: where each key lives, and what moves when nodes come and go.
//!
//! Hash placement behind one trait, [`Placement`] (which node owns a key; replicas on
//! distinct nodes and zones):
//!
//! | algorithm | lookup | balance | on a change of nodes | weights | any node removable |
//! | --- | --- | --- | --- | --- | --- |
//! | [`Ring`] (virtual nodes) | `O(log points)` | ~`1/sqrt(vnodes)` spread | minimal | yes | yes |
//! | [`Jump`] | `O(ln n)`, no memory | even | minimal, at the end only | no | last only |
//! | [`Rendezvous`] | `O(n)` | even | minimal | yes | yes |
//! | [`Maglev`] | one table read | even | a little above minimal | yes | yes |
//! | [`Anchor`] (AnchorHash) | a few steps | even | minimal | no | yes |
//! | [`BoundedLoads`] | ring walk | capped at `c ×` fair share | more, as loads shift | yes | yes |
//!
//! Keys are 64-bit positions: [`key_hash`] for bytes (XXH3, fixed for all time), [`mix`]
//! for numbers.
//!
//! Beyond hashing:
//! - [`range`]: contiguous key ranges split by size or load, merged when small, hot
//!   spots and hot keys reported.
//! - [`geo`]: replicas only in the regions a class of data may live in, with a fallback
//!   rule (refuse, or borrow listed regions and say so).
//! - [`planner`]: what to copy where when nodes change or ranges split, the bytes that
//!   takes, in waves that keep every shard's replica count and a per-node throttle.
//! - [`quality`]: balance and movement, as `dsys partition` reports them.
//! - `evaluation` (feature `demo`): every algorithm on one node set and one key stream,
//!   the table and chart `dsys partition` prints. The key streams (uniform, sequential,
//!   Zipf) are drawn from the simulator's seeded generators, so the feature brings in
//!   `dsys-sim`; the library itself depends on no other dsys crate.

mod anchor;
mod bounded;
mod error;
#[cfg(feature = "demo")]
pub mod evaluation;
pub mod geo;
mod hash;
mod jump;
mod maglev;
mod nodes;
mod placement;
pub mod planner;
pub mod quality;
pub mod range;
mod rendezvous;
mod ring;

/// The most entries (ring points, Maglev table slots, anchor buckets) one structure may
/// have: larger would take gigabytes, and a typo in a setting should be an error, not an
/// out-of-memory abort.
pub const MAX_ENTRIES: u64 = 1 << 28;

pub use anchor::Anchor;
pub use bounded::BoundedLoads;
pub use error::PartitionError;
pub use hash::{key_hash, mix};
pub use jump::{Jump, jump, jump_batch};
pub use maglev::{ENTRIES_PER_NODE, MAX_TABLE, MIN_TABLE, Maglev};
pub use nodes::{Node, Nodes};
pub use placement::{Placement, ReplicaPicker};
pub use rendezvous::Rendezvous;
pub use ring::{DEFAULT_VNODES, Ring};

#[cfg(test)]
mod tests;

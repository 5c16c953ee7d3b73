//! Sans-IO replication and consensus protocols for dsys.
//!
//! Every protocol is a [`dsys_node::Node`]: the simulator and a real runtime drive the
//! same code. The catalog so far holds the two reference protocols:
//!
//! - [`single`]: one node holds the data;
//! - [`primary_async`]: one primary replicates asynchronously to followers, reads go to
//!   any replica, no failover.

pub mod clock;
pub mod crdt;
pub mod kv;
pub mod leader_follower;
pub mod merkle;
pub mod multi_leader;
pub mod primary_async;
pub mod single;

pub use leader_follower::{
    LeaderFollowerConfig, LeaderFollowerMessage, LeaderFollowerNode, Replication,
};
pub use multi_leader::{MultiLeaderConfig, MultiLeaderMessage, MultiLeaderNode};
pub use primary_async::{PrimaryAsyncConfig, PrimaryAsyncMessage, PrimaryAsyncNode};
pub use single::{SingleConfig, SingleMessage, SingleNode};

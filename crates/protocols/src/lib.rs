//! Sans-IO replication and consensus protocols for dsys.
//!
//! Every protocol is a [`dsys_node::Node`]: the simulator and a real runtime drive the
//! same code. The catalog:
//!
//! - [`single`]: one node holds the data;
//! - [`primary_async`]: one primary replicates asynchronously to followers, reads go to
//!   any replica, no failover;
//! - [`leader_follower`]: a leader replicates a log sync, semi-sync or async, with
//!   failover and epoch fencing;
//! - [`multi_leader`]: every node accepts writes and replicates them asynchronously;
//! - [`raft`]: consensus on a replicated log, a key-value store on top, with read-index,
//!   lease and local reads;
//! - [`leaderless`]: Dynamo-style N/W/R quorums on a hash ring ([`ring`]), with sloppy
//!   quorums, hinted handoff, read repair and Merkle anti-entropy ([`merkle`]).

pub mod catalog;
pub mod clock;
mod cluster;
pub mod crdt;
pub mod kv;
pub mod leader_follower;
pub mod leaderless;
pub mod merkle;
pub mod multi_leader;
pub mod primary_async;
pub mod raft;
pub mod ring;
pub mod single;

pub use catalog::{Configurable, SettingError, SettingKind, SettingSpec, SettingValue};
pub use leader_follower::{
    LeaderFollowerConfig, LeaderFollowerMessage, LeaderFollowerNode, Replication,
};
pub use leaderless::{LeaderlessConfig, LeaderlessMessage, LeaderlessNode, VersionMode};
pub use multi_leader::{MultiLeaderConfig, MultiLeaderMessage, MultiLeaderNode};
pub use primary_async::{PrimaryAsyncConfig, PrimaryAsyncMessage, PrimaryAsyncNode};
pub use raft::{RaftConfig, RaftMessage, RaftNode, ReadPath};
pub use single::{SingleConfig, SingleMessage, SingleNode};

//! What can be wrong with a node set or a request for placements.

/// A node set or a placement request that cannot work.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PartitionError {
    /// Placement needs at least one node.
    #[error("no nodes: placement needs at least one")]
    NoNodes,
    /// Two nodes share an id.
    #[error("node id {0:?} appears more than once")]
    DuplicateNode(String),
    /// A node id must be non-empty.
    #[error("a node has an empty id")]
    EmptyId,
    /// A node with weight 0 would own nothing.
    #[error("node {0:?} has weight 0; give it at least 1 or leave it out")]
    ZeroWeight(String),
    /// More replicas than nodes to hold them.
    #[error("{replicas} replicas asked for, but only {nodes} nodes to hold them")]
    TooManyReplicas {
        /// Replicas asked for.
        replicas: usize,
        /// Nodes there are.
        nodes: usize,
    },
    /// A setting outside what the algorithm accepts.
    #[error("{name} must be {expected}, not {value}")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: u64,
        /// What it must be.
        expected: &'static str,
    },
    /// The algorithm cannot honour a property of the node set.
    #[error("{algorithm} does not support {what}")]
    Unsupported {
        /// The algorithm.
        algorithm: &'static str,
        /// What it cannot do (weights, say).
        what: &'static str,
    },
    /// A shard listed twice in a plan's input.
    #[error("shard {0} appears more than once")]
    DuplicateShard(u64),
    /// A shard with no replica before or after a change.
    #[error("shard {shard} has no replica before or after the change")]
    NoReplicas {
        /// The shard.
        shard: u64,
    },
    /// A split that would not divide a range.
    #[error("cannot split there: {0}")]
    BadSplit(String),
    /// Two regions with one name.
    #[error("region {0:?} is listed twice")]
    DuplicateRegion(String),
    /// A region nobody defined.
    #[error("no region {0:?}")]
    NoSuchRegion(String),
    /// Residency rules leave too few nodes for the replicas.
    #[error(
        "{replicas} replicas needed but the regions this data may live in hold only {available} nodes"
    )]
    Residency {
        /// Replicas asked for.
        replicas: usize,
        /// Nodes available under the rule.
        available: usize,
    },
    /// A node that is not in the set.
    #[error("no node {0:?} in the set")]
    NoSuchNode(String),
}

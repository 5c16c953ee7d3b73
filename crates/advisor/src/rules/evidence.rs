//! The dsys commands that demonstrate the rules, each with the exit code it ends with.
//! A test in the CLI crate runs every one of them ([`ALL`]) and checks that code, so a
//! claim whose demonstration stops holding fails the build.

use crate::design::Evidence;

/// An available store under a partition serves stale reads.
pub const AP_STALE_UNDER_PARTITION: Evidence = Evidence {
    command: "dsys simulate --protocol multi-leader --nemesis halves --seed 1 --expect linearizable",
    exit_code: 1,
    shows: "multi-leader keeps taking writes on both sides of a partition and serves a stale read",
};

/// AP against CP, side by side.
pub const AP_AGAINST_CP: Evidence = Evidence {
    command: "dsys grid --protocol multi-leader,raft --nemesis halves --seeds 3",
    exit_code: 0,
    shows: "under a partition multi-leader stays 100% available but is not linearizable on 3 of 3 seeds; Raft answers about 90% and stays linearizable",
};

/// Raft stays linearizable under every fault.
pub const RAFT_LINEARIZABLE: Evidence = Evidence {
    command: "dsys simulate --protocol raft --nemesis swarm --seed 7 --expect linearizable",
    exit_code: 0,
    shows: "Raft with read-index reads stays linearizable under partitions, crashes, pauses, loss and clock faults together",
};

/// Reading any replica breaks read-your-writes.
pub const ANY_REPLICA_BREAKS_RYW: Evidence = Evidence {
    command: "dsys simulate --protocol raft --set reads=local --seed 1 --expect read-your-writes",
    exit_code: 1,
    shows: "reads from any replica let a client miss its own acknowledged write",
};

/// Asynchronous replication loses acknowledged writes on failover.
pub const ASYNC_LOSES_WRITES: Evidence = Evidence {
    command: "dsys simulate --protocol leader-follower --set replication=async --nemesis isolate-leader --seed 1 --expect no-lost-writes",
    exit_code: 1,
    shows: "an isolated asynchronous leader acknowledges writes the new leader never had",
};

/// Consensus keeps them.
pub const RAFT_KEEPS_WRITES: Evidence = Evidence {
    command: "dsys simulate --protocol raft --nemesis isolate-leader --seed 1 --expect no-lost-writes",
    exit_code: 0,
    shows: "Raft with its leader cut off loses no acknowledged write",
};

/// Reads at the nearest replica leave the writes' order intact, and only reads lag.
pub const LOCAL_READS_KEEP_WRITES: Evidence = Evidence {
    command: "dsys simulate --protocol raft --set reads=local --nemesis crash-restart --seed 1 --expect no-lost-writes",
    exit_code: 0,
    shows: "Raft answering reads at the nearest replica, through crashes and restarts, loses no acknowledged write (its reads may be stale: with --expect linearizable the same run exits 1)",
};

/// Last-writer-wins loses concurrent increments.
pub const LWW_LOSES_INCREMENTS: Evidence = Evidence {
    command: "dsys simulate --protocol multi-leader --set conflict=lww --workload counter --nemesis halves --seed 1 --expect no-lost-updates",
    exit_code: 1,
    shows: "last-writer-wins drops increments made concurrently on both sides of a partition",
};

/// A CRDT counter keeps them.
pub const CRDT_KEEPS_INCREMENTS: Evidence = Evidence {
    command: "dsys simulate --protocol multi-leader --set conflict=crdt --workload counter --nemesis halves --seed 1 --expect no-lost-updates",
    exit_code: 0,
    shows: "a PN-counter CRDT keeps every increment through a partition",
};

/// One acknowledgement without fencing against a majority with fencing.
pub const ONE_ACK_BREAKS_SESSIONS: Evidence = Evidence {
    command: "dsys grid --protocol leader-follower:replication=semi-sync,acks=1 --protocol leader-follower:replication=semi-sync,acks=2,fencing=on --nemesis halves+crash-restart --seeds 10",
    exit_code: 0,
    shows: "under partitions and crashes, one acknowledgement without fencing loses acknowledged writes (33) and breaks read-your-writes (15); a majority with fencing, neither",
};

/// Cache-aside's stale fill, and leases refusing it.
pub const CACHE_ASIDE_RACE: Evidence = Evidence {
    command: "dsys cache --incidents stalls --strategy cache-aside,cache-aside-lease",
    exit_code: 0,
    shows: "with 5% of loads stalling between the read and the fill, plain cache-aside fills values older than the last delete (277 stale reads in 60 s); the same seed with leases and single-flight serves none",
};

/// A TTL cache serves stale values.
pub const TTL_SERVES_STALE: Evidence = Evidence {
    command: "dsys cache --incidents none --strategy no-cache,ttl",
    exit_code: 0,
    shows: "a cache that only expires serves values up to its TTL behind (thousands of stale reads in a minute); without a cache, none",
};

/// Write-behind without a journal loses what it had not flushed.
pub const WRITE_BEHIND_LOSES_UNFLUSHED: Evidence = Evidence {
    command: "dsys cache --incidents restart --strategy write-behind,write-behind-journal",
    exit_code: 0,
    shows: "a cache restart loses the acknowledged writes write-behind held in memory; journaled, none",
};

/// Peak EWMA protecting the tail, replayed from Linkerd's experiment.
pub const PEAK_EWMA_PROTECTS_TAIL: Evidence = Evidence {
    command: "dsys discovery --experiment linkerd",
    exit_code: 0,
    shows: "with one of eleven backends ten times slower for 30 s, round robin answers 95.46% of requests within 1 s, least requests 99.40%, the power of two choices over peak EWMA 99.92%",
};

/// A lease forgets a dead instance in seconds; heartbeats and caches, in minutes.
pub const LEASE_FORGETS_THE_DEAD: Evidence = Evidence {
    command: "dsys discovery --experiment registry",
    exit_code: 0,
    shows: "a SIGKILLed instance stays in callers' view 8.3 s under a 10 s lease with a watch, 195.8 s under Eureka's default heartbeats, sweep and caches; ejection after five failures caps what it receives at a handful of requests",
};

/// Every demonstration, for the test that runs them.
pub const ALL: &[Evidence] = &[
    LOCAL_READS_KEEP_WRITES,
    AP_STALE_UNDER_PARTITION,
    AP_AGAINST_CP,
    RAFT_LINEARIZABLE,
    ANY_REPLICA_BREAKS_RYW,
    ASYNC_LOSES_WRITES,
    RAFT_KEEPS_WRITES,
    LWW_LOSES_INCREMENTS,
    CRDT_KEEPS_INCREMENTS,
    ONE_ACK_BREAKS_SESSIONS,
    CACHE_ASIDE_RACE,
    TTL_SERVES_STALE,
    WRITE_BEHIND_LOSES_UNFLUSHED,
    PEAK_EWMA_PROTECTS_TAIL,
    LEASE_FORGETS_THE_DEAD,
];

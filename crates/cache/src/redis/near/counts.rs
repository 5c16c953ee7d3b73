//! What a near cache counts.

use super::super::link::Link;
use crate::counted::{Counted, Counters};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NearCount {
    NearHit,
    RedisHit,
    Load,
    RefusedFill,
    Degraded,
    RedisError,
    LockWait,
    LockTimeout,
    Undecodable,
}

impl Counted for NearCount {
    const ALL: &'static [NearCount] = &[
        NearCount::NearHit,
        NearCount::RedisHit,
        NearCount::Load,
        NearCount::RefusedFill,
        NearCount::Degraded,
        NearCount::RedisError,
        NearCount::LockWait,
        NearCount::LockTimeout,
        NearCount::Undecodable,
    ];
    const HOT: NearCount = NearCount::NearHit;

    fn index(self) -> usize {
        self as usize
    }

    fn metric(self) -> &'static str {
        match self {
            NearCount::NearHit => "dsys_cache_near_hits_total",
            NearCount::RedisHit => "dsys_cache_redis_hits_total",
            NearCount::Load => "dsys_cache_loads_total",
            NearCount::RefusedFill => "dsys_cache_refused_fills_total",
            NearCount::Degraded => "dsys_cache_degraded_reads_total",
            NearCount::RedisError => "dsys_cache_redis_errors_total",
            NearCount::LockWait => "dsys_cache_lock_waits_total",
            NearCount::LockTimeout => "dsys_cache_lock_timeouts_total",
            NearCount::Undecodable => "dsys_cache_undecodable_total",
        }
    }
}

/// What a near cache did, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NearStats {
    /// Reads served by the near tier.
    pub near_hits: u64,
    /// Reads served from Redis.
    pub redis_hits: u64,
    /// Loads run against the source.
    pub loads: u64,
    /// Fills refused (in either tier) because a delete came after their lease, or the
    /// link changed.
    pub refused_fills: u64,
    /// Reads made while the invalidation link was down: nothing local was served.
    pub degraded_reads: u64,
    /// Redis calls that failed.
    pub redis_errors: u64,
    /// Misses that waited for another process's load.
    pub lock_waits: u64,
    /// Misses that waited a whole lock lease, then loaded anyway.
    pub lock_timeouts: u64,
    /// Values in Redis that did not decode (read as misses).
    pub undecodable: u64,
    /// Times the invalidation link went down.
    pub link_drops: u64,
    /// Invalidations heard.
    pub invalidations: u64,
}

impl NearStats {
    pub(crate) fn read(counters: &Counters<NearCount>, link: &Link) -> NearStats {
        counters.publish_hits();
        NearStats {
            near_hits: counters.get(NearCount::NearHit),
            redis_hits: counters.get(NearCount::RedisHit),
            loads: counters.get(NearCount::Load),
            refused_fills: counters.get(NearCount::RefusedFill),
            degraded_reads: counters.get(NearCount::Degraded),
            redis_errors: counters.get(NearCount::RedisError),
            lock_waits: counters.get(NearCount::LockWait),
            lock_timeouts: counters.get(NearCount::LockTimeout),
            undecodable: counters.get(NearCount::Undecodable),
            link_drops: link.drops(),
            invalidations: link.invalidations(),
        }
    }
}

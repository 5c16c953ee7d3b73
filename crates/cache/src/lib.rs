//! Caching strategies, and what each one guarantees.
//!
//! The pieces a cache in front of a source of truth needs, each small enough to be
//! checked on its own:
//!
//! - [`single_flight`]: concurrent misses for one key share one load; its error or panic
//!   reaches every waiter and nothing is kept, so the next call loads again.
//! - [`lease`]: cache-aside's race fixed. A reader that misses, reads the source and then
//!   fills can be slow enough that a writer changed the source and deleted the key in
//!   between; its fill would put back the old value for a whole TTL. A lease taken at the
//!   miss admits the fill only if no delete of that key happened since (the fix Facebook's
//!   memcache paper, NSDI 2013, describes as leases).
//! - [`freshness`]: when an entry is fresh, due for a refresh, or expired: a hard
//!   expire-after-write backstop that holds however long a refresh hangs, refresh-ahead,
//!   and probabilistic early expiration (XFetch, Vattani et al., VLDB 2015).
//! - [`local`]: the in-process tier, moka (W-TinyLFU), with each entry's stamp and the
//!   true cause of every removal (replaced, expired, size, explicit).
//! - [`aside`]: cache-aside put together: single-flight loads, lease-guarded fills,
//!   freshness on the cache's clock, negative caching, stale-if-error, and tags (every
//!   entry tagged `user:123` invalidated at once, with a delete's guarantee).
//! - [`behind`]: write-behind with a durable SQLite journal: coalesced per key, versioned,
//!   flushed in batches with retries, drained on shutdown, its lag reported.
//! - [`outbox`]: invalidation from dsys-tx's outbox, committed with the change it tells
//!   of and applied once per consumer (its inbox).
//! - [`redis`]: the tiers many processes share: values in Redis under the same leases
//!   (checked by a script on the server), tags invalidated atomically, a lock with a
//!   fencing token so processes load a missing key once per expiry, and a near cache kept
//!   coherent by Redis's client-side caching, flushed when its invalidation link drops.
//! - `simulation` (feature `demo`): the strategies against a database on virtual time,
//!   the table `dsys cache` prints; it brings in the simulator and the checker.
//!
//! ```
//! use dsys_cache::lease::Leases;
//! let leases = Leases::new();
//! let lease = leases.lease(&"user:1");         // a reader misses
//! leases.invalidate(&"user:1", || {});         // a writer changed the source: delete
//! assert!(!leases.fill(&"user:1", lease, || true)); // the slow reader's fill is refused
//! ```

pub mod aside;
pub mod behind;
pub mod clock;
mod counted;
pub mod freshness;
pub mod lease;
pub mod local;
pub mod outbox;
pub mod redis;
#[cfg(feature = "demo")]
pub mod simulation;
pub mod single_flight;
mod tags;

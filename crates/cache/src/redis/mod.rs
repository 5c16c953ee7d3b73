//! The shared tiers in Redis: what many processes cache together.
//!
//! - [`RedisTier`]: values in Redis, with cache-aside's guarantee across processes: a
//!   fill carries a lease taken at the miss, and a script refuses it if the key (or one
//!   of its tags) was deleted since — checked and written atomically on the server, so no
//!   delete slips between. Tags are invalidated atomically too: one script deletes every
//!   key tagged `user:123` and refuses the tagged fills in flight.
//! - [`Locks`]: a lock with a lease (it lapses if its holder dies) and a fencing token
//!   that only grows, so processes sharing a cache load a missing key once per expiry.
//! - [`NearCache`]: an in-process tier in front of Redis, kept coherent by Redis's
//!   client-side caching (`CLIENT TRACKING`, default or broadcast mode, invalidations on a
//!   RESP3 push or RESP2 pub/sub connection). When that link drops the near tier is
//!   flushed and reads go past it (counted as degraded) until the link is back.
//!
//! - [`Subscription`] and [`publish`]: invalidations on Redis pub/sub for caches that
//!   keep nothing in Redis (each process's [`crate::aside::CacheAside`]), flushed
//!   whenever the subscription was away.
//!
//! The client is dsys's own ([`dsys_redis`]): bounded parsing, timeouts on every wait.

mod link;
mod lock;
mod near;
mod subscription;
mod tier;

pub use dsys_redis::{Options, Protocol, RedisError};
pub use link::{LISTENER_NAME, LinkState, Tracking};
pub use lock::{LockToken, Locks};
pub use near::{Codec, Degraded, FetchError, NearCache, NearError, NearSettings, NearStats, Utf8};
pub use subscription::{Heard, Subscription, publish};
pub use tier::{Lookup, RedisLease, RedisSettings, RedisTier};

/// Where everything of one cache lives in Redis: values under `{prefix}v:`, the rest
/// beside them, so a broadcast-mode tracking prefix covers values and nothing else.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Names {
    prefix: String,
}

impl Names {
    pub(crate) fn new(prefix: &str) -> Names {
        Names {
            prefix: prefix.to_string(),
        }
    }

    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
    }

    fn join(&self, kind: &str, name: &str) -> Vec<u8> {
        format!("{}{kind}:{name}", self.prefix).into_bytes()
    }

    /// The prefix of every value key.
    pub(crate) fn values(&self) -> String {
        format!("{}v:", self.prefix)
    }
    pub(crate) fn value(&self, key: &str) -> Vec<u8> {
        self.join("v", key)
    }
    /// The key a Redis key of a value names, if it is one.
    pub(crate) fn key_of<'a>(&self, redis_key: &'a [u8]) -> Option<&'a str> {
        let values = self.values();
        std::str::from_utf8(redis_key.strip_prefix(values.as_bytes())?).ok()
    }
    pub(crate) fn deleted(&self, key: &str) -> Vec<u8> {
        self.join("d", key)
    }
    pub(crate) fn tag_set(&self, tag: &str) -> Vec<u8> {
        self.join("t", tag)
    }
    pub(crate) fn tag_deleted(&self, tag: &str) -> Vec<u8> {
        self.join("td", tag)
    }
    pub(crate) fn lock(&self, key: &str) -> Vec<u8> {
        self.join("l", key)
    }
    pub(crate) fn fence(&self, key: &str) -> Vec<u8> {
        self.join("f", key)
    }
    pub(crate) fn boot(&self) -> Vec<u8> {
        format!("{}boot", self.prefix).into_bytes()
    }
    pub(crate) fn sequence(&self) -> Vec<u8> {
        format!("{}seq", self.prefix).into_bytes()
    }
    /// The channel of invalidations published by [`NearCache::publish`].
    pub(crate) fn channel(&self) -> Vec<u8> {
        format!("{}invalidate", self.prefix).into_bytes()
    }
}

//! A lock in Redis with a lease and a fencing token.
//!
//! The lease bounds how long a dead holder blocks the others: the lock lapses by itself.
//! A lapsed holder that is only slow (a long pause, a stalled load) may still act on
//! what it guarded, so each acquisition carries a fencing token that only grows (Martin
//! Kleppmann, "How to do distributed locking", 2016): whatever the holder writes should
//! carry the token, and the store should refuse tokens below the highest it has seen.
//! The cache uses the lock only to share one load among processes, where a lapsed
//! holder costs one extra load and its fill is still judged by its lease.
//!
//! Tokens are the Redis server's time in microseconds, or one more than the last token
//! of the key if that is later: they grow across holders and across a restart of a Redis
//! without persistence (a counter alone would start again at one), as long as the
//! server's clock does not step back.

use super::Names;
use super::tier::millis;
use dsys_redis::{Pool, RedisError, Reply, Script};
use std::sync::Arc;
use std::time::Duration;

/// Take the lock if it is free; the token, or 0. KEYS: lock, fence. ARGV: lease (ms),
/// fence lifetime (ms).
static ACQUIRE: Script = Script::new(
    r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local token = math.max(now, tonumber(redis.call('GET', KEYS[2]) or '0') + 1)
local text = string.format('%d', token)
redis.call('SET', KEYS[2], text, 'PX', ARGV[2])
redis.call('SET', KEYS[1], text, 'PX', ARGV[1])
return text
",
);

/// Release (ARGV[2] empty) or extend (ARGV[2] the new lease, ms) the lock if `ARGV[1]`
/// still holds it; 1 if it did. KEYS: lock.
static HOLDER: Script = Script::new(
    r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 1
",
);

/// A held lock.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "release the lock (or let its lease lapse)"]
pub struct LockToken {
    name: String,
    fence: u64,
}

impl LockToken {
    /// The fencing token: larger than every token of this lock before.
    pub fn fence(&self) -> u64 {
        self.fence
    }

    /// The lock's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Locks under one prefix.
#[derive(Debug, Clone)]
pub struct Locks {
    pool: Arc<Pool>,
    names: Names,
}

impl Locks {
    /// Locks named under `prefix` in the pool's Redis.
    pub fn over(pool: Arc<Pool>, prefix: &str) -> Locks {
        Locks {
            pool,
            names: Names::new(prefix),
        }
    }

    /// Take the lock `name` for `lease` if no one holds it.
    pub fn try_acquire(
        &self,
        name: &str,
        lease: Duration,
    ) -> Result<Option<LockToken>, RedisError> {
        let keys = [self.names.lock(name), self.names.fence(name)];
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        // The fence outlives many leases; past it, the clock alone keeps tokens growing.
        let (lease_ms, fence_ms) = (
            millis(lease).to_string(),
            millis(lease * 16).max(60_000).to_string(),
        );
        let reply = self
            .pool
            .get()?
            .using(|c| ACQUIRE.run(c, &keys, &[lease_ms.as_bytes(), fence_ms.as_bytes()]))?;
        match reply {
            Reply::Integer(0) => Ok(None),
            Reply::Bulk(_) => {
                let fence = reply
                    .as_integer()
                    .and_then(|t| u64::try_from(t).ok())
                    .filter(|&t| t > 0)
                    .ok_or_else(|| RedisError::Protocol(format!("a lock token {reply:?}")))?;
                Ok(Some(LockToken {
                    name: name.to_string(),
                    fence,
                }))
            }
            other => Err(RedisError::Protocol(format!("the lock answered {other:?}"))),
        }
    }

    /// Extend the lock to `lease` from now if `token` still holds it; whether it did.
    pub fn renew(&self, token: &LockToken, lease: Duration) -> Result<bool, RedisError> {
        self.holder(token, &millis(lease).to_string())
    }

    /// Release the lock if `token` still holds it (a lapsed lease may have passed it to
    /// another); whether it did.
    pub fn release(&self, token: LockToken) -> Result<bool, RedisError> {
        self.holder(&token, "")
    }

    fn holder(&self, token: &LockToken, lease: &str) -> Result<bool, RedisError> {
        let key = self.names.lock(&token.name);
        let fence = token.fence.to_string();
        let reply = self
            .pool
            .get()?
            .using(|c| HOLDER.run(c, &[&key], &[fence.as_bytes(), lease.as_bytes()]))?;
        Ok(reply.as_integer() == Some(1))
    }
}

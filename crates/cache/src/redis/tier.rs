//! Values in Redis, filled under leases that a delete or a tag invalidation refuses,
//! atomically on the server.
//!
//! A lease is the key's place in the cache's sequence of deletes: `(boot, seq)` read
//! together with the miss. A delete (or a tag's invalidation) takes the next sequence
//! number and leaves it on the key (or tag) as a marker; a fill is admitted only if no
//! marker on its key or its tags is newer than its lease, and only while Redis is the
//! same one it was leased from (`boot`, set afresh on an empty Redis: a restart forgets
//! markers, so it forgets leases too). Markers live twice the lease's lifetime; a fill
//! older than its lease's lifetime is refused by the client before it asks.
//!
//! In Redis: `{prefix}v:KEY` the value, `{prefix}d:KEY` its delete marker,
//! `{prefix}t:TAG` the keys tagged TAG, `{prefix}td:TAG` the tag's marker,
//! `{prefix}seq`, `{prefix}boot`.

use super::Names;
use super::lock::Locks;
use crate::clock::CacheClock;
use dsys_redis::{Options, Pool, Pooled, RedisError, Reply, Script};
use dsys_resilience::Clock;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// Refuse the fill if Redis is not the one leased from, or a marker on the key or one
/// of its tags is newer than the lease; else write the value and index it under its tags.
/// KEYS: value, delete marker, boot, the n tags' markers, the n tags' sets.
/// ARGV: boot, seq, value, ttl (ms), n.
static FILL: Script = Script::new(
    r"
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
local seq = tonumber(ARGV[2])
local n = tonumber(ARGV[5])
if tonumber(redis.call('GET', KEYS[2]) or '-1') > seq then return 0 end
for i = 1, n do
  if tonumber(redis.call('GET', KEYS[3 + i]) or '-1') > seq then return 0 end
end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
for i = 1, n do
  local set = KEYS[3 + n + i]
  redis.call('SADD', set, KEYS[1])
  if redis.call('PTTL', set) < tonumber(ARGV[4]) then redis.call('PEXPIRE', set, ARGV[4]) end
end
return 1
",
);

/// Delete the value and leave a marker newer than every lease taken so far.
/// KEYS: value, delete marker, sequence. ARGV: marker lifetime (ms).
static INVALIDATE: Script = Script::new(
    r"
local seq = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[2], seq, 'PX', ARGV[1])
return redis.call('DEL', KEYS[1])
",
);

/// Delete every value tagged, and leave the tag a marker newer than every lease taken so
/// far; how many were tagged. KEYS: the tag's set, its marker, sequence. ARGV: marker
/// lifetime (ms).
static INVALIDATE_TAG: Script = Script::new(
    r"
local seq = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[2], seq, 'PX', ARGV[1])
local members = redis.call('SMEMBERS', KEYS[1])
for i = 1, #members, 512 do
  redis.call('DEL', unpack(members, i, math.min(i + 511, #members)))
end
redis.call('DEL', KEYS[1])
return #members
",
);

/// Name this Redis (its boot) if it has no name: an empty Redis, after a start or a
/// restart without persistence. KEYS: boot.
static BOOT: Script = Script::new(
    r"
if redis.call('EXISTS', KEYS[1]) == 0 then
  local t = redis.call('TIME')
  redis.call('SET', KEYS[1], t[1] .. '.' .. t[2])
end
return redis.call('GET', KEYS[1])
",
);

/// Where a Redis tier keeps its values and how long a lease lasts.
#[derive(Clone, Debug)]
pub struct RedisSettings {
    /// The prefix of every key this cache writes (`dsys:cache:`).
    pub prefix: String,
    /// How to connect (the timeout bounds every wait).
    pub options: Options,
    /// The longest a miss may take between its lease and its fill; later fills are
    /// refused (the next miss fills).
    pub lease: Duration,
}

impl RedisSettings {
    /// Keys under `prefix`, the default connection options, leases of 10 s.
    pub fn new(prefix: impl Into<String>) -> RedisSettings {
        RedisSettings {
            prefix: prefix.into(),
            options: Options::default(),
            lease: Duration::from_secs(10),
        }
    }
}

/// What a miss holds until its fill.
#[derive(Clone, Debug, PartialEq, Eq)]
#[must_use = "a lease is spent by `RedisTier::fill`"]
pub struct RedisLease {
    boot: Vec<u8>,
    seq: i64,
    taken: Duration,
}

/// What [`RedisTier::lookup`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The stored bytes.
    Hit(Vec<u8>),
    /// Nothing: fill under this lease.
    Miss(RedisLease),
}

/// A cache tier in Redis shared by every process that names the same prefix.
pub struct RedisTier<C: Clock = CacheClock> {
    pool: Arc<Pool>,
    names: Names,
    settings: RedisSettings,
    clock: C,
    /// Track the next read only (`CLIENT CACHING YES`: connections set up with
    /// `CLIENT TRACKING ... OPTIN` by a near cache).
    opt_in: bool,
}

impl<C: Clock> std::fmt::Debug for RedisTier<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTier")
            .field("addr", &self.pool.addr())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl RedisTier<CacheClock> {
    /// The tier in the Redis at `addr`. Connects at once: a Redis that cannot be reached
    /// is an error here, within the timeout, not a surprise at the first read.
    pub fn connect(addr: SocketAddr, settings: RedisSettings) -> Result<Self, RedisError> {
        let pool = Pool::new(addr, settings.options.clone());
        let tier = Self::over(Arc::new(pool), settings, CacheClock::shared(), false);
        tier.boot(&mut tier.pool.get()?)?;
        Ok(tier)
    }
}

impl<C: Clock> RedisTier<C> {
    /// The tier over `pool` (connections set up by its owner), on `clock`.
    pub(crate) fn over(pool: Arc<Pool>, settings: RedisSettings, clock: C, opt_in: bool) -> Self {
        RedisTier {
            pool,
            names: Names::new(&settings.prefix),
            settings,
            clock,
            opt_in,
        }
    }

    /// Its connections.
    pub fn pool(&self) -> &Arc<Pool> {
        &self.pool
    }

    pub(crate) fn names(&self) -> &Names {
        &self.names
    }

    /// Locks under the same prefix, on the same connections.
    pub fn locks(&self) -> Locks {
        Locks::over(Arc::clone(&self.pool), &self.settings.prefix)
    }

    /// The stored bytes of `key`, or a lease to fill it under; and the pool generation
    /// of the connection that read it (what a near cache's tracking was set up for).
    pub fn lookup(&self, key: &str) -> Result<(Lookup, u64), RedisError> {
        let mut conn = self.pool.get()?;
        let value = self.names.value(key);
        let (boot, seq) = (self.names.boot(), self.names.sequence());
        let taken = self.clock.now();
        for _ in 0..2 {
            let get: [&[u8]; 2] = [b"GET", &value];
            let leases: [&[u8]; 3] = [b"MGET", &boot, &seq];
            let mut replies = if self.opt_in {
                let caching: [&[u8]; 3] = [b"CLIENT", b"CACHING", b"YES"];
                let mut r = conn.using(|c| c.pipeline(&[&caching, &get, &leases]))?;
                r.remove(0);
                r
            } else {
                conn.using(|c| c.pipeline(&[&get, &leases]))?
            };
            let (found, marks) = match (replies.pop(), replies.pop()) {
                (Some(marks), Some(found)) => (found, marks),
                _ => return Err(odd("a pipeline", &replies)),
            };
            match found {
                Reply::Bulk(bytes) => return Ok((Lookup::Hit(bytes), conn.generation())),
                Reply::Nil => {}
                Reply::Error(e) => return Err(RedisError::Server(e)),
                other => return Err(odd("GET", &other)),
            }
            let Reply::Array(marks) = marks else {
                return Err(odd("MGET", &marks));
            };
            match marks.as_slice() {
                [Reply::Bulk(boot), seq] => {
                    let seq = match seq {
                        Reply::Nil => 0,
                        other => other
                            .as_integer()
                            .ok_or_else(|| odd("the sequence", other))?,
                    };
                    let lease = RedisLease {
                        boot: boot.clone(),
                        seq,
                        taken,
                    };
                    return Ok((Lookup::Miss(lease), conn.generation()));
                }
                // An empty Redis (started, restarted, or flushed): name it, look again.
                [Reply::Nil, _] => self.boot(&mut conn)?,
                _ => return Err(odd("MGET", &Reply::Array(marks))),
            }
        }
        Err(RedisError::Protocol(
            "Redis lost its boot name twice in a row".into(),
        ))
    }

    /// Put `stored` in `key` for `ttl`, tagged `tags`, if no delete of the key or its
    /// tags came after `lease`. Whether it was written.
    pub fn fill(
        &self,
        key: &str,
        lease: &RedisLease,
        stored: &[u8],
        ttl: Duration,
        tags: &[String],
    ) -> Result<bool, RedisError> {
        if self.clock.now().saturating_sub(lease.taken) > self.settings.lease {
            return Ok(false);
        }
        let mut keys = vec![
            self.names.value(key),
            self.names.deleted(key),
            self.names.boot(),
        ];
        keys.extend(tags.iter().map(|t| self.names.tag_deleted(t)));
        keys.extend(tags.iter().map(|t| self.names.tag_set(t)));
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let (seq, ttl, n) = (
            lease.seq.to_string(),
            millis(ttl).to_string(),
            tags.len().to_string(),
        );
        let args: [&[u8]; 5] = [
            &lease.boot,
            seq.as_bytes(),
            stored,
            ttl.as_bytes(),
            n.as_bytes(),
        ];
        let reply = self.pool.get()?.using(|c| FILL.run(c, &keys, &args))?;
        Ok(reply.as_integer() == Some(1))
    }

    /// Delete `key`, refusing every fill leased before.
    pub fn invalidate(&self, key: &str) -> Result<(), RedisError> {
        let (value, marker) = (self.names.value(key), self.names.deleted(key));
        self.delete_marked(&INVALIDATE, value, marker).map(drop)
    }

    /// Delete every key tagged `tag`, refusing every fill tagged `tag` leased before, in
    /// one atomic step; how many keys were tagged.
    pub fn invalidate_tag(&self, tag: &str) -> Result<u64, RedisError> {
        let (set, marker) = (self.names.tag_set(tag), self.names.tag_deleted(tag));
        let reply = self.delete_marked(&INVALIDATE_TAG, set, marker)?;
        reply
            .as_integer()
            .and_then(|n| u64::try_from(n).ok())
            .ok_or_else(|| odd("the tag script", &reply))
    }

    /// Run a delete `script` on what `target` names, leaving `marker` the next sequence
    /// number for twice a lease's lifetime.
    fn delete_marked(
        &self,
        script: &Script,
        target: Vec<u8>,
        marker: Vec<u8>,
    ) -> Result<Reply, RedisError> {
        let keys = [target, marker, self.names.sequence()];
        let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
        let lifetime = millis(self.settings.lease * 2).to_string();
        self.pool
            .get()?
            .using(|c| script.run(c, &keys, &[lifetime.as_bytes()]))
    }

    /// Name Redis if it is empty (see the module's notes).
    pub(crate) fn boot(&self, conn: &mut Pooled<'_>) -> Result<(), RedisError> {
        let boot = self.names.boot();
        conn.using(|c| BOOT.run(c, &[&boot], &[])).map(drop)
    }
}

/// Whole milliseconds, at least one (Redis refuses a zero expiry).
pub(crate) fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn odd(what: &str, reply: &impl std::fmt::Debug) -> RedisError {
    RedisError::Protocol(format!("{what} answered {reply:?}"))
}

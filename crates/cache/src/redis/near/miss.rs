//! A read the near tier could not serve: Redis, then (once per process, and with a lock
//! once across processes) the source.

use super::{FetchError, NearCache, NearCount, decode, encode};
use crate::aside::Source;
use crate::lease::Lease;
use crate::redis::LinkState;
use crate::redis::tier::{Lookup, RedisLease};
use dsys_redis::RedisError;
use dsys_resilience::Clock;
use std::time::Duration;

/// What a miss that wanted the lock got.
enum Turn {
    /// The lock: load and fill.
    Hold(crate::redis::LockToken),
    /// Another process filled meanwhile (the bytes, and the connection's generation).
    Filled(Vec<u8>, u64),
    /// No lock (it was held a whole lease, or the lock is off): load anyway.
    Alone,
}

impl<V, S, C> NearCache<V, S, C>
where
    V: Clone + Send + Sync + 'static,
    S: Source<String, V>,
    C: Clock + Clone,
{
    /// Read `key` past the near tier: the one reader of this process that does.
    pub(super) fn fetch(
        &self,
        key: &str,
        lease: Lease,
        state: LinkState,
    ) -> Result<Option<V>, FetchError<S::Error>> {
        #[cfg(feature = "tracing")]
        let _span = tracing::debug_span!("dsys_cache.near_miss", cache = %self.settings.local.name)
            .entered();
        let (found, generation) = match self.shared.tier.lookup(key) {
            Ok(found) => found,
            Err(e) => return self.unreachable(key, e),
        };
        let mut redis_lease = match found {
            Lookup::Hit(bytes) => return self.hit(key, lease, state, &bytes, generation),
            Lookup::Miss(redis_lease) => redis_lease,
        };
        let token = match self.await_turn(key, &mut redis_lease) {
            Ok(Turn::Filled(bytes, generation)) => {
                return self.hit(key, lease, state, &bytes, generation);
            }
            Ok(Turn::Hold(token)) => Some(token),
            Ok(Turn::Alone) => None,
            Err(e) => return self.unreachable(key, e),
        };
        self.counters.add(NearCount::Load);
        #[cfg(feature = "tracing")]
        let _load = tracing::debug_span!("dsys_cache.load", locked = token.is_some()).entered();
        let loaded = self.source.load(&key.to_string());
        if let Ok(value) = &loaded {
            if let Some(stored) = self.fill_redis(key, &redis_lease, value) {
                // A write ends the server's tracking of the key for every connection,
                // the writer's own included: read it back, tracked, before the near
                // tier keeps it (and only if it is still what was stored).
                if let Ok((Lookup::Hit(bytes), generation)) = self.shared.tier.lookup(key) {
                    if bytes == stored {
                        self.fill_near(key, lease, state, generation, value);
                    }
                }
            }
        }
        if let Some(token) = token {
            // A failed release lapses with its lease.
            let _ = self.shared.tier.locks().release(token);
        }
        loaded.map_err(FetchError::Source)
    }

    /// A value found in Redis: decoded, and put in the near tier if it may be.
    fn hit(
        &self,
        key: &str,
        lease: Lease,
        state: LinkState,
        bytes: &[u8],
        generation: u64,
    ) -> Result<Option<V>, FetchError<S::Error>> {
        match decode(self.codec.as_ref(), bytes) {
            Some(value) => {
                self.counters.add(NearCount::RedisHit);
                self.fill_near(key, lease, state, generation, &value);
                Ok(value)
            }
            None => {
                // Bytes this cache did not write (or another version of it did): read
                // the source, and put what it says in their place.
                self.counters.add(NearCount::Undecodable);
                self.counters.add(NearCount::Load);
                let value = self
                    .source
                    .load(&key.to_string())
                    .map_err(FetchError::Source)?;
                let stored = encode(self.codec.as_ref(), &value);
                if let Some(ttl) = self.redis_ttl(&value) {
                    let _ = self.shared.tier.invalidate(key);
                    if let Ok((Lookup::Miss(fresh), _)) = self.shared.tier.lookup(key) {
                        let _ = self.shared.tier.fill(key, &fresh, &stored, ttl, &[]);
                    }
                }
                Ok(value)
            }
        }
    }

    /// Take the lock of `key`'s load, or wait for whoever holds it to fill. Holding it,
    /// look once more: whoever held it before may have filled just before letting go.
    fn await_turn(&self, key: &str, redis_lease: &mut RedisLease) -> Result<Turn, RedisError> {
        let Some(lock_lease) = self.settings.lock else {
            return Ok(Turn::Alone);
        };
        let locks = self.shared.tier.locks();
        let mut waited = Duration::ZERO;
        let mut pause = Duration::from_millis(1);
        let mut counted = false;
        loop {
            if let Some(token) = locks.try_acquire(key, lock_lease)? {
                return match self.shared.tier.lookup(key)? {
                    (Lookup::Hit(bytes), generation) => {
                        let _ = locks.release(token);
                        Ok(Turn::Filled(bytes, generation))
                    }
                    (Lookup::Miss(fresh), _) => {
                        *redis_lease = fresh;
                        Ok(Turn::Hold(token))
                    }
                };
            }
            if !counted {
                self.counters.add(NearCount::LockWait);
                counted = true;
            }
            if waited >= lock_lease {
                self.counters.add(NearCount::LockTimeout);
                return Ok(Turn::Alone);
            }
            std::thread::sleep(pause);
            waited += pause;
            pause = (pause * 2).min(Duration::from_millis(20));
            match self.shared.tier.lookup(key)? {
                (Lookup::Hit(bytes), generation) => return Ok(Turn::Filled(bytes, generation)),
                (Lookup::Miss(fresh), _) => *redis_lease = fresh,
            }
        }
    }
}

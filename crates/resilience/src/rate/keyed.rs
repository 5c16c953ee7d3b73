//! GCRA per key (per client, per IP, per API token) in bounded memory.
//!
//! Keys live in shards, each a hash table behind a read-write lock: a check hashes the key
//! once (foldhash, seeded per limiter, so clients cannot aim keys at one shard), takes the
//! shard's read lock and does the one-CAS GCRA step on that key's TAT, so checks on
//! different keys, and on the same key, run in parallel. A key whose TAT is in
//! the past holds no state worth keeping (its bucket is full), so a shard that reaches its
//! share of the key limit first drops those; only if every key is busy does it evict the
//! least constrained one (the smallest TAT), which then starts again with a full burst.

use super::gcra::{Quota, admit};
use super::{Denied, Snapshot};
use crate::sync::{Arc, AtomicU64, Ordering, RwLock};
use crate::{Clock, ConfigError};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::{BuildHasher, Hash};
use std::sync::PoisonError;

// No decision depends on a table's iteration order: pruning keeps exactly the busy keys;
// eviction picks the smallest TAT, ties broken by key order.
type Map<K> = HashTable<(K, Slot)>;

#[derive(Debug)]
struct Slot {
    tat: AtomicU64,
    /// A packed quota for this key, or 0 for the default.
    quota: AtomicU64,
}

#[derive(Debug)]
struct Inner<K> {
    shards: Box<[RwLock<Map<K>>]>,
    hasher: DefaultHashBuilder,
    default: AtomicU64,
    per_shard: usize,
}

/// A GCRA limiter per key, all keys on one default quota unless given their own. Clones
/// share the keys.
#[derive(Debug)]
pub struct KeyedGcra<K, C> {
    inner: Arc<Inner<K>>,
    clock: C,
}

impl<K, C: Clone> Clone for KeyedGcra<K, C> {
    fn clone(&self) -> Self {
        KeyedGcra {
            inner: Arc::clone(&self.inner),
            clock: self.clock.clone(),
        }
    }
}

impl<K: Hash + Eq + Ord + Clone, C: Clock> KeyedGcra<K, C> {
    /// Keys on `quota`, at most `max_keys` of them remembered (at least 1).
    pub fn new(quota: Quota, max_keys: usize, clock: C) -> Result<Self, ConfigError> {
        if max_keys == 0 {
            return Err(ConfigError::Zero { name: "max keys" });
        }
        let shards = max_keys.div_ceil(4_096).clamp(1, 64).next_power_of_two();
        Ok(KeyedGcra {
            inner: Arc::new(Inner {
                shards: (0..shards).map(|_| RwLock::new(Map::new())).collect(),
                hasher: DefaultHashBuilder::default(),
                default: AtomicU64::new(quota.pack()),
                per_shard: max_keys.div_ceil(shards),
            }),
            clock,
        })
    }

    /// The key's hash, and its shard (from the hash's top bits: the table uses the low).
    fn locate(&self, key: &K) -> (u64, &RwLock<Map<K>>) {
        let h = self.inner.hasher.hash_one(key);
        let shards = &self.inner.shards;
        (h, &shards[(h >> 58) as usize & (shards.len() - 1)])
    }

    fn insert(&self, map: &mut Map<K>, hash: u64, key: K) {
        let slot = Slot {
            tat: AtomicU64::new(0),
            quota: AtomicU64::new(0),
        };
        let hasher = &self.inner.hasher;
        map.insert_unique(hash, (key, slot), |(k, _)| hasher.hash_one(k));
    }

    /// Change the default quota (keys keep what they have used).
    pub fn set_quota(&self, quota: Quota) {
        self.inner.default.store(quota.pack(), Ordering::Release);
    }

    /// Give `key` a quota of its own.
    pub fn set_key_quota(&self, key: K, quota: Quota) {
        let now = self.clock.now_nanos();
        let (hash, shard) = self.locate(&key);
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        if map.find(hash, |(k, _)| *k == key).is_none() {
            self.make_room(&mut map, now);
            self.insert(&mut map, hash, key.clone());
        }
        if let Some((_, slot)) = map.find(hash, |(k, _)| *k == key) {
            slot.quota.store(quota.pack(), Ordering::Release);
        }
    }

    /// Admit one cell for `key`.
    pub fn check(&self, key: &K) -> Result<Snapshot, Denied> {
        self.check_n(key, 1)
    }

    /// Admit `n` cells for `key` at once, or none.
    pub fn check_n(&self, key: &K, n: u32) -> Result<Snapshot, Denied> {
        let now = self.clock.now_nanos();
        let (hash, shard) = self.locate(key);
        {
            let map = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, slot)) = map.find(hash, |(k, _)| k == key) {
                return admit(&slot.tat, || self.quota_of(slot), now, n);
            }
        }
        let mut map = shard.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have added it between the two locks.
        if map.find(hash, |(k, _)| k == key).is_none() {
            self.make_room(&mut map, now);
            self.insert(&mut map, hash, key.clone());
        }
        match map.find(hash, |(k, _)| k == key) {
            Some((_, slot)) => admit(&slot.tat, || self.quota_of(slot), now, n),
            None => unreachable!("present or inserted above"),
        }
    }

    fn quota_of(&self, slot: &Slot) -> Quota {
        match slot.quota.load(Ordering::Acquire) {
            0 => Quota::unpack(self.inner.default.load(Ordering::Acquire)),
            own => Quota::unpack(own),
        }
    }

    /// Make room for `key` in a full shard: drop keys whose bucket is full again (their
    /// TAT is in the past and they have no quota of their own), else evict the smallest
    /// TAT.
    fn make_room(&self, map: &mut Map<K>, now: u64) {
        if map.len() < self.inner.per_shard {
            return;
        }
        map.retain(|(_, s)| {
            s.tat.load(Ordering::Acquire) > now || s.quota.load(Ordering::Acquire) != 0
        });
        if map.len() >= self.inner.per_shard {
            let least = map
                .iter()
                .min_by(|a, b| {
                    let t = |s: &Slot| s.tat.load(Ordering::Acquire);
                    t(&a.1).cmp(&t(&b.1)).then_with(|| a.0.cmp(&b.0))
                })
                .map(|(k, _)| k.clone());
            if let Some(k) = least {
                let hash = self.inner.hasher.hash_one(&k);
                if let Ok(entry) = map.find_entry(hash, |(x, _)| *x == k) {
                    entry.remove();
                }
            }
        }
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }

    /// Whether no key is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use std::time::Duration;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn each_key_has_its_own_limit_and_quota() {
        let clock = ManualClock::new();
        let l = KeyedGcra::new(Quota::new(ms(100), 2).unwrap(), 100, clock.clone()).unwrap();
        l.check_n(&"a", 2).unwrap();
        assert!(l.check(&"a").is_err());
        assert!(l.check(&"b").is_ok(), "another key, another bucket");
        l.set_key_quota("vip", Quota::new(ms(100), 10).unwrap());
        assert_eq!(l.check_n(&"vip", 10).unwrap().remaining(), 0);
        let clone = l.clone();
        assert!(clone.check(&"a").is_err(), "clones share the keys");
        clock.advance(ms(100));
        assert!(clone.check(&"a").is_ok());
    }

    #[test]
    fn memory_stays_bounded_and_busy_keys_are_kept() {
        let clock = ManualClock::new();
        let l = KeyedGcra::new(Quota::new(ms(1_000), 1).unwrap(), 8, clock.clone()).unwrap();
        // A busy key, then many idle ones passing through.
        l.check(&0u32).unwrap();
        for k in 1..1_000u32 {
            clock.advance(ms(2_000));
            l.check(&k).unwrap();
            assert!(l.len() <= 8, "{} keys", l.len());
        }
        // Key 999 is busy (it just took its only cell): it survives the next arrivals.
        for k in 2_000..2_006u32 {
            l.check(&k).unwrap();
        }
        assert!(l.check(&999).is_err(), "its state was kept");
        assert_eq!(
            KeyedGcra::<u32, _>::new(Quota::new(ms(1), 1).unwrap(), 0, clock).unwrap_err(),
            ConfigError::Zero { name: "max keys" }
        );
    }
}

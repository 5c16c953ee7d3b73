//! GCRA per key (per client, per IP, per API token) in bounded memory.
//!
//! Keys live in shards, each a hash table behind a read-write lock: a check hashes the key
//! once (foldhash, seeded per limiter, so clients cannot aim keys at one shard), takes the
//! shard's read lock and does the one-CAS GCRA step on that key's TAT, so checks on
//! different keys, and on the same key, run in parallel.
//!
//! With a million keys a check is bound by memory, not by instructions: the key's slot is
//! one random access into tables of tens of megabytes. So a slot is just the key and its
//! TAT (16 bytes for a `u64` key), quotas of their own live in a separate table per shard
//! (empty, and skipped, unless some key has one), and shards are sized so that a full
//! shard fills its table to hashbrown's load limit (7/8) rather than half of it. The
//! tables of a million `u64` keys then take about 19 MB, which stays in a server's L3.
//!
//! A key whose TAT is in the past holds no state worth keeping (its bucket is full), so a
//! shard that reaches its share of the key limit first drops those; if too few are idle, it
//! evicts the least constrained sixteenth (the smallest TATs), which start again with a
//! full burst. Keys given a quota of their own are configuration, not traffic: they are
//! kept until [`KeyedGcra::remove_key_quota`].

use super::gcra::{Quota, admit};
use super::{Denied, Snapshot};
use crate::sync::{Arc, AtomicU64, Ordering, RwLock};
use crate::{Clock, ConfigError};
use hashbrown::{DefaultHashBuilder, HashTable};
use std::hash::{BuildHasher, Hash};
use std::sync::PoisonError;

/// Keys per shard when the limiter is large: 7/8 of 16,384, so a full shard's table has
/// 16,384 slots at hashbrown's load limit instead of 32,768 at half of it.
const SHARD_KEYS: usize = 14_336;

/// Small limiters still get up to this many shards, for parallel checks...
const MIN_SHARDS: usize = 16;

/// ...of at least this many keys each.
const MIN_SHARD_KEYS: usize = 1_024;

/// Large limiters grow their shards rather than their number beyond this.
const MAX_SHARDS: usize = 1_024;

// No decision depends on a table's iteration order: pruning keeps exactly the busy keys;
// eviction picks the smallest TATs, ties broken by key order.
#[derive(Debug)]
struct Shard<K> {
    /// Each remembered key and its TAT.
    tats: HashTable<(K, AtomicU64)>,
    /// Keys with a quota of their own, and that quota, packed.
    own: HashTable<(K, u64)>,
}

#[derive(Debug)]
struct Inner<K> {
    shards: Box<[RwLock<Shard<K>>]>,
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

/// How many shards for `max_keys`: enough that none holds more than [`SHARD_KEYS`], at
/// least a few for parallelism, at most [`MAX_SHARDS`].
fn shard_count(max_keys: usize) -> usize {
    max_keys
        .div_ceil(SHARD_KEYS)
        .max(max_keys.div_ceil(MIN_SHARD_KEYS).min(MIN_SHARDS))
        .min(MAX_SHARDS)
}

impl<K: Hash + Eq + Ord + Clone, C: Clock> KeyedGcra<K, C> {
    /// Keys on `quota`, at most `max_keys` of them remembered (at least 1), not counting
    /// keys given a quota of their own.
    pub fn new(quota: Quota, max_keys: usize, clock: C) -> Result<Self, ConfigError> {
        if max_keys == 0 {
            return Err(ConfigError::Zero { name: "max keys" });
        }
        let shards = shard_count(max_keys);
        let empty = || Shard {
            tats: HashTable::new(),
            own: HashTable::new(),
        };
        Ok(KeyedGcra {
            inner: Arc::new(Inner {
                shards: (0..shards).map(|_| RwLock::new(empty())).collect(),
                hasher: DefaultHashBuilder::default(),
                default: AtomicU64::new(quota.pack()),
                per_shard: max_keys.div_ceil(shards),
            }),
            clock,
        })
    }

    /// The key's hash, and its shard. The shard comes from bits 24–55 of the hash, which
    /// the tables leave alone: they index by the low bits and tag slots with the top 7.
    fn locate(&self, key: &K) -> (u64, &RwLock<Shard<K>>) {
        let h = self.inner.hasher.hash_one(key);
        let shards = &self.inner.shards;
        let middle = (h >> 24) & 0xffff_ffff;
        let index = (middle * shards.len() as u64) >> 32;
        (h, &shards[index as usize])
    }

    fn hash(&self, key: &K) -> u64 {
        self.inner.hasher.hash_one(key)
    }

    /// Change the default quota (keys keep what they have used).
    pub fn set_quota(&self, quota: Quota) {
        self.inner.default.store(quota.pack(), Ordering::Release);
    }

    /// Give `key` a quota of its own (kept, not evicted, until removed).
    pub fn set_key_quota(&self, key: K, quota: Quota) {
        let (hash, shard) = self.locate(&key);
        let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
        match shard.own.find_mut(hash, |(k, _)| *k == key) {
            Some((_, own)) => *own = quota.pack(),
            None => {
                shard
                    .own
                    .insert_unique(hash, (key, quota.pack()), |(k, _)| self.hash(k));
            }
        }
    }

    /// Put `key` back on the default quota; whether it had one of its own.
    pub fn remove_key_quota(&self, key: &K) -> bool {
        let (hash, shard) = self.locate(key);
        let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
        match shard.own.find_entry(hash, |(k, _)| k == key) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
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
            let shard = shard.read().unwrap_or_else(PoisonError::into_inner);
            if let Some((_, tat)) = shard.tats.find(hash, |(k, _)| k == key) {
                return admit(tat, || self.quota_of(&shard, hash, key), now, n);
            }
        }
        let mut shard = shard.write().unwrap_or_else(PoisonError::into_inner);
        // Another thread may have added it between the two locks.
        if shard.tats.find(hash, |(k, _)| k == key).is_none() {
            self.make_room(&mut shard.tats, now);
            shard
                .tats
                .insert_unique(hash, (key.clone(), AtomicU64::new(0)), |(k, _)| {
                    self.hash(k)
                });
        }
        match shard.tats.find(hash, |(k, _)| k == key) {
            Some((_, tat)) => admit(tat, || self.quota_of(&shard, hash, key), now, n),
            None => unreachable!("present or inserted above"),
        }
    }

    fn quota_of(&self, shard: &Shard<K>, hash: u64, key: &K) -> Quota {
        let own = match shard.own.is_empty() {
            true => None,
            false => shard.own.find(hash, |(k, _)| k == key),
        };
        match own {
            Some((_, packed)) => Quota::unpack(*packed),
            None => Quota::unpack(self.inner.default.load(Ordering::Acquire)),
        }
    }

    /// Make room for a key in a full shard: drop keys whose bucket is full again (their TAT
    /// is in the past); if that frees less than a sixteenth, evict the sixteenth with the
    /// smallest TATs as well, so a shard of busy keys pays for one scan per sixteenth of
    /// its size in new keys, not one per key.
    fn make_room(&self, tats: &mut HashTable<(K, AtomicU64)>, now: u64) {
        let cap = self.inner.per_shard;
        if tats.len() < cap {
            return;
        }
        tats.retain(|(_, t)| t.load(Ordering::Acquire) > now);
        let target = cap - cap.div_ceil(16);
        if tats.len() <= target {
            return;
        }
        let mut by_tat: Vec<(u64, K)> = tats
            .iter()
            .map(|(k, t)| (t.load(Ordering::Acquire), k.clone()))
            .collect();
        let excess = by_tat.len() - target;
        by_tat.select_nth_unstable(excess - 1);
        for (_, k) in &by_tat[..excess] {
            if let Ok(entry) = tats.find_entry(self.hash(k), |(x, _)| x == k) {
                entry.remove();
            }
        }
    }

    /// Keys remembered now (keys with a quota of their own count once they are checked).
    pub fn len(&self) -> usize {
        self.inner
            .shards
            .iter()
            .map(|s| s.read().unwrap_or_else(PoisonError::into_inner).tats.len())
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

    #[test]
    fn a_full_shard_of_busy_keys_evicts_the_least_constrained_sixteenth() {
        let clock = ManualClock::new();
        // One shard of 32 keys; every key stays busy for ten minutes after its check.
        let l = KeyedGcra::new(Quota::new(ms(600_000), 1).unwrap(), 32, clock.clone()).unwrap();
        assert_eq!(l.inner.shards.len(), 1);
        for k in 0..32u32 {
            l.check(&k).unwrap();
            clock.advance(ms(1));
        }
        assert_eq!(l.len(), 32);
        // A new key: the two oldest TATs (keys 0 and 1) go, the rest are kept.
        l.check(&100).unwrap();
        assert_eq!(l.len(), 31);
        for k in 2..32u32 {
            assert!(l.check(&k).is_err(), "busy key {k} was kept");
        }
        assert!(l.check(&0).is_ok(), "key 0 was evicted: a full burst again");
        assert_eq!(l.len(), 32);
        assert!(l.check(&1).is_ok(), "key 1 was evicted too");
        assert_eq!(l.len(), 31, "and its return evicted two more");
    }

    #[test]
    fn own_quotas_are_configuration_kept_through_eviction_until_removed() {
        let clock = ManualClock::new();
        let l = KeyedGcra::new(Quota::new(ms(1_000), 1).unwrap(), 4, clock.clone()).unwrap();
        l.set_key_quota("vip", Quota::new(ms(1_000), 5).unwrap());
        l.set_key_quota("vip", Quota::new(ms(1_000), 3).unwrap());
        assert_eq!(l.check_n(&"vip", 3).unwrap().remaining(), 0);
        // Idle keys pass through and push "vip"'s TAT out of the table...
        clock.advance(ms(10_000));
        for k in ["a", "b", "c", "d", "e", "f"] {
            l.check(&k).unwrap();
        }
        assert!(l.len() <= 4);
        // ...but not its quota.
        assert_eq!(l.check_n(&"vip", 3).unwrap().remaining(), 0);
        assert!(l.remove_key_quota(&"vip"));
        assert!(!l.remove_key_quota(&"vip"), "already removed");
        clock.advance(ms(10_000));
        assert!(
            matches!(
                l.check_n(&"vip", 2),
                Err(Denied::ExceedsBurst { burst: 1, .. })
            ),
            "back on the default quota"
        );
    }

    #[test]
    fn shards_fill_to_the_table_load_limit() {
        assert_eq!(shard_count(1), 1);
        assert_eq!(
            shard_count(8_000),
            8,
            "small limiters still get several shards"
        );
        assert_eq!(shard_count(100_000), 16);
        // A million keys: 74 shards of at most 14,336, so each table tops out at 16,384
        // slots, 7/8 full.
        assert_eq!(shard_count(1 << 20), 74);
        assert!((1usize << 20).div_ceil(74) <= SHARD_KEYS);
        assert_eq!(shard_count(usize::MAX / 2), MAX_SHARDS);
        // Every shard is reachable.
        let l = KeyedGcra::new(Quota::new(ms(1), 1).unwrap(), 1 << 20, ManualClock::new()).unwrap();
        let mut used = vec![false; l.inner.shards.len()];
        for k in 0..100_000u64 {
            let (_, shard) = l.locate(&k);
            let i = l
                .inner
                .shards
                .iter()
                .position(|s| std::ptr::eq(s, shard))
                .unwrap();
            used[i] = true;
        }
        assert!(used.iter().all(|&u| u));
    }
}

//! Leases: cache-aside without the stale fill.
//!
//! Cache-aside reads go miss → read the source → fill; writes go write the source →
//! delete the key. A reader slow enough to read the source before a write and fill after
//! its delete puts the old value back, and it stays for a whole TTL:
//!
//! ```text
//! reader: miss ── read source (v1) ─────────────────────── fill v1  ← stale until TTL
//! writer:                ── write source (v2) ── delete ──┘
//! ```
//!
//! A lease, taken at the miss, remembers the key's generation; a delete bumps it; a fill
//! is admitted only if the generation is unchanged, checked and applied under the same
//! lock a delete takes, so no delete can slip between the check and the insert. Memory
//! stays bounded: generations are kept per stripe of keys (by hash), not per key. Two keys
//! sharing a stripe only make a fill refused that could have been admitted (the next
//! miss fills), never the other way round.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher, Hash};
use std::sync::{Mutex, PoisonError};

/// Stripes by default: a delete of one key refuses a concurrent fill of another with
/// probability about 1/1024.
const STRIPES: usize = 1024;

/// What a reader holds between its miss and its fill.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[must_use = "a lease is spent by `Leases::fill`"]
pub struct Lease {
    stripe: usize,
    generation: u64,
}

/// The generations of every key's stripe.
#[derive(Debug)]
pub struct Leases {
    stripes: Box<[Mutex<u64>]>,
    hasher: BuildHasherDefault<DefaultHasher>,
}

impl Default for Leases {
    fn default() -> Self {
        Self::new()
    }
}

impl Leases {
    /// With the default number of stripes.
    pub fn new() -> Self {
        Self::with_stripes(STRIPES)
    }

    /// With `stripes` stripes (at least one).
    pub fn with_stripes(stripes: usize) -> Self {
        Leases {
            stripes: (0..stripes.max(1)).map(|_| Mutex::new(0)).collect(),
            hasher: BuildHasherDefault::default(),
        }
    }

    fn stripe<K: Hash + ?Sized>(&self, key: &K) -> usize {
        // The remainder is below the stripe count, so it fits a usize.
        (self.hasher.hash_one(key) % self.stripes.len() as u64) as usize
    }

    fn generation(&self, stripe: usize) -> std::sync::MutexGuard<'_, u64> {
        // A generation is one integer: whoever panicked holding it left it whole.
        self.stripes[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// A lease for `key`, taken when a read misses (before the source is read).
    pub fn lease<K: Hash + ?Sized>(&self, key: &K) -> Lease {
        let stripe = self.stripe(key);
        Lease {
            stripe,
            generation: *self.generation(stripe),
        }
    }

    /// Delete `key` after its source changed: `remove` (which deletes it from the cache)
    /// runs under the stripe's lock, and every lease taken before is refused.
    pub fn invalidate<K: Hash + ?Sized, T>(&self, key: &K, remove: impl FnOnce() -> T) -> T {
        let mut generation = self.generation(self.stripe(key));
        *generation += 1;
        remove()
    }

    /// Fill `key` with what the source returned under `lease`: `insert` runs (under the
    /// stripe's lock) only if no delete of the stripe happened since the lease was taken,
    /// and says whether it filled. Whether the fill happened.
    pub fn fill<K: Hash + ?Sized>(
        &self,
        key: &K,
        lease: Lease,
        insert: impl FnOnce() -> bool,
    ) -> bool {
        let stripe = self.stripe(key);
        let generation = self.generation(stripe);
        lease.stripe == stripe && *generation == lease.generation && insert()
    }

    /// Refuse every lease taken so far, of every key (whoever tracked the deletes lost
    /// track of them); `remove` (which empties the cache) runs after every stripe moved
    /// on, so a fill admitted before is removed by it and a fill after is refused.
    pub fn invalidate_all<T>(&self, remove: impl FnOnce() -> T) -> T {
        for stripe in 0..self.stripes.len() {
            *self.generation(stripe) += 1;
        }
        remove()
    }

    /// Run `f` holding `key`'s stripe (no fill or delete of the stripe runs meanwhile),
    /// without refusing any lease.
    pub fn holding<K: Hash + ?Sized, T>(&self, key: &K, f: impl FnOnce() -> T) -> T {
        let _stripe = self.generation(self.stripe(key));
        f()
    }
}

#[cfg(test)]
mod tests;

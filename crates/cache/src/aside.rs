//! Cache-aside over the in-process tier: reads that miss load from the source (one load
//! per key at a time, [`crate::single_flight`]) and fill under a lease ([`crate::lease`]),
//! so a fill never puts back a value older than the last delete; writes change the
//! source, then delete the key.
//!
//! Freshness is judged on the cache's clock ([`crate::freshness`]): past its
//! expire-after-write an entry is never served (stale-if-error aside, which serves it
//! for a bounded time more when the source fails); an entry due for a refresh (refresh-
//! ahead or XFetch) is reloaded by the one reader that finds it due, the others are
//! served the current value meanwhile. Keys the source does not have can be cached too
//! (negative caching), with their own freshness.

use crate::clock::CacheClock;
use crate::counted::{Count, Counters};
use crate::freshness::{Freshness, Verdict};
use crate::lease::{Lease, Leases};
use crate::local::{Entry, Listener, Local, Weigher};
use crate::single_flight::{LoadError, SingleFlight};
use crate::tags::Tags;
use dsys_resilience::{Clock, Draws};
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The source of truth a cache reads through.
pub trait Source<K, V>: Send + Sync {
    /// Why a load failed.
    type Error: std::error::Error + Send + Sync + 'static;
    /// The value of `key`; `None` if the source has none.
    fn load(&self, key: &K) -> Result<Option<V>, Self::Error>;
    /// The tags of `key`'s `value` (`user:123`), for [`CacheAside::invalidate_tag`];
    /// none by default.
    fn tags(&self, _key: &K, _value: &V) -> Vec<String> {
        Vec::new()
    }
}

/// How a cache-aside cache keeps its entries.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Entries held at most (moka evicts by W-TinyLFU beyond).
    pub capacity: u64,
    /// When values expire and refresh.
    pub freshness: Freshness,
    /// When "the source has no such key" expires; `None`: not cached.
    pub negative: Option<Freshness>,
    /// How long past its expiry an entry may still be served while the source fails.
    pub stale_if_error: Option<Duration>,
    /// The seed of the draws for jitter and early expiration.
    pub seed: u64,
    /// Its name: the `cache` label of its `metrics` counters.
    pub name: String,
}

impl Settings {
    /// The longest any entry lives: what the tier keeps entries for.
    pub(crate) fn lifetime(&self) -> Duration {
        let negative = self
            .negative
            .map_or(Duration::ZERO, |n| n.expire_after_write());
        self.freshness.expire_after_write().max(negative)
    }

    /// What to do with `entry` at `now`: judged by the freshness of values, or of
    /// negative entries (expired at once if those are not cached). XFetch's draw,
    /// uniform in (0, 1], is taken from `draws` only if the freshness uses one: a hit
    /// without it draws nothing.
    pub(crate) fn judge<V>(&self, entry: &Entry<V>, now: Duration, draws: &Draws) -> Verdict {
        let freshness = match entry.value {
            Some(_) => Some(&self.freshness),
            None => self.negative.as_ref(),
        };
        freshness.map_or(Verdict::Expired, |f| {
            let draw = if f.draws() { 1.0 - draws.next() } else { 1.0 };
            f.judge(&entry.stamp(), now, draw)
        })
    }

    /// `capacity` entries living `freshness`; nothing else.
    pub fn new(capacity: u64, freshness: Freshness) -> Self {
        Settings {
            capacity,
            freshness,
            negative: None,
            stale_if_error: None,
            seed: 0x5eed,
            name: "cache".to_string(),
        }
    }
}

/// How the in-process tier weighs entries and whom it tells of removals.
pub struct Tier<K, V> {
    /// The units of room each value takes ([`Settings::capacity`] counts units); one
    /// each without it. A value heavier than the capacity is evicted at once, by size.
    pub weigher: Option<Weigher<K, V>>,
    /// Told of every entry that leaves, with the true cause. It runs on moka's
    /// housekeeping, so it must not call back into the cache.
    pub listener: Option<Listener<K>>,
}

impl<K, V> Default for Tier<K, V> {
    fn default() -> Self {
        Tier {
            weigher: None,
            listener: None,
        }
    }
}

impl<K, V> std::fmt::Debug for Tier<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tier")
            .field("weigher", &self.weigher.is_some())
            .field("listener", &self.listener.is_some())
            .finish()
    }
}

/// Why a read gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum CacheError<E> {
    /// The source failed (or its load panicked), and nothing stale could stand in.
    #[error(transparent)]
    Load(#[from] LoadError<E>),
}

/// What happened, counted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Reads answered from the cache.
    pub hits: u64,
    /// Reads that found nothing servable.
    pub misses: u64,
    /// Loads run against the source.
    pub loads: u64,
    /// Fills refused because a delete came after their lease.
    pub refused_fills: u64,
    /// Reads answered with an expired entry because the source failed.
    pub stale_served: u64,
    /// (tag, key) pairs in the tag index (pruned of gone entries now and then).
    pub tagged: u64,
}

/// Why a read loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Load {
    /// Nothing servable was held.
    Miss,
    /// The entry is due for a refresh.
    Refresh,
}

/// A cache-aside cache of `K` to `V` in front of source `S`, on clock `C`.
pub struct CacheAside<K, V, S: Source<K, V>, C: Clock = CacheClock> {
    local: Local<K, V>,
    /// Loads in flight by key and the lease they started under: a read that comes after
    /// a delete does not join a load that started before it (that load read the old
    /// value).
    flights: SingleFlight<(K, Lease), Option<V>, S::Error>,
    leases: Leases,
    tags: Tags<K>,
    /// Tagged fills since the tag index was last pruned.
    tagged_fills: AtomicU64,
    source: S,
    clock: C,
    settings: Settings,
    draws: Draws,
    counters: Counters,
}

impl<K, V, S: Source<K, V>, C: Clock> std::fmt::Debug for CacheAside<K, V, S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheAside")
            .field("settings", &self.settings)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl<K, V, S> CacheAside<K, V, S, CacheClock>
where
    K: Hash + Eq + Ord + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: Source<K, V>,
{
    /// In front of `source`, on the process's shared coarse clock
    /// ([`CacheClock::shared`]).
    pub fn new(source: S, settings: Settings) -> Self {
        Self::with_clock(source, settings, CacheClock::shared())
    }
}

impl<K, V, S, C> CacheAside<K, V, S, C>
where
    K: Hash + Eq + Ord + Clone + Send + Sync + 'static,
    V: Clone + Send + Sync + 'static,
    S: Source<K, V>,
    C: Clock,
{
    /// In front of `source`, on `clock`.
    pub fn with_clock(source: S, settings: Settings, clock: C) -> Self {
        Self::with_tier(source, settings, clock, Tier::default())
    }

    /// In front of `source`, on `clock`, with `tier`'s weigher and removal listener.
    pub fn with_tier(source: S, settings: Settings, clock: C, tier: Tier<K, V>) -> Self {
        let counters = Counters::new(&settings.name);
        CacheAside {
            local: Local::new(
                settings.capacity,
                settings.lifetime(),
                tier.weigher,
                tier.listener,
            ),
            flights: SingleFlight::new(),
            leases: Leases::new(),
            tags: Tags::new(),
            tagged_fills: AtomicU64::new(0),
            source,
            clock,
            draws: Draws::seeded(settings.seed),
            settings,
            counters,
        }
    }

    /// The value of `key`: from the cache if it holds a servable entry, else loaded.
    pub fn get(&self, key: &K) -> Result<Option<V>, CacheError<S::Error>> {
        let now = self.clock.now();
        let held = self.local.get(key);
        if let Some(entry) = &held {
            let verdict = self.settings.judge(entry, now, &self.draws);
            match verdict {
                Verdict::Fresh => {
                    self.counters.add(Count::Hit);
                    return Ok(entry.value.clone());
                }
                Verdict::Refresh => {
                    self.counters.add(Count::Hit);
                    entry.refreshing(now);
                    // This reader reloads; if the reload fails the entry still stands.
                    return Ok(self
                        .load(key, Load::Refresh)
                        .unwrap_or_else(|_| entry.value.clone()));
                }
                Verdict::Expired => {}
            }
        }
        self.counters.add(Count::Miss);
        self.load(key, Load::Miss)
            .or_else(|e| match (&held, self.settings.stale_if_error) {
                (Some(entry), Some(window)) if now < entry.stamp().expires + window => {
                    self.counters.add(Count::StaleServed);
                    Ok(entry.value.clone())
                }
                _ => Err(e),
            })
    }

    /// Load `key` (or share the load in flight under the same lease). The loader fills
    /// the cache before the flight lands, so a read that comes after it finds the entry
    /// rather than loading again; it fills under the lease, taken before the source was
    /// read.
    fn load(&self, key: &K, why: Load) -> Result<Option<V>, CacheError<S::Error>> {
        let lease = self.leases.lease(key);
        let (outcome, _) = self.flights.load(&(key.clone(), lease), || {
            // A miss may have looked just before another load filled the key and landed:
            // it leads a flight of its own, but the entry is there now. (A refresh reloads
            // whatever the entry says.)
            if why == Load::Miss {
                if let Some(entry) = self.local.get(key) {
                    if self.settings.judge(&entry, self.clock.now(), &self.draws) == Verdict::Fresh
                    {
                        return Ok(entry.value.clone());
                    }
                }
            }
            #[cfg(feature = "tracing")]
            let _span =
                tracing::debug_span!("dsys_cache.load", cache = %self.settings.name).entered();
            self.counters.add(Count::Load);
            let epoch = self.tags.epoch();
            let started = self.clock.now();
            let value = self.source.load(key)?;
            let recompute = self.clock.now().saturating_sub(started);
            let freshness = match value {
                Some(_) => Some(&self.settings.freshness),
                None => self.settings.negative.as_ref(),
            };
            if let Some(freshness) = freshness {
                let stamp = freshness.stamp(self.clock.now(), recompute, self.draws.next());
                let tags = value
                    .as_ref()
                    .map(|v| self.source.tags(key, v))
                    .unwrap_or_default();
                let tagged = !tags.is_empty();
                let entry = Entry::new(value.clone(), stamp);
                let filled = self.leases.fill(key, lease, || {
                    // A tag invalidated since the epoch refuses the fill, like a delete.
                    let admitted = self.tags.admit(key, &tags, epoch);
                    if admitted {
                        self.local.insert(key.clone(), entry.tagged(tags));
                    }
                    admitted
                });
                if !filled {
                    self.counters.add(Count::RefusedFill);
                }
                if filled && tagged {
                    self.prune_tags_now_and_then();
                }
            }
            Ok(value)
        });
        Ok(outcome?)
    }

    /// Every 256 tagged fills, look at the next 1,024 index entries and drop those whose
    /// entry has gone: the index stays within a few times the tier's capacity.
    fn prune_tags_now_and_then(&self) {
        if self.tagged_fills.fetch_add(1, Ordering::Relaxed) % 256 != 255 {
            return;
        }
        for (tag, key) in self.tags.sample(1_024) {
            self.leases.holding(&key, || {
                let held = self.local.get(&key);
                if !held.is_some_and(|e| e.tags.contains(&tag)) {
                    self.tags.forget(&tag, &key);
                }
            });
        }
    }

    /// Change the source with `write`, then delete `key` (cache-aside's write path).
    pub fn write<T, E>(&self, key: &K, write: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let done = write()?;
        self.invalidate(key);
        Ok(done)
    }

    /// Write-through: change the source with `write`, which returns the value written,
    /// and put that value in the cache. The write and the cache update happen holding
    /// the key's lease stripe, so writers of one key update the cache in the order they
    /// changed the source (a later writer cannot be overtaken by an earlier one), and a
    /// fill of a value read before is refused. The price: writes to keys of one stripe
    /// take turns. On an error nothing is cached and the key's entry is gone.
    pub fn write_through<E>(&self, key: &K, write: impl FnOnce() -> Result<V, E>) -> Result<(), E> {
        self.leases.invalidate(key, || {
            let written = write();
            match &written {
                Ok(value) => {
                    let f = &self.settings.freshness;
                    let stamp = f.stamp(self.clock.now(), Duration::ZERO, self.draws.next());
                    let tags = self.source.tags(key, value);
                    // Written now, so admitted; indexed under its tags.
                    self.tags.admit(key, &tags, self.tags.epoch());
                    let entry = Entry::new(Some(value.clone()), stamp).tagged(tags);
                    self.local.insert(key.clone(), entry);
                }
                Err(_) => self.local.invalidate(key),
            }
            written.map(|_| ())
        })
    }

    /// Delete `key`: its entry goes, and a fill under a lease taken before is refused.
    pub fn invalidate(&self, key: &K) {
        self.leases.invalidate(key, || self.local.invalidate(key));
    }

    /// Delete every entry, and refuse every fill leased before (an invalidation may have
    /// been missed: a subscription was away).
    pub fn invalidate_all(&self) {
        self.leases.invalidate_all(|| self.local.invalidate_all());
    }

    /// Delete every entry tagged `tag`, and refuse any fill tagged `tag` whose value was
    /// read before; how many keys were tagged.
    pub fn invalidate_tag(&self, tag: &str) -> usize {
        #[cfg(feature = "tracing")]
        let _span =
            tracing::debug_span!("dsys_cache.invalidate_tag", cache = %self.settings.name, tag)
                .entered();
        let keys = self.tags.invalidate(tag);
        for key in &keys {
            self.invalidate(key);
        }
        keys.len()
    }

    /// What happened so far.
    pub fn stats(&self) -> Stats {
        self.counters.publish_hits();
        Stats {
            hits: self.counters.get(Count::Hit),
            misses: self.counters.get(Count::Miss),
            loads: self.counters.get(Count::Load),
            refused_fills: self.counters.get(Count::RefusedFill),
            stale_served: self.counters.get(Count::StaleServed),
            tagged: self.tags.indexed() as u64,
        }
    }

    /// The source behind the cache.
    pub fn source(&self) -> &S {
        &self.source
    }
}

#[cfg(test)]
mod tests;

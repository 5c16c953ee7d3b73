//! The in-process tier: moka (W-TinyLFU admission and eviction, the Rust port of
//! Caffeine's design), holding each value with its [`Stamp`] and reporting why every
//! entry left.
//!
//! moka drops entries after the longest lifetime the cache gives any (its
//! time-to-live), so memory comes back; whether an entry may be served is decided by
//! [`crate::freshness`] on the caller's clock, never by moka's timer. (moka's per-entry
//! expiry would track each entry's own lifetime, but costs about 18 ns on every hit,
//! measured in `benches/cache.rs`; the entries a shorter lifetime leaves behind are
//! evicted by size like any other.)

use crate::freshness::Stamp;
use std::hash::Hash;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Why an entry left the tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Removal {
    /// A newer value was put in its place.
    Replaced,
    /// Its time was up.
    Expired,
    /// Evicted to keep the tier within its capacity.
    Size,
    /// Invalidated: deleted on a write, by a tag, or on request.
    Explicit,
}

impl From<moka::notification::RemovalCause> for Removal {
    fn from(cause: moka::notification::RemovalCause) -> Self {
        use moka::notification::RemovalCause as C;
        match cause {
            C::Replaced => Removal::Replaced,
            C::Expired => Removal::Expired,
            C::Size => Removal::Size,
            C::Explicit => Removal::Explicit,
        }
    }
}

/// One cached value: the value (or, cached negatively, the fact that there is none),
/// when it was written, and whether a reload of it is in flight.
#[derive(Debug)]
pub struct Entry<V> {
    /// The value; `None` for a key the source does not have (negative caching).
    pub value: Option<V>,
    /// Its tags.
    pub tags: Vec<String>,
    stamp: Stamp,
    /// When a reload started, in nanoseconds on the caller's clock plus one (0: none).
    refreshing_since: AtomicU64,
}

impl<V> Entry<V> {
    /// `value` stamped `stamp`.
    pub fn new(value: Option<V>, stamp: Stamp) -> Self {
        Entry {
            value,
            tags: Vec::new(),
            stamp,
            refreshing_since: AtomicU64::new(0),
        }
    }

    /// The same, tagged `tags`.
    pub fn tagged(self, tags: Vec<String>) -> Self {
        Entry { tags, ..self }
    }

    /// Its stamp, with the reload in flight if there is one.
    pub fn stamp(&self) -> Stamp {
        let since = self.refreshing_since.load(Ordering::Acquire);
        Stamp {
            refreshing_since: since.checked_sub(1).map(Duration::from_nanos),
            ..self.stamp
        }
    }

    /// Note that a reload started at `now`.
    pub fn refreshing(&self, now: Duration) {
        let nanos = u64::try_from(now.as_nanos()).unwrap_or(u64::MAX - 1);
        self.refreshing_since.store(nanos + 1, Ordering::Release);
    }
}

/// What a listener is told of each entry that leaves.
pub type Listener<K> = Arc<dyn Fn(&K, Removal) + Send + Sync>;

/// The units of room a value takes (at least one is counted).
pub type Weigher<K, V> = Arc<dyn Fn(&K, &V) -> u32 + Send + Sync>;

/// The tier: at most `capacity` units of weight (entries, or what the weigher says).
pub struct Local<K, V> {
    cache: moka::sync::Cache<K, Arc<Entry<V>>>,
}

impl<K, V> std::fmt::Debug for Local<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Local")
            .field("entries", &self.cache.entry_count())
            .field("weight", &self.cache.weighted_size())
            .finish()
    }
}

impl<K, V> Local<K, V>
where
    K: Hash + Eq + Send + Sync + 'static,
    V: Send + Sync + 'static,
{
    /// A tier of `capacity` units whose entries live at most `lifetime`; `weigh` gives
    /// each entry's units (1 each without it); `listener` hears of every entry that
    /// leaves, with the true cause.
    pub fn new(
        capacity: u64,
        lifetime: Duration,
        weigh: Option<Weigher<K, V>>,
        listener: Option<Listener<K>>,
    ) -> Self {
        let mut builder = moka::sync::Cache::builder()
            .max_capacity(capacity)
            .time_to_live(lifetime);
        if let Some(weigh) = weigh {
            builder = builder.weigher(move |k: &K, e: &Arc<Entry<V>>| {
                // A negative entry weighs one unit: it holds no value.
                e.value.as_ref().map_or(1, |v| weigh(k, v).max(1))
            });
        }
        if let Some(listener) = listener {
            builder = builder.eviction_listener(move |k: Arc<K>, _, cause| {
                listener(&k, Removal::from(cause));
            });
        }
        Local {
            cache: builder.build(),
        }
    }

    /// The entry for `key` (or what it borrows as: a `&str` for a `String` key), if the
    /// tier holds one (fresh or not: the caller judges).
    pub fn get<Q>(&self, key: &Q) -> Option<Arc<Entry<V>>>
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.get(key)
    }

    /// Hold `entry` for `key`.
    pub fn insert(&self, key: K, entry: Entry<V>) {
        self.cache.insert(key, Arc::new(entry));
    }

    /// Drop `key`'s entry.
    pub fn invalidate<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Hash + Eq + ?Sized,
    {
        self.cache.invalidate(key);
    }

    /// Drop every entry.
    pub fn invalidate_all(&self) {
        self.cache.invalidate_all();
    }

    /// Apply pending evictions and notifications now (moka batches them).
    pub fn settle(&self) {
        self.cache.run_pending_tasks();
    }

    /// How many entries it holds (after [`Local::settle`], exactly).
    pub fn len(&self) -> u64 {
        self.cache.entry_count()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn stamp(ttl: Duration) -> Stamp {
        Stamp {
            written: Duration::ZERO,
            expires: ttl,
            recompute: Duration::ZERO,
            refreshing_since: None,
        }
    }

    #[test]
    fn every_removal_is_reported_with_its_true_cause() {
        let heard: Arc<Mutex<Vec<(u32, Removal)>>> = Arc::default();
        let listener: Listener<u32> = {
            let heard = Arc::clone(&heard);
            Arc::new(move |k: &u32, cause| {
                if let Ok(mut h) = heard.lock() {
                    h.push((*k, cause));
                }
            })
        };
        // Two units of room; values weigh what they say; an hour's life.
        let weigh: Weigher<u32, u32> = Arc::new(|_, v| *v);
        let hour = Duration::from_secs(3600);
        let tier: Local<u32, u32> = Local::new(2, hour, Some(weigh), Some(listener.clone()));
        tier.insert(1, Entry::new(Some(1), stamp(hour)));
        tier.insert(1, Entry::new(Some(1), stamp(hour)));
        tier.settle();
        tier.invalidate(&1);
        tier.settle();
        // Over the capacity on its own: moka evicts it by size.
        tier.insert(3, Entry::new(Some(5), stamp(hour)));
        tier.settle();
        assert!(tier.get(&3).is_none());
        // A millisecond's life. moka's timer wheel reaps expired entries in buckets of
        // about a second: wait for it (at most 5 s).
        let brief: Local<u32, u32> = Local::new(2, Duration::from_millis(1), None, Some(listener));
        brief.insert(2, Entry::new(Some(1), stamp(Duration::from_millis(1))));
        let expired = |h: &Mutex<Vec<(u32, Removal)>>| {
            h.lock().is_ok_and(|h| h.contains(&(2, Removal::Expired)))
        };
        for _ in 0..50 {
            brief.settle();
            if expired(&heard) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let heard = heard.lock().map(|h| h.clone()).unwrap_or_default();
        assert!(heard.contains(&(1, Removal::Replaced)), "{heard:?}");
        assert!(heard.contains(&(1, Removal::Explicit)), "{heard:?}");
        assert!(heard.contains(&(2, Removal::Expired)), "{heard:?}");
        assert!(heard.contains(&(3, Removal::Size)), "{heard:?}");
    }

    #[test]
    fn an_entry_remembers_the_reload_in_flight() {
        let e = Entry::new(Some(1u8), stamp(Duration::from_secs(60)));
        assert_eq!(e.stamp().refreshing_since, None);
        e.refreshing(Duration::ZERO);
        assert_eq!(e.stamp().refreshing_since, Some(Duration::ZERO));
        e.refreshing(Duration::from_secs(7));
        assert_eq!(e.stamp().refreshing_since, Some(Duration::from_secs(7)));
    }
}

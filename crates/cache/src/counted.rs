//! What a cache counts: in atomics that [`crate::aside::CacheAside::stats`] reads, and
//! with feature `metrics` (on by default) as `metrics` counters too, registered once when
//! the cache is built (so install the recorder before building caches) and labelled
//! `cache` with the cache's name.
//!
//! A hit touches only its atomic: handing each one to the recorder cost a hit about 2 ns
//! (`benches/cache.rs`), most of the room a hit has over moka's own `get`. The hits
//! counter is brought up to date at every other event (a miss, a load, ...) and at every
//! `stats()` read instead, so it lags by at most the hits since the last of those.

use std::sync::atomic::{AtomicU64, Ordering};

/// A set of events a cache counts.
pub(crate) trait Counted: Copy + Eq + 'static {
    /// Every event of the set, in index order.
    const ALL: &'static [Self];
    /// The hot event, whose `metrics` counter is brought up to date lazily.
    const HOT: Self;
    /// Its place in [`Counted::ALL`].
    fn index(self) -> usize;
    /// Its `metrics` name.
    fn metric(self) -> &'static str;
}

/// What [`crate::aside::CacheAside`] counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Count {
    Hit,
    Miss,
    Load,
    RefusedFill,
    StaleServed,
}

impl Counted for Count {
    const ALL: &'static [Count] = &[
        Count::Hit,
        Count::Miss,
        Count::Load,
        Count::RefusedFill,
        Count::StaleServed,
    ];
    const HOT: Count = Count::Hit;

    fn index(self) -> usize {
        self as usize
    }

    fn metric(self) -> &'static str {
        match self {
            Count::Hit => "dsys_cache_hits_total",
            Count::Miss => "dsys_cache_misses_total",
            Count::Load => "dsys_cache_loads_total",
            Count::RefusedFill => "dsys_cache_refused_fills_total",
            Count::StaleServed => "dsys_cache_stale_served_total",
        }
    }
}

/// The most kinds of event a set may count: the atomics live inline, so a hit's
/// increment is one store into the cache's own memory, no pointer to follow.
const MAX_COUNTED: usize = 16;

/// The counts of one cache.
pub(crate) struct Counters<C: Counted = Count> {
    atomics: [AtomicU64; MAX_COUNTED],
    #[cfg(feature = "metrics")]
    exported: Box<[metrics::Counter]>,
    counted: std::marker::PhantomData<C>,
}

impl<C: Counted> std::fmt::Debug for Counters<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("Counters");
        for &c in C::ALL {
            d.field(c.metric(), &self.get(c));
        }
        d.finish()
    }
}

impl<C: Counted> Counters<C> {
    /// Counts for the cache called `name`.
    #[cfg_attr(not(feature = "metrics"), allow(unused_variables))]
    pub(crate) fn new(name: &str) -> Self {
        const { assert!(C::ALL.len() <= MAX_COUNTED) };
        Counters {
            atomics: Default::default(),
            #[cfg(feature = "metrics")]
            exported: C::ALL
                .iter()
                .map(|c| metrics::counter!(c.metric(), "cache" => name.to_string()))
                .collect(),
            counted: std::marker::PhantomData,
        }
    }

    /// Count one `c`.
    pub(crate) fn add(&self, c: C) {
        self.atomics[c.index()].fetch_add(1, Ordering::Relaxed);
        #[cfg(feature = "metrics")]
        if c != C::HOT {
            self.exported[c.index()].increment(1);
            self.publish_hits();
        }
    }

    /// Bring the hot counter up to date.
    pub(crate) fn publish_hits(&self) {
        #[cfg(feature = "metrics")]
        self.exported[C::HOT.index()].absolute(self.get(C::HOT));
    }

    /// How many `c` so far.
    pub(crate) fn get(&self, c: C) -> u64 {
        self.atomics[c.index()].load(Ordering::Relaxed)
    }
}

#[cfg(all(test, feature = "metrics"))]
mod tests {
    use super::*;
    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    /// Hands out one atomic per counter name and `cache` label.
    #[derive(Default)]
    struct Registry(Mutex<BTreeMap<String, Arc<AtomicU64>>>);

    impl Recorder for Registry {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let cache = key
                .labels()
                .find(|l| l.key() == "cache")
                .map(|l| l.value().to_string());
            let name = format!("{}/{}", key.name(), cache.unwrap_or_default());
            let mut all = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Counter::from_arc(Arc::clone(all.entry(name).or_default()))
        }
        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }
        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    #[test]
    fn counts_reach_the_metrics_recorder_labelled_with_the_cache_s_name() {
        let registry = Registry::default();
        let counters: Counters =
            metrics::with_local_recorder(&registry, || Counters::new("catalogue"));
        counters.add(Count::Hit);
        counters.add(Count::Hit);
        counters.add(Count::Miss);
        assert_eq!(
            (counters.get(Count::Hit), counters.get(Count::Miss)),
            (2, 1)
        );
        let all = registry.0.lock().map(|a| a.clone()).unwrap_or_default();
        let value = |n: &str| all.get(n).map(|c| c.load(Ordering::Relaxed));
        assert_eq!(value("dsys_cache_hits_total/catalogue"), Some(2));
        assert_eq!(value("dsys_cache_misses_total/catalogue"), Some(1));
        assert_eq!(value("dsys_cache_loads_total/catalogue"), Some(0));
    }
}

//! dsys-cache beside moka, in one run: a cache-aside hit (clock read, moka lookup,
//! freshness judged on the entry's stamp, a counter) against moka's own `get` of the same
//! keys in a cache with the same capacity and TTL (1,024 keys read in turn).
//!
//! cargo bench -p dsys-cache --bench cache

use divan::Bencher;
use dsys_cache::aside::{CacheAside, Settings, Source};
use dsys_cache::clock::CacheClock;
use dsys_cache::freshness::Freshness;
use dsys_resilience::{Clock, SystemClock};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    divan::main();
}

/// A source that has every key: its value is its length.
struct Lengths;

impl Source<String, u64> for Lengths {
    type Error = Infallible;
    fn load(&self, key: &String) -> Result<Option<u64>, Infallible> {
        Ok(Some(key.len() as u64))
    }
}

const KEYS: usize = 1_024;
const CAPACITY: u64 = 10_000;
const HOUR: Duration = Duration::from_secs(3_600);

/// Time `get` over the keys in turn, once `fill` has put each in (so every read hits).
fn hits<T>(bencher: Bencher, fill: impl Fn(&String), get: impl Fn(&String) -> T) {
    let keys: Vec<String> = (0..KEYS).map(|i| format!("user:{i}")).collect();
    for k in &keys {
        fill(k);
    }
    let mut i = 0usize;
    bencher.bench_local(|| {
        i = (i + 1) % KEYS;
        get(&keys[i])
    });
}

fn cache_aside<C: Clock>(clock: C) -> CacheAside<String, u64, Lengths, C> {
    let settings = Settings::new(CAPACITY, Freshness::new(HOUR).expect("an hour"));
    CacheAside::with_clock(Lengths, settings, clock)
}

/// Time a cache-aside hit on `clock`.
fn dsys_hits<C: Clock>(bencher: Bencher, clock: C) {
    let cache = cache_aside(clock);
    let read = |k: &String| cache.get(k).ok().flatten();
    hits(bencher, |k| assert!(read(k).is_some()), read);
}

/// On the default clock (the process's coarse clock, read from memory).
#[divan::bench(sample_size = 10_000)]
fn hit_dsys(bencher: Bencher) {
    dsys_hits(bencher, CacheClock::shared());
}

/// The same hit reading the time-stamp counter on every call.
#[divan::bench(sample_size = 10_000)]
fn hit_dsys_system_clock(bencher: Bencher) {
    dsys_hits(bencher, SystemClock::new());
}

/// moka's own `get`, the value held in it.
#[divan::bench(sample_size = 10_000)]
fn moka_hit(bencher: Bencher) {
    let cache: moka::sync::Cache<String, u64> = moka::sync::Cache::builder()
        .max_capacity(CAPACITY)
        .time_to_live(HOUR)
        .build();
    hits(
        bencher,
        |k| cache.insert(k.clone(), k.len() as u64),
        |k| cache.get(k),
    );
}

/// Why the tier does not use moka's per-entry expiry: the same moka hit with the value
/// behind an `Arc` (as the tier holds it), once with a per-entry expiry policy and once
/// with one time-to-live.
struct Fixed;

impl moka::Expiry<String, Arc<u64>> for Fixed {
    fn expire_after_create(&self, _: &String, _: &Arc<u64>, _: Instant) -> Option<Duration> {
        Some(HOUR)
    }
}

#[divan::bench(sample_size = 10_000)]
fn moka_hit_arc_per_entry_expiry(bencher: Bencher) {
    let cache: moka::sync::Cache<String, Arc<u64>> = moka::sync::Cache::builder()
        .max_capacity(CAPACITY)
        .expire_after(Fixed)
        .build();
    hits(
        bencher,
        |k| cache.insert(k.clone(), Arc::new(k.len() as u64)),
        |k| cache.get(k),
    );
}

#[divan::bench(sample_size = 10_000)]
fn moka_hit_arc_ttl(bencher: Bencher) {
    let cache: moka::sync::Cache<String, Arc<u64>> = moka::sync::Cache::builder()
        .max_capacity(CAPACITY)
        .time_to_live(HOUR)
        .build();
    hits(
        bencher,
        |k| cache.insert(k.clone(), Arc::new(k.len() as u64)),
        |k| cache.get(k),
    );
}

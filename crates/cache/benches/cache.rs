//! dsys-cache beside moka, in one run: a cache-aside hit (clock read, moka lookup,
//! freshness judged on the entry's stamp, a counter) against moka's own `get` of the same
//! keys in a cache with the same capacity and TTL (1,024 keys read in turn).
//!
//! And a near-cache hit beside a Redis `GET` round trip on loopback (a Redis of its own,
//! through scripts/services.sh; skipped where Redis is not installed).
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
fn hits<T>(bencher: Bencher, fill: impl Fn(&String), mut get: impl FnMut(&String) -> T) {
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

/// A Redis of the benchmark's own, and a near cache over it whose every key is held in
/// both tiers; `None` (and nothing measured) where Redis is not installed.
fn near_over_redis() -> Option<(
    dsys_services::Server,
    dsys_cache::redis::NearCache<String, Strings>,
)> {
    use dsys_cache::redis::{LinkState, NearCache, NearSettings, RedisSettings, Utf8};
    let server = dsys_services::Server::start(dsys_services::Kind::Redis)?;
    let settings = NearSettings::new(Settings::new(
        CAPACITY,
        Freshness::new(HOUR).expect("an hour"),
    ));
    let near = NearCache::connect(
        server.addr(),
        RedisSettings::new("bench:"),
        settings,
        Strings,
        Utf8,
    )
    .expect("redis");
    for _ in 0..1_000 {
        if near.link() != LinkState::Down {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Some((server, near))
}

/// A source that has every key: its value is the key.
struct Strings;

impl Source<String, String> for Strings {
    type Error = Infallible;
    fn load(&self, key: &String) -> Result<Option<String>, Infallible> {
        Ok(Some(key.clone()))
    }
}

/// A near-cache hit: the link's state, moka, the freshness verdict, a counter.
#[divan::bench(sample_size = 10_000)]
fn near_hit(bencher: Bencher) {
    let Some((_server, near)) = near_over_redis() else {
        return;
    };
    let read = |k: &String| near.get(k).ok().flatten();
    // Each key read twice: the first read fills the near tier from Redis.
    hits(
        bencher,
        |k| assert!(read(k).is_some() && read(k).is_some()),
        read,
    );
    assert!(near.stats().near_hits > 0);
}

/// The same keys' `GET` from that Redis, on loopback, one round trip each (dsys's own
/// client, one connection).
#[divan::bench(sample_size = 1_000)]
fn redis_get_round_trip(bencher: Bencher) {
    let Some((server, near)) = near_over_redis() else {
        return;
    };
    let mut conn = dsys_redis::Connection::connect(server.addr(), &dsys_redis::Options::default())
        .expect("redis");
    let mut bytes = Vec::new();
    hits(
        bencher,
        |k| assert!(near.get(k).ok().flatten().is_some()),
        |k: &String| {
            bytes.clear();
            bytes.extend_from_slice(b"bench:v:");
            bytes.extend_from_slice(k.as_bytes());
            conn.call(&[b"GET", &bytes]).expect("GET")
        },
    );
}

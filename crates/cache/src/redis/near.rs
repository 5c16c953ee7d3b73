//! The near cache: an in-process tier (moka) in front of a [`RedisTier`], kept coherent
//! by Redis's client-side caching.
//!
//! A read is served from the near tier only while the invalidation link is up; a value
//! read from Redis is put in the near tier only if the link was up, and the same link,
//! from the lease to the fill, on a connection whose reads that link tracks, and no
//! invalidation of the key came in between (the in-process lease). When the link drops,
//! the near tier is flushed, and until it is back every read goes to Redis (or, if Redis
//! cannot be reached and the cache is told to, to the source): counted as degraded.
//!
//! A miss in Redis loads the source once per process (single-flight) and, with a lock
//! lease set, once across processes: the one that takes the lock loads and fills, the
//! others wait for its fill.

use super::link::{Link, LinkSettings, Running, Subscriber};
use super::link::{LinkState, Tracking};
use super::tier::{RedisLease, RedisSettings, RedisTier};
use crate::aside::{Settings, Source};
use crate::clock::CacheClock;
use crate::counted::Counters;
use crate::freshness::Verdict;
use crate::lease::{Lease, Leases};
use crate::local::{Entry, Local};
use crate::single_flight::{LoadError, SingleFlight};
use dsys_redis::{Connection, Pool, Protocol, RedisError};
use dsys_resilience::{Clock, Draws};
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

mod counts;
mod miss;

use counts::NearCount;
pub use counts::NearStats;

/// How values become bytes in Redis (and back; bytes that do not decode are a miss).
pub trait Codec<V>: Send + Sync + 'static {
    /// The bytes of `value`.
    fn encode(&self, value: &V) -> Vec<u8>;
    /// The value of `bytes`, if they are one.
    fn decode(&self, bytes: &[u8]) -> Option<V>;
}

/// Strings as their UTF-8 bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct Utf8;

impl Codec<String> for Utf8 {
    fn encode(&self, value: &String) -> Vec<u8> {
        value.as_bytes().to_vec()
    }
    fn decode(&self, bytes: &[u8]) -> Option<String> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

/// What a read does when Redis cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Degraded {
    /// Read the source directly (nothing is cached meanwhile): availability first.
    Source,
    /// Fail the read: protect the source from the whole load.
    Fail,
}

/// How a near cache keeps its two tiers.
#[derive(Clone, Debug)]
pub struct NearSettings {
    /// The near tier (capacity, freshness — also the values' TTL in Redis —, negative
    /// caching, seed, name).
    pub local: Settings,
    /// How Redis tells the near tier what changed.
    pub tracking: Tracking,
    /// The invalidation link's protocol: RESP3 pushes, or a RESP2 pub/sub connection.
    pub protocol: Protocol,
    /// How often the link proves it is alive when nothing is invalidated.
    pub heartbeat: Duration,
    /// Share a miss across processes under a lock with this lease (`None`: each process
    /// loads on its own).
    pub lock: Option<Duration>,
    /// What a read does when Redis cannot be reached.
    pub degraded: Degraded,
}

impl NearSettings {
    /// Default tracking over RESP3, a 1 s heartbeat, a 5 s lock, degraded reads from the
    /// source.
    pub fn new(local: Settings) -> NearSettings {
        NearSettings {
            local,
            tracking: Tracking::Default,
            protocol: Protocol::Resp3,
            heartbeat: Duration::from_secs(1),
            lock: Some(Duration::from_secs(5)),
            degraded: Degraded::Source,
        }
    }
}

/// Why a read of a near cache failed.
#[derive(Debug, thiserror::Error)]
pub enum FetchError<E> {
    /// The source failed.
    #[error("the source failed: {0}")]
    Source(E),
    /// Redis failed (and reads are not to fall back to the source).
    #[error(transparent)]
    Redis(RedisError),
}

/// Why a near cache could not be made, or a read had no answer.
#[derive(Debug, thiserror::Error)]
pub enum NearError<E> {
    /// Redis could not be reached at start-up (and reads are not to fall back to the
    /// source), or the settings cannot work.
    #[error("redis at start-up: {0}")]
    Start(RedisError),
    /// The link's thread could not be started.
    #[error("starting the invalidation link: {0}")]
    Thread(std::io::Error),
    /// The read's load failed or panicked.
    #[error(transparent)]
    Load(#[from] LoadError<FetchError<E>>),
}

/// What the link thread and the readers share.
struct Shared<V, C: Clock> {
    local: Local<String, V>,
    leases: Leases,
    tier: RedisTier<C>,
    /// Deletes that failed while Redis was away, done again before the link comes up.
    deferred: Mutex<BTreeSet<String>>,
}

/// Deletes kept for when Redis is back; beyond, a failed delete is only an error.
const MAX_DEFERRED: usize = 65_536;

impl<V: Clone + Send + Sync + 'static, C: Clock> Subscriber for Shared<V, C> {
    fn invalidate(&self, key: &str) {
        self.leases
            .invalidate(key, || self.local.invalidate(&key.to_string()));
    }

    fn flush(&self) {
        self.leases.invalidate_all(|| self.local.invalidate_all());
    }

    fn before_up(&self) -> Result<(), RedisError> {
        let keys: Vec<String> = lock(&self.deferred).iter().cloned().collect();
        for key in keys {
            self.tier.invalidate(&key)?;
            lock(&self.deferred).remove(&key);
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A two-tier cache of `String` keys to `V` in front of source `S`: near (in process)
/// and shared (Redis).
pub struct NearCache<V, S: Source<String, V>, C: Clock = CacheClock> {
    shared: Arc<Shared<V, C>>,
    link: Arc<Link>,
    /// The link's thread, stopped when the cache is dropped.
    _running: Running,
    flights: SingleFlight<(String, Lease), Option<V>, FetchError<S::Error>>,
    source: S,
    codec: Box<dyn Codec<V>>,
    clock: C,
    settings: NearSettings,
    draws: Draws,
    counters: Counters<NearCount>,
}

impl<V, S: Source<String, V>, C: Clock> std::fmt::Debug for NearCache<V, S, C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NearCache")
            .field("settings", &self.settings)
            .field("link", &self.link.state())
            .finish_non_exhaustive()
    }
}

impl<V, S> NearCache<V, S, CacheClock>
where
    V: Clone + Send + Sync + 'static,
    S: Source<String, V>,
{
    /// A near cache over the Redis at `addr`, on the process's shared coarse clock.
    pub fn connect(
        addr: SocketAddr,
        redis: RedisSettings,
        settings: NearSettings,
        source: S,
        codec: impl Codec<V>,
    ) -> Result<Self, NearError<S::Error>> {
        Self::with_clock(addr, redis, settings, source, codec, CacheClock::shared())
    }
}

impl<V, S, C> NearCache<V, S, C>
where
    V: Clone + Send + Sync + 'static,
    S: Source<String, V>,
    C: Clock + Clone,
{
    /// A near cache over the Redis at `addr`, on `clock`. Redis is tried at once: if it
    /// cannot be reached, that is [`NearError::Start`] when reads are to fail
    /// ([`Degraded::Fail`]); with [`Degraded::Source`] the cache starts degraded and the
    /// link keeps trying in the background. Either way, within the connection timeout.
    pub fn with_clock(
        addr: SocketAddr,
        redis: RedisSettings,
        settings: NearSettings,
        source: S,
        codec: impl Codec<V>,
        clock: C,
    ) -> Result<Self, NearError<S::Error>> {
        if settings.heartbeat.is_zero() {
            return Err(NearError::Start(RedisError::Protocol(
                "a zero heartbeat cannot show the link alive".into(),
            )));
        }
        let link = Link::new();
        let pool = Arc::new(tracked_pool(addr, &redis, &settings.tracking, &link));
        let tier = RedisTier::over(
            Arc::clone(&pool),
            redis.clone(),
            clock.clone(),
            opt_in(&settings),
        );
        match pool.get().and_then(|mut conn| tier.boot(&mut conn)) {
            Ok(()) => {}
            Err(e) if settings.degraded == Degraded::Fail => return Err(NearError::Start(e)),
            Err(_) => {} // starts degraded; the link keeps trying
        }
        let local = Local::new(
            settings.local.capacity,
            settings.local.lifetime(),
            None,
            None,
        );
        let shared = Arc::new(Shared {
            local,
            leases: Leases::new(),
            tier,
            deferred: Mutex::new(BTreeSet::new()),
        });
        let link_settings = LinkSettings {
            addr,
            options: redis.options.clone(),
            protocol: settings.protocol,
            tracking: Some(settings.tracking.clone()),
            heartbeat: settings.heartbeat,
            names: shared.tier.names().clone(),
        };
        let subscriber: Arc<dyn Subscriber> = shared.clone();
        let running = link
            .spawn(link_settings, Some(pool), subscriber)
            .map_err(NearError::Thread)?;
        Ok(NearCache {
            counters: Counters::new(&settings.local.name),
            draws: Draws::seeded(settings.local.seed),
            shared,
            link,
            _running: running,
            flights: SingleFlight::new(),
            source,
            codec: Box::new(codec),
            clock,
            settings,
        })
    }

    /// The value of `key`: from the near tier while the link is up and the entry is
    /// fresh, else from Redis, else loaded from the source.
    pub fn get(&self, key: &str) -> Result<Option<V>, NearError<S::Error>> {
        let state = self.link.state();
        if let LinkState::Up { .. } = state {
            if let Some(entry) = self.shared.local.get(key) {
                let now = self.clock.now();
                let verdict = self.settings.local.judge(&entry, now, &self.draws);
                match verdict {
                    Verdict::Fresh => {
                        self.counters.add(NearCount::NearHit);
                        return Ok(entry.value.clone());
                    }
                    // Due for a refresh: this reader reads it again (from Redis, where
                    // another process may have refreshed it already).
                    Verdict::Refresh => entry.refreshing(now),
                    Verdict::Expired => {}
                }
            }
        } else {
            self.counters.add(NearCount::Degraded);
        }
        let lease = self.shared.leases.lease(key);
        let (outcome, _) = self
            .flights
            .load(&(key.to_string(), lease), || self.fetch(key, lease, state));
        Ok(outcome?)
    }

    /// Change the source with `write`, then delete `key` from both tiers.
    pub fn write<T, E>(&self, key: &str, write: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        let done = write()?;
        // A failed delete is kept and done again before the near tier serves again.
        let _ = self.invalidate(key);
        Ok(done)
    }

    /// Delete `key` from both tiers (every process's near tier hears it from Redis). If
    /// Redis cannot be reached, this process stops serving from its near tier, and the
    /// delete is done again when Redis is back, before it serves again (up to 65,536
    /// such keys; beyond, the error is all there is).
    pub fn invalidate(&self, key: &str) -> Result<(), RedisError> {
        self.shared
            .leases
            .invalidate(key, || self.shared.local.invalidate(key));
        self.shared.tier.invalidate(key).inspect_err(|_| {
            let mut deferred = lock(&self.shared.deferred);
            if deferred.len() < MAX_DEFERRED {
                deferred.insert(key.to_string());
            }
            drop(deferred);
            self.link.suspect();
        })
    }

    /// Delete every key tagged `tag` in Redis, atomically (the near tiers hear of each);
    /// how many were tagged.
    pub fn invalidate_tag(&self, tag: &str) -> Result<u64, RedisError> {
        self.shared.tier.invalidate_tag(tag)
    }

    /// Tell every near cache of this prefix, through the cache's channel, that `key`
    /// changed (a change made outside the cache; Redis's own copy is deleted too).
    pub fn publish(&self, key: &str) -> Result<(), RedisError> {
        self.invalidate(key)?;
        let tier = &self.shared.tier;
        super::publish(tier.pool(), tier.names().prefix(), key).map(drop)
    }

    /// The invalidation link's state.
    pub fn link(&self) -> LinkState {
        self.link.state()
    }

    /// What happened so far.
    pub fn stats(&self) -> NearStats {
        NearStats::read(&self.counters, &self.link)
    }

    /// The Redis tier underneath.
    pub fn tier(&self) -> &RedisTier<C> {
        &self.shared.tier
    }

    /// Put `value` (read from Redis under `state` on a connection of `generation`) in the
    /// near tier, if the link stayed as it was and no invalidation of `key` came since
    /// `lease`.
    fn fill_near(
        &self,
        key: &str,
        lease: Lease,
        state: LinkState,
        generation: u64,
        value: &Option<V>,
    ) {
        if state != (LinkState::Up { generation }) {
            return;
        }
        let freshness = match value {
            Some(_) => &self.settings.local.freshness,
            None => match &self.settings.local.negative {
                Some(negative) => negative,
                None => return,
            },
        };
        let stamp = freshness.stamp(self.clock.now(), Duration::ZERO, self.draws.next());
        let filled = self.shared.leases.fill(key, lease, || {
            let admitted = self.link.state() == state;
            if admitted {
                self.shared
                    .local
                    .insert(key.to_string(), Entry::new(value.clone(), stamp));
            }
            admitted
        });
        if !filled {
            self.counters.add(NearCount::RefusedFill);
        }
    }

    /// What a read that found Redis unreachable does.
    fn unreachable(&self, key: &str, e: RedisError) -> Result<Option<V>, FetchError<S::Error>> {
        self.link.suspect();
        self.counters.add(NearCount::RedisError);
        match self.settings.degraded {
            Degraded::Fail => Err(FetchError::Redis(e)),
            Degraded::Source => {
                self.counters.add(NearCount::Load);
                self.source
                    .load(&key.to_string())
                    .map_err(FetchError::Source)
            }
        }
    }

    fn redis_ttl(&self, value: &Option<V>) -> Option<Duration> {
        match value {
            Some(_) => Some(self.settings.local.freshness.expire_after_write()),
            None => self.settings.local.negative.map(|n| n.expire_after_write()),
        }
    }

    /// Fill Redis under `lease`; the bytes stored, if the fill was admitted.
    fn fill_redis(&self, key: &str, lease: &RedisLease, value: &Option<V>) -> Option<Vec<u8>> {
        let ttl = self.redis_ttl(value)?;
        let tags = value
            .as_ref()
            .map(|v| self.source.tags(&key.to_string(), v))
            .unwrap_or_default();
        let stored = encode(self.codec.as_ref(), value);
        match self.shared.tier.fill(key, lease, &stored, ttl, &tags) {
            Ok(true) => Some(stored),
            Ok(false) => {
                self.counters.add(NearCount::RefusedFill);
                None
            }
            Err(_) => {
                self.counters.add(NearCount::RedisError);
                None
            }
        }
    }
}

/// A value in Redis: `v` and its bytes, or `n` for "the source has none".
fn encode<V: 'static>(codec: &dyn Codec<V>, value: &Option<V>) -> Vec<u8> {
    match value {
        Some(v) => [b"v".as_slice(), &codec.encode(v)].concat(),
        None => b"n".to_vec(),
    }
}

/// The value stored, if the bytes are one.
fn decode<V: 'static>(codec: &dyn Codec<V>, bytes: &[u8]) -> Option<Option<V>> {
    match bytes.split_first()? {
        (b'v', rest) => codec.decode(rest).map(Some),
        (b'n', []) => Some(None),
        _ => None,
    }
}

fn opt_in(settings: &NearSettings) -> bool {
    settings.tracking == Tracking::Default
}

/// The data connections: in default tracking mode, each tracks what it reads (opt-in)
/// for the link's listener; set up again whenever the link comes up with a new listener.
fn tracked_pool(
    addr: SocketAddr,
    redis: &RedisSettings,
    tracking: &Tracking,
    link: &Arc<Link>,
) -> Pool {
    let pool = Pool::new(addr, redis.options.clone()).with_max_idle(256);
    if *tracking != Tracking::Default {
        return pool;
    }
    let (link, dropped) = (Arc::clone(link), Arc::clone(link));
    // A connection that goes takes the server's memory of what it read with it: what
    // the near tier filled through it would never hear of a change.
    pool.with_on_discard(move || dropped.suspect())
        .with_setup(move |conn: &mut Connection| {
            conn.call(&[b"CLIENT", b"TRACKING", b"OFF"])?;
            if let Some(listener) = link.listener() {
                let id = listener.to_string();
                conn.call(&[
                    b"CLIENT",
                    b"TRACKING",
                    b"ON",
                    b"REDIRECT",
                    id.as_bytes(),
                    b"OPTIN",
                    // A fill this connection writes is not news to its own near tier.
                    b"NOLOOP",
                ])?;
            }
            Ok(())
        })
}

//! Redis killed (SIGKILL) in the middle of a run and restarted, under two near caches —
//! `A`, whose process writes, and `B`, another process that only reads — with readers
//! on both throughout.
//!
//! Judged from what the readers saw, against what the writer had acknowledged before
//! each read began (a read is stale if it returns an older version than one acknowledged
//! before it started):
//! - `A` never reads stale: its own writes delete its near copy and Redis's before they
//!   are acknowledged, and while Redis is away it reads the source.
//! - `B` reads nothing stale once it has seen the link drop: its near tier was flushed
//!   and serves nothing until the link is back (so values changed while Redis was away,
//!   whose invalidations nobody heard, are never served). Between the kill and `B`
//!   seeing it (the link's socket closing, under a millisecond on loopback) nothing is
//!   promised, and no write is made.
//! - Both count the reads they served while degraded; the test prints them.
//!
//! Budget: about 2 s of reading and writing.

#![allow(clippy::unwrap_used)] // tests may panic

mod support;

use dsys_cache::aside::Settings;
use dsys_cache::freshness::Freshness;
use dsys_cache::redis::{LinkState, NearCache, NearSettings, Protocol, RedisSettings, Utf8};
use dsys_resilience::{Clock, SystemClock};
use dsys_services::{Kind, Server};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::{Truth, eventually};

type Near = NearCache<String, Truth>;

const KEYS: usize = 8;

/// One read: which key, the version it returned, when it started (ns).
struct Read {
    key: usize,
    version: u64,
    started: u64,
}

fn cache(redis: &Server, truth: &Truth, protocol: Protocol) -> Arc<Near> {
    let settings = NearSettings {
        protocol,
        heartbeat: Duration::from_millis(100),
        ..NearSettings::new(Settings::new(
            1_000,
            Freshness::new(Duration::from_secs(60)).unwrap(),
        ))
    };
    let near = NearCache::connect(
        redis.addr(),
        RedisSettings::new("killed:"),
        settings,
        truth.clone(),
        Utf8,
    )
    .unwrap();
    eventually("the link to come up", || near.link() != LinkState::Down);
    Arc::new(near)
}

fn key(n: usize) -> String {
    format!("key{n}")
}

/// Readers of `near` until `stop`; every read recorded.
fn readers(
    near: &Arc<Near>,
    stop: &Arc<AtomicBool>,
    clock: &SystemClock,
) -> Vec<std::thread::JoinHandle<Vec<Read>>> {
    (0..2)
        .map(|r| {
            let (near, stop, clock) = (near.clone(), stop.clone(), clock.clone());
            std::thread::spawn(move || {
                let mut reads = Vec::new();
                let mut n = r;
                while !stop.load(Ordering::SeqCst) {
                    n = (n + 1) % KEYS;
                    let started = clock.now_nanos();
                    let value = near.get(&key(n)).unwrap().unwrap();
                    reads.push(Read {
                        key: n,
                        version: Truth::version_of(&value),
                        started,
                    });
                    std::thread::sleep(Duration::from_micros(100));
                }
                reads
            })
        })
        .collect()
}

/// Stale reads among `reads` that started at or after `from`: versions older than one
/// acknowledged before the read began.
fn stale(reads: &[Read], acked: &[(usize, u64, u64)], from: u64) -> Vec<String> {
    reads
        .iter()
        .filter(|r| r.started >= from)
        .filter_map(|r| {
            let newest = acked
                .iter()
                .filter(|&&(k, _, at)| k == r.key && at < r.started)
                .map(|&(_, v, _)| v)
                .max()?;
            (r.version < newest).then(|| {
                format!(
                    "key{} read v{} after v{newest} was acknowledged",
                    r.key, r.version
                )
            })
        })
        .collect()
}

#[test]
fn redis_killed_mid_run_no_stale_read_from_a_near_cache_after_its_link_dropped() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let clock = SystemClock::new();
    let truth = Truth::default();
    for n in 0..KEYS {
        truth.write(&key(n));
    }
    let (a, b) = (
        cache(&redis, &truth, Protocol::Resp3),
        cache(&redis, &truth, Protocol::Resp2),
    );
    let stop = Arc::new(AtomicBool::new(false));
    let (readers_a, readers_b) = (readers(&a, &stop, &clock), readers(&b, &stop, &clock));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let write = |n: usize| {
        let version = a
            .write(&key(n), || Ok::<_, ()>(truth.write(&key(n))))
            .unwrap();
        acked.lock().unwrap().push((n, version, clock.now_nanos()));
    };
    // Before: writes while everything is up (B hears them a little later).
    for i in 0..40 {
        write(i % KEYS);
        std::thread::sleep(Duration::from_millis(5));
    }
    redis.kill();
    let killed_at = clock.now_nanos();
    eventually("B to see the link drop", || b.link() == LinkState::Down);
    let b_saw_it = clock.now_nanos();
    // While Redis is away: every key changes, and nobody hears of it.
    for i in 0..60 {
        write(i % KEYS);
        std::thread::sleep(Duration::from_millis(5));
    }
    redis.restart();
    eventually("A's link to come back", || a.link() != LinkState::Down);
    eventually("B's link to come back", || b.link() != LinkState::Down);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    let collect = |handles: Vec<std::thread::JoinHandle<Vec<Read>>>| {
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    };
    let (reads_a, reads_b) = (collect(readers_a), collect(readers_b));
    let acked = acked.lock().unwrap().clone();
    let (sa, sb) = (a.stats(), b.stats());
    eprintln!(
        "A: {} reads, {} degraded; B: {} reads, {} degraded ({} after it saw the drop); \
         B saw the drop {} µs after the kill returned; link drops A {} B {}",
        reads_a.len(),
        sa.degraded_reads,
        reads_b.len(),
        sb.degraded_reads,
        reads_b.iter().filter(|r| r.started >= b_saw_it).count(),
        b_saw_it.saturating_sub(killed_at) / 1_000,
        sa.link_drops,
        sb.link_drops,
    );
    let stale_a = stale(&reads_a, &acked, 0);
    assert!(
        stale_a.is_empty(),
        "A read stale: {:?}",
        &stale_a[..stale_a.len().min(5)]
    );
    let stale_b = stale(&reads_b, &acked, b_saw_it);
    assert!(
        stale_b.is_empty(),
        "B read stale after the drop: {:?}",
        &stale_b[..stale_b.len().min(5)]
    );
    assert!(
        sa.degraded_reads > 0 && sb.degraded_reads > 0,
        "{sa:?} {sb:?}"
    );
    assert!(
        sb.near_hits > 0,
        "B served from its near tier at some point: {sb:?}"
    );
    // After the restart both serve from their near tiers again.
    let (ha, hb) = (a.stats().near_hits, b.stats().near_hits);
    for n in 0..KEYS {
        for _ in 0..3 {
            a.get(&key(n)).unwrap();
            b.get(&key(n)).unwrap();
        }
    }
    assert!(a.stats().near_hits > ha && b.stats().near_hits > hb);
}

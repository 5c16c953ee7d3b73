//! The Redis tier against a real Redis (started by `scripts/services.sh`; without Redis
//! installed and not required, each test says so and passes): leases refuse fills older
//! than a delete, across processes and across a restart; tags are invalidated atomically
//! under concurrent writers; the lock's tokens only grow.

#![allow(clippy::unwrap_used)] // tests may panic

use dsys_cache::redis::{Lookup, RedisLease, RedisSettings, RedisTier};
use dsys_services::{Kind, Server};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

fn tier(redis: &Server) -> RedisTier {
    RedisTier::connect(redis.addr(), RedisSettings::new("test:")).unwrap()
}

fn miss(tier: &RedisTier, key: &str) -> RedisLease {
    match tier.lookup(key).unwrap().0 {
        Lookup::Miss(lease) => lease,
        Lookup::Hit(bytes) => panic!("{key} held {bytes:?}"),
    }
}

const TTL: Duration = Duration::from_secs(60);

#[test]
fn a_fill_leased_before_a_delete_is_refused_in_every_process() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    // Two processes' tiers over one Redis.
    let (reader, writer) = (tier(&redis), tier(&redis));
    let lease = miss(&reader, "k");
    writer.invalidate("k").unwrap();
    assert!(
        !reader.fill("k", &lease, b"old", TTL, &[]).unwrap(),
        "older than the delete"
    );
    assert!(matches!(reader.lookup("k").unwrap().0, Lookup::Miss(_)));
    // A lease taken after the delete fills.
    let lease = miss(&reader, "k");
    assert!(reader.fill("k", &lease, b"new", TTL, &[]).unwrap());
    assert_eq!(writer.lookup("k").unwrap().0, Lookup::Hit(b"new".to_vec()));
    // A delete of another key does not refuse it (markers are per key).
    writer.invalidate("k").unwrap();
    let lease = miss(&reader, "k");
    writer.invalidate("other").unwrap();
    assert!(reader.fill("k", &lease, b"v", TTL, &[]).unwrap());
}

#[test]
fn a_restart_forgets_deletes_so_it_forgets_the_leases_taken_before() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let tier = tier(&redis);
    let lease = miss(&tier, "k");
    tier.invalidate("k").unwrap();
    redis.stop();
    redis.restart();
    // The marker of the delete is gone with the restart; the lease must not fill.
    let err_or_refused = tier.fill("k", &lease, b"old", TTL, &[]);
    assert!(
        !err_or_refused.unwrap_or(false),
        "a lease from before a restart filled"
    );
    assert!(!tier.fill("k", &lease, b"old", TTL, &[]).unwrap());
    let lease = miss(&tier, "k");
    assert!(tier.fill("k", &lease, b"new", TTL, &[]).unwrap());
}

#[test]
fn a_tag_deletes_every_tagged_key_and_refuses_tagged_fills_leased_before() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let tier = tier(&redis);
    let tags = |t: &[&str]| t.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    for (key, t) in [
        ("a", &["user:1"][..]),
        ("b", &["user:1", "team:9"]),
        ("c", &["team:9"]),
    ] {
        let lease = miss(&tier, key);
        assert!(
            tier.fill(key, &lease, key.as_bytes(), TTL, &tags(t))
                .unwrap()
        );
    }
    let slow = miss(&tier, "d");
    assert_eq!(tier.invalidate_tag("user:1").unwrap(), 2);
    assert!(matches!(tier.lookup("a").unwrap().0, Lookup::Miss(_)));
    assert!(matches!(tier.lookup("b").unwrap().0, Lookup::Miss(_)));
    assert_eq!(tier.lookup("c").unwrap().0, Lookup::Hit(b"c".to_vec()));
    // A fill tagged user:1 whose value was read before the invalidation is refused; the
    // same fill without that tag is not.
    assert!(
        !tier
            .fill("d", &slow, b"d", TTL, &tags(&["user:1"]))
            .unwrap()
    );
    assert!(
        tier.fill("d", &slow, b"d", TTL, &tags(&["team:9"]))
            .unwrap()
    );
    assert_eq!(tier.invalidate_tag("team:9").unwrap(), 3);
    assert_eq!(tier.invalidate_tag("nobody").unwrap(), 0);
}

/// Writers fill tagged keys under leases while one invalidator invalidates the tag again
/// and again. Each writer stores, as the value, how many invalidations had *started*
/// when it read the counter, which it does after taking its lease: so invalidation
/// number `i > s` started after that lease. Right after invalidation `i` returns, no
/// tagged key may hold a value below `i`: it would be a fill leased before `i` that
/// survived it (or got in after it).
#[test]
fn tags_are_invalidated_atomically_under_concurrent_writers() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    const WRITERS: usize = 6;
    const KEYS_PER_WRITER: usize = 20;
    const INVALIDATIONS: u64 = 200;
    let started = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let fills = Arc::new(AtomicU64::new(0));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (tier, started, stop, fills) =
                (tier(&redis), started.clone(), stop.clone(), fills.clone());
            std::thread::spawn(move || {
                let tag = vec!["group".to_string()];
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    let key = format!("w{w}k{}", n % KEYS_PER_WRITER);
                    n += 1;
                    let Lookup::Miss(lease) = tier.lookup(&key).unwrap().0 else {
                        continue;
                    };
                    let s = started.load(Ordering::SeqCst);
                    // Reading the source takes a while: invalidations land meanwhile.
                    std::thread::sleep(Duration::from_micros(200));
                    if tier
                        .fill(&key, &lease, s.to_string().as_bytes(), TTL, &tag)
                        .unwrap()
                    {
                        fills.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    let invalidator = tier(&redis);
    let keys: Vec<String> = (0..WRITERS)
        .flat_map(|w| (0..KEYS_PER_WRITER).map(move |k| format!("w{w}k{k}")))
        .collect();
    let mut deleted = 0;
    for i in 1..=INVALIDATIONS {
        started.store(i, Ordering::SeqCst);
        deleted += invalidator.invalidate_tag("group").unwrap();
        for key in &keys {
            if let Lookup::Hit(value) = invalidator.lookup(key).unwrap().0 {
                let s: u64 = String::from_utf8(value).unwrap().parse().unwrap();
                assert!(
                    s >= i,
                    "{key} holds a fill leased before invalidation {i} (read {s})"
                );
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let fills = fills.load(Ordering::Relaxed);
    eprintln!("{fills} tagged fills, {deleted} keys deleted by {INVALIDATIONS} tag invalidations");
    assert!(
        fills > INVALIDATIONS && deleted > INVALIDATIONS,
        "the race was not exercised"
    );
}

#[test]
fn lock_tokens_grow_across_holders_and_a_restart_and_a_lapsed_holder_cannot_release() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let locks = tier(&redis).locks();
    let first = locks
        .try_acquire("job", Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert_eq!(
        locks.try_acquire("job", Duration::from_secs(5)).unwrap(),
        None,
        "held"
    );
    assert!(locks.renew(&first, Duration::from_secs(5)).unwrap());
    let fence = first.fence();
    assert!(locks.release(first).unwrap());
    let second = locks
        .try_acquire("job", Duration::from_millis(50))
        .unwrap()
        .unwrap();
    assert!(second.fence() > fence);
    // Its lease lapses; another takes the lock; the first cannot release or renew it.
    std::thread::sleep(Duration::from_millis(120));
    let third = locks
        .try_acquire("job", Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert!(third.fence() > second.fence());
    assert!(!locks.renew(&second, Duration::from_secs(5)).unwrap());
    assert!(!locks.release(second).unwrap());
    let before_restart = third.fence();
    redis.stop();
    redis.restart();
    // The pooled connection died with the server: the first call says so, the next
    // connects afresh.
    assert!(locks.try_acquire("job", Duration::from_secs(5)).is_err());
    let after = locks
        .try_acquire("job", Duration::from_secs(5))
        .unwrap()
        .unwrap();
    assert!(
        after.fence() > before_restart,
        "tokens grow across a restart"
    );
}

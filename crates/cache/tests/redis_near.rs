//! The near cache against a real Redis (started by `scripts/services.sh`; without Redis
//! installed and not required, each test says so and passes): coherence by client-side
//! caching in every tracking mode and protocol, what happens when the invalidation link
//! drops or Redis is not there at start, and one load for many concurrent misses.

#![allow(clippy::unwrap_used)] // tests may panic

mod support;

use dsys_cache::aside::Settings;
use dsys_cache::freshness::Freshness;
use dsys_cache::redis::{
    Degraded, LinkState, NearCache, NearError, NearSettings, Protocol, RedisSettings, Tracking,
    Utf8,
};
use dsys_redis::{Connection, Options};
use dsys_services::{Kind, Server};
use std::sync::{Arc, Barrier};
use std::time::Duration;
use support::{Truth, eventually};

type Near = NearCache<String, Truth>;

fn settings(tracking: Tracking, protocol: Protocol) -> NearSettings {
    NearSettings {
        tracking,
        protocol,
        heartbeat: Duration::from_millis(200),
        ..NearSettings::new(Settings::new(
            1_000,
            Freshness::new(Duration::from_secs(60)).unwrap(),
        ))
    }
}

fn near(redis: &Server, truth: &Truth, settings: NearSettings) -> Near {
    let near = NearCache::connect(
        redis.addr(),
        RedisSettings::new("near:"),
        settings,
        truth.clone(),
        Utf8,
    )
    .unwrap();
    eventually("the link to come up", || near.link() != LinkState::Down);
    near
}

fn get(near: &Near, key: &str) -> String {
    near.get(key).unwrap().unwrap()
}

/// Kill the invalidation links' connections from outside (as a proxy or a failover would).
fn kill_links(redis: &Server) -> usize {
    let mut admin = Connection::connect(redis.addr(), &Options::default()).unwrap();
    let list = admin.call(&[b"CLIENT", b"LIST"]).unwrap();
    let list = String::from_utf8(list.as_bytes().unwrap().to_vec()).unwrap();
    let ids: Vec<&str> = list
        .lines()
        .filter(|l| l.contains(&format!("name={}", dsys_cache::redis::LISTENER_NAME)))
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("id=")))
        .collect();
    for id in &ids {
        admin
            .call(&[b"CLIENT", b"KILL", b"ID", id.as_bytes()])
            .unwrap();
    }
    ids.len()
}

#[test]
fn a_change_made_through_one_process_reaches_the_other_s_near_tier_in_every_mode() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let broadcast = Tracking::Broadcast {
        prefixes: Vec::new(),
    };
    for (n, (tracking, protocol)) in [
        (Tracking::Default, Protocol::Resp3),
        (Tracking::Default, Protocol::Resp2),
        (broadcast.clone(), Protocol::Resp3),
        (broadcast, Protocol::Resp2),
    ]
    .into_iter()
    .enumerate()
    {
        let truth = Truth::default();
        let key = format!("k{n}");
        truth.write(&key);
        let a = near(&redis, &truth, settings(tracking.clone(), protocol));
        let b = near(&redis, &truth, settings(tracking.clone(), protocol));
        // Read until the near tier serves (default mode: the second read; broadcast:
        // the third, since the first fill's own write is heard as a change).
        let reads_to_near_hit = (1..=3)
            .find(|_| {
                assert_eq!(get(&a, &key), format!("{key}@1"));
                a.stats().near_hits == 1
            })
            .unwrap_or_else(|| {
                panic!(
                    "no near hit in 3 reads: {tracking:?} {protocol:?} {:?}",
                    a.stats()
                )
            });
        // Default mode: the fill is read back tracked, so the second read is near. In
        // broadcast mode the fill's own write is news that drops it, soon or at once.
        if tracking == Tracking::Default {
            assert_eq!(reads_to_near_hit, 2, "{protocol:?}");
        }
        assert_eq!(get(&b, &key), format!("{key}@1"));
        let (sa, sb) = (a.stats(), b.stats());
        assert_eq!(
            (sa.loads, sb.redis_hits, sb.loads),
            (1, 1, 0),
            "{tracking:?} {protocol:?}"
        );
        // B changes the source and deletes; A's near tier hears it from Redis.
        let heard = sa.invalidations;
        b.write(&key, || Ok::<_, ()>(truth.write(&key))).unwrap();
        eventually("A to hear the invalidation", || {
            a.stats().invalidations > heard
        });
        assert_eq!(
            get(&a, &key),
            format!("{key}@2"),
            "{tracking:?} {protocol:?}"
        );
        assert_eq!(get(&b, &key), format!("{key}@2"));
        assert_eq!(
            truth.loads(),
            2,
            "one load per version across both processes"
        );
    }
}

#[test]
fn a_dropped_link_flushes_the_near_tier_and_reads_are_degraded_until_it_is_back() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    for (protocol, k) in [(Protocol::Resp3, "k3"), (Protocol::Resp2, "k2")] {
        let truth = Truth::default();
        truth.write(k);
        let a = near(&redis, &truth, settings(Tracking::Default, protocol));
        assert_eq!(get(&a, k), format!("{k}@1"));
        assert_eq!(get(&a, k), format!("{k}@1"));
        assert_eq!(a.stats().near_hits, 1);
        assert_eq!(kill_links(&redis), 1);
        // A change made while the link is gone: its invalidation is lost with the link.
        truth.write(k);
        let mut admin = Connection::connect(redis.addr(), &Options::default()).unwrap();
        // The link is back within a millisecond or two, but this process's connection that
        // read the key still redirects its invalidations to the dead listener until it is
        // next used: this one is lost.
        let value_key = format!("near:v:{k}");
        admin.call(&[b"DEL", value_key.as_bytes()]).unwrap();
        eventually("the link to come back", || {
            a.stats().link_drops == 1 && a.link() != LinkState::Down
        });
        // Flushed: the change is read, not the near copy.
        assert_eq!(get(&a, k), format!("{k}@2"), "{protocol:?}");
        assert_eq!(get(&a, k), format!("{k}@2"));
        assert_eq!(a.stats().near_hits, 2, "serving from the near tier again");
    }
}

#[test]
fn redis_down_at_start_up_is_an_error_or_degraded_reads_never_a_hang() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    redis.stop();
    let truth = Truth::default();
    truth.write("k");
    let fail = NearSettings {
        degraded: Degraded::Fail,
        ..settings(Tracking::Default, Protocol::Resp3)
    };
    let err = NearCache::connect(
        redis.addr(),
        RedisSettings::new("near:"),
        fail,
        truth.clone(),
        Utf8,
    )
    .unwrap_err();
    assert!(matches!(err, NearError::Start(_)), "{err}");
    // Degraded: reads go to the source, counted, until Redis is there.
    let a: Near = NearCache::connect(
        redis.addr(),
        RedisSettings::new("near:"),
        settings(Tracking::Default, Protocol::Resp3),
        truth.clone(),
        Utf8,
    )
    .unwrap();
    assert_eq!(a.link(), LinkState::Down);
    assert_eq!(get(&a, "k"), "k@1");
    assert_eq!(get(&a, "k"), "k@1");
    let stats = a.stats();
    assert_eq!(
        (stats.degraded_reads, stats.loads, stats.near_hits),
        (2, 2, 0)
    );
    redis.restart();
    eventually("the link to come up", || a.link() != LinkState::Down);
    assert_eq!(get(&a, "k"), "k@1");
    assert_eq!(get(&a, "k"), "k@1");
    assert_eq!(a.stats().near_hits, 1);
}

#[test]
fn a_thousand_concurrent_misses_on_one_key_load_it_once() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let truth = Truth::slow(Duration::from_millis(100));
    truth.write("hot");
    let a = Arc::new(near(
        &redis,
        &truth,
        settings(Tracking::Default, Protocol::Resp3),
    ));
    let start = Arc::new(Barrier::new(1_000));
    let readers: Vec<_> = (0..1_000)
        .map(|_| {
            let (a, start) = (a.clone(), start.clone());
            std::thread::Builder::new()
                .stack_size(64 << 10)
                .spawn(move || {
                    start.wait();
                    a.get("hot").unwrap().unwrap()
                })
                .unwrap()
        })
        .collect();
    for r in readers {
        assert_eq!(r.join().unwrap(), "hot@1");
    }
    assert_eq!(truth.loads(), 1);
}

#[test]
fn in_process_caches_hear_published_invalidations_and_flush_when_their_subscription_was_away() {
    use dsys_cache::aside::CacheAside;
    use dsys_cache::redis::{Heard, Subscription, publish};
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let truth = Truth::default();
    truth.write("k");
    truth.write("other");
    let caches: Vec<_> = (0..2)
        .map(|_| {
            let settings = Settings::new(100, Freshness::new(Duration::from_secs(60)).unwrap());
            let cache = Arc::new(CacheAside::new(truth.clone(), settings));
            let heard = cache.clone();
            let subscription = Subscription::start(
                redis.addr(),
                Options::default(),
                "app:",
                Duration::from_millis(200),
                move |h| match h {
                    Heard::Key(key) => heard.invalidate(&key.to_string()),
                    Heard::Everything => heard.invalidate_all(),
                },
            )
            .unwrap();
            eventually("the subscription", || {
                subscription.state() != LinkState::Down
            });
            for key in ["k", "other"] {
                assert_eq!(
                    cache.get(&key.to_string()).unwrap().unwrap(),
                    format!("{key}@1")
                );
            }
            (cache, subscription)
        })
        .collect();
    let pool = dsys_redis::Pool::new(redis.addr(), Options::default());
    truth.write("k");
    assert_eq!(
        publish(&pool, "app:", "k").unwrap(),
        2,
        "both subscriptions heard it"
    );
    for (cache, _) in &caches {
        eventually("the invalidation", || {
            cache.get(&"k".to_string()).unwrap().unwrap() == "k@2"
        });
        assert_eq!(cache.get(&"other".to_string()).unwrap().unwrap(), "other@1");
    }
    // A change published while the subscriptions are away is lost to them: they flush.
    truth.write("other");
    let before: Vec<LinkState> = caches.iter().map(|(_, s)| s.state()).collect();
    assert_eq!(kill_links(&redis), 2);
    for ((cache, subscription), before) in caches.iter().zip(before) {
        // Back up as a new generation (the old one may still read Up for a moment
        // before its thread sees the connection gone).
        eventually("the subscription to come back", || {
            let now = subscription.state();
            now != LinkState::Down && now != before
        });
        assert_eq!(cache.get(&"other".to_string()).unwrap().unwrap(), "other@2");
    }
}

#[test]
fn bytes_in_redis_that_are_not_a_value_are_a_miss_and_are_replaced() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let truth = Truth::default();
    truth.write("k");
    let a = near(&redis, &truth, settings(Tracking::Default, Protocol::Resp3));
    let mut admin = Connection::connect(redis.addr(), &Options::default()).unwrap();
    let long_garbage = [&b"v"[..], &[0xff; 100_000]].concat();
    for garbage in [&b""[..], b"x", b"n-trailing", b"v\xff\xfe", &long_garbage] {
        admin.call(&[b"SET", b"near:v:k", garbage]).unwrap();
        assert!(get(&a, "k") == "k@1", "not the source's value");
        // Replaced by what the source says.
        let stored = admin.call(&[b"GET", b"near:v:k"]).unwrap();
        assert!(stored.as_bytes() == Some(&b"vk@1"[..]), "not replaced");
        a.invalidate("k").unwrap();
    }
    assert_eq!(a.stats().undecodable, 5, "{:?}", a.stats());
}

#[test]
fn with_reads_told_to_fail_a_redis_outage_is_an_error_not_a_load() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let truth = Truth::default();
    truth.write("k");
    let fail = NearSettings {
        degraded: Degraded::Fail,
        ..settings(Tracking::Default, Protocol::Resp2)
    };
    let a = near(&redis, &truth, fail);
    assert_eq!(get(&a, "k"), "k@1");
    redis.kill();
    for _ in 0..3 {
        assert!(a.get("k").is_err());
    }
    assert_eq!(truth.loads(), 1, "the source was spared");
    assert!(a.stats().degraded_reads >= 2, "{:?}", a.stats());
}

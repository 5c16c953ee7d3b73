//! The distributed GCRA against a real Redis, started and stopped by
//! `scripts/services.sh` through `dsys-services` (each test its own server, on its own
//! port). `scripts/test.sh` installs Redis and sets `DSYS_REQUIRE_SERVICES`, so there a
//! missing server fails the test; run alone without Redis installed, the tests say so
//! and pass.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

use dsys_resilience::ManualClock;
use dsys_resilience::rate::{Denied, FailMode, Limiter, Quota, RedisGcra};
use dsys_services::{Kind, Server};
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A Redis of the test's own, stopped when dropped.
struct Redis(Server);

impl Redis {
    fn start() -> Option<Redis> {
        Server::start(Kind::Redis).map(Redis)
    }

    fn addr(&self) -> SocketAddr {
        self.0.addr()
    }

    fn stop(&self) {
        self.0.stop();
    }

    fn restart(&self) {
        self.0.restart();
    }

    /// Run one command on a connection of its own; the reply's first line.
    fn command(&self, args: &[&str]) -> String {
        let mut stream = TcpStream::connect(self.addr()).unwrap();
        let mut out = format!("*{}\r\n", args.len());
        for a in args {
            out += &format!("${}\r\n{a}\r\n", a.len());
        }
        stream.write_all(out.as_bytes()).unwrap();
        let mut line = String::new();
        BufReader::new(stream).read_line(&mut line).unwrap();
        line.trim_end().to_string()
    }
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn limiter(
    redis: &Redis,
    quota: Quota,
    fail: FailMode,
    clock: &ManualClock,
) -> RedisGcra<ManualClock> {
    RedisGcra::new(redis.addr(), "test:", quota, fail, clock.clone())
        .unwrap()
        .with_timeout(ms(200), ms(100))
        .unwrap()
}

#[test]
fn processes_sharing_a_redis_share_one_limit() {
    let Some(redis) = Redis::start() else { return };
    let clock = ManualClock::new();
    let quota = Quota::new(ms(1_000), 5).unwrap();
    // Three limiters, three connections: three processes, as far as Redis can tell.
    let hosts: Vec<_> = (0..3)
        .map(|_| limiter(&redis, quota, FailMode::Closed, &clock))
        .collect();
    let mut remaining = Vec::new();
    for i in 0..5 {
        remaining.push(hosts[i % 3].check_key_n("user-1", 1).unwrap().remaining());
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    for host in &hosts {
        match host.check_key_n("user-1", 1) {
            Err(Denied::NotUntil { retry_after }) => {
                assert!(
                    retry_after > Duration::ZERO && retry_after <= ms(1_000),
                    "{retry_after:?}"
                )
            }
            other => panic!("admitted past the limit: {other:?}"),
        }
    }
    // Another key has a limit of its own; the Limiter API works per key.
    let other = hosts[0].key("user-2");
    assert_eq!(other.check_n(5).unwrap().remaining(), 0);
    assert!(matches!(other.check_n(6), Err(Denied::ExceedsBurst { .. })));
    // The key expires once it would be full again: no key outlives its use.
    let ttl: i64 = redis.command(&["PTTL", "test:user-1"])[1..]
        .parse()
        .unwrap();
    assert!(ttl > 0 && ttl <= 5_001, "{ttl}");
    assert_eq!(hosts[0].unavailable(), 0);
}

#[test]
#[allow(clippy::disallowed_methods)] // real time: the bound is on what Redis admitted over a real span
fn threads_on_their_own_connections_never_exceed_rate_times_time_plus_burst() {
    let Some(redis) = Redis::start() else { return };
    let interval = ms(2);
    let burst = 10;
    let quota = Quota::new(interval, burst).unwrap();
    let clock = ManualClock::new();
    let started = std::time::Instant::now();
    let admitted: u64 = std::thread::scope(|s| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let l = limiter(&redis, quota, FailMode::Closed, &clock);
                s.spawn(move || {
                    let mut admitted = 0u64;
                    while started.elapsed() < ms(300) {
                        match l.check_key_n("hot", 1) {
                            Ok(_) => admitted += 1,
                            Err(Denied::NotUntil { .. }) => {}
                            Err(e) => panic!("{e}"),
                        }
                    }
                    admitted
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).sum()
    });
    let elapsed = started.elapsed();
    let bound = u64::from(burst) + (elapsed.as_nanos() / interval.as_nanos()) as u64 + 1;
    assert!(
        admitted <= bound,
        "{admitted} admitted in {elapsed:?}, bound {bound}"
    );
    // And it does admit at about the rate: the four threads are not starved.
    assert!(admitted >= bound / 2, "{admitted} admitted in {elapsed:?}");
}

/// Stop Redis mid-test: checks are answered by the fail mode, without trying to connect
/// until `reconnect_after` has passed; restart it and real decisions resume (on a server
/// that has never seen the script).
fn stopped_mid_test(fail: FailMode) {
    let Some(redis) = Redis::start() else { return };
    let clock = ManualClock::new();
    let l = limiter(&redis, Quota::new(ms(1_000), 3).unwrap(), fail, &clock);
    assert_eq!(l.check_key_n("k", 1).unwrap().remaining(), 2);
    redis.stop();
    for _ in 0..5 {
        match (fail, l.check_key_n("k", 1)) {
            (FailMode::Open, Ok(_)) | (FailMode::Closed, Err(Denied::Unavailable)) => {}
            (_, other) => panic!("{fail:?} answered {other:?} with Redis down"),
        }
    }
    assert_eq!(l.unavailable(), 5);
    redis.restart();
    // Not yet retried: still the fail mode.
    assert!(l.check_key_n("k", 1).is_ok() == (fail == FailMode::Open));
    assert_eq!(l.unavailable(), 6);
    clock.advance(ms(100));
    // Reconnected: a fresh server, a full burst.
    assert_eq!(l.check_key_n("k", 1).unwrap().remaining(), 2);
    assert_eq!(l.unavailable(), 6);
}

#[test]
fn redis_stopped_mid_test_fails_open() {
    stopped_mid_test(FailMode::Open);
}

#[test]
fn redis_stopped_mid_test_fails_closed() {
    stopped_mid_test(FailMode::Closed);
}

#[test]
fn a_flushed_script_is_loaded_again() {
    let Some(redis) = Redis::start() else { return };
    let clock = ManualClock::new();
    let l = limiter(
        &redis,
        Quota::new(ms(1_000), 3).unwrap(),
        FailMode::Closed,
        &clock,
    );
    l.check_key_n("k", 1).unwrap();
    assert_eq!(redis.command(&["SCRIPT", "FLUSH"]), "+OK");
    assert_eq!(l.check_key_n("k", 1).unwrap().remaining(), 1);
    assert_eq!(l.unavailable(), 0);
}

#[test]
fn reconfiguring_keeps_what_each_key_used() {
    let Some(redis) = Redis::start() else { return };
    let clock = ManualClock::new();
    let l = limiter(
        &redis,
        Quota::new(ms(1_000), 2).unwrap(),
        FailMode::Closed,
        &clock,
    );
    l.check_key_n("k", 2).unwrap();
    assert!(l.check_key_n("k", 1).is_err());
    l.set_quota(Quota::new(ms(1_000), 4).unwrap()).unwrap();
    // Two used of the new four.
    assert_eq!(l.check_key_n("k", 2).unwrap().remaining(), 0);
    assert!(
        l.set_quota(Quota::new(Duration::from_nanos(10), 1).unwrap())
            .is_err()
    );
}

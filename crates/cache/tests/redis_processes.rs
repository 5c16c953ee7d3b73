//! Four processes share one Redis cache in front of a slow source and read one hot key
//! as fast as they can: with the lock, the key is loaded at most once per expiry in all
//! (the one process that takes the lock loads and fills, the others wait for its fill);
//! without it, each process loads on its own, so up to four times per expiry.
//!
//! The processes are this test binary, run again on the ignored test `child`; they count
//! their loads in Redis. Budget: two runs of about 2 s each.

#![allow(clippy::unwrap_used)] // tests may panic

mod support;

use dsys_cache::aside::Settings;
use dsys_cache::freshness::Freshness;
use dsys_cache::redis::{NearCache, NearSettings, RedisSettings, Utf8};
use dsys_redis::{Connection, Options};
use dsys_resilience::{Clock, SystemClock};
use dsys_services::{Kind, Server};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use support::Truth;

const PROCESSES: usize = 4;
const THREADS: usize = 16;
const RUN: Duration = Duration::from_secs(2);
const TTL: Duration = Duration::from_millis(200);
/// How long the source takes to compute the value.
const RECOMPUTE: Duration = Duration::from_millis(50);

fn redis_call(addr: SocketAddr, args: &[&[u8]]) -> dsys_redis::Reply {
    Connection::connect(addr, &Options::default())
        .unwrap()
        .call(args)
        .unwrap()
}

/// One process: `THREADS` readers of the hot key for `RUN`; every load counted in Redis.
#[test]
#[ignore = "run by the test below, as a process of its own"]
fn child() {
    let addr: SocketAddr = std::env::var("DSYS_PROCESSES_REDIS")
        .unwrap()
        .parse()
        .unwrap();
    let locked = std::env::var("DSYS_PROCESSES_LOCK").unwrap() == "1";
    /// The source: counts each load in Redis, then takes `RECOMPUTE`.
    #[derive(Clone)]
    struct Counted(SocketAddr, Truth);
    impl dsys_cache::aside::Source<String, String> for Counted {
        type Error = support::Never;
        fn load(&self, key: &String) -> Result<Option<String>, support::Never> {
            redis_call(self.0, &[b"INCR", b"loads"]);
            self.1.load(key)
        }
    }
    let truth = Truth::slow(RECOMPUTE);
    truth.write("hot");
    let settings = NearSettings {
        lock: locked.then_some(Duration::from_secs(5)),
        ..NearSettings::new(Settings::new(100, Freshness::new(TTL).unwrap()))
    };
    let near = Arc::new(
        NearCache::connect(
            addr,
            RedisSettings::new("shared:"),
            settings,
            Counted(addr, truth),
            Utf8,
        )
        .unwrap(),
    );
    let clock = SystemClock::new();
    let readers: Vec<_> = (0..THREADS)
        .map(|_| {
            let (near, clock) = (near.clone(), clock.clone());
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while clock.now() < RUN {
                    assert_eq!(near.get("hot").unwrap().unwrap(), "hot@1");
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    let reads: u64 = readers.into_iter().map(|r| r.join().unwrap()).sum();
    println!("reads {reads} stats {:?}", near.stats());
}

/// Run the processes at once; (loads counted in Redis, the run's wall time).
fn run(redis: &Server, locked: bool) -> (u64, Duration) {
    redis_call(redis.addr(), &[b"FLUSHALL"]);
    let clock = SystemClock::new();
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            Command::new(std::env::current_exe().unwrap())
                .args([
                    "child",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("DSYS_PROCESSES_REDIS", redis.addr().to_string())
                .env("DSYS_PROCESSES_LOCK", if locked { "1" } else { "0" })
                .stdout(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "a process failed: {text}");
        for line in text
            .lines()
            .filter_map(|l| l.find("reads ").map(|at| &l[at..]))
        {
            eprintln!("  {line}");
        }
    }
    let loads = redis_call(redis.addr(), &[b"GET", b"loads"])
        .as_integer()
        .unwrap_or(0);
    (u64::try_from(loads).unwrap(), clock.now())
}

#[test]
fn four_processes_sharing_redis_load_a_key_at_most_once_per_expiry() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let (locked, locked_run) = run(&redis, true);
    let (alone, alone_run) = run(&redis, false);
    // An expiry every TTL at most, and the first load: at most this many loads.
    let bound = |run: Duration| (run.as_millis() / TTL.as_millis()) as u64 + 1;
    eprintln!(
        "{PROCESSES} processes x {THREADS} threads, TTL {TTL:?}, recompute {RECOMPUTE:?}: \
         with the lock {locked} loads in {locked_run:?} (bound {}); without it {alone} loads \
         in {alone_run:?}",
        bound(locked_run)
    );
    assert!(
        locked <= bound(locked_run),
        "{locked} loads > {}",
        bound(locked_run)
    );
    assert!(locked >= 2, "the key expired during the run");
    assert!(
        alone > locked,
        "without the lock the processes load on their own"
    );
}

//! The tower experiment on real processes: ten backend processes on loopback answering
//! after 1 ms, 4 x 10 ms, 4 x 100 ms and 1,000 ms; the gateway in front of them with each
//! policy in turn; 50 connections in a closed loop. The order of the replay on virtual
//! time must hold: the power of two choices over peak EWMA cuts the tail that round robin
//! leaves, least requests in between.
//!
//! Budget: about 45 s (1,000 warm-up and 5,000 measured requests a policy; round robin's
//! take about 25 s, as each tenth waits a second).

#![allow(clippy::unwrap_used)] // tests may panic

use dsys_discovery::gateway::backend::Backend;
use dsys_discovery::gateway::load::{Stop, closed_loop};
use dsys_discovery::gateway::{Config, Gateway};
mod support;

use std::io::Read;
use std::net::SocketAddr;
use std::process::Child;
use std::time::Duration;
use support::Children;

const DELAYS_MS: [u64; 10] = [1, 10, 10, 10, 10, 100, 100, 100, 100, 1_000];
const REQUESTS: u64 = 5_000;
const WARM_UP: u64 = 1_000;
const CONNECTIONS: usize = 50;

/// A backend: this test binary run again; it serves until its stdin closes (so it goes
/// when the test does, however the test ends).
#[test]
#[ignore = "run by the comparison as a process of its own"]
fn backend_process() {
    let delay: u64 = std::env::var("DSYS_BACKEND_DELAY_MS")
        .unwrap()
        .parse()
        .unwrap();
    let backend = Backend::start(
        "127.0.0.1:0".parse().unwrap(),
        &format!("{delay}ms"),
        Duration::from_millis(delay),
        1,
    )
    .unwrap();
    println!("listening {}", backend.address());
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
}

fn spawn_backend(delay: u64) -> (Child, SocketAddr) {
    let env = [("DSYS_BACKEND_DELAY_MS", delay.to_string())];
    let (child, address) = support::spawn("backend_process", &env, "listening ");
    (child, address.parse().unwrap())
}

#[test]
fn the_replays_order_holds_on_real_processes() {
    let mut backends = Children::default();
    let mut addresses = Vec::new();
    for delay in DELAYS_MS {
        let (child, address) = spawn_backend(delay);
        backends.0.push(child);
        addresses.push(format!("\"{address}\""));
    }
    let mut tails = Vec::new();
    eprintln!("policy            p50 ms   p99 ms  p999 ms   requests/s");
    for policy in ["round-robin", "least-requests", "p2c-peak-ewma"] {
        let config = Config::parse(
            "loopback",
            &format!(
                "listen = \"127.0.0.1:0\"\n[[services]]\nname = \"b\"\nendpoints = [{}]\n[[routes]]\nprefix = \"/\"\nservice = \"b\"\npolicy = \"{policy}\"\ntimeout_ms = 10000\nretries = 0\n",
                addresses.join(", ")
            ),
        )
        .unwrap();
        let gateway = Gateway::start(config, None, 2).unwrap();
        // Warm-up, not counted: every endpoint starts at the same estimate, so the first
        // requests spread evenly, a few to the second-long one. In the published run of
        // 50,000 requests they are under 0.02% of all, below the p999; in 5,000 they would
        // be above it.
        closed_loop(
            gateway.listen_address(),
            "/",
            CONNECTIONS,
            Stop::After(WARM_UP),
            1,
        )
        .unwrap();
        let load = closed_loop(
            gateway.listen_address(),
            "/",
            CONNECTIONS,
            Stop::After(REQUESTS),
            1,
        )
        .unwrap();
        assert_eq!(load.failed, 0, "{policy}: every request answered");
        let ms = |q: f64| load.quantile(q).as_secs_f64() * 1e3;
        eprintln!(
            "{policy:<16} {:>7.1} {:>8.1} {:>8.1} {:>12.0}",
            ms(0.5),
            ms(0.99),
            ms(0.999),
            load.rate()
        );
        tails.push((ms(0.99), ms(0.999)));
    }
    let [(rr99, rr999), (lr99, lr999), (pe99, pe999)] = tails[..] else {
        unreachable!("three policies")
    };
    // Round robin sends a tenth to the second-long backend: its p99 and p999 are that
    // second. The published order (tower's PR 76, p999: 988 ms, 857 ms, 105 ms): least
    // requests keeps the p99 off the slow backend but not the p999 (it piles requests on
    // whichever has fewest in flight, the slow one included); peak EWMA keeps both off.
    assert!(
        rr99 >= 990.0 && rr999 >= 990.0,
        "round robin p99 {rr99:.1} ms, p999 {rr999:.1} ms"
    );
    assert!(
        lr99 < rr99 / 2.0,
        "least requests p99 {lr99:.1} ms vs round robin {rr99:.1} ms"
    );
    assert!(
        lr999 <= rr999 * 1.05,
        "least requests p999 {lr999:.1} ms vs round robin {rr999:.1} ms"
    );
    assert!(
        pe99 < rr99 / 2.0,
        "peak EWMA p99 {pe99:.1} ms vs round robin {rr99:.1} ms"
    );
    assert!(
        pe999 < rr999 / 2.0,
        "peak EWMA p999 {pe999:.1} ms vs round robin {rr999:.1} ms"
    );
}

//! The gateway beside nginx, in one run, on loopback: each proxies to the same backend
//! (which answers at once), and each is measured the same way.
//!
//! - Added latency: one connection, requests one after another; each proxy's p50 and p99
//!   minus the backend's own, asked directly.
//! - Maximum rate: 32 connections in a closed loop for 3 s; requests answered per second.
//!
//! Both proxies get one worker (a thread for the gateway, a worker process for nginx)
//! and keep-alive connections to the backend; the backend and the load generator get a
//! thread each (the machine has two cores: the figures are ratios from one run, not
//! capacities). Five rounds, interleaved; the median of each figure is printed.
//!
//! cargo bench -p dsys-discovery --bench gateway

use dsys_discovery::gateway::backend::Backend;
use dsys_discovery::gateway::load::{Stop, closed_loop};
use dsys_discovery::gateway::{Config, Gateway};
use dsys_services::ReverseProxy;
use std::net::SocketAddr;
use std::time::Duration;

const ROUNDS: usize = 5;
const SEQUENTIAL: u64 = 20_000;
const CONNECTIONS: usize = 32;
const FOR: Duration = Duration::from_secs(3);

#[derive(Default)]
struct Figures {
    p50: Vec<Duration>,
    p99: Vec<Duration>,
    rate: Vec<f64>,
}

fn median<T: Copy + PartialOrd>(v: &[T]) -> T {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[v.len() / 2]
}

fn micros(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn main() {
    let backend =
        Backend::start(([127, 0, 0, 1], 0).into(), "b", Duration::ZERO, 1).expect("a backend");
    let config = Config::parse(
        "bench",
        &format!(
            "listen = \"127.0.0.1:0\"\n[[services]]\nname = \"b\"\nendpoints = [\"{}\"]\n[[routes]]\nprefix = \"/\"\nservice = \"b\"\n",
            backend.address()
        ),
    )
    .expect("a configuration");
    let gateway = Gateway::start(config, None, 1).expect("the gateway");
    let nginx = ReverseProxy::start(backend.address(), 1);
    if nginx.is_none() {
        println!("nginx is not installed (scripts/services.sh install nginx): the gateway alone");
    }
    let mut targets: Vec<(&str, SocketAddr)> = vec![
        ("backend", backend.address()),
        ("dsys gateway", gateway.listen_address()),
    ];
    if let Some(n) = &nginx {
        targets.push(("nginx", n.address()));
    }
    let mut figures: Vec<Figures> = targets.iter().map(|_| Figures::default()).collect();
    for _ in 0..ROUNDS {
        for ((name, target), f) in targets.iter().zip(&mut figures) {
            let load = closed_loop(*target, "/", 1, Stop::After(SEQUENTIAL), 1).expect("load");
            assert_eq!(load.failed, 0, "{name}: every request answered");
            f.p50.push(load.quantile(0.5));
            f.p99.push(load.quantile(0.99));
            let load = closed_loop(*target, "/", CONNECTIONS, Stop::For(FOR), 1).expect("load");
            assert_eq!(load.failed, 0, "{name}: every request answered");
            f.rate.push(load.rate());
        }
    }
    let (base50, base99) = (median(&figures[0].p50), median(&figures[0].p99));
    println!(
        "{:<14} {:>10} {:>10} {:>14} {:>14} {:>12}",
        "target", "p50 µs", "p99 µs", "added p50 µs", "added p99 µs", "requests/s"
    );
    for ((name, _), f) in targets.iter().zip(&figures) {
        let (p50, p99, rate) = (median(&f.p50), median(&f.p99), median(&f.rate));
        println!(
            "{:<14} {:>10.1} {:>10.1} {:>14.1} {:>14.1} {:>12.0}",
            name,
            micros(p50),
            micros(p99),
            micros(p50) - micros(base50),
            micros(p99) - micros(base99),
            rate
        );
    }
    if figures.len() == 3 {
        let (g, n) = (&figures[1], &figures[2]);
        let added = |f: &Figures, q: fn(&Figures) -> &Vec<Duration>, base: Duration| {
            micros(median(q(f))) - micros(base)
        };
        let (g50, n50) = (added(g, |f| &f.p50, base50), added(n, |f| &f.p50, base50));
        let (g99, n99) = (added(g, |f| &f.p99, base99), added(n, |f| &f.p99, base99));
        // An added p99 at or below zero is the backend's own noise: no ratio then.
        let ratio = |a: f64, b: f64| match b > 0.0 {
            true => format!("{:.2}x", a / b),
            false => "n/a (nginx within the backend's noise)".to_string(),
        };
        println!(
            "gateway / nginx: added p50 {}, added p99 {}, whole p50 {:.2}x, whole p99 {:.2}x, rate {:.2}x",
            ratio(g50, n50),
            ratio(g99, n99),
            micros(median(&g.p50)) / micros(median(&n.p50)),
            micros(median(&g.p99)) / micros(median(&n.p99)),
            median(&g.rate) / median(&n.rate)
        );
    }
}

//! The embedded registry served over HTTP to the processes of one machine: instances
//! (processes of their own) register with the gateway that holds it and keep their
//! leases alive; one SIGKILLed leaves the gateway's routes within its TTL plus a second;
//! one that shuts down in order deregisters at once. Budget: about 5 s.

#![allow(clippy::unwrap_used)] // tests may panic

use dsys_discovery::gateway::backend::Backend;
use dsys_discovery::gateway::{Config, Gateway};
use dsys_discovery::registry::{Instance, Registry, RegistryError, RemoteRegistry, Watcher};
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};
use support::Children;

const TTL: Duration = Duration::from_secs(2);
const TIMEOUT: Duration = Duration::from_secs(2);

/// An instance: this test binary run again. It serves, registers, keeps its lease alive,
/// and deregisters when its stdin closes (an orderly shutdown).
#[test]
#[ignore = "run by the tests below as a process of its own"]
fn instance_process() {
    let registry: SocketAddr = std::env::var("DSYS_REGISTRY").unwrap().parse().unwrap();
    let name = std::env::var("DSYS_INSTANCE").unwrap();
    let backend = Backend::start("127.0.0.1:0".parse().unwrap(), &name, Duration::ZERO, 1).unwrap();
    let r = RemoteRegistry::connect(registry, TIMEOUT).unwrap();
    let instance = Instance::new("api", &name, &backend.address().to_string()).unwrap();
    let lease = r.register(instance, TTL).unwrap();
    println!("registered");
    let (done, stopped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = std::io::stdin().read_to_end(&mut Vec::new());
        let _ = done.send(());
    });
    while stopped.recv_timeout(Duration::from_millis(300)).is_err() {
        r.keep_alive(lease).unwrap();
    }
    r.deregister(lease).unwrap();
}

fn spawn(registry: SocketAddr, name: &str) -> Child {
    let env = [
        ("DSYS_REGISTRY", registry.to_string()),
        ("DSYS_INSTANCE", name.to_string()),
    ];
    support::spawn("instance_process", &env, "registered").0
}

fn ids(watcher: &Watcher) -> Vec<String> {
    watcher.instances().map(|i| i.id.clone()).collect()
}

/// The body of a GET through the gateway (the backend's first line: its name), or the
/// status line.
fn get(gateway: SocketAddr) -> String {
    let mut s = TcpStream::connect(gateway).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    match out.starts_with("HTTP/1.1 200") {
        true => out
            .split("\r\n\r\n")
            .nth(1)
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string(),
        false => out.lines().next().unwrap().to_string(),
    }
}

#[test]
#[allow(clippy::disallowed_methods)] // real processes on the real clock
fn instances_register_over_http_and_a_sigkilled_one_is_gone_within_its_ttl() {
    let config = Config::parse(
        "gw.toml",
        "listen = \"127.0.0.1:0\"\n[registry]\nkind = \"served\"\nlisten = \"127.0.0.1:0\"\n[[routes]]\nprefix = \"/\"\nservice = \"api\"\npolicy = \"round-robin\"\n",
    )
    .unwrap();
    let gateway = Gateway::start(config, None, 1).unwrap();
    let registry = gateway.registry_address().unwrap();
    assert_eq!(
        get(gateway.listen_address()),
        "HTTP/1.1 503 Service Unavailable",
        "no instance yet"
    );
    let mut instances = Children(vec![spawn(registry, "one"), spawn(registry, "two")]);
    let remote = RemoteRegistry::connect(registry, TIMEOUT).unwrap();
    let mut watcher = Watcher::start(&remote, "api").unwrap();
    assert_eq!(ids(&watcher), ["one", "two"]);
    // The gateway's own watch hears of them within its interval. (Round robin: one
    // client's requests one at a time would all go to the faster of the two under peak
    // EWMA, which is that policy doing its job.)
    let mut seen = std::collections::BTreeSet::new();
    let start = Instant::now();
    while seen.len() < 2 && start.elapsed() < Duration::from_secs(5) {
        let answer = get(gateway.listen_address());
        if !answer.starts_with("HTTP/") {
            seen.insert(answer);
        }
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["one", "two"]);
    // SIGKILL: no deregistration; the lease lapses.
    instances.0[0].kill().unwrap();
    instances.0[0].wait().unwrap();
    let killed = Instant::now();
    while ids(&watcher).contains(&"one".to_string()) {
        assert!(
            killed.elapsed() < TTL + Duration::from_secs(1),
            "a zombie past its TTL"
        );
        std::thread::sleep(Duration::from_millis(50));
        watcher.poll(&remote).unwrap();
    }
    // An orderly shutdown: the instance deregisters itself at once.
    drop(instances.0[1].stdin.take());
    instances.0[1].wait().unwrap();
    let stopped = Instant::now();
    watcher.poll(&remote).unwrap();
    assert!(ids(&watcher).is_empty(), "deregistered on shutdown");
    assert!(stopped.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_registry_that_cannot_be_reached_is_an_error_within_the_timeout() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    #[allow(clippy::disallowed_methods)] // a bound on a real wait
    let start = Instant::now();
    let e = RemoteRegistry::connect(closed, Duration::from_millis(300)).unwrap_err();
    assert!(matches!(e, RegistryError::Unavailable(_)), "{e}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

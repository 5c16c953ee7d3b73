//! The etcd registry against a real etcd (Debian's `etcd-server`, started by
//! `scripts/services.sh`; without it installed and not required, each test says so and
//! passes): instances SIGKILLed, etcd itself killed and restarted, compactions forced,
//! garbage in its keys, and nothing left behind.
//!
//! Budget: the SIGKILL test waits out one 3 s lease; the rest take a second or two each.

#![allow(clippy::unwrap_used)] // tests may panic

use dsys_discovery::registry::{Change, EtcdRegistry, Instance, Registry, RegistryError, Watcher};
use dsys_services::{Kind, Server};
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(2);
const MINUTE: Duration = Duration::from_secs(60);

fn registry(etcd: &Server) -> EtcdRegistry {
    EtcdRegistry::connect(etcd.addr(), "/dsys/services/", TIMEOUT).unwrap()
}

fn instance(id: &str) -> Instance {
    Instance::new("api", id, "127.0.0.1:8080").unwrap()
}

fn ids(watcher: &Watcher) -> Vec<String> {
    watcher.instances().map(|i| i.id.clone()).collect()
}

/// One raw JSON POST to etcd (for what the registry would never write).
fn raw(addr: SocketAddr, path: &str, body: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Base64 for the test's few raw keys and values.
fn b64(s: &str) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in s.as_bytes().chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            out.push(if i <= c.len() {
                char::from(A[((n >> (18 - 6 * i)) & 63) as usize])
            } else {
                '='
            });
        }
    }
    out
}

#[test]
fn register_keep_alive_deregister_and_a_watcher_hears_each() {
    let Some(etcd) = Server::start(Kind::Etcd) else {
        return;
    };
    let r = registry(&etcd);
    let a = r.register(instance("a"), MINUTE).unwrap();
    let mut watcher = Watcher::start(&r, "api").unwrap();
    assert_eq!(ids(&watcher), ["a"]);
    let b = r.register(instance("b").in_zone("z1"), MINUTE).unwrap();
    r.keep_alive(a).unwrap();
    r.deregister(a).unwrap();
    let changes = watcher.poll(&r).unwrap();
    assert!(
        changes.contains(&Change::Delete { id: "a".into() }),
        "{changes:?}"
    );
    assert_eq!(ids(&watcher), ["b"]);
    assert_eq!(
        watcher.instances().next().unwrap().zone.as_deref(),
        Some("z1")
    );
    assert_eq!(r.keep_alive(a), Err(RegistryError::LeaseGone(a)));
    assert_eq!(r.deregister(a), Err(RegistryError::LeaseGone(a)));
    r.deregister(b).unwrap();
    watcher.poll(&r).unwrap();
    assert!(ids(&watcher).is_empty());
}

/// The instance: this test binary run again, registering and keeping its lease alive
/// until killed.
#[test]
#[ignore = "run by the SIGKILL test as a process of its own"]
fn instance_process() {
    let addr: SocketAddr = std::env::var("DSYS_ETCD").unwrap().parse().unwrap();
    let r = EtcdRegistry::connect(addr, "/dsys/services/", TIMEOUT).unwrap();
    let lease = r
        .register(instance("doomed"), Duration::from_secs(3))
        .unwrap();
    println!("registered");
    loop {
        std::thread::sleep(Duration::from_millis(500));
        r.keep_alive(lease).unwrap();
    }
}

#[test]
#[allow(clippy::disallowed_methods)] // a real process killed on the real clock
fn a_sigkilled_instance_leaves_every_watcher_within_its_ttl_plus_a_second() {
    let Some(etcd) = Server::start(Kind::Etcd) else {
        return;
    };
    let r = registry(&etcd);
    let (mut child, _) = support::spawn(
        "instance_process",
        &[("DSYS_ETCD", etcd.addr().to_string())],
        "registered",
    );
    let mut watchers = [
        Watcher::start(&r, "api").unwrap(),
        Watcher::start(&r, "api").unwrap(),
    ];
    assert!(watchers.iter().all(|w| ids(w) == ["doomed"]));
    // Kept alive past its TTL: still there.
    std::thread::sleep(Duration::from_secs(4));
    for w in &mut watchers {
        w.poll(&r).unwrap();
        assert_eq!(ids(w), ["doomed"]);
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let killed = std::time::Instant::now();
    let mut gone_after = [None, None];
    while gone_after.iter().any(Option::is_none) && killed.elapsed() < Duration::from_secs(10) {
        for (w, gone) in watchers.iter_mut().zip(&mut gone_after) {
            w.poll(&r).unwrap();
            if gone.is_none() && ids(w).is_empty() {
                *gone = Some(killed.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("gone from the watchers after {gone_after:?} (lease 3 s)");
    for gone in gone_after {
        assert!(
            gone.is_some_and(|g| g <= Duration::from_secs(4)),
            "{gone:?}"
        );
    }
}

#[test]
fn etcd_killed_and_restarted_watchers_resume_and_lose_no_registration() {
    let Some(etcd) = Server::start(Kind::Etcd) else {
        return;
    };
    let r = registry(&etcd);
    let a = r.register(instance("a"), MINUTE).unwrap();
    let mut watcher = Watcher::start(&r, "api").unwrap();
    let heard = watcher.revision();
    etcd.kill();
    // While etcd is down: clear errors, and the watcher keeps what it had.
    assert!(matches!(
        r.register(instance("b"), MINUTE),
        Err(RegistryError::Unavailable(_))
    ));
    assert!(matches!(
        watcher.poll(&r),
        Err(RegistryError::Unavailable(_))
    ));
    assert_eq!(
        (ids(&watcher), watcher.revision()),
        (vec!["a".to_string()], heard)
    );
    etcd.restart();
    let c = r.register(instance("c"), MINUTE).unwrap();
    r.deregister(a).unwrap();
    let changes = watcher.poll(&r).unwrap();
    assert_eq!(
        watcher.relists(),
        0,
        "resumed from its revision: {changes:?}"
    );
    assert_eq!(ids(&watcher), ["c"]);
    r.keep_alive(c).unwrap();
}

#[test]
fn a_forced_compaction_makes_watchers_list_again_and_lose_nothing() {
    let Some(etcd) = Server::start(Kind::Etcd) else {
        return;
    };
    let r = registry(&etcd);
    let leases: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| r.register(instance(id), MINUTE).unwrap())
        .collect();
    let mut watcher = Watcher::start(&r, "api").unwrap();
    r.deregister(leases[0]).unwrap();
    r.register(Instance::new("api", "b", "127.0.0.2:9090").unwrap(), MINUTE)
        .unwrap();
    r.register(instance("d"), MINUTE).unwrap();
    r.compact().unwrap();
    let changes = watcher.poll(&r).unwrap();
    assert_eq!(watcher.relists(), 1);
    assert_eq!(ids(&watcher), ["b", "c", "d"]);
    assert!(changes.contains(&Change::Delete { id: "a".into() }));
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Put(i) if i.id == "b" && i.address.port() == 9090))
    );
}

#[test]
fn two_hundred_cycles_leave_no_key_and_no_lease_behind() {
    let Some(etcd) = Server::start(Kind::Etcd) else {
        return;
    };
    let r = registry(&etcd);
    let mut watcher = Watcher::start(&r, "api").unwrap();
    for n in 0..200 {
        let lease = r.register(instance(&format!("i{n}")), MINUTE).unwrap();
        r.deregister(lease).unwrap();
        if n % 20 == 0 {
            watcher.poll(&r).unwrap();
        }
    }
    watcher.poll(&r).unwrap();
    assert!(ids(&watcher).is_empty());
    assert!(r.list("api").unwrap().instances.is_empty());
    let leases = raw(etcd.addr(), "/v3/lease/leases", "{}");
    assert!(!leases.contains("\"ID\""), "leases left: {leases}");
}

#[test]
fn what_is_not_a_registration_is_never_listed() {
    let Some(etcd) = Server::start(Kind::Etcd) else {
        return;
    };
    let r = registry(&etcd);
    r.register(instance("good"), MINUTE).unwrap();
    for (key, value) in [
        ("/dsys/services/api/bad-json", "not json"),
        ("/dsys/services/api/no-address", "{\"zone\":\"z\"}"),
        (
            "/dsys/services/api/unroutable",
            "{\"address\":\"0.0.0.0:80\"}",
        ),
        (
            "/dsys/services/api/port-zero",
            "{\"address\":\"10.0.0.1:0\"}",
        ),
        ("/dsys/services/api/", "{\"address\":\"10.0.0.1:80\"}"),
    ] {
        let body = format!("{{\"key\":\"{}\",\"value\":\"{}\"}}", b64(key), b64(value));
        let out = raw(etcd.addr(), "/v3/kv/put", &body);
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    }
    let listed = r.list("api").unwrap();
    let names: Vec<_> = listed.instances.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(names, ["good"]);
    assert_eq!(r.rejected(), 5);
}

#[test]
#[allow(clippy::disallowed_methods)] // the real clock: a bound on a real wait
fn etcd_unreachable_at_start_is_a_clear_error_not_a_hang() {
    let Some(etcd) = Server::start(Kind::Etcd) else {
        return;
    };
    etcd.stop();
    let started = std::time::Instant::now();
    let err = EtcdRegistry::connect(etcd.addr(), "/dsys/", Duration::from_millis(500)).unwrap_err();
    assert!(matches!(err, RegistryError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains(&etcd.addr().to_string()), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

//! The mesh pattern on loopback: two plain HTTP apps that know nothing of dsys, each with
//! a sidecar; a registry served by a gateway. The app of `orders` calls `payments` by
//! name through its sidecar; the sidecars speak mutual TLS with certificates from a local
//! authority, register their instances and deregister when they stop. A caller without a
//! certificate from that authority does not get in.

#![allow(clippy::unwrap_used)] // tests may panic

use dsys_discovery::gateway::backend::Backend;
use dsys_discovery::gateway::{Config, Gateway};
use dsys_discovery::registry::{Registry, RemoteRegistry};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

fn app(name: &str) -> Backend {
    Backend::start("127.0.0.1:0".parse().unwrap(), name, Duration::ZERO, 1).unwrap()
}

fn sidecar(registry: SocketAddr, service: &str, id: &str, app: SocketAddr, ca: &Path) -> Gateway {
    let text = format!(
        "listen = \"127.0.0.1:0\"\n[registry]\nkind = \"http\"\naddress = \"{registry}\"\n[sidecar]\nservice = \"{service}\"\nid = \"{id}\"\napp = \"{app}\"\ninbound = \"127.0.0.1:0\"\nca = \"{}\"\nttl_ms = 2000\n",
        ca.display()
    );
    Gateway::start(Config::parse("sidecar.toml", &text).unwrap(), None, 1).unwrap()
}

/// A GET to `proxy` for service `host`: the status line, and the body's lines.
fn call(proxy: SocketAddr, host: &str) -> (String, Vec<String>) {
    let mut s = TcpStream::connect(proxy).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET /charge?amount=5 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, body) = out.split_once("\r\n\r\n").unwrap();
    (
        head.lines().next().unwrap().to_string(),
        body.lines().map(str::to_string).collect(),
    )
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp(name: &str) -> TempDir {
    TempDir(std::env::temp_dir().join(format!("dsys-sidecar-{}-{name}", std::process::id())))
}

#[test]
fn apps_call_each_other_by_name_over_mutual_tls_through_their_sidecars() {
    let control = Gateway::start(
        Config::parse(
            "control.toml",
            "listen = \"127.0.0.1:0\"\n[registry]\nkind = \"served\"\nlisten = \"127.0.0.1:0\"\n[[routes]]\nprefix = \"/\"\nservice = \"payments\"\n",
        )
        .unwrap(),
        None,
        1,
    )
    .unwrap();
    let registry = control.registry_address().unwrap();
    let (ca, other_ca) = (temp("ca"), temp("other-ca"));
    let (orders, payments) = (app("orders"), app("payments"));
    let orders_sidecar = sidecar(registry, "orders", "orders-1", orders.address(), &ca.0);
    let payments_sidecar = sidecar(
        registry,
        "payments",
        "payments-1",
        payments.address(),
        &ca.0,
    );
    assert!(ca.0.join("ca.pem").exists() && ca.0.join("ca-key.pem").exists());

    // The orders app calls payments by name, through its own sidecar.
    let (status, body) = call(orders_sidecar.listen_address(), "payments");
    assert_eq!(status, "HTTP/1.1 200 OK", "{body:?}");
    assert_eq!(body[0], "payments");
    assert_eq!(body[1], "/charge?amount=5");
    assert_eq!(
        body[4], "verified",
        "the payments app heard it came over mutual TLS"
    );
    assert!(body[2].starts_with("00-"), "a traceparent: {}", body[2]);
    // The other way, and by the .dsys name.
    let (status, body) = call(payments_sidecar.listen_address(), "orders.dsys");
    assert_eq!(
        (status.as_str(), body[0].as_str()),
        ("HTTP/1.1 200 OK", "orders")
    );

    // Plain text to the inbound port: no HTTP answer, only a failed handshake.
    let mut plain = TcpStream::connect(payments_sidecar.inbound_address().unwrap()).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut reply = Vec::new();
    let _ = plain.read_to_end(&mut reply);
    assert!(
        !String::from_utf8_lossy(&reply).contains("HTTP/1.1"),
        "no HTTP without TLS"
    );

    // A sidecar whose certificate another authority signed is refused, and refuses.
    let stranger_app = app("stranger");
    let stranger = sidecar(
        registry,
        "stranger",
        "s-1",
        stranger_app.address(),
        &other_ca.0,
    );
    let (status, _) = call(stranger.listen_address(), "payments");
    assert!(status.starts_with("HTTP/1.1 5"), "{status}");
    assert_eq!(
        payments.served(),
        1,
        "only the orders app's call reached payments"
    );

    // An unknown service: 404, and no route kept for it.
    let (status, _) = call(orders_sidecar.listen_address(), "nothing-here");
    assert_eq!(status, "HTTP/1.1 404 Not Found");

    // The payments sidecar stops: it deregisters at once, and the orders sidecar hears
    // of it within its watch's interval; then there is no instance to call.
    drop(payments_sidecar);
    let remote = RemoteRegistry::connect(registry, Duration::from_secs(2)).unwrap();
    assert!(remote.list("payments").unwrap().instances.is_empty());
    let mut status = String::new();
    for _ in 0..100 {
        status = call(orders_sidecar.listen_address(), "payments").0;
        if status == "HTTP/1.1 503 Service Unavailable" {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
}

//! Real servers for integration tests, on 127.0.0.1 only, started and stopped through
//! `scripts/services.sh` (each [`Server`] its own process on its own free port, stopped
//! when dropped).
//!
//! `scripts/test.sh` installs the servers and sets `DSYS_REQUIRE_SERVICES`, so there a
//! missing server fails the test. Run alone on a machine without the server, a test that
//! calls [`Server::start`] gets `None` with a note and returns early.

mod nginx;

pub use nginx::ReverseProxy;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::Command;

/// The servers `scripts/services.sh` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// redis-server.
    Redis,
    /// PostgreSQL: user `dsys`, database `postgres`, fsync and synchronous commit on.
    Postgres,
    /// nats-server with JetStream (file storage).
    Nats,
    /// etcd, one member, its data kept across a [`Server::kill`] and restart.
    Etcd,
    /// nginx, as a reverse proxy ([`ReverseProxy`]): the gateway benchmark's peer.
    Nginx,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Redis => "redis",
            Kind::Postgres => "postgres",
            Kind::Nats => "nats",
            Kind::Etcd => "etcd",
            Kind::Nginx => "nginx",
        }
    }

    /// Whether `services.sh` finds it installed (it alone knows where each lives).
    pub fn installed(self) -> bool {
        Command::new(script())
            .args(["installed", self.name()])
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// `scripts/services.sh`.
fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/services.sh")
}

/// A free port on 127.0.0.1 (free when asked: bind it soon).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// Whether `kind` may be missing here; if it may not, panics saying how to install it.
fn may_skip(kind: Kind) -> bool {
    if kind.installed() {
        return false;
    }
    assert!(
        std::env::var_os("DSYS_REQUIRE_SERVICES").is_none(),
        "{} is not installed: run scripts/services.sh install {}",
        kind.name(),
        kind.name()
    );
    eprintln!(
        "skipped: {} is not installed (scripts/services.sh install {})",
        kind.name(),
        kind.name()
    );
    true
}

/// A running server, stopped when dropped.
#[derive(Debug)]
pub struct Server {
    kind: Kind,
    port: u16,
}

impl Server {
    /// A fresh server of `kind`, or `None` (with a note) where none is installed and none
    /// is required.
    ///
    /// # Panics
    /// If the server is required but not installed, or does not start.
    pub fn start(kind: Kind) -> Option<Server> {
        assert!(kind != Kind::Nginx, "nginx runs as a ReverseProxy");
        if may_skip(kind) {
            return None;
        }
        let server = Server {
            kind,
            port: free_port(),
        };
        server.restart();
        Some(server)
    }

    fn services(&self, verb: &str) {
        let status = Command::new(script())
            .args([verb, self.kind.name(), &self.port.to_string()])
            .status()
            .expect("run scripts/services.sh");
        assert!(
            status.success(),
            "services.sh {verb} {} {} failed",
            self.kind.name(),
            self.port
        );
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// A libpq connection string for it (PostgreSQL).
    pub fn postgres_params(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=dsys dbname=postgres",
            self.port
        )
    }

    /// Stop it (as a crash or an outage would), keeping the port for [`Server::restart`].
    pub fn stop(&self) {
        self.services("stop");
    }

    /// Kill it with SIGKILL, as a crash would (Redis and etcd), keeping the port for
    /// [`Server::restart`] (and etcd its data).
    ///
    /// # Panics
    /// For a server other than Redis or etcd.
    pub fn kill(&self) {
        assert!(
            matches!(self.kind, Kind::Redis | Kind::Etcd),
            "only Redis and etcd are killed this way"
        );
        self.services("kill");
    }

    /// Start it again on the same port (PostgreSQL starts empty).
    pub fn restart(&self) {
        self.services("start");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.services("stop");
    }
}

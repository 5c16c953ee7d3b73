//! Active health checks: a probe of each endpoint now and then, with thresholds, so one
//! lost probe neither takes an endpoint out nor one lucky probe puts it back.
//!
//! A probe is a TCP connect, or an HTTP GET that must be answered 2xx, each within a
//! timeout. Active checks catch a dead process or a dead port; what they say about real
//! calls is little (a health endpoint can answer while every real call fails), which is
//! what passive health ([`crate::outlier`]) is for: use both.

use crate::http;
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// What to probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// A TCP connect.
    Tcp,
    /// `GET path`, answered 2xx.
    Http {
        /// The path, `/health` say.
        path: String,
    },
}

/// Why a probe failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    /// Connecting, writing or reading failed or timed out.
    #[error("unreachable: {0}")]
    Unreachable(String),
    /// The answer was not HTTP.
    #[error("not HTTP: {0}")]
    Malformed(String),
    /// The answer was not 2xx.
    #[error("answered {0}")]
    Status(u16),
}

/// Probe `addr` once, within `timeout`.
pub fn probe(addr: SocketAddr, probe: &Probe, timeout: Duration) -> Result<(), ProbeError> {
    match probe {
        Probe::Tcp => TcpStream::connect_timeout(&addr, timeout)
            .map(drop)
            .map_err(|e| ProbeError::Unreachable(e.to_string())),
        Probe::Http { path } => match http::get(addr, path, timeout) {
            Ok((status, _)) if (200..300).contains(&status) => Ok(()),
            Ok((status, _)) => Err(ProbeError::Status(status)),
            Err(http::HttpError::Io(e)) => Err(ProbeError::Unreachable(e.to_string())),
            Err(http::HttpError::Malformed(what)) => Err(ProbeError::Malformed(what)),
        },
    }
}

/// One endpoint's health as its probes said: down after `unhealthy` failures in a row,
/// up again after `healthy` successes in a row (it starts up).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Checked {
    up: bool,
    streak: u32,
    unhealthy: u32,
    healthy: u32,
}

impl Checked {
    /// Up, going down after `unhealthy` failures in a row and up after `healthy`
    /// successes in a row (each at least one).
    pub fn new(unhealthy: u32, healthy: u32) -> Checked {
        Checked {
            up: true,
            streak: 0,
            unhealthy: unhealthy.max(1),
            healthy: healthy.max(1),
        }
    }

    /// Whether it is up.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// A probe's outcome; whether it is up now.
    pub fn record(&mut self, ok: bool) -> bool {
        if ok == self.up {
            self.streak = 0;
        } else {
            self.streak += 1;
            let needed = if self.up {
                self.unhealthy
            } else {
                self.healthy
            };
            if self.streak >= needed {
                self.up = ok;
                self.streak = 0;
            }
        }
        self.up
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::TcpListener;

    /// A server on loopback answering each connection with `reply` (None: silence).
    fn server(reply: Option<&'static [u8]>, connections: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections).flatten() {
                let mut stream = stream;
                let mut buf = [0; 512];
                let _ = stream.read(&mut buf);
                match reply {
                    Some(reply) => {
                        let _ = stream.write_all(reply);
                    }
                    None => std::thread::sleep(Duration::from_secs(2)),
                }
            }
        });
        addr
    }

    const QUICK: Duration = Duration::from_millis(300);

    #[test]
    fn probes_tell_up_from_down_and_never_hang() {
        let health = Probe::Http {
            path: "/health".into(),
        };
        let ok = server(Some(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), 2);
        assert_eq!(probe(ok, &health, QUICK), Ok(()));
        assert_eq!(probe(ok, &Probe::Tcp, QUICK), Ok(()));
        let sick = server(Some(b"HTTP/1.1 503 Service Unavailable\r\n\r\n"), 1);
        assert_eq!(probe(sick, &health, QUICK), Err(ProbeError::Status(503)));
        let garbage = server(Some(b"\x00\x01 not http"), 1);
        assert!(matches!(
            probe(garbage, &health, QUICK),
            Err(ProbeError::Malformed(_))
        ));
        let silent = server(None, 1);
        assert!(matches!(
            probe(silent, &health, QUICK),
            Err(ProbeError::Unreachable(_))
        ));
        // Nothing listens on port 1: refused at once.
        let closed: SocketAddr = "127.0.0.1:1".parse().unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(
            probe(closed, &Probe::Tcp, QUICK),
            Err(ProbeError::Unreachable(_))
        ));
    }

    #[test]
    fn thresholds_keep_one_probe_from_deciding() {
        let mut c = Checked::new(3, 2);
        assert!(c.record(false) && c.record(false), "two failures: still up");
        assert!(c.record(true), "a success resets the streak");
        assert!(c.record(false) && c.record(false));
        assert!(!c.record(false), "the third failure in a row: down");
        assert!(!c.record(true), "one success: still down");
        assert!(!c.record(false) && !c.record(true));
        assert!(c.record(true), "two successes in a row: up");
    }
}

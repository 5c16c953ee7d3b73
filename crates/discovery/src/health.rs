//! Active health checks: a probe of each endpoint now and then, with thresholds, so one
//! lost probe neither takes an endpoint out nor one lucky probe puts it back.
//!
//! A probe is a TCP connect, or an HTTP GET that must be answered 2xx, each within a
//! timeout; a [`Checker`] probes a changing set of endpoints on a schedule and says when
//! one goes down or comes back. Active checks catch a dead process or a dead port; what they say about real
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

/// How a [`Checker`] probes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckSettings {
    /// What to probe.
    pub probe: Probe,
    /// Between rounds of probes.
    pub interval: Duration,
    /// Each probe's time limit.
    pub timeout: Duration,
    /// Failures in a row that take an endpoint down.
    pub unhealthy: u32,
    /// Successes in a row that bring it back.
    pub healthy: u32,
}

impl CheckSettings {
    /// `probe` every second, each within 500 ms; down after 2 failures in a row, up
    /// after 2 successes.
    pub fn new(probe: Probe) -> CheckSettings {
        CheckSettings {
            probe,
            interval: Duration::from_secs(1),
            timeout: Duration::from_millis(500),
            unhealthy: 2,
            healthy: 2,
        }
    }
}

/// Probes a changing set of endpoints on a thread of its own, every interval, and says
/// when one goes down or comes back. Stopped when dropped.
#[derive(Debug)]
pub struct Checker {
    _worker: crate::worker::Worker,
}

impl Checker {
    /// Probe the endpoints `targets` names (asked again each round, so endpoints that
    /// come and go are followed) by `settings`; `changed(address, up)` hears each change.
    pub fn spawn(
        settings: CheckSettings,
        targets: impl Fn() -> Vec<SocketAddr> + Send + 'static,
        changed: impl Fn(SocketAddr, bool) + Send + 'static,
    ) -> std::io::Result<Checker> {
        let worker = crate::worker::Worker::spawn("dsys-health".into(), move |stop| {
            let mut states: std::collections::BTreeMap<SocketAddr, Checked> =
                std::collections::BTreeMap::new();
            loop {
                let now = targets();
                // Forget endpoints that left; a returning one starts up again.
                states.retain(|a, _| now.contains(a));
                for address in now {
                    if stop.stopped() {
                        return;
                    }
                    let ok = probe(address, &settings.probe, settings.timeout).is_ok();
                    let state = states
                        .entry(address)
                        .or_insert_with(|| Checked::new(settings.unhealthy, settings.healthy));
                    let was = state.is_up();
                    if state.record(ok) != was {
                        changed(address, !was);
                    }
                }
                if stop.sleep(settings.interval) {
                    return;
                }
            }
        })?;
        Ok(Checker { _worker: worker })
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
    fn the_checker_says_when_an_endpoint_goes_down_and_comes_back() {
        use std::sync::{Arc, Mutex};
        // A listener that closes when dropped: up while it lives, refused after.
        let listener = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
        let up = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
        let heard: Arc<Mutex<Vec<(SocketAddr, bool)>>> = Arc::default();
        let settings = CheckSettings {
            interval: Duration::from_millis(20),
            ..CheckSettings::new(Probe::Tcp)
        };
        let checker = {
            let heard = Arc::clone(&heard);
            Checker::spawn(
                settings,
                move || vec![up],
                move |a, ok| {
                    heard
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push((a, ok));
                },
            )
            .unwrap_or_else(|e| panic!("{e}"))
        };
        let wait_for = |n: usize| {
            for _ in 0..250 {
                if heard.lock().unwrap_or_else(|p| p.into_inner()).len() >= n {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!(
                "heard only {:?}",
                heard.lock().unwrap_or_else(|p| p.into_inner())
            );
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(
            heard.lock().unwrap_or_else(|p| p.into_inner()).is_empty(),
            "up: no news"
        );
        drop(listener);
        wait_for(1);
        let back = TcpListener::bind(up);
        if back.is_ok() {
            wait_for(2);
        }
        drop(checker);
        let heard = heard.lock().unwrap_or_else(|p| p.into_inner()).clone();
        assert_eq!(heard[0], (up, false));
        if back.is_ok() {
            assert_eq!(heard[1], (up, true));
        }
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

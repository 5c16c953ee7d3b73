//! Invalidations published on Redis pub/sub, for caches that keep nothing in Redis: each
//! process's in-process cache hears every key changed elsewhere.
//!
//! Pub/sub delivers to whoever is subscribed at the time, at most once: what is
//! published while a subscriber is away is lost to it. So a subscription says
//! [`Heard::Everything`] each time it (re)connects — flush, since anything may have
//! changed meanwhile — and only then hears keys again.

use super::Names;
use super::link::{Link, LinkSettings, LinkState, Running, Subscriber};
use dsys_redis::{Options, Pool, Protocol, RedisError};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// What a subscription heard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Heard<'a> {
    /// This key changed.
    Key(&'a str),
    /// Anything may have changed (the subscription was away): flush.
    Everything,
}

struct Handler<F>(F);

impl<F: Fn(Heard<'_>) + Send + Sync + 'static> Subscriber for Handler<F> {
    fn invalidate(&self, key: &str) {
        (self.0)(Heard::Key(key));
    }
    fn flush(&self) {
        (self.0)(Heard::Everything);
    }
    fn before_up(&self) -> Result<(), RedisError> {
        Ok(())
    }
}

/// A subscription to the invalidations published under a prefix; it ends when dropped.
#[derive(Debug)]
pub struct Subscription {
    link: Arc<Link>,
    /// Its thread, stopped when the subscription is dropped.
    _running: Running,
}

impl Subscription {
    /// Hear the invalidations published under `prefix` (by [`publish`] or
    /// [`super::NearCache::publish`]) at `addr`, telling `on` of each, on a thread of its
    /// own. It connects (and reconnects) in the background; `heartbeat` bounds how long
    /// a silent, broken connection goes unnoticed (two heartbeats).
    pub fn start(
        addr: SocketAddr,
        options: Options,
        prefix: &str,
        heartbeat: Duration,
        on: impl Fn(Heard<'_>) + Send + Sync + 'static,
    ) -> std::io::Result<Subscription> {
        if heartbeat.is_zero() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "a zero heartbeat cannot show the subscription alive",
            ));
        }
        let link = Link::new();
        let settings = LinkSettings {
            addr,
            options,
            protocol: Protocol::Resp2,
            tracking: None,
            heartbeat,
            names: Names::new(prefix),
        };
        let running = link.spawn(settings, None, Arc::new(Handler(on)))?;
        Ok(Subscription {
            link,
            _running: running,
        })
    }

    /// Whether it hears invalidations now.
    pub fn state(&self) -> LinkState {
        self.link.state()
    }

    /// Times its connection was lost (each followed by [`Heard::Everything`] when it
    /// comes back).
    pub fn drops(&self) -> u64 {
        self.link.drops()
    }
}

/// Tell every subscription under `prefix` that `key` changed; how many heard it.
pub fn publish(pool: &Pool, prefix: &str, key: &str) -> Result<u64, RedisError> {
    let channel = Names::new(prefix).channel();
    let reply = pool.call(&[b"PUBLISH", &channel, key.as_bytes()])?;
    reply
        .as_integer()
        .and_then(|n| u64::try_from(n).ok())
        .ok_or_else(|| RedisError::Protocol(format!("PUBLISH answered {reply:?}")))
}

//! The invalidation link: one connection, on a thread of its own, that hears what Redis
//! invalidates (client-side caching's messages, and invalidations published on the
//! cache's channel) and tells the near tier. Whether the near tier may serve depends on
//! it: while the link is down nothing local is served or filled, and every time it goes
//! down or comes up the near tier is flushed (invalidations sent meanwhile were lost).
//!
//! A link that drops by a closed connection (Redis killed, the connection killed) is seen
//! at once; a silent one (a cut network) when a heartbeat `PING` goes unanswered, after
//! at most two heartbeat intervals.

use super::Names;
use dsys_redis::{Connection, Options, Pool, Protocol, RedisError, Reply};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// The listener's name in `CLIENT LIST`.
pub const LISTENER_NAME: &str = "dsys-cache-link";

/// Whether the near tier may serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// Invalidations are heard; reads through connections of this pool generation are
    /// tracked.
    Up {
        /// The pool generation set up for this link.
        generation: u64,
    },
    /// Invalidations may be missed: serve nothing local.
    Down,
}

/// How Redis tells the near tier what changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tracking {
    /// Per key: Redis remembers which keys each connection read, and invalidates those
    /// (opt-in: only the value reads, not the lease bookkeeping).
    Default,
    /// By prefix: every change under the cache's values, or under these key prefixes
    /// within them, whoever read it; no memory per key on the server. Every write is
    /// news, fills included (this process's own too): a value filled after a miss is
    /// dropped from the near tier when its own fill is heard, and kept from the next
    /// read on.
    Broadcast {
        /// Key prefixes (empty: every key of the cache).
        prefixes: Vec<String>,
    },
}

/// What the link tells the near tier.
pub(crate) trait Subscriber: Send + Sync + 'static {
    /// `key` changed.
    fn invalidate(&self, key: &str);
    /// Anything may have changed.
    fn flush(&self);
    /// The link is about to come up: the last chance to do what had to wait for Redis
    /// (deletes that failed while it was away).
    fn before_up(&self) -> Result<(), RedisError>;
}

/// The link's settings.
#[derive(Clone, Debug)]
pub(crate) struct LinkSettings {
    pub(crate) addr: SocketAddr,
    pub(crate) options: Options,
    pub(crate) protocol: Protocol,
    /// `None`: only the cache's channel (a subscription of published invalidations).
    pub(crate) tracking: Option<Tracking>,
    pub(crate) heartbeat: Duration,
    pub(crate) names: Names,
}

/// The link's thread: stopped, and waited for, when dropped.
#[derive(Debug)]
pub(crate) struct Running {
    link: Arc<Link>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.link.stop();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The link, shared by the readers (its state) and its thread.
#[derive(Debug)]
pub(crate) struct Link {
    /// 0: down; else the generation it came up with, plus one.
    state: AtomicU64,
    /// The listener's client id (0: none), for `CLIENT TRACKING ... REDIRECT`.
    listener: AtomicI64,
    /// A reader saw Redis fail: the link thread checks it before serving again.
    suspect: AtomicBool,
    stop: AtomicBool,
    socket: Mutex<Option<TcpStream>>,
    drops: AtomicU64,
    /// Times it came up (the generation, when there is no pool).
    ups: AtomicU64,
    invalidations: AtomicU64,
}

impl Link {
    pub(crate) fn new() -> Arc<Link> {
        Arc::new(Link {
            state: AtomicU64::new(0),
            listener: AtomicI64::new(0),
            suspect: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            socket: Mutex::new(None),
            drops: AtomicU64::new(0),
            ups: AtomicU64::new(0),
            invalidations: AtomicU64::new(0),
        })
    }

    pub(crate) fn state(&self) -> LinkState {
        match self.state.load(Ordering::SeqCst) {
            0 => LinkState::Down,
            up => LinkState::Up { generation: up - 1 },
        }
    }

    /// The listener's id, if connected.
    pub(crate) fn listener(&self) -> Option<i64> {
        Some(self.listener.load(Ordering::SeqCst)).filter(|&id| id != 0)
    }

    /// Times the link went down.
    pub(crate) fn drops(&self) -> u64 {
        self.drops.load(Ordering::Relaxed)
    }

    /// Invalidations heard.
    pub(crate) fn invalidations(&self) -> u64 {
        self.invalidations.load(Ordering::Acquire)
    }

    /// Go down now (a reader saw Redis fail, or a connection whose reads were tracked
    /// was dropped): nothing local is served from here on; the thread flushes the near
    /// tier and brings the link up again once Redis answers it.
    pub(crate) fn suspect(&self) {
        self.fall();
        self.suspect.store(true, Ordering::SeqCst);
    }

    /// Mark the link down; whether it was up (then the drop is counted).
    fn fall(&self) -> bool {
        let was_up = self.state.swap(0, Ordering::SeqCst) != 0;
        if was_up {
            self.drops.fetch_add(1, Ordering::Relaxed);
        }
        was_up
    }

    fn down(&self, subscriber: &dyn Subscriber) {
        if self.fall() {
            #[cfg(feature = "tracing")]
            tracing::warn!(
                "the cache's invalidation link dropped; the near tier is flushed and not served until it is back"
            );
        }
        self.listener.store(0, Ordering::SeqCst);
        subscriber.flush();
    }

    /// Start the thread that keeps the link; it stops when the handle is dropped.
    pub(crate) fn spawn(
        self: &Arc<Link>,
        settings: LinkSettings,
        pool: Option<Arc<Pool>>,
        subscriber: Arc<dyn Subscriber>,
    ) -> std::io::Result<Running> {
        let link = Arc::clone(self);
        let thread = std::thread::Builder::new()
            .name("dsys-cache-link".into())
            .spawn(move || link.keep(&settings, pool.as_deref(), subscriber.as_ref()))?;
        Ok(Running {
            link: Arc::clone(self),
            thread: Some(thread),
        })
    }

    /// Stop the thread (it ends within one heartbeat, at once if it waits on Redis).
    fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(socket) = self
            .socket
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn keep(&self, settings: &LinkSettings, pool: Option<&Pool>, subscriber: &dyn Subscriber) {
        let mut retry = Duration::from_millis(10);
        while !self.stopped() {
            match self.connect(settings) {
                Ok(conn) => {
                    retry = Duration::from_millis(10);
                    let _ = self.listen(conn, settings, pool, subscriber);
                    self.down(subscriber);
                }
                Err(_) => {
                    // Wait in slices, so a stop is not held up by a long retry.
                    let mut waited = Duration::ZERO;
                    while waited < retry && !self.stopped() {
                        std::thread::sleep(Duration::from_millis(10));
                        waited += Duration::from_millis(10);
                    }
                    retry = (retry * 2).min(settings.heartbeat.max(Duration::from_millis(100)));
                }
            }
        }
        self.down(subscriber);
    }

    /// Connect the listener: tracking (broadcast mode), the invalidation channel (RESP2)
    /// and the cache's own channel.
    fn connect(&self, settings: &LinkSettings) -> Result<Connection, RedisError> {
        let options = Options {
            protocol: settings.protocol,
            ..settings.options.clone()
        };
        let mut conn = Connection::connect(settings.addr, &options)?;
        let id = conn.client_id()?;
        // Named, so an operator (or a test) finds it in `CLIENT LIST`.
        conn.call(&[b"CLIENT", b"SETNAME", LISTENER_NAME.as_bytes()])?;
        if let Some(Tracking::Broadcast { prefixes }) = &settings.tracking {
            let id = id.to_string();
            let values = settings.names.values();
            let prefixes: Vec<String> = if prefixes.is_empty() {
                vec![values]
            } else {
                prefixes.iter().map(|p| format!("{values}{p}")).collect()
            };
            let mut command: Vec<&[u8]> = vec![b"CLIENT", b"TRACKING", b"ON"];
            if settings.protocol == Protocol::Resp2 {
                command.extend_from_slice(&[b"REDIRECT", id.as_bytes()]);
            }
            command.push(b"BCAST");
            for p in &prefixes {
                command.extend_from_slice(&[b"PREFIX", p.as_bytes()]);
            }
            conn.call(&command)?;
        }
        let channel = settings.names.channel();
        let mut subscribe: Vec<&[u8]> = vec![b"SUBSCRIBE", &channel];
        if settings.protocol == Protocol::Resp2 && settings.tracking.is_some() {
            subscribe.push(b"__redis__:invalidate");
        }
        conn.send(&subscribe)?;
        for _ in 1..subscribe.len() {
            match conn.receive()? {
                Reply::Array(items) | Reply::Push(items)
                    if items.first().and_then(Reply::as_bytes) == Some(b"subscribe") => {}
                other => {
                    return Err(RedisError::Protocol(format!(
                        "SUBSCRIBE answered {other:?}"
                    )));
                }
            }
        }
        conn.set_read_timeout(Some(settings.heartbeat))?;
        *self.socket.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(conn.try_clone_stream()?);
        self.listener.store(id, Ordering::SeqCst);
        Ok(conn)
    }

    /// Come up, then hear invalidations until the link fails or the thread is stopped.
    fn listen(
        &self,
        mut conn: Connection,
        settings: &LinkSettings,
        pool: Option<&Pool>,
        subscriber: &dyn Subscriber,
    ) -> Result<(), RedisError> {
        self.up(pool, subscriber)?;
        let mut pinged = false;
        while !self.stopped() {
            if self.suspect.load(Ordering::SeqCst) && !pinged {
                // A reader saw Redis fail; come up again once this link sees it answer.
                conn.send(&[b"PING"])?;
                pinged = true;
            }
            let frame = match conn.receive() {
                Ok(frame) => frame,
                Err(RedisError::Io(e)) if is_timeout(&e) && !pinged => {
                    conn.send(&[b"PING"])?;
                    pinged = true;
                    continue;
                }
                Err(e) => return Err(e),
            };
            pinged = false;
            if conn.pushes_dropped() > 0 {
                return Err(RedisError::Protocol("invalidations were dropped".into()));
            }
            self.hear(&frame, &settings.names, subscriber);
            if self.suspect.load(Ordering::SeqCst) && is_pong(&frame) {
                self.up(pool, subscriber)?;
            }
        }
        Ok(())
    }

    fn up(&self, pool: Option<&Pool>, subscriber: &dyn Subscriber) -> Result<(), RedisError> {
        self.suspect.store(false, Ordering::SeqCst);
        subscriber.flush();
        // With a pool, its connections are set up for this listener; without one, the
        // generation only tells one coming-up from the next.
        let generation = match pool {
            Some(pool) => pool.renew(),
            None => self.ups.fetch_add(1, Ordering::SeqCst) + 1,
        };
        subscriber.before_up()?;
        self.state.store(generation + 1, Ordering::SeqCst);
        #[cfg(feature = "tracing")]
        tracing::info!(generation, "the cache's invalidation link is up");
        Ok(())
    }

    /// Act on one frame: invalidations and published keys; anything else only shows the
    /// link is alive.
    fn hear(&self, frame: &Reply, names: &Names, subscriber: &dyn Subscriber) {
        let items = match frame {
            Reply::Array(items) | Reply::Push(items) => items.as_slice(),
            _ => return,
        };
        let channel = names.channel();
        let keys = match items {
            // RESP3: a push to this connection, or redirected to it.
            [kind, keys] if kind.as_bytes() == Some(b"invalidate") => keys,
            [kind, from, keys]
                if kind.as_bytes() == Some(b"message")
                    && from.as_bytes() == Some(b"__redis__:invalidate") =>
            {
                keys
            }
            [kind, from, Reply::Bulk(key)]
                if kind.as_bytes() == Some(b"message") && from.as_bytes() == Some(&channel) =>
            {
                if let Ok(key) = std::str::from_utf8(key) {
                    subscriber.invalidate(key);
                }
                // Counted once acted on: whoever sees the count sees its effect.
                self.invalidations.fetch_add(1, Ordering::Release);
                return;
            }
            _ => return,
        };
        match keys {
            // Everything (FLUSHALL, FLUSHDB), or a message this reader cannot make out.
            Reply::Array(keys) => {
                for key in keys {
                    match key.as_bytes().map(|k| names.key_of(k)) {
                        Some(Some(key)) => subscriber.invalidate(key),
                        Some(None) => {} // not one of this cache's values
                        None => subscriber.flush(),
                    }
                }
            }
            _ => subscriber.flush(),
        }
        // Counted once acted on: whoever sees the count sees its effect.
        self.invalidations.fetch_add(1, Ordering::Release);
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

fn is_pong(frame: &Reply) -> bool {
    match frame {
        Reply::Simple(s) => s == "PONG",
        Reply::Array(items) | Reply::Push(items) => {
            items.first().and_then(Reply::as_bytes) == Some(b"pong")
        }
        _ => false,
    }
}

//! Connections shared by many threads: one per caller at a time, kept for the next caller
//! when they are still in step, dropped when they are not.

use crate::{Connection, Options, RedisError, Reply};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

type Setup = dyn Fn(&mut Connection) -> Result<(), RedisError> + Send + Sync;
type OnDiscard = dyn Fn() + Send + Sync;

/// A pool of connections to one server.
pub struct Pool {
    addr: SocketAddr,
    options: Options,
    idle: Mutex<Vec<(Connection, u64)>>,
    max_idle: usize,
    generation: AtomicU64,
    connections_made: AtomicU64,
    setup: Option<Box<Setup>>,
    on_discard: Option<Box<OnDiscard>>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("addr", &self.addr)
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl Pool {
    /// A pool for `addr`, keeping up to 16 idle connections. Connects on first use.
    pub fn new(addr: SocketAddr, options: Options) -> Pool {
        Pool {
            addr,
            options,
            idle: Mutex::new(Vec::new()),
            max_idle: 16,
            generation: AtomicU64::new(0),
            connections_made: AtomicU64::new(0),
            setup: None,
            on_discard: None,
        }
    }

    /// Run `setup` on every connection before its first use, and again after each
    /// [`Pool::renew`] (a connection whose setup fails is not used).
    pub fn with_setup(
        mut self,
        setup: impl Fn(&mut Connection) -> Result<(), RedisError> + Send + Sync + 'static,
    ) -> Pool {
        self.setup = Some(Box::new(setup));
        self
    }

    /// Call `on_discard` whenever a connection is dropped rather than kept: it failed,
    /// or more were idle than the pool keeps. (Whoever relies on the server's memory of a
    /// connection — what `CLIENT TRACKING` remembers it read — loses it then.)
    pub fn with_on_discard(mut self, on_discard: impl Fn() + Send + Sync + 'static) -> Pool {
        self.on_discard = Some(Box::new(on_discard));
        self
    }

    /// Keep at most `max_idle` idle connections.
    pub fn with_max_idle(mut self, max_idle: usize) -> Pool {
        self.max_idle = max_idle;
        self
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections set up before this call are set up again before their next use;
    /// returns the new generation.
    pub fn renew(&self) -> u64 {
        self.generation.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Connections opened so far (not counting those that failed to connect).
    pub fn connections_made(&self) -> u64 {
        self.connections_made.load(Ordering::Relaxed)
    }

    /// Drop every idle connection (the server restarted, or went away).
    pub fn clear(&self) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }

    /// A connection, set up for the current generation.
    pub fn get(&self) -> Result<Pooled<'_>, RedisError> {
        let generation = self.generation();
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        let (mut conn, set_up_at) = match idle {
            Some(idle) => idle,
            None => {
                self.connections_made.fetch_add(1, Ordering::Relaxed);
                (Connection::connect(self.addr, &self.options)?, u64::MAX)
            }
        };
        if set_up_at != generation {
            if let Some(setup) = &self.setup {
                if let Err(e) = setup(&mut conn) {
                    self.discarded();
                    return Err(e);
                }
            }
        }
        Ok(Pooled {
            pool: self,
            conn: Some(conn),
            generation,
        })
    }

    fn discarded(&self) {
        if let Some(on_discard) = &self.on_discard {
            on_discard();
        }
    }

    /// Run one command on a pooled connection.
    pub fn call(&self, args: &[&[u8]]) -> Result<Reply, RedisError> {
        self.get()?.call(args)
    }
}

/// A connection taken from a [`Pool`], returned to it when dropped if still in step.
#[derive(Debug)]
pub struct Pooled<'a> {
    pool: &'a Pool,
    conn: Option<Connection>,
    generation: u64,
}

impl Pooled<'_> {
    /// The generation this connection was set up for.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The connection. Whoever uses it directly and sees an error that leaves it out of
    /// step must call [`Pooled::discard`].
    pub fn connection(&mut self) -> Option<&mut Connection> {
        self.conn.as_mut()
    }

    /// Do not return this connection to the pool.
    pub fn discard(&mut self) {
        if self.conn.take().is_some() {
            self.pool.discarded();
        }
    }

    /// Run one command; an error that leaves the stream out of step drops the connection.
    pub fn call(&mut self, args: &[&[u8]]) -> Result<Reply, RedisError> {
        self.using(|conn| conn.call(args))
    }

    /// Run `f` on the connection; an error that leaves the stream out of step drops it.
    pub fn using<T>(
        &mut self,
        f: impl FnOnce(&mut Connection) -> Result<T, RedisError>,
    ) -> Result<T, RedisError> {
        let conn = self
            .conn
            .as_mut()
            .ok_or_else(|| crate::protocol("a discarded connection"))?;
        let result = f(conn);
        if let Err(e) = &result {
            if !e.connection_usable() {
                self.discard();
            }
        }
        result
    }
}

impl Drop for Pooled<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self
                .pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if idle.len() < self.pool.max_idle {
                idle.push((conn, self.generation));
            } else {
                drop(idle);
                self.pool.discarded();
            }
        }
    }
}

//! A small blocking Redis client, shared by dsys's patterns that keep state in Redis (the
//! distributed rate limiter, the cache's Redis tier, near cache and lock).
//!
//! It speaks RESP2 and RESP3 (with push frames, for client-side caching's invalidation
//! messages), and it treats the server as a source of untrusted bytes: every length,
//! count and nesting level is bounded before anything is allocated, a reply may not claim
//! more memory than it delivers, and bad bytes are an error, never a panic. Every connect,
//! read and write waits at most the configured timeout, so a slow or silent server costs
//! a bounded wait, never a hang.
//!
//! - [`resp`]: the wire format (commands out, replies in).
//! - [`Connection`]: one socket, RESP2 or RESP3 (`HELLO 3`), with pushes set aside.
//! - [`Pool`]: connections for many threads, each set up once (say, `CLIENT TRACKING`)
//!   and set up again after [`Pool::renew`].
//! - [`Script`]: a Lua script run by digest, loaded again when the server forgot it.

mod connection;
mod deadline;
mod pool;
pub mod resp;
mod script;

pub use connection::{Connection, Options, Protocol};
pub use pool::{Pool, Pooled};
pub use resp::{Limits, Reply};
pub use script::Script;

use std::io;

/// What can go wrong talking to Redis.
#[derive(Debug, thiserror::Error)]
pub enum RedisError {
    /// Connecting, reading or writing failed, or timed out.
    #[error("redis i/o: {0}")]
    Io(#[from] io::Error),
    /// The bytes were not a RESP reply, broke a bound, or were not the reply expected.
    #[error("redis protocol: {0}")]
    Protocol(String),
    /// Redis answered with an error.
    #[error("redis error: {0}")]
    Server(String),
}

impl RedisError {
    /// Whether the connection that saw it can still be used: a server's error reply
    /// leaves the stream in step; a failed read or a broken frame does not.
    pub fn connection_usable(&self) -> bool {
        matches!(self, RedisError::Server(_))
    }
}

pub(crate) fn protocol(what: impl Into<String>) -> RedisError {
    RedisError::Protocol(what.into())
}

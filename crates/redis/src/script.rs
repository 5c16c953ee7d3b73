//! A Lua script run by its digest (`EVALSHA`), loaded when the server does not know it:
//! on first use, and again after a restart or `SCRIPT FLUSH`.

use crate::{Connection, RedisError, Reply, protocol};
use std::sync::{Mutex, PoisonError};

/// A script. Redis runs each call atomically: no other command interleaves.
#[derive(Debug)]
pub struct Script {
    source: &'static str,
    digest: Mutex<Option<Vec<u8>>>,
}

impl Script {
    /// The script with this source.
    pub const fn new(source: &'static str) -> Script {
        Script {
            source,
            digest: Mutex::new(None),
        }
    }

    /// Run it with `keys` and `args`; an error raised by the script is
    /// [`RedisError::Server`].
    pub fn run(
        &self,
        conn: &mut Connection,
        keys: &[&[u8]],
        args: &[&[u8]],
    ) -> Result<Reply, RedisError> {
        let known = self
            .digest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let digest = match known {
            Some(digest) => digest,
            None => self.load(conn)?,
        };
        match self.eval(conn, &digest, keys, args) {
            Err(RedisError::Server(e)) if e.starts_with("NOSCRIPT") => {
                let digest = self.load(conn)?;
                self.eval(conn, &digest, keys, args)
            }
            result => result,
        }
    }

    fn eval(
        &self,
        conn: &mut Connection,
        digest: &[u8],
        keys: &[&[u8]],
        args: &[&[u8]],
    ) -> Result<Reply, RedisError> {
        let count = keys.len().to_string();
        let mut command: Vec<&[u8]> = vec![b"EVALSHA", digest, count.as_bytes()];
        command.extend_from_slice(keys);
        command.extend_from_slice(args);
        conn.call(&command)
    }

    fn load(&self, conn: &mut Connection) -> Result<Vec<u8>, RedisError> {
        match conn.call(&[b"SCRIPT", b"LOAD", self.source.as_bytes()])? {
            Reply::Bulk(digest) => {
                *self.digest.lock().unwrap_or_else(PoisonError::into_inner) = Some(digest.clone());
                Ok(digest)
            }
            other => Err(protocol(format!("SCRIPT LOAD answered {other:?}"))),
        }
    }
}

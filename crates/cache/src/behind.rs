//! Write-behind with a journal: a write is acknowledged once it is durable in a local
//! SQLite journal (committed with `synchronous=FULL`), and reaches the source of truth
//! later, in batches.
//!
//! - **Coalesced per key**: the journal keeps one pending write per key, the latest; an
//!   earlier one not yet flushed is superseded, not lost.
//! - **Versioned**: each write gets the key's next version (counted in the journal, so
//!   it survives restarts). A flush hands the sink each key's latest version.
//! - **At least once, in order**: a flush removes a write from the journal only after
//!   the sink took it, and only if no newer write of the key came meanwhile. A crash
//!   between the two hands the same version to the sink again after restart, never an
//!   older one after a newer. A sink that applies a version only if it is newer than the
//!   one it holds (the [`Sink`] contract) makes the effect exactly once per version.
//! - **Retried with backoff**, drained on shutdown ([`WriteBehind::drain`]), and its
//!   lag reported ([`WriteBehind::lag`]).

use dsys_resilience::retry::{Backoff, Jitter};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A write waiting for the source of truth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pending {
    /// The key.
    pub key: String,
    /// The key's version: 1 for its first write, counting up.
    pub version: u64,
    /// The value.
    pub value: Vec<u8>,
}

/// The source of truth behind the cache.
///
/// `apply` may be handed a version it was handed before (after a crash); it must apply a
/// write only if its version is newer than the key's version it holds, in the same
/// transaction as the write itself.
pub trait Sink: Send + Sync {
    /// Why a batch was not taken.
    type Error: std::error::Error + Send + Sync + 'static;
    /// Take `batch` (at most one write per key), all or nothing.
    fn apply(&self, batch: &[Pending]) -> Result<(), Self::Error>;
}

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum BehindError {
    /// The journal could not be opened, read or written.
    #[error("write-behind journal: {0}")]
    Journal(#[from] rusqlite::Error),
    /// The sink refused a batch on every attempt.
    #[error("the sink refused a batch of {writes} writes {attempts} times; last: {last}")]
    Sink {
        /// Writes in the batch.
        writes: usize,
        /// Attempts made.
        attempts: u32,
        /// The last error, as text.
        last: String,
    },
    /// An empty key.
    #[error("a write-behind key must not be empty")]
    EmptyKey,
}

/// How far behind the source of truth is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lag {
    /// Keys with a write not yet flushed.
    pub keys: u64,
    /// Writes acknowledged since the oldest of those (coalesced ones included).
    pub writes: u64,
}

/// The journal and the flusher.
#[derive(Debug)]
pub struct WriteBehind<S> {
    journal: Mutex<Connection>,
    sink: S,
    batch: usize,
    attempts: u32,
    backoff: Backoff,
}

fn lock(c: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A connection whose holder panicked mid-transaction rolls that transaction back
    // when the next one begins: it is still good.
    c.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<S: Sink> WriteBehind<S> {
    /// The journal at `path` (created if missing; what a crashed process left in it is
    /// flushed by the next flush), in front of `sink`.
    pub fn open(path: &Path, sink: S) -> Result<Self, BehindError> {
        let c = Connection::open(path)?;
        c.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             CREATE TABLE IF NOT EXISTS versions (key TEXT PRIMARY KEY, version INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS pending (
                 key TEXT PRIMARY KEY, version INTEGER NOT NULL, value BLOB NOT NULL,
                 since INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS counter (id INTEGER PRIMARY KEY CHECK (id = 0), n INTEGER NOT NULL);
             INSERT OR IGNORE INTO counter (id, n) VALUES (0, 0);",
        )?;
        let backoff = Backoff::new(
            Duration::from_millis(10),
            Duration::from_secs(1),
            Jitter::Full,
        )
        .map_err(|e| BehindError::Sink {
            writes: 0,
            attempts: 0,
            last: e.to_string(),
        })?;
        Ok(WriteBehind {
            journal: Mutex::new(c),
            sink,
            batch: 500,
            attempts: 5,
            backoff,
        })
    }

    /// Write `value` to `key`: durable in the journal when this returns, with the
    /// version it got.
    pub fn write(&self, key: &str, value: &[u8]) -> Result<u64, BehindError> {
        if key.is_empty() {
            return Err(BehindError::EmptyKey);
        }
        let mut c = lock(&self.journal);
        let tx = c.transaction()?;
        let version: i64 = tx.query_row(
            "INSERT INTO versions (key, version) VALUES (?1, 1)
             ON CONFLICT (key) DO UPDATE SET version = version + 1
             RETURNING version",
            params![key],
            |r| r.get(0),
        )?;
        let n: i64 = tx.query_row(
            "UPDATE counter SET n = n + 1 WHERE id = 0 RETURNING n",
            [],
            |r| r.get(0),
        )?;
        // The oldest unflushed write of the key keeps its place in the lag.
        tx.execute(
            "INSERT INTO pending (key, version, value, since) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (key) DO UPDATE SET version = excluded.version, value = excluded.value",
            params![key, version, value, n],
        )?;
        tx.commit()?;
        Ok(u64::try_from(version).unwrap_or(0))
    }

    /// Flush one batch (the keys waiting longest first), retrying the sink with backoff;
    /// how many writes it flushed.
    pub fn flush(&self) -> Result<usize, BehindError> {
        let batch: Vec<Pending> = {
            let c = lock(&self.journal);
            let mut q = c.prepare_cached(
                "SELECT key, version, value FROM pending ORDER BY since LIMIT ?1",
            )?;
            q.query_map(
                params![i64::try_from(self.batch).unwrap_or(i64::MAX)],
                |r| {
                    Ok(Pending {
                        key: r.get(0)?,
                        version: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                        value: r.get(2)?,
                    })
                },
            )?
            .collect::<Result<_, _>>()?
        };
        if batch.is_empty() {
            return Ok(0);
        }
        #[cfg(feature = "tracing")]
        let _span = tracing::debug_span!("dsys_cache.flush", writes = batch.len()).entered();
        let mut delays = self.backoff.delays(batch.len() as u64);
        let mut attempt = 1;
        loop {
            match self.sink.apply(&batch) {
                Ok(()) => break,
                Err(e) if attempt >= self.attempts => {
                    return Err(BehindError::Sink {
                        writes: batch.len(),
                        attempts: attempt,
                        last: e.to_string(),
                    });
                }
                Err(_e) => {
                    #[cfg(feature = "tracing")]
                    tracing::warn!(attempt, error = %_e, "the sink refused a write-behind batch; retrying");
                    std::thread::sleep(delays.next().unwrap_or(Duration::from_secs(1)));
                    attempt += 1;
                }
            }
        }
        // Taken: forget each write unless a newer one of its key came meanwhile.
        let mut c = lock(&self.journal);
        let tx = c.transaction()?;
        for p in &batch {
            tx.execute(
                "DELETE FROM pending WHERE key = ?1 AND version = ?2",
                params![p.key, i64::try_from(p.version).unwrap_or(i64::MAX)],
            )?;
        }
        tx.commit()?;
        Ok(batch.len())
    }

    /// Flush until the journal is empty (on shutdown); how many writes were flushed.
    pub fn drain(&self) -> Result<usize, BehindError> {
        let mut total = 0;
        loop {
            match self.flush()? {
                0 => return Ok(total),
                n => total += n,
            }
        }
    }

    /// How far behind the source of truth is.
    pub fn lag(&self) -> Result<Lag, BehindError> {
        let c = lock(&self.journal);
        let keys: i64 = c.query_row("SELECT count(*) FROM pending", [], |r| r.get(0))?;
        let oldest: Option<i64> = c
            .query_row("SELECT min(since) FROM pending", [], |r| r.get(0))
            .optional()?
            .flatten();
        let now: i64 = c.query_row("SELECT n FROM counter WHERE id = 0", [], |r| r.get(0))?;
        let unsigned = |n: i64| u64::try_from(n).unwrap_or(0);
        Ok(Lag {
            keys: unsigned(keys),
            writes: oldest.map_or(0, |o| unsigned(now + 1 - o)),
        })
    }
}

#[cfg(test)]
mod tests;

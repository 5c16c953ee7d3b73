//! GCRA shared by many processes through one Redis: each check is one atomic script on
//! the server, which reads the key's theoretical arrival time, decides, and writes it
//! back, on the server's clock — so the processes' own clocks do not matter, and no two
//! checks interleave.
//!
//! When Redis cannot be reached (refused, timed out, or answering nonsense), the limiter
//! does what it was told: [`FailMode::Open`] admits (availability first: a limiter that
//! is down should not take the service down with it), [`FailMode::Closed`] refuses
//! (protection first: an expensive or abusable endpoint). Either way it stops trying for
//! a while (`reconnect_after`), so an outage costs a clock read per check, not a
//! connection attempt, and it counts every check it answered without Redis.
//!
//! A check waits at most the timeout for a connection and then at most the timeout, as
//! one deadline, for everything after it — however slowly a server drips its reply. No
//! lock is held while it waits: each check takes a connection of its own from a pool
//! (clones share the pool), so one slow Redis exchange stalls only its own caller.

pub use dsys_redis::RedisError;

use super::gcra::Quota;
use super::{Denied, Limiter, Snapshot};
use crate::sync::{AtomicU64, Ordering};
use crate::{Clock, ConfigError};
use dsys_redis::{Connection, Options, Pool, Reply, Script};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The check, run atomically by Redis. Times in microseconds (Redis's `TIME`).
/// KEYS[1]: the key. ARGV: interval, burst, cells.
/// Replies {1, headroom, reset} when admitted, {0, retry_after} when not.
static SCRIPT: Script = Script::new(
    r"
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local n = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
local new_tat = tat + n * interval
local limit = now + burst * interval
if new_tat > limit then
  return {0, new_tat - limit}
end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, limit - new_tat, new_tat - now}
",
);

/// What a shared limiter does when its store cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailMode {
    /// Admit: the limit lapses while the store is down.
    Open,
    /// Refuse, with [`Denied::Unavailable`].
    Closed,
}

struct Inner {
    addr: SocketAddr,
    prefix: String,
    quota: AtomicU64,
    fail: FailMode,
    timeout: Duration,
    reconnect_after: u64,
    /// Connections, one per check in flight.
    pool: Pool,
    /// Clock nanoseconds before which Redis, found down, is not tried again.
    retry_at: AtomicU64,
    unavailable: AtomicU64,
}

fn pool(addr: SocketAddr, timeout: Duration) -> Pool {
    Pool::new(
        addr,
        Options {
            timeout,
            ..Options::default()
        },
    )
}

/// A GCRA limiter kept in Redis, keyed. Clones share one pool of connections.
#[derive(Clone)]
pub struct RedisGcra<C> {
    inner: Arc<Inner>,
    clock: C,
}

impl<C> std::fmt::Debug for RedisGcra<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisGcra")
            .field("addr", &self.inner.addr)
            .field("prefix", &self.inner.prefix)
            .field("fail", &self.inner.fail)
            .finish_non_exhaustive()
    }
}

impl<C: Clock> RedisGcra<C> {
    /// Limit keys under `prefix` to `quota` each, in the Redis at `addr`; `fail` says what
    /// to do when it cannot be reached. Redis keeps time in microseconds, so the quota's
    /// interval must be at least one (it is rounded to whole microseconds). Connects on
    /// first use; waits at most 50 ms for Redis (see [`RedisGcra::with_timeout`]).
    pub fn new(
        addr: SocketAddr,
        prefix: impl Into<String>,
        quota: Quota,
        fail: FailMode,
        clock: C,
    ) -> Result<Self, ConfigError> {
        check_micros(quota)?;
        Ok(RedisGcra {
            inner: Arc::new(Inner {
                addr,
                prefix: prefix.into(),
                quota: AtomicU64::new(quota.pack()),
                fail,
                timeout: Duration::from_millis(50),
                reconnect_after: 100_000_000,
                pool: pool(addr, Duration::from_millis(50)),
                retry_at: AtomicU64::new(0),
                unavailable: AtomicU64::new(0),
            }),
            clock,
        })
    }

    /// Wait at most `timeout` for a connection and at most `timeout` more for the rest of
    /// a check (not zero), and after a failure, answer by the fail mode for
    /// `reconnect_after` before trying again.
    /// Only before the first clone.
    pub fn with_timeout(
        mut self,
        timeout: Duration,
        reconnect_after: Duration,
    ) -> Result<Self, ConfigError> {
        if timeout.is_zero() {
            return Err(ConfigError::Zero { name: "timeout" });
        }
        let inner = Arc::get_mut(&mut self.inner).ok_or(ConfigError::Inconsistent(
            "set the timeout before cloning the limiter",
        ))?;
        inner.timeout = timeout;
        inner.pool = pool(inner.addr, timeout);
        inner.reconnect_after = u64::try_from(reconnect_after.as_nanos()).unwrap_or(u64::MAX);
        Ok(self)
    }

    /// The quota in force.
    pub fn quota(&self) -> Quota {
        Quota::unpack(self.inner.quota.load(Ordering::Acquire))
    }

    /// Change the quota for every key; what each key has used stays counted.
    pub fn set_quota(&self, quota: Quota) -> Result<(), ConfigError> {
        check_micros(quota)?;
        self.inner.quota.store(quota.pack(), Ordering::Release);
        Ok(())
    }

    /// Checks answered by the fail mode because Redis could not be reached.
    pub fn unavailable(&self) -> u64 {
        self.inner.unavailable.load(Ordering::Relaxed)
    }

    /// A handle that limits one key, with the [`Limiter`] API.
    pub fn key(&self, key: impl Into<String>) -> RedisKey<C>
    where
        C: Clone,
    {
        RedisKey {
            limiter: self.clone(),
            key: key.into(),
        }
    }

    /// Admit `n` cells for `key`, or say why not.
    pub fn check_key_n(&self, key: &str, n: u32) -> Result<Snapshot, Denied> {
        let quota = self.quota();
        if n > quota.burst() {
            return Err(Denied::ExceedsBurst {
                requested: n,
                burst: quota.burst(),
            });
        }
        let interval_us = quota.interval_ns().div_ceil(1_000);
        let now = self.clock.now_nanos();
        if now < self.inner.retry_at.load(Ordering::Acquire) {
            return self.unreachable();
        }
        let decided = self.inner.pool.get().and_then(|mut pooled| {
            let decision = pooled.using(|conn| {
                let answer = self.ask(conn, key, interval_us, quota.burst(), n);
                conn.set_deadline(None)?;
                answer
            });
            // A reply that is not the script's (a proxy's error page, a server in a
            // strange state) is a store that cannot be used: the fail mode answers, it is
            // counted, and the connection, out of step now, is dropped.
            let decision = decision.map(|reply| decode(&reply, interval_us));
            if matches!(decision, Ok(None)) {
                pooled.discard();
            }
            decision
        });
        match decided {
            Ok(Some(decision)) => decision,
            Ok(None) | Err(_) => {
                self.inner.pool.clear();
                self.inner.retry_at.store(
                    now.saturating_add(self.inner.reconnect_after),
                    Ordering::Release,
                );
                self.unreachable()
            }
        }
    }

    fn unreachable(&self) -> Result<Snapshot, Denied> {
        self.inner.unavailable.fetch_add(1, Ordering::Relaxed);
        match self.inner.fail {
            FailMode::Open => Ok(Snapshot::counted(0, 0)),
            FailMode::Closed => Err(Denied::Unavailable),
        }
    }

    /// Run the script on `conn` within one deadline (the script is loaded again if the
    /// server has forgotten it: a restart, `SCRIPT FLUSH`).
    fn ask(
        &self,
        conn: &mut Connection,
        key: &str,
        interval_us: u64,
        burst: u32,
        n: u32,
    ) -> Result<Reply, RedisError> {
        // The limiter's own clock may be virtual; a socket's deadline is on the real one.
        #[allow(clippy::disallowed_methods)]
        let deadline = Instant::now() + self.inner.timeout;
        conn.set_deadline(Some(deadline))?;
        let full_key = format!("{}{}", self.inner.prefix, key);
        let (interval, burst, n) = (interval_us.to_string(), burst.to_string(), n.to_string());
        SCRIPT.run(
            conn,
            &[full_key.as_bytes()],
            &[interval.as_bytes(), burst.as_bytes(), n.as_bytes()],
        )
    }
}

fn check_micros(quota: Quota) -> Result<(), ConfigError> {
    if quota.interval_ns() < 1_000 {
        return Err(ConfigError::OutOfRange {
            name: "interval (ns)",
            value: quota.interval_ns() as f64,
            expected: "at least 1,000 (Redis keeps time in microseconds)",
        });
    }
    Ok(())
}

/// The script's reply as a decision; `None` if it is not one the script gives.
fn decode(reply: &Reply, interval_us: u64) -> Option<Result<Snapshot, Denied>> {
    let us = |v: i64| u64::try_from(v).unwrap_or(0).saturating_mul(1_000);
    let Reply::Array(items) = reply else {
        return None;
    };
    match items.as_slice() {
        [
            Reply::Integer(1),
            Reply::Integer(headroom),
            Reply::Integer(reset),
        ] => Some(Ok(Snapshot::new(
            us(*headroom),
            interval_us.saturating_mul(1_000),
            us(*reset),
        ))),
        [Reply::Integer(0), Reply::Integer(retry)] => Some(Err(Denied::NotUntil {
            retry_after: Duration::from_nanos(us(*retry)),
        })),
        _ => None,
    }
}

/// One key of a [`RedisGcra`], as a [`Limiter`].
#[derive(Clone, Debug)]
pub struct RedisKey<C> {
    limiter: RedisGcra<C>,
    key: String,
}

impl<C: Clock> Limiter for RedisKey<C> {
    fn check_n(&self, n: u32) -> Result<Snapshot, Denied> {
        self.limiter.check_key_n(&self.key, n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_decode_to_decisions() {
        let ok = Reply::Array(vec![
            Reply::Integer(1),
            Reply::Integer(2_000),
            Reply::Integer(3_000),
        ]);
        let s = decode(&ok, 1_000).unwrap().unwrap();
        assert_eq!(
            (s.remaining(), s.reset_after()),
            (2, Duration::from_millis(3))
        );
        let no = Reply::Array(vec![Reply::Integer(0), Reply::Integer(500)]);
        assert_eq!(
            decode(&no, 1_000),
            Some(Err(Denied::NotUntil {
                retry_after: Duration::from_micros(500)
            }))
        );
        for odd in [
            Reply::Integer(1),
            Reply::Nil,
            Reply::Array(vec![Reply::Integer(7)]),
            Reply::Array(vec![Reply::Simple("1".into()), Reply::Integer(1)]),
        ] {
            assert_eq!(decode(&odd, 1_000), None, "{odd:?}");
        }
    }

    #[test]
    fn a_nonsense_reply_is_answered_by_the_fail_mode_and_counted() {
        // Well-framed RESP, but not the script's answer: an integer, an error, a short array.
        for reply in [&b":5\r\n"[..], b"-ERR no\r\n", b"*1\r\n:1\r\n"] {
            let addr = fake_redis(reply, Duration::ZERO, b"k:nobody");
            let quota = Quota::new(Duration::from_millis(1), 1).unwrap();
            let clock = crate::ManualClock::new();
            let open = RedisGcra::new(addr, "k:", quota, FailMode::Open, clock.clone()).unwrap();
            let closed = RedisGcra::new(addr, "k:", quota, FailMode::Closed, clock).unwrap();
            assert!(open.check_key_n("a", 1).is_ok(), "{reply:?}: open admits");
            assert_eq!(closed.check_key_n("a", 1), Err(Denied::Unavailable));
            assert_eq!((open.unavailable(), closed.unavailable()), (1, 1));
        }
    }

    /// A fake Redis: `SCRIPT LOAD` gets a digest, any other command `reply`, each byte
    /// `pace` after the last — except that a command naming `black_hole` gets nothing.
    fn fake_redis(reply: &'static [u8], pace: Duration, black_hole: &'static [u8]) -> SocketAddr {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for socket in listener.incoming().take(16) {
                let Ok(mut socket) = socket else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n @ 1..) = socket.read(&mut buf) {
                        let command = &buf[..n];
                        let has = |word: &[u8]| command.windows(word.len()).any(|w| w == word);
                        let answer: &[u8] = if has(b"LOAD") {
                            b"$40\r\n0000000000000000000000000000000000000000\r\n"
                        } else if has(black_hole) {
                            continue;
                        } else {
                            reply
                        };
                        for byte in answer {
                            std::thread::sleep(pace);
                            if socket.write_all(&[*byte]).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    const ADMITTED: &[u8] = b"*3\r\n:1\r\n:2000\r\n:3000\r\n";

    #[test]
    fn a_black_holed_check_does_not_hold_up_the_others() {
        let addr = fake_redis(ADMITTED, Duration::ZERO, b"k:stuck");
        let quota = Quota::new(Duration::from_millis(1), 5).unwrap();
        let limiter = RedisGcra::new(
            addr,
            "k:",
            quota,
            FailMode::Closed,
            crate::ManualClock::new(),
        )
        .unwrap()
        .with_timeout(Duration::from_secs(2), Duration::from_millis(1))
        .unwrap();
        // One check is black-holed: it waits out its deadline, on its own connection.
        let stuck = {
            let limiter = limiter.clone();
            std::thread::spawn(move || limiter.check_key_n("stuck", 1))
        };
        while limiter.inner.pool.connections_made() == 0 {
            std::thread::yield_now();
        }
        // Another check meanwhile gets its own connection and its answer.
        assert!(limiter.check_key_n("b", 1).is_ok());
        assert!(!stuck.is_finished(), "answered while the first still waits");
        assert_eq!(stuck.join().unwrap(), Err(Denied::Unavailable));
    }

    #[test]
    fn a_reply_dripped_a_byte_at_a_time_meets_one_deadline() {
        // Each byte comes 30 ms after the last, inside a 50 ms read timeout: without one
        // deadline for the whole reply, the check would wait its 25 bytes out (750 ms)
        // and then admit.
        let addr = fake_redis(ADMITTED, Duration::from_millis(30), b"k:nobody");
        let quota = Quota::new(Duration::from_millis(1), 5).unwrap();
        let closed = RedisGcra::new(
            addr,
            "k:",
            quota,
            FailMode::Closed,
            crate::ManualClock::new(),
        )
        .unwrap();
        assert_eq!(closed.check_key_n("a", 1), Err(Denied::Unavailable));
        assert_eq!(closed.unavailable(), 1);
    }

    #[test]
    fn sub_microsecond_intervals_are_refused() {
        let quota = Quota::new(Duration::from_nanos(500), 1).unwrap();
        let addr = "127.0.0.1:1".parse().unwrap();
        assert!(
            RedisGcra::new(addr, "k:", quota, FailMode::Open, crate::ManualClock::new()).is_err()
        );
    }

    #[test]
    fn an_unreachable_redis_is_answered_by_the_fail_mode_and_not_retried_at_once() {
        // Port 1 on loopback: nothing listens, the connection is refused at once.
        let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let quota = Quota::new(Duration::from_millis(1), 1).unwrap();
        let clock = crate::ManualClock::new();
        let open = RedisGcra::new(addr, "k:", quota, FailMode::Open, clock.clone()).unwrap();
        let closed = RedisGcra::new(addr, "k:", quota, FailMode::Closed, clock.clone()).unwrap();
        for _ in 0..3 {
            assert!(open.check_key_n("a", 1).is_ok());
            assert_eq!(closed.key("a").check(), Err(Denied::Unavailable));
        }
        assert_eq!((open.unavailable(), closed.unavailable()), (3, 3));
        // More cells than the burst are refused without asking anyone.
        assert!(matches!(
            open.check_key_n("a", 2),
            Err(Denied::ExceedsBurst { .. })
        ));
        assert_eq!(open.unavailable(), 3);
    }
}

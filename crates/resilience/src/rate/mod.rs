//! Rate limiting. One API for every algorithm ([`Limiter`]): a decision now, with a
//! [`Snapshot`] of what remains when admitted or the wait when not.
//!
//! | limiter | admits | memory |
//! | --- | --- | --- |
//! | [`Gcra`] | `burst` at once, then one per interval, exactly | one word |
//! | [`LeakyBucket`] | `capacity` queued, leaving one per interval (a queue and a shaper) | one word |
//! | [`TokenBucket`] | `capacity` at once, refilled in steps | two words |
//! | [`FixedWindow`] | `limit` per aligned period (up to twice that around a boundary) | two words |
//! | [`SlidingWindowCounter`] | about `limit` per sliding period | three words |
//! | [`SlidingLog`] | `limit` per sliding period, exactly | one time per cell |
//! | [`KeyedGcra`] | GCRA per key, a default quota or one per key | one slot per busy key, bounded |
//! | [`RedisGcra`] | GCRA per key, shared by every process using one Redis | one Redis key per busy key, expiring |

mod gcra;
mod keyed;
mod leaky;
#[cfg(test)]
mod model;
mod redis;
mod windows;

pub use gcra::{Gcra, Quota};
pub use keyed::KeyedGcra;
pub use leaky::{Departure, LeakyBucket};
pub use redis::{FailMode, RedisError, RedisGcra, RedisKey};
pub use windows::{FixedWindow, SLIDING_LOG_MAX, SlidingLog, SlidingWindowCounter, TokenBucket};

/// What every limiter answers to: admit `n` cells now, or say why not.
pub trait Limiter {
    /// Admit `n` cells at once, or none.
    fn check_n(&self, n: u32) -> Result<Snapshot, Denied>;

    /// Admit one cell.
    fn check(&self) -> Result<Snapshot, Denied> {
        self.check_n(1)
    }

    /// Wait (on `sleep`, which sleeps for a duration on whatever runtime the caller
    /// uses) until `n` cells are admitted; fails only if `n` can never be.
    #[allow(async_fn_in_trait)] // callers choose their runtime; no Send bound is implied
    async fn until_n_ready<S, F>(&self, n: u32, mut sleep: S) -> Result<Snapshot, Denied>
    where
        S: FnMut(Duration) -> F,
        F: std::future::Future<Output = ()>,
    {
        loop {
            match self.check_n(n) {
                Err(Denied::NotUntil { retry_after }) => sleep(retry_after).await,
                done => return done,
            }
        }
    }
}

use std::time::Duration;

/// What a limiter holds after admitting cells: for `RateLimit` response headers. It keeps
/// the raw figures and works the answers out only when asked, so a check that does not
/// look at them pays nothing for them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Nanoseconds of burst left unused.
    headroom_ns: u64,
    /// Nanoseconds one cell uses.
    cell_ns: u64,
    /// Nanoseconds until the limiter is back to its full burst.
    reset_ns: u64,
}

impl Snapshot {
    /// A snapshot of a limiter that counts cells: `remaining` now, full again after
    /// `reset_ns`.
    pub(crate) fn counted(remaining: u32, reset_ns: u64) -> Self {
        Snapshot::new(u64::from(remaining), 1, reset_ns)
    }

    pub(crate) fn new(headroom_ns: u64, cell_ns: u64, reset_ns: u64) -> Self {
        Snapshot {
            headroom_ns,
            cell_ns: cell_ns.max(1),
            reset_ns,
        }
    }

    /// Cells that could be admitted at once now.
    pub fn remaining(&self) -> u32 {
        u32::try_from(self.headroom_ns / self.cell_ns).unwrap_or(u32::MAX)
    }

    /// When the limiter is back to its full burst.
    pub fn reset_after(&self) -> Duration {
        Duration::from_nanos(self.reset_ns)
    }
}

/// Why cells were not admitted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// Not now: they would be admitted after waiting this long.
    #[error("rate limited: retry after {retry_after:?}")]
    NotUntil {
        /// How long to wait.
        retry_after: Duration,
    },
    /// Never: more cells than the burst allows at once.
    #[error("{requested} cells exceed the burst of {burst}")]
    ExceedsBurst {
        /// Cells asked for.
        requested: u32,
        /// The most admitted at once.
        burst: u32,
    },
    /// A shared limiter could not be reached, and it fails closed
    /// ([`FailMode::Closed`]).
    #[error("the rate limiter's store is unreachable (failing closed)")]
    Unavailable,
}

#[cfg(test)]
pub(crate) mod testing {
    //! The harness the limiters' property tests share.
    use super::Limiter;
    use crate::{Clock, ManualClock};
    use proptest::prelude::*;
    use std::time::Duration;

    /// Run random arrivals through four cloned handles of `limiter`; the admission times.
    pub(crate) fn arrivals<L: Limiter + Clone>(
        limiter: &L,
        clock: &ManualClock,
        steps: &[(u64, usize, u32)],
    ) -> Vec<u64> {
        let handles: Vec<L> = (0..4).map(|_| limiter.clone()).collect();
        let mut admitted = Vec::new();
        for &(gap_us, h, n) in steps {
            clock.advance(Duration::from_micros(gap_us));
            if handles[h].check_n(n).is_ok() {
                admitted.extend(std::iter::repeat_n(clock.now_nanos(), n as usize));
            }
        }
        admitted
    }

    /// Every span between two admissions holds at most `bound(span)` cells.
    pub(crate) fn within(
        admitted: &[u64],
        bound: impl Fn(u64) -> u64,
    ) -> Result<(), TestCaseError> {
        for i in 0..admitted.len() {
            for j in i..admitted.len() {
                let span = admitted[j] - admitted[i];
                prop_assert!(
                    (j - i + 1) as u64 <= bound(span),
                    "{} cells in {span} ns",
                    j - i + 1
                );
            }
        }
        Ok(())
    }
}

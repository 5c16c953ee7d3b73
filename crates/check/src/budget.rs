//! Time and memory budgets: a check that runs out gives *unknown*, never a pass.

use std::time::{Duration, Instant};

/// Why a check stopped before reaching a verdict.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Exhausted {
    /// The time budget ran out.
    #[error("the time budget of {0:?} ran out")]
    Time(Duration),
    /// The memory budget ran out.
    #[error("the memory budget of {0} MiB ran out")]
    Memory(u64),
}

/// How often (in search steps) the wall clock is read. A step is well under a
/// microsecond, so the budget is honoured within milliseconds.
const CLOCK_EVERY: u32 = 1 << 12;

/// Limits on one check's time and memory.
#[derive(Clone, Debug)]
pub struct Budget {
    limit: Option<Duration>,
    deadline: Option<Instant>,
    max_bytes: u64,
    bytes: u64,
    ticks: u32,
}

impl Budget {
    /// A budget of `limit` wall time (none if `None`) and `max_bytes` of memoised states.
    pub fn new(limit: Option<Duration>, max_bytes: u64) -> Self {
        // Checkers run outside the simulated world; wall time is their budget.
        #[allow(clippy::disallowed_methods)]
        let deadline = limit.map(|l| Instant::now() + l);
        Budget {
            limit,
            deadline,
            max_bytes,
            bytes: 0,
            ticks: 0,
        }
    }

    /// No limit on time; 4 GiB of memoised states.
    pub fn unlimited() -> Self {
        Budget::new(None, 4 << 30)
    }

    /// Count one search step; every few thousand, look at the clock.
    #[inline]
    pub fn tick(&mut self) -> Result<(), Exhausted> {
        self.ticks = self.ticks.wrapping_add(1);
        if self.ticks % CLOCK_EVERY == 0 {
            self.check_clock()?;
        }
        Ok(())
    }

    /// Look at the clock now.
    pub fn check_clock(&self) -> Result<(), Exhausted> {
        if let (Some(deadline), Some(limit)) = (self.deadline, self.limit) {
            #[allow(clippy::disallowed_methods)]
            let now = Instant::now();
            if now >= deadline {
                return Err(Exhausted::Time(limit));
            }
        }
        Ok(())
    }

    /// Account for `bytes` more of memoised state.
    #[inline]
    pub fn allocate(&mut self, bytes: u64) -> Result<(), Exhausted> {
        self.bytes += bytes;
        if self.bytes > self.max_bytes {
            return Err(Exhausted::Memory(self.max_bytes >> 20));
        }
        Ok(())
    }

    /// Give back memory when a search's memo is dropped.
    pub fn release(&mut self, bytes: u64) {
        self.bytes = self.bytes.saturating_sub(bytes);
    }

    /// Time left, if limited.
    pub fn remaining(&self) -> Option<Duration> {
        #[allow(clippy::disallowed_methods)]
        self.deadline
            .map(|d| d.saturating_duration_since(Instant::now()))
    }
}

//! How often to try again, and how long to wait in between: one policy for projections,
//! the outbox relay and saga steps.

use std::time::Duration;

/// Up to `attempts` tries, waiting `first`, then twice as long each time, up to `max`.
///
/// No jitter: the waits are part of what a test replays. Spread retries of many
/// independent workers by giving them different `first` delays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries in all, the first included (at least 1).
    pub attempts: u32,
    /// The wait after the first failure.
    pub first: Duration,
    /// The longest wait.
    pub max: Duration,
}

impl RetryPolicy {
    /// `attempts` tries, waiting from `first` up to `max`.
    pub fn new(attempts: u32, first: Duration, max: Duration) -> RetryPolicy {
        RetryPolicy {
            attempts: attempts.max(1),
            first,
            max,
        }
    }

    /// Tries without waiting in between (for tests, and work that is retried elsewhere).
    pub fn immediate(attempts: u32) -> RetryPolicy {
        RetryPolicy::new(attempts, Duration::ZERO, Duration::ZERO)
    }

    /// The wait after try `attempt` (from 1) failed.
    pub fn delay(&self, attempt: u32) -> Duration {
        // Past 2^31 the wait has long saturated; the cap keeps the shift in range.
        let doublings = attempt.saturating_sub(1).min(31);
        self.first.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// Whether try `attempt` (from 1) may be followed by another.
    pub fn may_retry(&self, attempt: u32) -> bool {
        attempt < self.attempts.max(1)
    }
}

impl Default for RetryPolicy {
    /// Five tries, 100 ms then doubling, at most 10 s apart.
    fn default() -> Self {
        RetryPolicy::new(5, Duration::from_millis(100), Duration::from_secs(10))
    }
}

/// `wait` after `now_ms`, in milliseconds as the patterns' tables keep times (saturating).
pub(crate) fn after(now_ms: u64, wait: Duration) -> u64 {
    now_ms.saturating_add(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_cap_and_never_overflow() {
        let b = RetryPolicy::new(4, Duration::from_millis(10), Duration::from_millis(50));
        let waits: Vec<u128> = (1..=5).map(|a| b.delay(a).as_millis()).collect();
        assert_eq!(waits, [10, 20, 40, 50, 50]);
        assert_eq!(b.delay(u32::MAX), Duration::from_millis(50));
        assert!(b.may_retry(3));
        assert!(!b.may_retry(4));
        assert!(!RetryPolicy::new(0, Duration::ZERO, Duration::ZERO).may_retry(1));
        let huge = RetryPolicy::new(2, Duration::MAX, Duration::MAX);
        assert_eq!(huge.delay(40), Duration::MAX);
    }
}

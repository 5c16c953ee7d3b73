//! A retry budget (the "retry budget" of Finagle and gRPC): retries may add at most a
//! fixed share to the requests made, and at most so many may be in flight, so that a
//! struggling dependency is not buried under retries of its own failures.

use crate::ConfigError;
use crate::sync::{Arc, AtomicI64, AtomicU32, Ordering};

/// One token, in the thousandths the budget counts in (a ratio of 0.6 deposits 600 per
/// request, exactly).
const TOKEN: i64 = 1_000;

#[derive(Debug)]
struct Inner {
    /// Thousandths of a retry earned per request.
    per_request: i64,
    /// The most the balance may hold, in thousandths.
    cap: i64,
    balance: AtomicI64,
    in_flight: AtomicU32,
    max_in_flight: u32,
}

/// Retries allowed per request made, and at once. Clones share one budget.
#[derive(Clone, Debug)]
pub struct RetryBudget {
    inner: Arc<Inner>,
}

/// A retry the budget allowed; dropping it ends the retry (it no longer counts as in
/// flight).
#[derive(Debug)]
#[must_use = "the retry counts as in flight until the permit is dropped"]
pub struct RetryPermit {
    inner: Arc<Inner>,
}

impl Drop for RetryPermit {
    fn drop(&mut self) {
        self.inner.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

impl RetryBudget {
    /// At most `ratio` retries per request made (0 to 1,000, in steps of 0.001), at most
    /// `max_in_flight` at once, and at most `cap` retries saved up from quiet periods.
    pub fn new(ratio: f64, max_in_flight: u32, cap: u32) -> Result<Self, ConfigError> {
        if !(ratio.is_finite() && (0.0..=1_000.0).contains(&ratio)) {
            return Err(ConfigError::OutOfRange {
                name: "retry ratio",
                value: ratio,
                expected: "from 0 to 1000",
            });
        }
        if max_in_flight == 0 {
            return Err(ConfigError::Zero {
                name: "concurrent retries",
            });
        }
        if cap == 0 {
            return Err(ConfigError::Zero {
                name: "saved retries",
            });
        }
        Ok(RetryBudget {
            inner: Arc::new(Inner {
                per_request: (ratio * TOKEN as f64).round() as i64,
                cap: i64::from(cap) * TOKEN,
                balance: AtomicI64::new(0),
                in_flight: AtomicU32::new(0),
                max_in_flight,
            }),
        })
    }

    /// A request was made: earn its share of a retry.
    pub fn deposit(&self) {
        let i = &self.inner;
        let _ = i
            .balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                Some((b + i.per_request).min(i.cap))
            });
    }

    /// Take one retry, if the balance holds one and fewer than the maximum are in flight.
    pub fn try_withdraw(&self) -> Option<RetryPermit> {
        let i = &self.inner;
        i.in_flight
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < i.max_in_flight).then_some(n + 1)
            })
            .ok()?;
        let permit = RetryPermit {
            inner: Arc::clone(i),
        };
        i.balance
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |b| {
                (b >= TOKEN).then_some(b - TOKEN)
            })
            .ok()
            // Out of budget: the permit's drop releases the in-flight slot.
            .map(|_| permit)
    }

    /// Retries the balance holds now (whole ones).
    pub fn available(&self) -> u64 {
        u64::try_from(self.inner.balance.load(Ordering::Acquire) / TOKEN).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_of_point_six_over_ten_requests_allows_exactly_six_retries() {
        let budget = RetryBudget::new(0.6, 100, 1_000).unwrap();
        let clone = budget.clone();
        for i in 0..10 {
            if i % 2 == 0 {
                budget.deposit()
            } else {
                clone.deposit()
            }
        }
        let permits: Vec<RetryPermit> = std::iter::from_fn(|| clone.try_withdraw())
            .take(100)
            .collect();
        assert_eq!(permits.len(), 6);
        assert_eq!(budget.available(), 0);
    }

    #[test]
    fn concurrent_retries_are_capped_and_released_on_drop() {
        let budget = RetryBudget::new(1.0, 2, 1_000).unwrap();
        for _ in 0..10 {
            budget.deposit();
        }
        let a = budget.try_withdraw().unwrap();
        let _b = budget.try_withdraw().unwrap();
        assert!(budget.try_withdraw().is_none(), "two in flight");
        drop(a);
        assert!(budget.try_withdraw().is_some());
        assert_eq!(budget.available(), 7);
    }

    #[test]
    fn the_balance_is_capped_and_an_empty_budget_holds_no_slot() {
        let budget = RetryBudget::new(1.0, 1, 3).unwrap();
        for _ in 0..100 {
            budget.deposit();
        }
        assert_eq!(budget.available(), 3);
        let empty = RetryBudget::new(0.0, 1, 3).unwrap();
        empty.deposit();
        assert!(empty.try_withdraw().is_none());
        // The failed withdrawal gave its in-flight slot back.
        assert_eq!(empty.inner.in_flight.load(Ordering::Acquire), 0);
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(RetryBudget::new(-0.1, 1, 1).is_err());
        assert!(RetryBudget::new(f64::NAN, 1, 1).is_err());
        assert_eq!(
            RetryBudget::new(0.5, 0, 1).unwrap_err(),
            ConfigError::Zero {
                name: "concurrent retries"
            }
        );
        assert!(RetryBudget::new(0.5, 1, 0).is_err());
    }
}

//! Retrying: running an operation with retries ([`Retry`]), how long to wait between
//! attempts ([`Backoff`]), whether there is budget to retry at all ([`RetryBudget`]), and
//! what the server asked for ([`parse_retry_after`]).

mod backoff;
mod budget;
mod executor;
#[cfg(test)]
mod model;
mod retry_after;

pub use backoff::{Backoff, Delays, Jitter};
pub use budget::{RetryBudget, RetryPermit};
#[cfg(feature = "tower")]
pub(crate) use executor::Progress;
pub use executor::{Attempt, Retry, RetryDecision, RetryError};
pub use retry_after::{RetryAfterError, parse_retry_after};

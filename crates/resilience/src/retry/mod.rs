//! Retrying: how long to wait ([`Backoff`]), whether there is budget to retry at all
//! ([`RetryBudget`]), and what the server asked for ([`parse_retry_after`]).

mod backoff;
mod budget;
mod retry_after;

pub use backoff::{Backoff, Delays, Jitter};
pub use budget::{RetryBudget, RetryPermit};
pub use retry_after::{RetryAfterError, parse_retry_after};

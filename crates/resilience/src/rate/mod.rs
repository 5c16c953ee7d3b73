//! Rate limiting. One shape of answer for every algorithm: a decision now, with a
//! [`Snapshot`] of what remains when admitted or the wait when not.

mod gcra;

pub use gcra::{Gcra, Quota};

use std::time::Duration;

/// What a limiter holds after admitting cells: for `RateLimit` response headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Cells that could be admitted at once now.
    pub remaining: u32,
    /// When the limiter is back to its full burst.
    pub reset_after: Duration,
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
}

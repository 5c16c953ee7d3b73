//! Rate limiting. One shape of answer for every algorithm: a decision now, with a
//! [`Snapshot`] of what remains when admitted or the wait when not.

mod gcra;

pub use gcra::{Gcra, Quota};

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
}

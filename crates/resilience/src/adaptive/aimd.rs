//! Additive increase, multiplicative decrease: one more per window while the limit is in
//! use, a fraction off for a window with drops. Deaf to latency — it backs off only when
//! calls time out or are refused — so it suits dependencies that shed load explicitly.

use super::{Bounds, LimitAlgorithm, Window};
use crate::ConfigError;
use crate::error::open_fraction;

/// The AIMD limit.
#[derive(Clone, Debug)]
pub struct Aimd {
    bounds: Bounds,
    backoff: f64,
    limit: f64,
}

impl Aimd {
    /// Within `bounds`; a window with drops multiplies the limit by `backoff` (in
    /// `(0, 1)`; 0.9 is usual).
    pub fn new(bounds: Bounds, backoff: f64) -> Result<Aimd, ConfigError> {
        Ok(Aimd {
            bounds,
            backoff: open_fraction("backoff", backoff)?,
            limit: f64::from(bounds.initial),
        })
    }
}

impl LimitAlgorithm for Aimd {
    fn limit(&self) -> u32 {
        self.limit as u32
    }

    fn update(&mut self, window: &Window) -> u32 {
        if window.dropped > 0 {
            // Always at least one off, so a small limit still comes down.
            self.limit = (self.limit * self.backoff).min(self.limit - 1.0).floor();
        } else if !window.app_limited(self.limit) {
            self.limit += 1.0;
        }
        self.limit = self.bounds.clamp(self.limit);
        self.limit()
    }
}

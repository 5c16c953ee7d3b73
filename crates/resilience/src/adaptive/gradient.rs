//! The gradient limit: `gradient = tolerance × long-term rtt / current rtt`, clamped to
//! `[0.5, 1]`; the limit moves towards `limit × gradient`, plus a little headroom (the
//! square root of the limit) when nothing is queueing. After Netflix's Gradient2, with its
//! two known faults fixed:
//!
//! - **Growth under overload.** Gradient2 adds the headroom whatever the gradient, so
//!   under modest overload (a gradient near 0.8) `limit × 0.8 + headroom` exceeds the
//!   limit whenever it is small, and as the long-term average rises to meet the elevated
//!   latency the limit climbs without end (Netflix/concurrency-limits PR 134). Here the
//!   headroom is added only at a gradient of 1.
//! - **Drops ignored.** Gradient2 reads only round-trip times. Under steady timeouts every
//!   sample is the timeout, the long-term average converges to it, the gradient returns to
//!   1 and the limit grows while every call fails. Here a drop is a gradient of 0.5 and
//!   its time is kept out of the long-term average.
//!
//!
//! Both come down to what the long-term average may learn. Let it follow every window
//! and it learns the latency our own growth causes (the ratchet above); let it never
//! rise and a lasting rise in the dependency's own latency pins the limit at its minimum
//! for good. So it falls with any faster window, but rises only while the limit is at its
//! minimum — where little of the latency can be our own queue. It also falls quickly
//! once current times are well under it, so an average inflated by an overload does not
//! hold the gradient at 1 long after. (Set the minimum below what the dependency can
//! serve unqueued.)

use super::{Bounds, LimitAlgorithm, Window};
use crate::ConfigError;
use crate::error::{at_least_one, open_fraction};

/// The gradient limit.
#[derive(Clone, Debug)]
pub struct Gradient {
    bounds: Bounds,
    limit: f64,
    tolerance: f64,
    smoothing: f64,
    /// The weight of a window in the long-term average.
    long_weight: f64,
    /// The long-term round-trip time, nanoseconds (0 before the first sample).
    long_rtt: f64,
}

impl Gradient {
    /// Within `bounds`. `tolerance` (at least 1; 1.5 is usual) is how much slower than the
    /// long-term average a call may be before the limit comes down; `smoothing` (in
    /// `(0, 1)`; 0.2 is usual) how far each window moves the limit; the long-term average
    /// spans about `window` windows (at least 1; some tens).
    pub fn new(
        bounds: Bounds,
        tolerance: f64,
        smoothing: f64,
        window: u32,
    ) -> Result<Gradient, ConfigError> {
        if window == 0 {
            return Err(ConfigError::Zero { name: "window" });
        }
        Ok(Gradient {
            bounds,
            limit: f64::from(bounds.initial),
            tolerance: at_least_one("tolerance", tolerance)?,
            smoothing: open_fraction("smoothing", smoothing)?,
            long_weight: 2.0 / (f64::from(window) + 1.0),
            long_rtt: 0.0,
        })
    }
}

impl LimitAlgorithm for Gradient {
    fn limit(&self) -> u32 {
        self.limit as u32
    }

    fn update(&mut self, window: &Window) -> u32 {
        let target = if window.dropped > 0 {
            self.limit * 0.5
        } else {
            let rtt = window.mean_rtt_ns.max(1.0);
            if self.long_rtt == 0.0 {
                self.long_rtt = rtt;
            }
            if rtt < self.long_rtt || self.limit <= f64::from(self.bounds.min) {
                self.long_rtt += (rtt - self.long_rtt) * self.long_weight;
            }
            if self.long_rtt > 2.0 * rtt {
                // Well under the average: the overload that inflated it is over.
                self.long_rtt *= 0.95;
            }
            if window.app_limited(self.limit) {
                return self.limit();
            }
            let gradient = (self.tolerance * self.long_rtt / rtt).clamp(0.5, 1.0);
            let headroom = if gradient >= 1.0 {
                self.limit.sqrt()
            } else {
                0.0
            };
            self.limit * gradient + headroom
        };
        self.limit = self
            .bounds
            .clamp(self.limit * (1.0 - self.smoothing) + target * self.smoothing);
        self.limit()
    }
}

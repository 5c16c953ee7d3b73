//! TCP Vegas applied to calls: the queue at the dependency is estimated as
//! `limit × (1 − rtt_noload / rtt)` and kept between `alpha` and `beta` (both growing
//! with the log of the limit, so large limits move in proportionate steps).
//!
//! Everything rests on the no-load time, and the two obvious estimates both fail:
//! - the all-time minimum never forgets: after a lasting rise in the dependency's base
//!   latency every window looks like a standing queue, and the limit stays pinned low;
//! - a minimum that simply expires forgets the truth while a queue stands: the queued
//!   time becomes the new "no-load" time, the queue reads as empty, the limit grows, the
//!   queue grows — a ratchet.
//!
//! So, as BBR does (its ProbeRTT phase), the estimate is re-measured rather than
//! forgotten: every `epoch` windows, one window runs at the minimum limit, where nothing
//! of ours is queued, and its least round-trip time becomes the no-load time. The limit
//! then resumes where it was.

use super::{Bounds, LimitAlgorithm, Window};
use crate::ConfigError;
use std::time::Duration;

/// The Vegas limit.
#[derive(Clone, Debug)]
pub struct Vegas {
    bounds: Bounds,
    limit: f64,
    /// Windows between probes of the no-load time.
    epoch: u32,
    since_probe: u32,
    /// During a probe, the limit to resume.
    probing: Option<f64>,
    /// The least round-trip time since the last probe, nanoseconds (`u64::MAX`: none).
    noload_ns: u64,
}

impl Vegas {
    /// Within `bounds`, re-measuring the no-load time every `epoch` windows (at least 2;
    /// a probe costs one round trip at the minimum limit, so some tens to hundreds).
    pub fn new(bounds: Bounds, epoch: u32) -> Result<Vegas, ConfigError> {
        if epoch < 2 {
            return Err(ConfigError::OutOfRange {
                name: "epoch",
                value: f64::from(epoch),
                expected: "at least 2 windows",
            });
        }
        Ok(Vegas {
            bounds,
            limit: f64::from(bounds.initial),
            epoch,
            since_probe: 0,
            probing: None,
            noload_ns: u64::MAX,
        })
    }

    /// The no-load round-trip time now estimated, if any call has succeeded.
    pub fn rtt_noload(&self) -> Option<Duration> {
        (self.noload_ns != u64::MAX).then(|| Duration::from_nanos(self.noload_ns))
    }

    /// End a probe window: its minimum is the no-load time; the limit resumes, less a
    /// step if the probe saw drops.
    fn end_probe(&mut self, resume: f64, window: &Window) {
        if window.dropped < window.calls {
            self.noload_ns = window.min_rtt_ns.max(1);
        }
        self.limit = if window.dropped > 0 {
            resume - step(resume)
        } else {
            resume
        };
    }
}

/// How far a limit moves in one revision: its order of magnitude, at least 1.
fn step(limit: f64) -> f64 {
    limit.log10().max(1.0)
}

impl LimitAlgorithm for Vegas {
    fn limit(&self) -> u32 {
        self.limit as u32
    }

    fn probing(&self) -> Option<u32> {
        self.probing.map(|resume| resume as u32)
    }

    fn update(&mut self, window: &Window) -> u32 {
        if let Some(resume) = self.probing.take() {
            self.end_probe(resume, window);
        } else if window.dropped > 0 {
            // Drops' times are the timeout's, not the dependency's: left out of the
            // no-load estimate (the window's figures cover only calls that succeeded).
            self.limit -= step(self.limit);
        } else {
            self.noload_ns = self.noload_ns.min(window.min_rtt_ns.max(1));
            if !window.app_limited(self.limit) {
                let step = step(self.limit);
                let queue =
                    self.limit * (1.0 - self.noload_ns as f64 / window.mean_rtt_ns.max(1.0));
                let (alpha, beta) = (3.0 * step, 6.0 * step);
                if queue <= step {
                    self.limit += beta;
                } else if queue < alpha {
                    self.limit += step;
                } else if queue > beta {
                    self.limit -= step;
                }
            }
        }
        self.limit = self.bounds.clamp(self.limit);
        self.since_probe += 1;
        if self.since_probe >= self.epoch {
            self.since_probe = 0;
            self.probing = Some(self.limit);
            self.limit = f64::from(self.bounds.min);
        }
        self.limit()
    }
}

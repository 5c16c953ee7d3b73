//! Peak-EWMA latency: the worst latency seen lately, decaying toward the average.
//!
//! A response slower than the estimate becomes the estimate at once (the peak: one slow
//! response is enough to steer traffic away). A faster one pulls the estimate toward
//! itself by how long it has been since the last update: `w = exp(-elapsed / decay)`,
//! `estimate = estimate * w + rtt * (1 - w)`. Between responses the estimate decays
//! toward zero with the same time constant, so an endpoint that stopped getting traffic
//! because it was slow is tried again after a while rather than never (the design of
//! Finagle's `PeakEwma`, also tower's and Linkerd's). Reading the estimate never changes
//! it: the decay is projected to the time asked about.

/// One endpoint's latency estimate, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PeakEwma {
    estimate: f64,
    updated: u64,
}

impl PeakEwma {
    /// Starting at `estimate` ns at `now` (ns).
    pub fn new(estimate: f64, now: u64) -> PeakEwma {
        PeakEwma {
            estimate: estimate.max(0.0),
            updated: now,
        }
    }

    /// The estimate at `now`, decayed toward zero since the last response.
    pub fn at(&self, now: u64, decay_ns: f64) -> f64 {
        let elapsed = now.saturating_sub(self.updated) as f64;
        self.estimate * (-elapsed / decay_ns).exp()
    }

    /// A response that took `rtt` ns arrived at `now`.
    pub fn observe(&mut self, rtt: f64, now: u64, decay_ns: f64) {
        let current = self.at(now, decay_ns);
        self.estimate = if rtt > current {
            rtt
        } else {
            let elapsed = now.saturating_sub(self.updated) as f64;
            let w = (-elapsed / decay_ns).exp();
            current * w + rtt * (1.0 - w)
        };
        self.updated = now.max(self.updated);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECOND: f64 = 1e9;

    #[test]
    fn a_slow_response_is_the_estimate_at_once_and_fast_ones_pull_it_down_over_time() {
        let mut e = PeakEwma::new(10e6, 0);
        e.observe(500e6, 1_000, 10.0 * SECOND);
        assert_eq!(e.at(1_000, 10.0 * SECOND), 500e6);
        // A fast response right after moves it hardly at all; one a decay later, a lot.
        let mut soon = e;
        soon.observe(1e6, 1_000_000, 10.0 * SECOND);
        assert!(soon.at(1_000_000, 10.0 * SECOND) > 499e6);
        let mut later = e;
        later.observe(1e6, 10_000_000_000, 10.0 * SECOND);
        let after = later.at(10_000_000_000, 10.0 * SECOND);
        // Decayed toward zero (500 ms / e), then weighted toward 1 ms by 1 - 1/e.
        assert!((60e6..80e6).contains(&after), "{after}");
    }

    #[test]
    fn without_responses_the_estimate_decays_toward_zero_and_reading_changes_nothing() {
        let e = PeakEwma::new(1.0 * SECOND, 0);
        let one_decay = e.at(10_000_000_000, 10.0 * SECOND);
        assert!((one_decay - SECOND / std::f64::consts::E).abs() < 1e3);
        assert_eq!(e.at(0, 10.0 * SECOND), SECOND, "reading did not move it");
        assert!(e.at(u64::MAX, 10.0 * SECOND) < 1.0);
    }
}

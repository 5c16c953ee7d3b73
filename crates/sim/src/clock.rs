//! Node-local clocks: offset, drift, bumps and strobe on top of true virtual time.
//!
//! A node sees two clocks, as a real process does. Its wall clock ([`NodeClock::local_now`],
//! handed to the node as `now`) carries every fault: a fixed offset, drift, one-off bumps
//! and a strobe that flips between two offsets. Its timers run on the monotonic clock,
//! which drifts with the oscillator but ignores offsets, bumps and strobes
//! ([`NodeClock::true_delay`]).

use dsys_node::{Duration, Instant, duration_nanos};
use serde::{Deserialize, Serialize};

/// Drift is bounded so a timer still fires: at most ±50% rate error.
pub const MAX_DRIFT_PPM: i64 = 500_000;

/// A strobe: the wall clock alternates between normal and `+amplitude` every `period`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Strobe {
    /// The jump, in nanoseconds (may be negative).
    pub amplitude_ns: i64,
    /// How long each of the two phases lasts, in nanoseconds (at least 1).
    pub period_ns: u64,
    /// True time the strobe started.
    pub start: Instant,
    /// True time the strobe stops.
    pub end: Instant,
}

/// One node's clock state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeClock {
    offset_ns: i64,
    drift_ppm: i64,
    drift_anchor: Instant,
    drift_accumulated_ns: i64,
    strobe: Option<Strobe>,
}

impl NodeClock {
    /// The node's wall-clock reading at true time `now`.
    pub fn local_now(&self, now: Instant) -> Instant {
        let mut delta = self.offset_ns.saturating_add(self.drift_accumulated_ns);
        delta = delta.saturating_add(self.drift_since_anchor(now));
        if let Some(s) = self.strobe
            && now >= s.start
            && now < s.end
            && ((now.as_nanos() - s.start.as_nanos()) / s.period_ns.max(1)) % 2 == 1
        {
            delta = delta.saturating_add(s.amplitude_ns);
        }
        now.offset_by(delta)
    }

    /// The true time it takes for `after` to elapse on this node's monotonic clock.
    pub fn true_delay(&self, after: Duration) -> u64 {
        let nanos = u128::from(duration_nanos(after));
        let rate = u128::try_from(1_000_000 + self.drift_ppm).unwrap_or(1);
        u64::try_from(nanos * 1_000_000 / rate.max(1)).unwrap_or(u64::MAX)
    }

    fn drift_since_anchor(&self, now: Instant) -> i64 {
        let elapsed = i128::from(now.as_nanos().saturating_sub(self.drift_anchor.as_nanos()));
        i64::try_from(elapsed * i128::from(self.drift_ppm) / 1_000_000).unwrap_or(0)
    }

    /// Set the wall clock's fixed offset from true time (replacing the previous offset).
    pub fn set_offset(&mut self, offset_ns: i64) {
        self.offset_ns = offset_ns;
    }

    /// Jump the wall clock by `delta_ns` once.
    pub fn bump(&mut self, delta_ns: i64) {
        self.offset_ns = self.offset_ns.saturating_add(delta_ns);
    }

    /// From `now` on, run fast (`ppm > 0`) or slow by `ppm` parts per million.
    pub fn set_drift(&mut self, now: Instant, ppm: i64) {
        self.drift_accumulated_ns = self
            .drift_accumulated_ns
            .saturating_add(self.drift_since_anchor(now));
        self.drift_anchor = now;
        self.drift_ppm = ppm.clamp(-MAX_DRIFT_PPM, MAX_DRIFT_PPM);
    }

    /// Start a strobe.
    pub fn strobe(&mut self, strobe: Strobe) {
        self.strobe = Some(strobe);
    }

    /// Put the clock right: no offset, drift or strobe (as NTP would, abruptly).
    pub fn reset(&mut self) {
        *self = NodeClock::default();
    }

    /// Current drift in parts per million.
    pub fn drift_ppm(&self) -> i64 {
        self.drift_ppm
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn offset_and_bump_move_the_wall_clock_not_timers() {
        let mut c = NodeClock::default();
        c.set_offset(5 * MS as i64);
        c.bump(-2 * MS as i64);
        assert_eq!(
            c.local_now(Instant::from_millis(100)),
            Instant::from_millis(103)
        );
        assert_eq!(c.true_delay(Duration::from_millis(10)), 10 * MS);
    }

    #[test]
    fn drift_accumulates_and_slows_timers() {
        let mut c = NodeClock::default();
        c.set_drift(Instant::from_millis(1_000), 10_000); // 1% fast from t=1s
        assert_eq!(
            c.local_now(Instant::from_millis(2_000)),
            Instant::from_millis(2_010)
        );
        c.set_drift(Instant::from_millis(2_000), 0);
        assert_eq!(
            c.local_now(Instant::from_millis(3_000)),
            Instant::from_millis(3_010)
        );
        c.set_drift(Instant::from_millis(3_000), 100_000); // 10% fast
        // A 110ms timer on a clock running 10% fast takes 100ms of true time.
        assert_eq!(c.true_delay(Duration::from_millis(110)), 100 * MS);
    }

    #[test]
    fn strobe_alternates_then_stops() {
        let mut c = NodeClock::default();
        c.strobe(Strobe {
            amplitude_ns: 50 * MS as i64,
            period_ns: 10 * MS,
            start: Instant::from_millis(100),
            end: Instant::from_millis(140),
        });
        let at = |ms| c.local_now(Instant::from_millis(ms)).as_nanos() / MS;
        assert_eq!(
            [at(99), at(105), at(115), at(125), at(135), at(145)],
            [99, 105, 165, 125, 185, 145]
        );
    }

    #[test]
    fn a_negative_offset_near_zero_saturates() {
        let mut c = NodeClock::default();
        c.set_offset(-(10 * MS as i64));
        assert_eq!(c.local_now(Instant::from_millis(3)), Instant::ZERO);
    }
}

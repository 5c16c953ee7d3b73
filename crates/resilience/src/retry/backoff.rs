//! Exponential backoff with jitter (Brooker, "Exponential Backoff And Jitter", AWS
//! Architecture Blog, 2015): without jitter, clients that failed together retry together.

use crate::error::at_least_one;
use crate::{ConfigError, random};
use std::time::Duration;

/// How the exponential delay is randomised.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Jitter {
    /// None: exactly `base × multiplier^attempt`, capped.
    None,
    /// Uniform in `[0, d)` where `d` is the exponential delay.
    Full,
    /// `d / 2` plus uniform in `[0, d / 2)`.
    Equal,
    /// Uniform in `[base, 3 × previous)`, capped: each delay grows from the last one
    /// actually waited, not from the attempt number.
    Decorrelated,
}

/// An exponential backoff policy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    multiplier: f64,
    jitter: Jitter,
}

impl Backoff {
    /// Delays from `base`, doubling, never above `max`.
    pub fn new(base: Duration, max: Duration, jitter: Jitter) -> Result<Self, ConfigError> {
        if base.is_zero() {
            return Err(ConfigError::Zero { name: "base delay" });
        }
        if max < base {
            return Err(ConfigError::Inconsistent(
                "the maximum delay must be at least the base delay",
            ));
        }
        Ok(Backoff {
            base,
            max,
            multiplier: 2.0,
            jitter,
        })
    }

    /// Grow by `multiplier` per attempt instead of 2 (at least 1, finite).
    pub fn with_multiplier(mut self, multiplier: f64) -> Result<Self, ConfigError> {
        self.multiplier = at_least_one("multiplier", multiplier)?;
        Ok(self)
    }

    /// The un-jittered delay before retry `attempt` (0 is the first retry), capped.
    pub fn exponential(&self, attempt: u32) -> Duration {
        let factor = self
            .multiplier
            .powi(i32::try_from(attempt).unwrap_or(i32::MAX));
        let nanos = self.base.as_nanos() as f64 * factor;
        if !nanos.is_finite() || nanos >= self.max.as_nanos() as f64 {
            self.max
        } else {
            Duration::from_nanos(nanos as u64)
        }
    }

    /// The delay before retry `attempt`, given the delay waited before it (`previous`,
    /// for decorrelated jitter; zero before the first retry) and a uniform random number
    /// `unit` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, previous: Duration, unit: f64) -> Duration {
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let scale = |d: Duration, by: f64| Duration::from_nanos((d.as_nanos() as f64 * by) as u64);
        let d = self.exponential(attempt);
        let delay = match self.jitter {
            Jitter::None => d,
            Jitter::Full => scale(d, unit),
            Jitter::Equal => d / 2 + scale(d / 2, unit),
            Jitter::Decorrelated => {
                let upper = previous.max(self.base).saturating_mul(3);
                self.base + scale(upper.saturating_sub(self.base), unit)
            }
        };
        delay.min(self.max)
    }

    /// The delays of successive retries, randomised from `seed` (the same seed gives the
    /// same delays).
    pub fn delays(&self, seed: u64) -> Delays {
        Delays {
            backoff: *self,
            attempt: 0,
            previous: Duration::ZERO,
            state: seed,
        }
    }
}

/// Successive delays of a [`Backoff`]; endless (stop by attempts or a time budget).
#[derive(Clone, Debug)]
pub struct Delays {
    backoff: Backoff,
    attempt: u32,
    previous: Duration,
    state: u64,
}

impl Delays {
    /// The next uniform number in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        self.state = self.state.wrapping_add(random::GAMMA);
        random::unit(self.state)
    }
}

impl Iterator for Delays {
    type Item = Duration;
    fn next(&mut self) -> Option<Duration> {
        let unit = self.unit();
        let d = self.backoff.delay(self.attempt, self.previous, unit);
        self.attempt = self.attempt.saturating_add(1);
        self.previous = d;
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn without_jitter_delays_double_up_to_the_cap() {
        let b = Backoff::new(ms(100), ms(1_000), Jitter::None).unwrap();
        let got: Vec<u64> = b.delays(1).take(6).map(|d| d.as_millis() as u64).collect();
        assert_eq!(got, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(b.exponential(200), ms(1_000));
        let tripling = b.with_multiplier(3.0).unwrap();
        assert_eq!(tripling.exponential(2), ms(900));
    }

    #[test]
    fn each_jitter_spans_its_range() {
        let b = |j| Backoff::new(ms(100), ms(10_000), j).unwrap();
        assert_eq!(b(Jitter::Full).delay(2, ms(0), 0.0), ms(0));
        assert_eq!(b(Jitter::Full).delay(2, ms(0), 0.5), ms(200));
        assert_eq!(b(Jitter::Equal).delay(2, ms(0), 0.0), ms(200));
        assert_eq!(b(Jitter::Equal).delay(2, ms(0), 0.5), ms(300));
        // Decorrelated: between base and three times the previous delay.
        assert_eq!(b(Jitter::Decorrelated).delay(5, ms(400), 0.0), ms(100));
        assert_eq!(b(Jitter::Decorrelated).delay(5, ms(400), 0.5), ms(650));
        assert_eq!(b(Jitter::Decorrelated).delay(0, ms(0), 0.5), ms(200));
    }

    #[test]
    fn bad_settings_are_errors() {
        assert_eq!(
            Backoff::new(Duration::ZERO, ms(1), Jitter::Full),
            Err(ConfigError::Zero { name: "base delay" })
        );
        assert!(Backoff::new(ms(10), ms(5), Jitter::Full).is_err());
        let b = Backoff::new(ms(10), ms(50), Jitter::Full).unwrap();
        assert!(b.with_multiplier(0.5).is_err());
        assert!(b.with_multiplier(f64::NAN).is_err());
    }

    proptest! {
        #[test]
        fn delays_stay_within_base_and_cap(seed: u64, base in 1u64..1_000, extra in 0u64..100_000, j in 0u8..4) {
            let jitter = [Jitter::None, Jitter::Full, Jitter::Equal, Jitter::Decorrelated][j as usize];
            let b = Backoff::new(ms(base), ms(base + extra), jitter).unwrap();
            for d in b.delays(seed).take(40) {
                prop_assert!(d <= ms(base + extra));
                if matches!(jitter, Jitter::None | Jitter::Decorrelated) {
                    prop_assert!(d >= ms(base));
                }
            }
            let again: Vec<_> = b.delays(seed).take(10).collect();
            prop_assert_eq!(again, b.delays(seed).take(10).collect::<Vec<_>>());
        }
    }
}

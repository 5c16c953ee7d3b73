//! What trips a circuit breaker and how it recovers.

use crate::ConfigError;
use crate::retry::{Backoff, Jitter};
use std::time::Duration;

/// The calls a breaker judges by.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Window {
    /// The last `n` calls.
    Count(u32),
    /// The calls of the last `span`, kept in `buckets` equal slices.
    Time {
        /// How far back.
        span: Duration,
        /// Slices of the span (more: smoother sliding, more memory).
        buckets: u32,
    },
}

/// Slow calls count against a dependency as failures do.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SlowCalls {
    /// A call longer than this is slow.
    pub after: Duration,
    /// The share of slow calls (above 0, at most 1) that opens the breaker.
    pub rate: f64,
}

/// When a breaker opens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Trip {
    /// When, among at least `min_calls` in the window, the share of failures reaches
    /// `failure_rate` (above 0, at most 1), or the share of slow calls reaches theirs.
    Rates {
        /// The window.
        window: Window,
        /// Calls the window must hold before rates count.
        min_calls: u32,
        /// Failure share that opens the breaker.
        failure_rate: f64,
        /// Slow calls, if they count.
        slow: Option<SlowCalls>,
    },
    /// After this many failures in a row.
    Consecutive(u32),
}

/// A circuit breaker's settings. Build with [`BreakerConfig::new`] and the `with_`
/// methods; [`BreakerConfig::validate`] runs when a breaker is made.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BreakerConfig {
    /// When to open.
    pub trip: Trip,
    /// How long to stay open: the first time `base`, growing on each reopening up to
    /// `max`, with jitter so that many breakers do not probe together.
    pub open_for: Backoff,
    /// Calls let through in half-open; all must succeed to close.
    pub probes: u32,
    /// The longest half-open may last before it counts as failed and reopens.
    pub max_half_open: Duration,
}

impl BreakerConfig {
    /// Open when half the calls of the last 100 (at least 20 of them) failed; stay open
    /// 5 s, doubling up to 60 s with equal jitter; 3 probes; half-open at most 30 s.
    pub fn new() -> Self {
        BreakerConfig {
            trip: Trip::Rates {
                window: Window::Count(100),
                min_calls: 20,
                failure_rate: 0.5,
                slow: None,
            },
            open_for: Backoff::new(
                Duration::from_secs(5),
                Duration::from_secs(60),
                Jitter::Equal,
            )
            .unwrap_or_else(|_| unreachable!("valid constants")),
            probes: 3,
            max_half_open: Duration::from_secs(30),
        }
    }

    /// Open on `trip` instead.
    pub fn with_trip(mut self, trip: Trip) -> Self {
        self.trip = trip;
        self
    }

    /// Stay open per `open_for`.
    pub fn with_open_for(mut self, open_for: Backoff) -> Self {
        self.open_for = open_for;
        self
    }

    /// Let `probes` calls through in half-open.
    pub fn with_probes(mut self, probes: u32) -> Self {
        self.probes = probes;
        self
    }

    /// Reopen if half-open lasts longer than `max`.
    pub fn with_max_half_open(mut self, max: Duration) -> Self {
        self.max_half_open = max;
        self
    }

    /// Check every setting.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.probes == 0 {
            return Err(ConfigError::Zero { name: "probes" });
        }
        if self.max_half_open.is_zero() {
            return Err(ConfigError::Zero {
                name: "max half-open time",
            });
        }
        match self.trip {
            Trip::Consecutive(0) => Err(ConfigError::Zero {
                name: "consecutive failures",
            }),
            Trip::Consecutive(_) => Ok(()),
            Trip::Rates {
                window,
                min_calls,
                failure_rate,
                slow,
            } => {
                match window {
                    Window::Count(0) => {
                        return Err(ConfigError::Zero {
                            name: "window calls",
                        });
                    }
                    Window::Time { span, .. } if span.is_zero() => {
                        return Err(ConfigError::Zero {
                            name: "window span",
                        });
                    }
                    Window::Time { buckets: 0, .. } => {
                        return Err(ConfigError::Zero {
                            name: "window buckets",
                        });
                    }
                    _ => {}
                }
                if min_calls == 0 {
                    return Err(ConfigError::Zero {
                        name: "minimum calls",
                    });
                }
                if matches!(window, Window::Count(n) if min_calls > n) {
                    return Err(ConfigError::Inconsistent(
                        "the minimum number of calls exceeds the window: the breaker could never open",
                    ));
                }
                let mut rates = vec![("failure rate", failure_rate)];
                if let Some(s) = slow {
                    if s.after.is_zero() {
                        return Err(ConfigError::Zero {
                            name: "slow-call threshold",
                        });
                    }
                    rates.push(("slow-call rate", s.rate));
                }
                for (name, rate) in rates {
                    if !(rate.is_finite() && rate > 0.0 && rate <= 1.0) {
                        return Err(ConfigError::OutOfRange {
                            name,
                            value: rate,
                            expected: "above 0 and at most 1",
                        });
                    }
                }
                Ok(())
            }
        }
    }
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self::new()
    }
}

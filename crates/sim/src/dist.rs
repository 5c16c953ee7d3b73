//! Latency distributions, in milliseconds of virtual time.
//!
//! Spelled `constant:MS`, `uniform:MIN:MAX`, `exponential:MEAN`,
//! `lognormal:MEDIAN:SIGMA` or `pareto:MIN:ALPHA`. Sampling uses `libm` rather than the
//! platform's maths library so a seed gives the same latencies on every machine.

use dsys_node::DetRng;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// No single sampled latency exceeds this (heavy tails are capped at one hour).
pub const MAX_LATENCY_NANOS: u64 = 3_600_000_000_000;

/// A distribution of message latency.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum LatencyDist {
    /// Always `ms`.
    Constant {
        /// Milliseconds.
        ms: f64,
    },
    /// Uniform in `[min, max]` ms.
    Uniform {
        /// Lower bound, ms.
        min: f64,
        /// Upper bound, ms.
        max: f64,
    },
    /// Exponential with the given mean, ms.
    Exponential {
        /// Mean, ms.
        mean: f64,
    },
    /// Log-normal: `median * exp(sigma * Z)`.
    LogNormal {
        /// Median, ms.
        median: f64,
        /// Shape (standard deviation of the log).
        sigma: f64,
    },
    /// Pareto (type I) tail: at least `min` ms, tail index `alpha`.
    Pareto {
        /// Scale: the smallest latency, ms.
        min: f64,
        /// Tail index; smaller is heavier (alpha <= 1 has no finite mean).
        alpha: f64,
    },
}

/// Why a distribution spec was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistError {
    /// The name before the first `:` is not a distribution.
    #[error(
        "unknown latency distribution `{0}` (expected constant, uniform, exponential, lognormal or pareto)"
    )]
    UnknownKind(String),
    /// Wrong number of parameters.
    #[error("`{spec}`: {kind} takes {expected}")]
    Arity {
        /// The whole spec.
        spec: String,
        /// The distribution.
        kind: &'static str,
        /// What it takes, for humans.
        expected: &'static str,
    },
    /// A parameter is not a finite number or is out of range.
    #[error("`{spec}`: {reason}")]
    BadParameter {
        /// The whole spec.
        spec: String,
        /// What is wrong.
        reason: String,
    },
}

impl LatencyDist {
    /// Draw one latency, in nanoseconds.
    pub fn sample_nanos(&self, rng: &mut DetRng) -> u64 {
        let ms = match *self {
            LatencyDist::Constant { ms } => ms,
            LatencyDist::Uniform { min, max } => min + (max - min) * rng.unit_f64(),
            LatencyDist::Exponential { mean } => -mean * libm::log(1.0 - rng.unit_f64()),
            LatencyDist::LogNormal { median, sigma } => {
                median * libm::exp(sigma * standard_normal(rng))
            }
            LatencyDist::Pareto { min, alpha } => {
                min * libm::exp(-libm::log(1.0 - rng.unit_f64()) / alpha)
            }
        };
        millis_to_nanos(ms)
    }

    /// The distribution's mean in ms, if finite.
    pub fn mean_ms(&self) -> Option<f64> {
        match *self {
            LatencyDist::Constant { ms } => Some(ms),
            LatencyDist::Uniform { min, max } => Some((min + max) / 2.0),
            LatencyDist::Exponential { mean } => Some(mean),
            LatencyDist::LogNormal { median, sigma } => {
                Some(median * libm::exp(sigma * sigma / 2.0))
            }
            LatencyDist::Pareto { min, alpha } => {
                (alpha > 1.0).then(|| alpha * min / (alpha - 1.0))
            }
        }
    }
}

/// Convert a non-negative millisecond figure to nanoseconds, capped at [`MAX_LATENCY_NANOS`].
pub fn millis_to_nanos(ms: f64) -> u64 {
    let ns = ms * 1e6;
    if ns.is_nan() || ns <= 0.0 {
        0
    } else if ns >= MAX_LATENCY_NANOS as f64 {
        MAX_LATENCY_NANOS
    } else {
        ns as u64
    }
}

/// Box–Muller: one standard normal deviate from two uniforms.
fn standard_normal(rng: &mut DetRng) -> f64 {
    let u1 = 1.0 - rng.unit_f64(); // in (0, 1], so ln is finite
    let u2 = rng.unit_f64();
    libm::sqrt(-2.0 * libm::log(u1)) * libm::cos(2.0 * std::f64::consts::PI * u2)
}

impl fmt::Display for LatencyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            LatencyDist::Constant { ms } => write!(f, "constant:{ms}"),
            LatencyDist::Uniform { min, max } => write!(f, "uniform:{min}:{max}"),
            LatencyDist::Exponential { mean } => write!(f, "exponential:{mean}"),
            LatencyDist::LogNormal { median, sigma } => write!(f, "lognormal:{median}:{sigma}"),
            LatencyDist::Pareto { min, alpha } => write!(f, "pareto:{min}:{alpha}"),
        }
    }
}

impl FromStr for LatencyDist {
    type Err = DistError;

    fn from_str(spec: &str) -> Result<Self, DistError> {
        let mut parts = spec.split(':');
        let kind = parts.next().unwrap_or_default();
        let params: Vec<&str> = parts.collect();
        let bad = |reason: String| DistError::BadParameter {
            spec: spec.to_string(),
            reason,
        };
        let num = |s: &str, what: &str| -> Result<f64, DistError> {
            match s.trim().parse::<f64>() {
                Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
                _ => Err(bad(format!(
                    "{what} must be a non-negative number of milliseconds, got `{s}`"
                ))),
            }
        };
        let arity = |kind: &'static str, expected: &'static str| DistError::Arity {
            spec: spec.to_string(),
            kind,
            expected,
        };
        let dist = match (kind, params.as_slice()) {
            ("constant", [ms]) => LatencyDist::Constant {
                ms: num(ms, "the latency")?,
            },
            ("constant", _) => return Err(arity("constant", "one parameter: constant:MS")),
            ("uniform", [lo, hi]) => {
                let (min, max) = (num(lo, "MIN")?, num(hi, "MAX")?);
                if min > max {
                    return Err(bad(format!("MIN ({min}) is above MAX ({max})")));
                }
                LatencyDist::Uniform { min, max }
            }
            ("uniform", _) => return Err(arity("uniform", "two parameters: uniform:MIN:MAX")),
            ("exponential", [mean]) => LatencyDist::Exponential {
                mean: num(mean, "MEAN")?,
            },
            ("exponential", _) => {
                return Err(arity("exponential", "one parameter: exponential:MEAN"));
            }
            ("lognormal", [median, sigma]) => LatencyDist::LogNormal {
                median: num(median, "MEDIAN")?,
                sigma: num(sigma, "SIGMA")?,
            },
            ("lognormal", _) => {
                return Err(arity("lognormal", "two parameters: lognormal:MEDIAN:SIGMA"));
            }
            ("pareto", [min, alpha]) => {
                let alpha = num(alpha, "ALPHA")?;
                if alpha <= 0.0 {
                    return Err(bad("ALPHA must be above zero".into()));
                }
                LatencyDist::Pareto {
                    min: num(min, "MIN")?,
                    alpha,
                }
            }
            ("pareto", _) => return Err(arity("pareto", "two parameters: pareto:MIN:ALPHA")),
            (other, _) => return Err(DistError::UnknownKind(other.to_string())),
        };
        Ok(dist)
    }
}

serde_as_spec_string!(LatencyDist, DistError);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn mean_of(dist: LatencyDist, n: usize) -> f64 {
        let mut rng = DetRng::from_seed(3);
        (0..n)
            .map(|_| dist.sample_nanos(&mut rng) as f64 / 1e6)
            .sum::<f64>()
            / n as f64
    }

    #[test]
    fn sample_means_match_the_distributions() {
        for spec in [
            "constant:2",
            "uniform:1:3",
            "exponential:2",
            "lognormal:1:0.5",
            "pareto:1:3",
        ] {
            let dist: LatencyDist = spec.parse().unwrap();
            let expected = dist.mean_ms().unwrap();
            let got = mean_of(dist, 200_000);
            assert!(
                (got - expected).abs() / expected < 0.03,
                "{spec}: mean {got} vs {expected}"
            );
        }
    }

    #[test]
    fn pareto_has_a_heavier_tail_than_exponential() {
        let tail = |d: LatencyDist| {
            let mut rng = DetRng::from_seed(9);
            (0..100_000)
                .filter(|_| d.sample_nanos(&mut rng) > 50_000_000)
                .count()
        };
        let pareto = tail("pareto:1:1.5".parse().unwrap());
        let expo = tail("exponential:3".parse().unwrap());
        assert!(
            pareto > 10 * expo.max(1),
            "pareto {pareto} vs exponential {expo}"
        );
    }

    #[test]
    fn bad_specs_name_the_problem() {
        let err = |s: &str| s.parse::<LatencyDist>().unwrap_err().to_string();
        assert!(err("gaussian:1").contains("unknown latency distribution `gaussian`"));
        assert!(err("uniform:1").contains("uniform:MIN:MAX"));
        assert!(err("uniform:5:1").contains("MIN (5) is above MAX (1)"));
        assert!(err("constant:-1").contains("non-negative"));
        assert!(err("constant:NaN").contains("non-negative"));
        assert!(err("pareto:1:0").contains("ALPHA"));
        assert!(err("").contains("unknown latency distribution"));
    }

    proptest! {
        #[test]
        fn display_round_trips(min in 0.0f64..1e4, extra in 0.0f64..1e4, kind in 0usize..5) {
            let dist = match kind {
                0 => LatencyDist::Constant { ms: min },
                1 => LatencyDist::Uniform { min, max: min + extra },
                2 => LatencyDist::Exponential { mean: min },
                3 => LatencyDist::LogNormal { median: min, sigma: extra },
                _ => LatencyDist::Pareto { min, alpha: extra + 0.01 },
            };
            prop_assert_eq!(dist.to_string().parse::<LatencyDist>().unwrap(), dist);
        }

        #[test]
        fn samples_are_bounded(seed: u64, kind in 0usize..5) {
            let dist = ["constant:0", "uniform:0:5", "exponential:1", "lognormal:1:3", "pareto:0.1:0.2"][kind]
                .parse::<LatencyDist>().unwrap();
            let mut rng = DetRng::from_seed(seed);
            for _ in 0..32 {
                prop_assert!(dist.sample_nanos(&mut rng) <= MAX_LATENCY_NANOS);
            }
        }
    }
}

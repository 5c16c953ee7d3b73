//! Passive health: an endpoint whose requests keep failing is ejected from balancing for
//! a while, longer each time it is ejected again, and never so many at once that the
//! rest are swamped.
//!
//! The starting points are Envoy's outlier-detection defaults: five consecutive
//! failures eject; the first ejection lasts 30 s, each later one 30 s more (up to
//! 300 s); at most 10% of the endpoints are ejected at once. Unlike Envoy (which ejects
//! one endpoint whatever the percentage says), the fraction here is a hard bound: with
//! fewer than ten endpoints at 10%, none is ejected; say 0.2 or more for small pools.

use std::collections::BTreeMap;
use std::time::Duration;

/// When endpoints are ejected.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct OutlierSettings {
    /// Consecutive failures that eject an endpoint.
    pub consecutive_failures: u32,
    /// How long the first ejection lasts; the n-th lasts n times this.
    pub base_ejection: Duration,
    /// The longest an ejection lasts.
    pub max_ejection: Duration,
    /// The most endpoints ejected at once, as a fraction of all (rounded down).
    pub max_ejected_fraction: f64,
}

impl Default for OutlierSettings {
    fn default() -> Self {
        OutlierSettings {
            consecutive_failures: 5,
            base_ejection: Duration::from_secs(30),
            max_ejection: Duration::from_secs(300),
            max_ejected_fraction: 0.1,
        }
    }
}

/// Why outlier settings were refused.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum OutlierError {
    /// Zero consecutive failures would eject on success.
    #[error("consecutive failures must be at least one")]
    ZeroFailures,
    /// The fraction is not in [0, 1].
    #[error("the ejected fraction must be in [0, 1], not {0}")]
    Fraction(f64),
    /// The base ejection is zero or longer than the maximum.
    #[error("the base ejection must be more than zero and at most the maximum")]
    Ejection,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Health {
    consecutive: u32,
    ejections: u32,
    /// Ejected until this time (ns), if ejected.
    until: Option<u64>,
}

/// What [`Outliers::record`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing changed.
    Kept,
    /// Ejected until this time (ns).
    Ejected {
        /// Until, ns.
        until: u64,
    },
    /// Ejection was due, but as many as may be are ejected already.
    HeldBack,
}

/// The health of a set of endpoints named by `Id`.
#[derive(Clone, Debug)]
pub struct Outliers<Id> {
    settings: OutlierSettings,
    hosts: BTreeMap<Id, Health>,
}

impl<Id: Ord + Clone> Outliers<Id> {
    /// No endpoints yet.
    pub fn new(settings: OutlierSettings) -> Result<Outliers<Id>, OutlierError> {
        if settings.consecutive_failures == 0 {
            return Err(OutlierError::ZeroFailures);
        }
        if !(0.0..=1.0).contains(&settings.max_ejected_fraction) {
            return Err(OutlierError::Fraction(settings.max_ejected_fraction));
        }
        if settings.base_ejection.is_zero() || settings.base_ejection > settings.max_ejection {
            return Err(OutlierError::Ejection);
        }
        Ok(Outliers {
            settings,
            hosts: BTreeMap::new(),
        })
    }

    /// Track endpoint `id` (healthy).
    pub fn insert(&mut self, id: Id) {
        self.hosts.entry(id).or_default();
    }

    /// Stop tracking `id`.
    pub fn remove(&mut self, id: &Id) {
        self.hosts.remove(id);
    }

    /// Whether `id` is ejected at `now`.
    pub fn is_ejected(&self, id: &Id, now: u64) -> bool {
        self.hosts
            .get(id)
            .is_some_and(|h| h.until.is_some_and(|until| now < until))
    }

    /// How many are ejected at `now`.
    pub fn ejected(&self, now: u64) -> usize {
        self.hosts
            .values()
            .filter(|h| h.until.is_some_and(|until| now < until))
            .count()
    }

    /// The most that may be ejected at once.
    pub fn max_ejected(&self) -> usize {
        (self.hosts.len() as f64 * self.settings.max_ejected_fraction).floor() as usize
    }

    /// A request to `id` ended at `now`, well or not.
    pub fn record(&mut self, id: &Id, ok: bool, now: u64) -> Verdict {
        let room = self.max_ejected().saturating_sub(self.ejected(now));
        let settings = self.settings;
        let Some(health) = self.hosts.get_mut(id) else {
            return Verdict::Kept;
        };
        if health.until.is_some_and(|until| now >= until) {
            // Back from an ejection: it starts afresh (but remembers how often it went).
            health.until = None;
            health.consecutive = 0;
        }
        if ok {
            health.consecutive = 0;
            return Verdict::Kept;
        }
        health.consecutive = health.consecutive.saturating_add(1);
        if health.until.is_some() || health.consecutive < settings.consecutive_failures {
            return Verdict::Kept;
        }
        if room == 0 {
            return Verdict::HeldBack;
        }
        health.ejections = health.ejections.saturating_add(1);
        let lasts = settings
            .base_ejection
            .saturating_mul(health.ejections)
            .min(settings.max_ejection);
        let until = now.saturating_add(u64::try_from(lasts.as_nanos()).unwrap_or(u64::MAX));
        health.until = Some(until);
        health.consecutive = 0;
        Verdict::Ejected { until }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const S: u64 = 1_000_000_000;

    fn outliers(n: u32, fraction: f64) -> Outliers<u32> {
        let mut o = Outliers::new(OutlierSettings {
            max_ejected_fraction: fraction,
            ..OutlierSettings::default()
        })
        .unwrap();
        for id in 0..n {
            o.insert(id);
        }
        o
    }

    #[test]
    fn five_failures_in_a_row_eject_for_longer_each_time() {
        let mut o = outliers(10, 0.1);
        for _ in 0..4 {
            assert_eq!(o.record(&3, false, 0), Verdict::Kept);
        }
        assert_eq!(
            o.record(&3, true, 0),
            Verdict::Kept,
            "a success resets the count"
        );
        for _ in 0..4 {
            o.record(&3, false, 0);
        }
        assert_eq!(o.record(&3, false, 0), Verdict::Ejected { until: 30 * S });
        assert!(o.is_ejected(&3, 29 * S) && !o.is_ejected(&3, 30 * S));
        for _ in 0..4 {
            o.record(&3, false, 31 * S);
        }
        assert_eq!(
            o.record(&3, false, 31 * S),
            Verdict::Ejected { until: 91 * S },
            "the second ejection lasts twice as long"
        );
        // Another endpoint failing meanwhile is held back: one of ten is the most.
        for _ in 0..4 {
            o.record(&4, false, 40 * S);
        }
        assert_eq!(o.record(&4, false, 40 * S), Verdict::HeldBack);
        assert_eq!(o.ejected(40 * S), 1);
    }

    #[test]
    fn bad_settings_are_refused() {
        let bad = |s: OutlierSettings| Outliers::<u32>::new(s).unwrap_err();
        let d = OutlierSettings::default();
        assert_eq!(
            bad(OutlierSettings {
                consecutive_failures: 0,
                ..d
            }),
            OutlierError::ZeroFailures
        );
        assert!(matches!(
            bad(OutlierSettings {
                max_ejected_fraction: 1.5,
                ..d
            }),
            OutlierError::Fraction(_)
        ));
        assert!(matches!(
            bad(OutlierSettings {
                max_ejected_fraction: f64::NAN,
                ..d
            }),
            OutlierError::Fraction(_)
        ));
        assert_eq!(
            bad(OutlierSettings {
                base_ejection: Duration::ZERO,
                ..d
            }),
            OutlierError::Ejection
        );
        assert_eq!(
            bad(OutlierSettings {
                base_ejection: Duration::from_secs(400),
                ..d
            }),
            OutlierError::Ejection
        );
    }

    proptest! {
        /// Whatever fails and when: never more ejected at once than the fraction allows.
        #[test]
        fn never_more_ejected_than_the_fraction_allows(
            n in 1u32..30,
            fraction in 0.0f64..=1.0,
            events in proptest::collection::vec((0u32..30, any::<bool>(), 0u64..5_000), 1..400),
        ) {
            let mut o = outliers(n, fraction);
            let mut now = 0;
            for (id, ok, step_ms) in events {
                now += step_ms * 1_000_000;
                o.record(&(id % n), ok && id % 3 != 0, now);
                prop_assert!(o.ejected(now) <= o.max_ejected(), "{} > {}", o.ejected(now), o.max_ejected());
            }
        }
    }
}

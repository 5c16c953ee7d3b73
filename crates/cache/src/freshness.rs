//! When an entry is fresh, due for a refresh, or expired, as a function of time alone, so
//! the same rules run on a real clock and on the simulator's virtual one.
//!
//! - **Expire-after-write** is a hard backstop: an entry is never served once that long
//!   has passed since it was written, whatever a refresh is doing. (Caffeine-style caches
//!   with refresh-after-write can serve a stale value for ever when a refresh hangs; here
//!   a hanging refresh cannot extend an entry's life.)
//! - **Refresh-ahead**: after `refresh_after`, the entry is still served but due for a
//!   reload. A reload in flight for longer than `refresh_after` does not hold the next one
//!   back, so refresh keeps firing when loads are slower than the refresh interval.
//! - **Probabilistic early expiration** (XFetch, Vattani, Chierichetti and Lowenstein,
//!   "Optimal Probabilistic Cache Stampede Prevention", VLDB 2015): a reader recomputes
//!   early when `now - recompute * beta * ln(u) >= expiry` for `u` uniform in (0, 1], so
//!   the entry is refreshed just before it expires by about one reader, not by all of
//!   them at once. `beta = 1` is the paper's choice; above 1 refreshes earlier.
//! - **TTL jitter**: each entry's lifetime is shortened by a random fraction up to
//!   `jitter`, so entries written together do not all expire together.
//!
//! Times are durations since any fixed epoch.

use std::time::Duration;

/// A setting no cache can honour.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum FreshnessError {
    /// A zero expire-after-write (nothing could ever be served).
    #[error("expire-after-write must be more than zero")]
    ZeroExpiry,
    /// A refresh interval that is zero or not shorter than the expiry.
    #[error(
        "refresh-after ({refresh:?}) must be more than zero and less than expire-after-write ({expiry:?})"
    )]
    RefreshNotBeforeExpiry {
        /// The refresh interval asked for.
        refresh: Duration,
        /// The expiry.
        expiry: Duration,
    },
    /// XFetch's beta not a positive finite number.
    #[error("early expiration's beta must be a positive finite number, not {0}")]
    Beta(f64),
    /// A jitter fraction outside [0, 1).
    #[error("TTL jitter must be a fraction in [0, 1), not {0}")]
    Jitter(f64),
}

/// How long entries live, and when they are refreshed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Freshness {
    expire_after_write: Duration,
    refresh_after: Option<Duration>,
    beta: Option<f64>,
    jitter: f64,
}

/// What is known of one entry's age.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stamp {
    /// When it was written.
    pub written: Duration,
    /// When it expires (its jittered expire-after-write).
    pub expires: Duration,
    /// How long the load that produced it took: XFetch's delta.
    pub recompute: Duration,
    /// When the reload in flight started, if one is.
    pub refreshing_since: Option<Duration>,
}

/// What to do with an entry now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Fresh,
    /// Serve it, and reload it (refresh-ahead or early expiration).
    Refresh,
    /// Do not serve it: load.
    Expired,
}

impl Freshness {
    /// Entries that expire `expire_after_write` after they are written.
    pub fn new(expire_after_write: Duration) -> Result<Self, FreshnessError> {
        if expire_after_write.is_zero() {
            return Err(FreshnessError::ZeroExpiry);
        }
        Ok(Freshness {
            expire_after_write,
            refresh_after: None,
            beta: None,
            jitter: 0.0,
        })
    }

    /// Reload entries older than `refresh` in the background while serving them.
    pub fn refresh_after(self, refresh: Duration) -> Result<Self, FreshnessError> {
        if refresh.is_zero() || refresh >= self.expire_after_write {
            return Err(FreshnessError::RefreshNotBeforeExpiry {
                refresh,
                expiry: self.expire_after_write,
            });
        }
        Ok(Freshness {
            refresh_after: Some(refresh),
            ..self
        })
    }

    /// Recompute early with XFetch's `beta` (1.0 is the paper's choice).
    pub fn early_expiration(self, beta: f64) -> Result<Self, FreshnessError> {
        if !(beta.is_finite() && beta > 0.0) {
            return Err(FreshnessError::Beta(beta));
        }
        Ok(Freshness {
            beta: Some(beta),
            ..self
        })
    }

    /// Shorten each entry's lifetime by a random fraction of it up to `fraction`.
    pub fn jitter(self, fraction: f64) -> Result<Self, FreshnessError> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(FreshnessError::Jitter(fraction));
        }
        Ok(Freshness {
            jitter: fraction,
            ..self
        })
    }

    /// Whether [`Freshness::judge`] uses its draw (only early expiration does): a hit
    /// need not pay for one otherwise.
    pub fn draws(&self) -> bool {
        self.beta.is_some()
    }

    /// The expire-after-write backstop.
    pub fn expire_after_write(&self) -> Duration {
        self.expire_after_write
    }

    /// The stamp of an entry written at `now` by a load that took `recompute`; `draw`,
    /// uniform in [0, 1], picks its jitter.
    pub fn stamp(&self, now: Duration, recompute: Duration, draw: f64) -> Stamp {
        let cut = self.jitter * draw.clamp(0.0, 1.0);
        Stamp {
            written: now,
            expires: now + self.expire_after_write.mul_f64(1.0 - cut),
            recompute,
            refreshing_since: None,
        }
    }

    /// What to do with the entry stamped `stamp` at `now`; `draw`, uniform in (0, 1],
    /// is XFetch's.
    pub fn judge(&self, stamp: &Stamp, now: Duration, draw: f64) -> Verdict {
        // The backstop first, and on the unjittered bound too: nothing outlives it.
        if now >= stamp.expires || now >= stamp.written + self.expire_after_write {
            return Verdict::Expired;
        }
        // A reload in flight holds the next one back only while it is younger than the
        // refresh interval (or, without one, than its own last load took).
        let patience = self.refresh_after.unwrap_or(stamp.recompute);
        let reloading = stamp
            .refreshing_since
            .is_some_and(|since| now < since + patience);
        if reloading {
            return Verdict::Fresh;
        }
        if self
            .refresh_after
            .is_some_and(|refresh| now >= stamp.written + refresh)
        {
            return Verdict::Refresh;
        }
        if let Some(beta) = self.beta {
            // -ln(u) for u in (0, 1] is in [0, inf); a draw of 0 counts as the smallest.
            let u = draw.clamp(f64::MIN_POSITIVE, 1.0);
            let ahead = stamp.recompute.as_secs_f64() * beta * -u.ln();
            if now.as_secs_f64() + ahead >= stamp.expires.as_secs_f64() {
                return Verdict::Refresh;
            }
        }
        Verdict::Fresh
    }
}

#[cfg(test)]
mod tests;

//! Resilience patterns for services that call other services, on a clock you choose.
//!
//! Every time-based component takes a [`Clock`]: [`SystemClock`] in production
//! ([`CoarseClock`], time read from memory, where a few nanoseconds per call matter),
//! [`ManualClock`] in tests, so behaviour over minutes is tested in microseconds and
//! exactly. Handles are cheap to clone and clones share state: cloning a limiter never
//! multiplies its limit. Invalid configuration is a [`ConfigError`], never a panic.
//!
//! - [`retry`]: backoff with full, equal or decorrelated jitter ([`retry::Backoff`]);
//!   retry budgets ([`retry::RetryBudget`]); `Retry-After` parsing
//!   ([`retry::parse_retry_after`]).
//! - [`rate`]: rate limiters behind one [`rate::Limiter`] API: GCRA, token bucket, leaky
//!   bucket, fixed window, sliding log, sliding window counter.
//! - [`adaptive`]: concurrency limits that follow the dependency — AIMD, Vegas and a
//!   gradient limit ([`adaptive::AdaptiveLimiter`]).
//! - [`shed`]: load shedding by queue time, CoDel-style ([`shed::QueueTimeShedder`]),
//!   and client-side admission by the backend's success ratio
//!   ([`shed::SuccessRatioAdmission`]).
//! - [`bulkhead`]: at most so many calls at once and so many waiting, first come first
//!   served ([`bulkhead::Bulkhead`]).
//! - [`events`]: state changes to a listener, a channel, or `metrics` counters.
//! - [`layer`] (feature `tower`, on by default): each of them as a tower `Layer`,
//!   retries included.
//! - [`breaker`]: a circuit breaker ([`breaker::CircuitBreaker`]) with count- or
//!   time-based windows, failure and slow-call rates or consecutive failures, exactly N
//!   half-open probes, open time with backoff and jitter, and operator overrides.
//! - `demo` (feature `demo`): every pattern against one flaky service on virtual time,
//!   the table `dsys resilience` prints. It runs on the simulator's event queue and
//!   seeded generator, so the feature brings in `dsys-sim`.

pub mod adaptive;
pub mod breaker;
pub mod bulkhead;
mod clock;
#[cfg(feature = "demo")]
pub mod demo;
mod error;
pub mod events;
#[cfg(feature = "tower")]
pub mod layer;
mod random;
pub mod rate;
pub mod retry;
pub mod shed;
mod sync;
pub mod timeout;

pub use clock::{Clock, CoarseClock, CoarseClockError, ManualClock, SystemClock};
pub use error::{ConfigError, panic_message};
pub use random::Draws;

//! Running an operation with retries: backoff between attempts, a limit on attempts, an
//! overall deadline passed down to each attempt, a per-attempt timeout, a shared retry
//! budget, and the server's own `Retry-After` when the caller's classification finds one.

use super::{Backoff, RetryBudget};
use crate::events::{Event, Events};
use crate::timeout::timeout;
use crate::{Clock, ConfigError};
use std::future::Future;
use std::time::Duration;

/// What the caller's classification makes of one attempt's result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryDecision {
    /// Final: return it (a success, or an error not worth retrying).
    Done,
    /// Retry after the backoff delay.
    Retry,
    /// Retry after at least this long (the server asked, e.g. by `Retry-After`); capped
    /// by the backoff's maximum delay.
    RetryAfter(Duration),
}

/// One attempt, as the operation sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// 1 for the first call, 2 for the first retry, ...
    pub number: u32,
    /// Time left before the overall deadline, if there is one: pass it on to the
    /// dependency so it does not work on past the caller's patience.
    pub remaining: Option<Duration>,
}

/// Why the operation did not succeed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RetryError<E> {
    /// The last attempt failed and no retry was left (attempts, deadline or budget).
    #[error("failed after {attempts} attempts")]
    Failed {
        /// The last error.
        last: E,
        /// Attempts made.
        attempts: u32,
    },
    /// The last attempt ran out of time.
    #[error("timed out after {attempts} attempts")]
    TimedOut {
        /// Attempts made.
        attempts: u32,
    },
}

/// A retry policy. Clones share the budget, if any.
#[derive(Clone, Debug)]
pub struct Retry<C> {
    backoff: Backoff,
    max_attempts: u32,
    deadline: Option<Duration>,
    per_attempt: Option<Duration>,
    budget: Option<RetryBudget>,
    seed: u64,
    events: Events,
    clock: C,
}

impl<C: Clock> Retry<C> {
    /// At most `max_attempts` attempts (at least 1), `backoff` between them.
    pub fn new(backoff: Backoff, max_attempts: u32, clock: C) -> Result<Self, ConfigError> {
        if max_attempts == 0 {
            return Err(ConfigError::Zero {
                name: "max attempts",
            });
        }
        Ok(Retry {
            backoff,
            max_attempts,
            deadline: None,
            per_attempt: None,
            budget: None,
            seed: 0,
            events: Events::default(),
            clock,
        })
    }

    /// Give up once `total` has passed since the first attempt began.
    pub fn with_deadline(mut self, total: Duration) -> Self {
        self.deadline = Some(total);
        self
    }

    /// Abandon an attempt after `max` (and retry it, if allowed).
    pub fn with_attempt_timeout(mut self, max: Duration) -> Self {
        self.per_attempt = Some(max);
        self
    }

    /// Retry only while `budget` allows (one deposit per operation, one withdrawal per
    /// retry).
    pub fn with_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Jitter from `seed` (the same seed gives the same delays).
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Tell `events` of each retry before its wait.
    pub fn with_events(mut self, events: Events) -> Self {
        self.events = events;
        self
    }

    /// Run `op` until `classify` says done, a limit is reached, or it succeeds. `sleep`
    /// sleeps on the caller's runtime.
    pub async fn run<T, E, Op, Fut, S, SF>(
        &self,
        mut op: Op,
        classify: impl Fn(&Result<T, E>) -> RetryDecision,
        mut sleep: S,
    ) -> Result<T, RetryError<E>>
    where
        Op: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
        S: FnMut(Duration) -> SF,
        SF: Future<Output = ()>,
    {
        let mut progress = self.begin();
        loop {
            let (attempt, limit) = self.attempt(&progress);
            let attempt = op(attempt);
            let outcome = match limit {
                Some(max) => timeout(max, attempt, &mut sleep).await,
                None => Ok(attempt.await),
            };
            let verdict = match &outcome {
                Ok(result) => classify(result),
                Err(_) => RetryDecision::Retry,
            };
            match self.after(&mut progress, verdict) {
                Some(wait) => sleep(wait).await,
                None => {
                    let attempts = progress.number;
                    return match outcome {
                        Ok(Ok(t)) => Ok(t),
                        Ok(Err(last)) => Err(RetryError::Failed { last, attempts }),
                        Err(_) => Err(RetryError::TimedOut { attempts }),
                    };
                }
            }
        }
    }

    /// A new operation: its start, its delays, and its deposit in the budget. The steps
    /// of an operation ([`Retry::begin`], then [`Retry::attempt`] and [`Retry::after`] for
    /// each attempt) are shared by [`Retry::run`] and the tower retry layer.
    pub(crate) fn begin(&self) -> Progress {
        if let Some(budget) = &self.budget {
            budget.deposit();
        }
        Progress {
            start: self.clock.now(),
            delays: self.backoff.delays(self.seed),
            number: 1,
        }
    }

    /// Time left before the overall deadline, if there is one.
    fn remaining(&self, progress: &Progress) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_sub(self.clock.now() - progress.start))
    }

    /// The next attempt, and how long it may take: the per-attempt timeout or the time
    /// left, whichever is shorter.
    pub(crate) fn attempt(&self, progress: &Progress) -> (Attempt, Option<Duration>) {
        let left = self.remaining(progress);
        let limit = match (self.per_attempt, left) {
            (Some(a), Some(l)) => Some(a.min(l)),
            (a, l) => a.or(l),
        };
        let attempt = Attempt {
            number: progress.number,
            remaining: left,
        };
        (attempt, limit)
    }

    /// After an attempt judged `verdict`: how long to wait before the next one, or `None`
    /// to finish with this attempt's outcome (done, out of attempts, time or budget).
    pub(crate) fn after(
        &self,
        progress: &mut Progress,
        verdict: RetryDecision,
    ) -> Option<Duration> {
        let wait = match verdict {
            RetryDecision::Done => return None,
            RetryDecision::Retry => progress.delays.next().unwrap_or_default(),
            RetryDecision::RetryAfter(asked) => {
                let backoff = progress.delays.next().unwrap_or_default();
                asked.min(self.backoff.exponential(u32::MAX)).max(backoff)
            }
        };
        let out_of_time = self.remaining(progress).is_some_and(|left| wait >= left);
        let no_budget = || {
            self.budget
                .as_ref()
                .is_some_and(|b| b.try_withdraw().is_none())
        };
        if progress.number >= self.max_attempts || out_of_time || no_budget() {
            return None;
        }
        progress.number += 1;
        self.events.emit(|| Event::Retrying {
            attempt: progress.number,
            after: wait,
        });
        Some(wait)
    }
}

/// Where one operation's retries stand.
#[derive(Debug)]
pub(crate) struct Progress {
    start: Duration,
    delays: super::Delays,
    /// The attempt under way (1 for the first).
    pub(crate) number: u32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use crate::retry::Jitter;
    use std::cell::Cell;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// Drive a future whose every wait is a `ManualClock` sleep (ready at once).
    fn ready<F: Future>(f: F) -> F::Output {
        match pin!(f)
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(out) => out,
            Poll::Pending => panic!("a wait that is not a clock sleep"),
        }
    }

    fn policy(clock: &ManualClock) -> Retry<ManualClock> {
        let backoff = Backoff::new(ms(100), ms(1_000), Jitter::None).unwrap();
        Retry::new(backoff, 4, clock.clone()).unwrap()
    }

    /// A sleep on the manual clock that moves it when first polled: a timer that loses
    /// its race is never polled, so it takes no time.
    fn sleeper(
        clock: &ManualClock,
    ) -> impl FnMut(Duration) -> std::pin::Pin<Box<dyn Future<Output = ()>>> + '_ {
        move |d| {
            let clock = clock.clone();
            Box::pin(async move { clock.advance(d) })
        }
    }

    /// What an operation that always fails with "down" ends with after `attempts`.
    fn down_after(attempts: u32) -> Result<(), RetryError<&'static str>> {
        Err(RetryError::Failed {
            last: "down",
            attempts,
        })
    }

    fn on_error<T, E>(r: &Result<T, E>) -> RetryDecision {
        if r.is_ok() {
            RetryDecision::Done
        } else {
            RetryDecision::Retry
        }
    }

    #[test]
    fn it_retries_with_backoff_until_success() {
        let clock = ManualClock::new();
        let calls = Cell::new(0);
        let out = ready(policy(&clock).run(
            |a: Attempt| {
                calls.set(a.number);
                std::future::ready(if a.number < 3 {
                    Err("busy")
                } else {
                    Ok(a.number)
                })
            },
            on_error,
            sleeper(&clock),
        ));
        assert_eq!(out, Ok(3));
        assert_eq!(clock.now(), ms(100 + 200), "slept 100 ms then 200 ms");
    }

    #[test]
    fn attempts_run_out_with_the_last_error() {
        let clock = ManualClock::new();
        let out = ready(policy(&clock).run(
            |_| std::future::ready(Err::<(), _>("down")),
            on_error,
            sleeper(&clock),
        ));
        assert_eq!(out, down_after(4));
        assert_eq!(clock.now(), ms(100 + 200 + 400));
    }

    #[test]
    fn the_deadline_stops_retries_and_is_passed_down() {
        let clock = ManualClock::new();
        let seen = Cell::new(None);
        let out = ready(policy(&clock).with_deadline(ms(250)).run(
            |a: Attempt| {
                seen.set(a.remaining);
                std::future::ready(Err::<(), _>("down"))
            },
            on_error,
            sleeper(&clock),
        ));
        // 100 ms, then the 200 ms wait would pass the deadline: two attempts.
        assert_eq!(out, down_after(2));
        assert_eq!(seen.get(), Some(ms(150)));
    }

    #[test]
    fn a_server_hint_stretches_the_wait_and_done_stops_at_once() {
        let clock = ManualClock::new();
        let out = ready(policy(&clock).run(
            |a: Attempt| std::future::ready(if a.number == 1 { Err(503) } else { Err(400) }),
            |r: &Result<(), u16>| match r {
                Err(503) => RetryDecision::RetryAfter(ms(700)),
                _ => RetryDecision::Done,
            },
            sleeper(&clock),
        ));
        assert_eq!(
            out,
            Err(RetryError::Failed {
                last: 400,
                attempts: 2
            })
        );
        assert_eq!(clock.now(), ms(700));
        // A hint beyond the backoff's maximum is capped at it.
        let clock = ManualClock::new();
        let _ = ready(policy(&clock).run(
            |a: Attempt| std::future::ready(if a.number == 1 { Err(503) } else { Ok(()) }),
            |r: &Result<(), u16>| {
                if r.is_err() {
                    RetryDecision::RetryAfter(ms(60_000))
                } else {
                    RetryDecision::Done
                }
            },
            sleeper(&clock),
        ));
        assert_eq!(clock.now(), ms(1_000));
    }

    #[test]
    fn the_budget_bounds_retries_across_operations() {
        let clock = ManualClock::new();
        let budget = RetryBudget::new(0.5, 10, 100).unwrap();
        let p = policy(&clock).with_budget(budget.clone());
        let mut retries = 0;
        for _ in 0..4 {
            let out = ready(p.run(
                |_| std::future::ready(Err::<(), _>("down")),
                on_error,
                sleeper(&clock),
            ));
            if let Err(RetryError::Failed { attempts, .. }) = out {
                retries += attempts - 1;
            }
        }
        // Four operations earn two retries at a ratio of 0.5.
        assert_eq!(retries, 2);
    }

    #[test]
    fn a_hung_attempt_times_out_and_is_retried() {
        let clock = ManualClock::new();
        let out = ready(policy(&clock).with_attempt_timeout(ms(50)).run(
            |a: Attempt| async move {
                if a.number == 1 {
                    std::future::pending::<()>().await;
                }
                Ok::<_, ()>(a.number)
            },
            on_error,
            sleeper(&clock),
        ));
        assert_eq!(out, Ok(2));
        assert_eq!(clock.now(), ms(50 + 100));
        let clock = ManualClock::new();
        let hung = ready(
            Retry::new(
                Backoff::new(ms(1), ms(1), Jitter::None).unwrap(),
                1,
                clock.clone(),
            )
            .unwrap()
            .with_attempt_timeout(ms(5))
            .run(
                |_| std::future::pending::<Result<(), ()>>(),
                on_error,
                sleeper(&clock),
            ),
        );
        assert_eq!(hung, Err(RetryError::TimedOut { attempts: 1 }));
        assert!(Retry::new(Backoff::new(ms(1), ms(1), Jitter::None).unwrap(), 0, clock).is_err());
    }
}

//! What the components tell the outside world: state changes, worth a log line, an alert
//! or a counter. A component built without [`Events`] (the default) pays one branch on an
//! empty option where an event would be; nothing on its hot paths, which have none.
//!
//! A listener is any `Fn(&str, &Event)`, a channel ([`std::sync::mpsc::Sender`], for a
//! stream read elsewhere), or with the `metrics` feature [`MetricsListener`], which counts
//! events through the `metrics` facade for whatever recorder the service installed.

use crate::breaker::State;
use std::sync::Arc;
use std::time::Duration;

/// Something a component did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A circuit breaker changed state.
    Transition {
        /// The state it left.
        from: State,
        /// The state it entered.
        to: State,
    },
    /// An adaptive concurrency limit changed.
    LimitChanged {
        /// The old limit.
        from: u32,
        /// The new limit.
        to: u32,
    },
    /// A retry is about to be made.
    Retrying {
        /// The attempt about to be made (2 for the first retry).
        attempt: u32,
        /// After this long.
        after: Duration,
    },
}

impl Event {
    /// The event's kind, for metric names and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Transition { .. } => "transition",
            Event::LimitChanged { .. } => "limit_changed",
            Event::Retrying { .. } => "retrying",
        }
    }
}

/// Receives events.
pub trait Listener: Send + Sync + 'static {
    /// `source` (the name the component was given) did `event`.
    fn on_event(&self, source: &str, event: &Event);
}

impl<F: Fn(&str, &Event) + Send + Sync + 'static> Listener for F {
    fn on_event(&self, source: &str, event: &Event) {
        self(source, event);
    }
}

/// An event stream: each event sent down the channel with its source. A receiver that
/// has gone away is ignored.
impl Listener for std::sync::mpsc::Sender<(String, Event)> {
    fn on_event(&self, source: &str, event: &Event) {
        let _ = self.send((source.to_string(), event.clone()));
    }
}

struct Named {
    source: Box<str>,
    listener: Box<dyn Listener>,
}

/// Where a component sends its events: nowhere (the default), or a named listener.
#[derive(Clone, Default)]
pub struct Events {
    to: Option<Arc<Named>>,
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.to {
            Some(named) => write!(f, "Events({:?})", named.source),
            None => f.write_str("Events(none)"),
        }
    }
}

impl Events {
    /// Events from a component called `source`, to `listener`.
    pub fn new(source: impl Into<Box<str>>, listener: impl Listener) -> Events {
        Events {
            to: Some(Arc::new(Named {
                source: source.into(),
                listener: Box::new(listener),
            })),
        }
    }

    /// Send the event `make` builds, if anyone listens (it is not built otherwise).
    #[inline]
    pub(crate) fn emit(&self, make: impl FnOnce() -> Event) {
        if let Some(named) = &self.to {
            named.listener.on_event(&named.source, &make());
        }
    }
}

/// Counts events through the `metrics` facade: `dsys_resilience_events_total`, labelled
/// with the source, the kind, and for a transition the state entered; and sets the gauge
/// `dsys_resilience_concurrency_limit` on a limit change.
#[cfg(feature = "metrics")]
#[derive(Clone, Copy, Debug, Default)]
pub struct MetricsListener;

#[cfg(feature = "metrics")]
impl Listener for MetricsListener {
    fn on_event(&self, source: &str, event: &Event) {
        let source = source.to_string();
        match event {
            Event::Transition { to, .. } => metrics::counter!(
                "dsys_resilience_events_total",
                "source" => source,
                "kind" => event.kind(),
                "to" => to.name(),
            )
            .increment(1),
            Event::LimitChanged { to, .. } => {
                metrics::gauge!("dsys_resilience_concurrency_limit", "source" => source.clone())
                    .set(f64::from(*to));
                metrics::counter!(
                    "dsys_resilience_events_total",
                    "source" => source,
                    "kind" => event.kind(),
                )
                .increment(1);
            }
            Event::Retrying { .. } => metrics::counter!(
                "dsys_resilience_events_total",
                "source" => source,
                "kind" => event.kind(),
            )
            .increment(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ManualClock;
    use crate::adaptive::{AdaptiveLimiter, Aimd, Bounds};
    use crate::breaker::{BreakerConfig, CircuitBreaker, Trip};
    use crate::retry::{Backoff, Jitter, Retry, RetryDecision};
    use std::sync::Mutex;
    use std::sync::mpsc;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn breaker(events: Events, clock: &ManualClock) -> CircuitBreaker<ManualClock> {
        let config = BreakerConfig::default()
            .with_trip(Trip::Consecutive(1))
            .with_open_for(Backoff::new(ms(10), ms(10), Jitter::None).unwrap())
            .with_probes(1);
        CircuitBreaker::observed(config, clock.clone(), events).unwrap()
    }

    /// Trip, wait, probe successfully.
    fn cycle(b: &CircuitBreaker<ManualClock>, clock: &ManualClock) {
        b.try_acquire().unwrap().failure();
        clock.advance(ms(10));
        b.try_acquire().unwrap().success();
    }

    #[test]
    fn a_breaker_streams_its_transitions() {
        let (tx, rx) = mpsc::channel();
        let clock = ManualClock::new();
        let b = breaker(Events::new("payments", tx), &clock);
        cycle(&b, &clock);
        let seen: Vec<_> = rx.try_iter().collect();
        let t = |from, to| ("payments".to_string(), Event::Transition { from, to });
        assert_eq!(
            seen,
            [
                t(State::Closed, State::Open),
                t(State::Open, State::HalfOpen),
                t(State::HalfOpen, State::Closed)
            ]
        );
    }

    #[test]
    fn limits_and_retries_are_reported_to_a_closure() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = {
            let seen = Arc::clone(&seen);
            move |source: &str, e: &Event| seen.lock().unwrap().push(format!("{source}: {e:?}"))
        };
        let limiter = AdaptiveLimiter::observed(
            Aimd::new(Bounds::new(1, 1, 10).unwrap(), 0.5).unwrap(),
            ManualClock::new(),
            Events::new("db", log.clone()),
        );
        limiter.try_acquire().unwrap().success();
        let clock = ManualClock::new();
        let retry = Retry::new(Backoff::new(ms(5), ms(5), Jitter::None).unwrap(), 3, clock)
            .unwrap()
            .with_events(Events::new("api", log));
        let run = retry.run(
            |_| std::future::ready(Err::<(), ()>(())),
            |_: &Result<(), ()>| RetryDecision::Retry,
            |_| std::future::ready(()),
        );
        let mut run = std::pin::pin!(run);
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(run.as_mut().poll(&mut cx).is_ready());
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "db: LimitChanged { from: 1, to: 2 }",
                "api: Retrying { attempt: 2, after: 5ms }",
                "api: Retrying { attempt: 3, after: 5ms }",
            ]
        );
    }

    #[cfg(feature = "metrics")]
    mod metrics_counters {
        use super::*;
        use metrics::{Counter, CounterFn, Gauge, Histogram, Key, KeyName, Metadata, Recorder};
        use metrics::{SharedString, Unit};
        use std::collections::BTreeMap;
        use std::sync::atomic::{AtomicU64, Ordering};

        /// Counts increments per metric name and labels.
        #[derive(Default)]
        struct Tally(Mutex<BTreeMap<String, Arc<Count>>>);

        #[derive(Default)]
        struct Count(AtomicU64);

        impl CounterFn for Count {
            fn increment(&self, value: u64) {
                self.0.fetch_add(value, Ordering::Relaxed);
            }
            fn absolute(&self, value: u64) {
                self.0.store(value, Ordering::Relaxed);
            }
        }

        impl Recorder for Tally {
            fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
            fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
            fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
            fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
                let labels: Vec<_> = key
                    .labels()
                    .map(|l| format!("{}={}", l.key(), l.value()))
                    .collect();
                let name = format!("{}{{{}}}", key.name(), labels.join(","));
                let count = Arc::clone(self.0.lock().unwrap().entry(name).or_default());
                Counter::from_arc(count)
            }
            fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
                Gauge::noop()
            }
            fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
                Histogram::noop()
            }
        }

        #[test]
        fn transitions_become_counters() {
            let tally = Tally::default();
            metrics::with_local_recorder(&tally, || {
                let clock = ManualClock::new();
                let b = breaker(Events::new("payments", MetricsListener), &clock);
                cycle(&b, &clock);
                cycle(&b, &clock);
            });
            let counts: BTreeMap<_, _> = tally
                .0
                .lock()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.0.load(Ordering::Relaxed)))
                .collect();
            let key = |to| {
                format!("dsys_resilience_events_total{{source=payments,kind=transition,to={to}}}")
            };
            assert_eq!(counts[&key("open")], 2);
            assert_eq!(counts[&key("half_open")], 2);
            assert_eq!(counts[&key("closed")], 2);
        }
    }
}

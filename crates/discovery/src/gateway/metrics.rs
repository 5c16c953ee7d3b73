//! The gateway's Prometheus metrics: counters and a latency histogram per route, lock-free
//! on the request path, written in Prometheus' text exposition format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Latency bucket bounds, in seconds (Prometheus' default buckets).
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Why the gateway answered a request itself, not the backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Over the route's rate limit (429).
    RateLimited,
    /// The route's circuit breaker is open (503).
    BreakerOpen,
    /// No endpoint to send it to (503).
    NoEndpoint,
    /// The request timed out (504).
    Timeout,
    /// The backend could not be reached or failed mid-answer (502).
    Upstream,
    /// The request body was too large (413).
    TooLarge,
}

impl Refusal {
    const ALL: [Refusal; 6] = [
        Refusal::RateLimited,
        Refusal::BreakerOpen,
        Refusal::NoEndpoint,
        Refusal::Timeout,
        Refusal::Upstream,
        Refusal::TooLarge,
    ];

    fn name(self) -> &'static str {
        match self {
            Refusal::RateLimited => "rate_limited",
            Refusal::BreakerOpen => "breaker_open",
            Refusal::NoEndpoint => "no_endpoint",
            Refusal::Timeout => "timeout",
            Refusal::Upstream => "upstream_error",
            Refusal::TooLarge => "too_large",
        }
    }
}

/// One route's numbers.
#[derive(Debug, Default)]
pub struct RouteMetrics {
    /// Responses by status class: 1xx..5xx.
    classes: [AtomicU64; 5],
    refusals: [AtomicU64; 6],
    /// Tries sent to backends (first tries and retries).
    attempts: AtomicU64,
    /// Responses by the first bucket bound they are within (not cumulative).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl RouteMetrics {
    /// A response with `status` after `took`.
    pub fn responded(&self, status: u16, took: Duration) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.classes[class].fetch_add(1, Ordering::Relaxed);
        // One count in the first bucket that holds it (none past the last bound: +Inf
        // is the total); the exposition sums them into Prometheus' cumulative buckets.
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&bound| secs <= bound) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let ns = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        self.sum_ns.fetch_add(ns, Ordering::Relaxed);
    }

    /// The gateway answered for the reason given.
    pub fn refused(&self, why: Refusal) {
        let i = Refusal::ALL.iter().position(|r| *r == why).unwrap_or(0);
        self.refusals[i].fetch_add(1, Ordering::Relaxed);
    }

    /// A try went to a backend.
    pub fn attempted(&self) {
        self.attempts.fetch_add(1, Ordering::Relaxed);
    }
}

/// What one route shows besides its counters.
#[derive(Debug)]
pub struct RouteGauges<'a> {
    /// The route's name in labels (its prefix, with its host if any).
    pub route: &'a str,
    /// The numbers.
    pub metrics: &'a RouteMetrics,
    /// Endpoints discovered.
    pub endpoints: usize,
    /// Endpoints ejected now.
    pub ejected: usize,
    /// Endpoints active health checks found down now.
    pub down: usize,
    /// Whether the breaker is open.
    pub breaker_open: bool,
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The text exposition of every route.
pub fn render(routes: &[RouteGauges<'_>]) -> String {
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, lines: &mut dyn FnMut(&mut String)| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        lines(&mut out);
    };
    family(
        "dsys_gateway_responses_total",
        "counter",
        "Responses sent, by route and status class.",
        &mut |out| {
            for r in routes {
                for (i, n) in r.metrics.classes.iter().enumerate() {
                    let _ = writeln!(
                        out,
                        "dsys_gateway_responses_total{{route=\"{}\",class=\"{}xx\"}} {}",
                        label(r.route),
                        i + 1,
                        n.load(Ordering::Relaxed)
                    );
                }
            }
        },
    );
    family(
        "dsys_gateway_refusals_total",
        "counter",
        "Requests the gateway answered itself, by route and reason.",
        &mut |out| {
            for r in routes {
                for (why, n) in Refusal::ALL.iter().zip(&r.metrics.refusals) {
                    let _ = writeln!(
                        out,
                        "dsys_gateway_refusals_total{{route=\"{}\",reason=\"{}\"}} {}",
                        label(r.route),
                        why.name(),
                        n.load(Ordering::Relaxed)
                    );
                }
            }
        },
    );
    family(
        "dsys_gateway_upstream_attempts_total",
        "counter",
        "Tries sent to backends, first tries and retries.",
        &mut |out| {
            for r in routes {
                let n = r.metrics.attempts.load(Ordering::Relaxed);
                let _ = writeln!(
                    out,
                    "dsys_gateway_upstream_attempts_total{{route=\"{}\"}} {n}",
                    label(r.route)
                );
            }
        },
    );
    family(
        "dsys_gateway_request_duration_seconds",
        "histogram",
        "Time from a request's arrival to its response head, by route.",
        &mut |out| {
            for r in routes {
                let route = label(r.route);
                let mut below = 0;
                for (bound, n) in BUCKETS.iter().zip(&r.metrics.buckets) {
                    below += n.load(Ordering::Relaxed);
                    let _ = writeln!(
                        out,
                        "dsys_gateway_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {below}"
                    );
                }
                let count = r.metrics.count.load(Ordering::Relaxed);
                let sum = r.metrics.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
                let _ = writeln!(
                    out,
                    "dsys_gateway_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {count}"
                );
                let _ = writeln!(
                    out,
                    "dsys_gateway_request_duration_seconds_sum{{route=\"{route}\"}} {sum}"
                );
                let _ = writeln!(
                    out,
                    "dsys_gateway_request_duration_seconds_count{{route=\"{route}\"}} {count}"
                );
            }
        },
    );
    for (name, help, value) in [
        (
            "dsys_gateway_endpoints",
            "Endpoints discovered, by route.",
            (|r: &RouteGauges<'_>| r.endpoints as u64) as fn(&RouteGauges<'_>) -> u64,
        ),
        (
            "dsys_gateway_endpoints_ejected",
            "Endpoints ejected as outliers now, by route.",
            |r| r.ejected as u64,
        ),
        (
            "dsys_gateway_endpoints_down",
            "Endpoints active health checks found down now, by route.",
            |r| r.down as u64,
        ),
        (
            "dsys_gateway_breaker_open",
            "1 while the route's circuit breaker is open.",
            |r| u64::from(r.breaker_open),
        ),
    ] {
        family(name, "gauge", help, &mut |out| {
            for r in routes {
                let _ = writeln!(out, "{name}{{route=\"{}\"}} {}", label(r.route), value(r));
            }
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_counts_and_buckets_cumulatively() {
        let m = RouteMetrics::default();
        m.responded(200, Duration::from_millis(3));
        m.responded(503, Duration::from_millis(300));
        m.refused(Refusal::RateLimited);
        m.attempted();
        let text = render(&[RouteGauges {
            route: "api \"v1\"",
            metrics: &m,
            endpoints: 3,
            ejected: 1,
            down: 2,
            breaker_open: false,
        }]);
        for line in [
            r#"dsys_gateway_responses_total{route="api \"v1\"",class="2xx"} 1"#,
            r#"dsys_gateway_responses_total{route="api \"v1\"",class="5xx"} 1"#,
            r#"dsys_gateway_refusals_total{route="api \"v1\"",reason="rate_limited"} 1"#,
            r#"dsys_gateway_request_duration_seconds_bucket{route="api \"v1\"",le="0.005"} 1"#,
            r#"dsys_gateway_request_duration_seconds_bucket{route="api \"v1\"",le="0.25"} 1"#,
            r#"dsys_gateway_request_duration_seconds_bucket{route="api \"v1\"",le="0.5"} 2"#,
            r#"dsys_gateway_request_duration_seconds_bucket{route="api \"v1\"",le="+Inf"} 2"#,
            r#"dsys_gateway_request_duration_seconds_count{route="api \"v1\""} 2"#,
            r#"dsys_gateway_endpoints{route="api \"v1\""} 3"#,
            r#"dsys_gateway_endpoints_ejected{route="api \"v1\""} 1"#,
            r#"dsys_gateway_endpoints_down{route="api \"v1\""} 2"#,
            "# TYPE dsys_gateway_request_duration_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }
}

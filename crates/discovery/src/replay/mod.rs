//! The balancers against simulated backends on virtual time, replaying published
//! experiments with the same traffic (the same seed) for every policy.
//!
//! - `tower`: tower-balance's demo (2018), whose published run gave round robin a p999
//!   of about 988 ms and the power of two choices over peak EWMA about 105 ms. Ten
//!   endpoints answer in a time drawn uniformly below 1, 10 (four of them), 100 (four)
//!   and 1,000 ms; 50 callers each send their next request as soon as the last one is
//!   answered, 50,000 requests in all.
//! - `linkerd`: Linkerd's "Beyond Round Robin" (2016), run on Finagle's load-balancer
//!   simulation (`finagle-benchmark`'s `Simulation.scala`, its "slow middle" backend):
//!   eleven backends with a median latency of 167 ms, 1,000 requests a second for 60 s,
//!   one backend ten times slower (about 2 s) from 15 s to 45 s; published: about 95% of
//!   requests within 1 s for round robin, 99% for least loaded, 99.9% for peak EWMA. The
//!   simulation has no timeout: a request runs to its answer and the balancer learns its
//!   full latency; "within 1 s" is counted by the caller. Finagle drew latencies from
//!   recorded pings (`real_latencies.data`: tightly around 167 ms, nearly all between
//!   165 and 200 ms); here they are log-normal around 167 ms with a sigma of 0.03. (The
//!   order of the three policies holds for sigmas up to 0.5 at least; peak EWMA's
//!   success falls from 99.92% to about 99.86% there.)
//!
//! And [`staleness`]: how long a killed instance stays in a client's view under a lease
//! registry and under heartbeats with caches, and the traffic it takes meanwhile.
//!
//! A request's latency does not depend on the endpoint's load: what separates the
//! policies is how much traffic each sends to the slow endpoints.

mod chart;
pub mod staleness;

pub use chart::svg;
mod world;

use crate::balance::Policy;
use serde::Serialize;
pub use world::run;

/// How one backend answers.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Latency {
    /// Uniformly below this many ms.
    UniformBelow {
        /// The bound, ms.
        ms: u64,
    },
    /// Log-normal: this median, this spread (the sigma of its logarithm).
    LogNormal {
        /// The median, ms.
        median_ms: f64,
        /// The sigma of the logarithm.
        sigma: f64,
    },
}

/// A time when one backend is slow.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Slow {
    /// Which backend (its place in the list).
    pub backend: usize,
    /// From, s.
    pub from_s: f64,
    /// Until, s.
    pub until_s: f64,
    /// How many times slower it answers meanwhile.
    pub factor: u32,
}

/// How requests arrive.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum Traffic {
    /// Callers each with one request out at a time, `requests` in all.
    Closed {
        /// Callers.
        callers: u32,
        /// Requests in all.
        requests: u64,
    },
    /// Arrivals at random (Poisson) at `rate` a second, for `seconds`.
    Open {
        /// Requests a second.
        rate: u32,
        /// Seconds.
        seconds: u32,
    },
}

/// One experiment's setting.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Experiment {
    /// Its name in tables.
    pub name: &'static str,
    /// Each backend's latency.
    pub backends: Vec<Latency>,
    /// A slow spell, if any.
    pub slow: Option<Slow>,
    /// The traffic.
    pub traffic: Traffic,
    /// Callers count a request answered after this many ms as failed (it runs on to its
    /// answer, and the balancer learns its whole latency).
    pub deadline_ms: Option<u64>,
    /// The seed of the arrivals, latency draws and the balancers' choices.
    pub seed: u64,
}

impl Experiment {
    /// tower-balance's demo: endpoints below 1, 4x10, 4x100 and 1,000 ms, 50 callers,
    /// 50,000 requests.
    pub fn tower(seed: u64) -> Experiment {
        Experiment {
            name: "tower",
            backends: [1, 10, 10, 10, 10, 100, 100, 100, 100, 1_000]
                .map(|ms| Latency::UniformBelow { ms })
                .to_vec(),
            slow: None,
            traffic: Traffic::Closed {
                callers: 50,
                requests: 50_000,
            },
            deadline_ms: None,
            seed,
        }
    }

    /// Linkerd's: eleven backends around 167 ms, 1,000 requests a second for 60 s, one
    /// backend ten times slower from 15 s to 45 s, a 1 s deadline.
    pub fn linkerd(seed: u64) -> Experiment {
        Experiment {
            name: "linkerd",
            backends: vec![
                Latency::LogNormal {
                    median_ms: 167.0,
                    sigma: 0.03,
                };
                11
            ],
            slow: Some(Slow {
                backend: 10,
                from_s: 15.0,
                until_s: 45.0,
                factor: 10,
            }),
            traffic: Traffic::Open {
                rate: 1_000,
                seconds: 60,
            },
            deadline_ms: Some(1_000),
            seed,
        }
    }

    /// The experiment called `name`.
    pub fn named(name: &str, seed: u64) -> Option<Experiment> {
        match name {
            "tower" => Some(Experiment::tower(seed)),
            "linkerd" => Some(Experiment::linkerd(seed)),
            _ => None,
        }
    }

    /// Every balancing experiment's name (the registry's is `registry`,
    /// [`staleness`]).
    pub const NAMES: [&'static str; 2] = ["tower", "linkerd"];

    /// Every replay's name, the registry's included.
    pub const ALL: [&'static str; 3] = ["tower", "linkerd", "registry"];
}

/// What one policy did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The policy.
    pub policy: &'static str,
    /// Requests sent.
    pub requests: u64,
    /// Requests answered within the deadline (all, without one), as a fraction.
    pub success: f64,
    /// Latency percentiles over every request, ms.
    pub p50_ms: f64,
    /// 99th.
    pub p99_ms: f64,
    /// 99.9th.
    pub p999_ms: f64,
    /// The share of requests sent to each backend, in the experiment's order.
    pub shares: Vec<f64>,
}

/// Every policy on `experiment`, in table order.
pub fn run_all(experiment: &Experiment) -> Vec<Row> {
    Policy::ALL.iter().map(|&p| run(experiment, p)).collect()
}

/// The rows as a table.
pub fn table(experiment: &Experiment, rows: &[Row]) -> String {
    let mut out = describe(experiment) + "\n\n";
    out += &format!(
        "{:<16} {:>9} {:>9} {:>9} {:>9} {:>9} {:>11}\n",
        "policy", "requests", "success", "p50 ms", "p99 ms", "p999 ms", "to slowest"
    );
    let slowest = experiment
        .slow
        .map_or(experiment.backends.len().saturating_sub(1), |s| s.backend);
    for r in rows {
        out += &format!(
            "{:<16} {:>9} {:>8.2}% {:>9.1} {:>9.1} {:>9.1} {:>10.2}%\n",
            r.policy,
            r.requests,
            r.success * 100.0,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.shares.get(slowest).copied().unwrap_or(0.0) * 100.0
        );
    }
    out
}

pub(crate) fn describe(e: &Experiment) -> String {
    let traffic = match e.traffic {
        Traffic::Closed { callers, requests } => format!("{callers} callers, {requests} requests"),
        Traffic::Open { rate, seconds } => format!("{rate} requests/s for {seconds} s"),
    };
    let backends = match e.backends.first() {
        Some(Latency::LogNormal { median_ms, .. })
            if e.backends.iter().all(|b| b == &e.backends[0]) =>
        {
            format!("{} backends around {median_ms} ms", e.backends.len())
        }
        _ => {
            let bounds: Vec<String> = e
                .backends
                .iter()
                .map(|b| match b {
                    Latency::UniformBelow { ms } => ms.to_string(),
                    Latency::LogNormal { median_ms, .. } => format!("~{median_ms}"),
                })
                .collect();
            format!(
                "backends answering uniformly below [{}] ms",
                bounds.join(", ")
            )
        }
    };
    let slow = e.slow.map_or(String::new(), |s| {
        format!(
            ", backend {} {}x slower from {} s to {} s",
            s.backend, s.factor, s.from_s, s.until_s
        )
    });
    let deadline = e
        .deadline_ms
        .map_or(String::new(), |t| format!(", success within {t} ms"));
    format!(
        "{}: {backends}{slow}, {traffic}{deadline}, seed {}",
        e.name, e.seed
    )
}

#[cfg(test)]
mod tests;

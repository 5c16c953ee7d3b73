//! The balancers against simulated backends on virtual time, replaying published
//! experiments with the same traffic (the same seed) for every policy.
//!
//! `tower`: tower-balance's demo (2018), whose published run gave round robin a p999 of
//! about 988 ms and the power of two choices over peak EWMA about 105 ms. Ten endpoints
//! answer in a time drawn uniformly below 1, 10 (four of them), 100 (four) and 1,000 ms;
//! 50 callers each send their next request as soon as the last one is answered, 50,000
//! requests in all. The latency of a request does not depend on the endpoint's load, so
//! what separates the policies is only how much traffic each sends to the slow ones.

use crate::balance::{Balancer, Policy, Settings};
use dsys_check::stats::percentile;
use dsys_node::{DetRng, Instant};
use dsys_sim::queue::EventQueue;
use serde::Serialize;
use std::time::Duration;

/// One experiment's setting.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Experiment {
    /// Its name in tables.
    pub name: &'static str,
    /// Each endpoint's latency bound: a request takes a uniform time below it.
    pub endpoints_ms: Vec<u64>,
    /// Callers, each with one request out at a time.
    pub callers: u32,
    /// Requests in all.
    pub requests: u64,
    /// The seed of the latency draws and the balancers' choices.
    pub seed: u64,
}

impl Experiment {
    /// tower-balance's demo: endpoints below 1, 4x10, 4x100 and 1,000 ms, 50 callers,
    /// 50,000 requests.
    pub fn tower(seed: u64) -> Experiment {
        Experiment {
            name: "tower",
            endpoints_ms: vec![1, 10, 10, 10, 10, 100, 100, 100, 100, 1_000],
            callers: 50,
            requests: 50_000,
            seed,
        }
    }
}

/// What one policy did.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Row {
    /// The policy.
    pub policy: &'static str,
    /// Requests answered.
    pub requests: u64,
    /// Latency percentiles, ms.
    pub p50_ms: f64,
    /// 99th.
    pub p99_ms: f64,
    /// 99.9th.
    pub p999_ms: f64,
    /// The share of requests sent to each endpoint, in the experiment's order.
    pub shares: Vec<f64>,
    /// Virtual time the run took, s.
    pub seconds: f64,
}

/// A response due.
struct Due {
    endpoint: usize,
    sent: u64,
}

/// Run `experiment` with `policy`.
pub fn run(experiment: &Experiment, policy: Policy) -> Row {
    let mut balancer: Balancer<usize> =
        Balancer::new(Settings::new(policy)).unwrap_or_else(|_| unreachable!("10 s decay"));
    for endpoint in 0..experiment.endpoints_ms.len() {
        balancer.insert(endpoint, 0);
    }
    // Separate streams: the latencies drawn do not depend on the choices made.
    let mut choices = DetRng::from_seed(experiment.seed ^ 0x0c40_1ce5);
    let mut latencies = DetRng::from_seed(experiment.seed);
    let mut queue = EventQueue::default();
    let mut counts = vec![0u64; experiment.endpoints_ms.len()];
    let mut sent = 0u64;
    let mut send = |now: u64, balancer: &mut Balancer<usize>, queue: &mut EventQueue<Due>| {
        let Some(endpoint) = balancer.pick(now, || choices.next_u64()) else {
            return;
        };
        counts[endpoint] += 1;
        let bound = experiment.endpoints_ms[endpoint] * 1_000_000;
        let took = latencies.below(bound.max(1));
        queue.push(
            Instant::from_nanos(now + took),
            Due {
                endpoint,
                sent: now,
            },
        );
    };
    for _ in 0..experiment
        .callers
        .min(u32::try_from(experiment.requests).unwrap_or(u32::MAX))
    {
        send(0, &mut balancer, &mut queue);
        sent += 1;
    }
    let mut taken = Vec::with_capacity(experiment.requests as usize);
    let mut end = 0;
    while let Some((at, due)) = queue.pop() {
        let now = at.as_nanos();
        end = now;
        let rtt = now - due.sent;
        balancer.finish(&due.endpoint, Duration::from_nanos(rtt), now);
        taken.push(rtt);
        if sent < experiment.requests {
            send(now, &mut balancer, &mut queue);
            sent += 1;
        }
    }
    taken.sort_unstable();
    let ms = |p: f64| percentile(&taken, p) as f64 / 1e6;
    let total = counts.iter().sum::<u64>().max(1) as f64;
    Row {
        policy: policy.name(),
        requests: taken.len() as u64,
        p50_ms: ms(50.0),
        p99_ms: ms(99.0),
        p999_ms: ms(99.9),
        shares: counts.iter().map(|&c| c as f64 / total).collect(),
        seconds: end as f64 / 1e9,
    }
}

/// Every policy on `experiment`, in table order.
pub fn run_all(experiment: &Experiment) -> Vec<Row> {
    Policy::ALL.iter().map(|&p| run(experiment, p)).collect()
}

/// The rows as a table.
pub fn table(experiment: &Experiment, rows: &[Row]) -> String {
    let mut out = format!(
        "{}: endpoints answering uniformly below {:?} ms, {} callers, {} requests, seed {}\n\n",
        experiment.name,
        experiment.endpoints_ms,
        experiment.callers,
        experiment.requests,
        experiment.seed
    );
    out += &format!(
        "{:<16} {:>9} {:>9} {:>9} {:>9} {:>12}\n",
        "policy", "requests", "p50 ms", "p99 ms", "p999 ms", "to slowest"
    );
    for r in rows {
        out += &format!(
            "{:<16} {:>9} {:>9.1} {:>9.1} {:>9.1} {:>11.2}%\n",
            r.policy,
            r.requests,
            r.p50_ms,
            r.p99_ms,
            r.p999_ms,
            r.shares.last().copied().unwrap_or(0.0) * 100.0
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published shape: round robin's p999 near 988 ms (it sends a tenth of the
    /// traffic to the endpoint answering below a second), the two choices over peak
    /// EWMA within 20% of 105 ms; least requests between.
    #[test]
    fn the_tower_replay_has_the_published_shape() {
        let rows = run_all(&Experiment::tower(1));
        let p999 = |name: &str| rows.iter().find(|r| r.policy == name).map(|r| r.p999_ms);
        let (rr, lr, pe) = (
            p999("round-robin").unwrap(),
            p999("least-requests").unwrap(),
            p999("p2c-peak-ewma").unwrap(),
        );
        eprintln!("{}", table(&Experiment::tower(1), &rows));
        assert!((950.0..1_000.0).contains(&rr), "round robin p999 {rr}");
        assert!(
            (84.0..=126.0).contains(&pe),
            "peak EWMA p999 {pe} not within 20% of 105"
        );
        assert!(pe < lr && lr < rr, "{pe} < {lr} < {rr}");
        assert!(rows.iter().all(|r| r.requests == 50_000));
    }

    #[test]
    fn one_seed_one_table() {
        let e = Experiment {
            requests: 2_000,
            ..Experiment::tower(9)
        };
        assert_eq!(run_all(&e), run_all(&e));
    }
}

//! One replay run: arrivals and answers on the simulator's event queue.

use super::{Experiment, Latency, Row, Traffic};
use crate::balance::{Balancer, Policy, Settings};
use dsys_check::stats::percentile;
use dsys_node::{DetRng, Instant};
use dsys_sim::queue::EventQueue;
use std::time::Duration;

const MS: u64 = 1_000_000;

enum Event {
    /// The next open-loop arrival.
    Arrive,
    /// Request `id`'s answer.
    Answer { id: usize },
}

struct Request {
    backend: usize,
    sent: u64,
}

struct World<'a> {
    experiment: &'a Experiment,
    balancer: Balancer<usize>,
    queue: EventQueue<Event>,
    /// Separate streams: the latencies drawn do not depend on the choices made.
    choices: DetRng,
    latencies: DetRng,
    arrivals: DetRng,
    sessions: DetRng,
    requests: Vec<Request>,
    counts: Vec<u64>,
    taken: Vec<u64>,
    answered: u64,
}

/// Run `experiment` with `policy`.
pub fn run(experiment: &Experiment, policy: Policy) -> Row {
    let mut balancer: Balancer<usize> =
        Balancer::new(Settings::new(policy)).unwrap_or_else(|_| unreachable!("a 10 s decay"));
    for backend in 0..experiment.backends.len() {
        balancer.insert(backend, 0);
    }
    let mut world = World {
        experiment,
        balancer,
        queue: EventQueue::default(),
        choices: DetRng::from_seed(experiment.seed ^ 0x0c40_1ce5),
        latencies: DetRng::from_seed(experiment.seed),
        arrivals: DetRng::from_seed(experiment.seed ^ 0x0a77_17e5),
        sessions: DetRng::from_seed(experiment.seed ^ 0x5e55_1015),
        requests: Vec::new(),
        counts: vec![0; experiment.backends.len()],
        taken: Vec::new(),
        answered: 0,
    };
    match experiment.traffic {
        Traffic::Closed { callers, requests } => {
            for _ in 0..u64::from(callers).min(requests) {
                world.send(0);
            }
        }
        Traffic::Open { .. } => world.queue.push(Instant::ZERO, Event::Arrive),
    }
    while let Some((at, event)) = world.queue.pop() {
        world.handle(at.as_nanos(), event);
    }
    world.row(policy)
}

impl World<'_> {
    fn send(&mut self, now: u64) {
        // Each request belongs to one of 1,000 sessions (what consistent hashing keys on).
        let session = format!("session-{}", self.sessions.below(1_000));
        let choices = &mut self.choices;
        let Some(backend) =
            self.balancer
                .pick_keyed(now, session.as_bytes(), || choices.next_u64(), |_| true)
        else {
            return;
        };
        self.counts[backend] += 1;
        let took = self.latency(backend, now);
        let id = self.requests.len();
        self.requests.push(Request { backend, sent: now });
        self.queue
            .push(Instant::from_nanos(now + took), Event::Answer { id });
    }

    fn latency(&mut self, backend: usize, now: u64) -> u64 {
        let normal = match self.experiment.backends[backend] {
            Latency::UniformBelow { ms } => self.latencies.below((ms * MS).max(1)),
            Latency::LogNormal { median_ms, sigma } => {
                // Box-Muller: a standard normal from two uniforms in (0, 1].
                let u1 = 1.0 - self.latencies.unit_f64();
                let u2 = self.latencies.unit_f64();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                (median_ms * (sigma * z).exp() * MS as f64) as u64
            }
        };
        match self.experiment.slow {
            Some(slow)
                if slow.backend == backend
                    && (slow.from_s..slow.until_s).contains(&(now as f64 / 1e9)) =>
            {
                normal.saturating_mul(u64::from(slow.factor))
            }
            _ => normal,
        }
    }

    fn handle(&mut self, now: u64, event: Event) {
        match event {
            Event::Arrive => {
                let Traffic::Open { rate, seconds } = self.experiment.traffic else {
                    return;
                };
                self.send(now);
                let gap = -(1.0 - self.arrivals.unit_f64()).ln() / f64::from(rate.max(1));
                let next = now + (gap * 1e9) as u64;
                if next < u64::from(seconds) * 1_000 * MS {
                    self.queue.push(Instant::from_nanos(next), Event::Arrive);
                }
            }
            Event::Answer { id } => {
                let request = &self.requests[id];
                let (backend, rtt) = (request.backend, now - request.sent);
                self.balancer
                    .finish(&backend, Duration::from_nanos(rtt), now);
                let within = self.experiment.deadline_ms.is_none_or(|d| rtt <= d * MS);
                self.answered += u64::from(within);
                self.taken.push(rtt);
                if let Traffic::Closed { requests, .. } = self.experiment.traffic {
                    if (self.requests.len() as u64) < requests {
                        self.send(now);
                    }
                }
            }
        }
    }

    fn row(mut self, policy: Policy) -> Row {
        self.taken.sort_unstable();
        let ms = |p: f64| percentile(&self.taken, p) as f64 / 1e6;
        let sent = self.requests.len() as u64;
        let total = self.counts.iter().sum::<u64>().max(1) as f64;
        Row {
            policy: policy.name(),
            requests: sent,
            success: self.answered as f64 / sent.max(1) as f64,
            p50_ms: ms(50.0),
            p99_ms: ms(99.0),
            p999_ms: ms(99.9),
            shares: self.counts.iter().map(|&c| c as f64 / total).collect(),
        }
    }
}

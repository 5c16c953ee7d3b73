//! Resilience settings per dependency: timeouts from the latency budget, retries with a
//! budget, circuit breakers, bulkheads; rate limits per service.

use crate::design::{Decision, Rule, Topic};
use crate::spec::{Service, Spec};

/// The latency budget of a service no objective covers, milliseconds.
pub const DEFAULT_BUDGET_MS: f64 = 1_000.0;

/// Timeouts, retries, breaker and bulkhead for one call path.
pub const CALL_POLICY: Rule = Rule {
    id: "RES-CALL-POLICY",
    statement: "Each call gets a timeout that fits the caller's latency budget with one retry (budget split over its dependencies, halved for the retry); retries back off exponentially with full jitter and stay within 10% of calls; a breaker opens when half the calls of the last 10 s failed (at least 20), and a bulkhead caps concurrent calls at twice what Little's law predicts at peak.",
    citation: "B. Beyer et al., Site Reliability Engineering, ch. 21-22 (Handling Overload, Cascading Failures), 2016; M. Brooker, Exponential Backoff And Jitter, AWS Architecture Blog, 2015; M. Nygard, Release It!, 2nd ed., 2018; J. Little, A Proof for the Queuing Formula L = λW, 1961",
    triggers: "a service that depends_on another",
    evidence: &[],
};

/// A rate limit at a service's front door.
pub const RATE_LIMIT: Rule = Rule {
    id: "RES-RATE-LIMIT",
    statement: "A service with a known peak takes at most 20% above it (token bucket, one second of burst) and sheds the rest at once, instead of queueing into its own timeouts.",
    citation: "B. Beyer et al., Site Reliability Engineering, ch. 21, 2016",
    triggers: "a service with requests_per_sec above 0",
    evidence: &[],
};

/// The latency budget of `s`: the tightest objective on the data it touches.
pub fn budget_ms(spec: &Spec, s: &Service) -> f64 {
    spec.slos
        .iter()
        .filter(|slo| {
            let data = slo.data.get_ref();
            s.writes.iter().chain(&s.reads).any(|d| d.get_ref() == data)
        })
        .map(|slo| *slo.p99_ms.get_ref())
        .fold(f64::INFINITY, f64::min)
        .min(DEFAULT_BUDGET_MS)
}

/// The resilience decisions: one per dependency, one rate limit per service with a peak.
pub fn decide(spec: &Spec) -> Vec<Decision> {
    let mut out = Vec::new();
    for s in &spec.services {
        let name = s.name.get_ref();
        let budget = budget_ms(spec, s);
        let calls = s.depends_on.len().max(1) as f64;
        let attempt_ms = (budget / calls / 2.0).floor().max(1.0);
        for dep in &s.depends_on {
            let in_flight = (s.requests_per_sec * attempt_ms / 1000.0 * 2.0)
                .ceil()
                .max(10.0);
            out.push(
                Decision::new(Topic::Resilience, &format!("{name} -> {}", dep.get_ref()), CALL_POLICY, format!("timeout {attempt_ms:.0} ms, 1 retry, breaker, bulkhead of {in_flight:.0}"))
                    .set("timeout", format!("{attempt_ms:.0} ms per attempt"))
                    .set("retries", "1, exponential backoff from 25 ms with full jitter, within a 10% retry budget; only idempotent calls")
                    .set("breaker", "open at 50% failures over at least 20 calls in 10 s; probe after 5 s")
                    .set("bulkhead", format!("{in_flight:.0} concurrent calls"))
                    .because(format!(
                        "{name}'s latency budget: {budget:.0} ms over {} dependenc{}",
                        s.depends_on.len(),
                        if s.depends_on.len() == 1 { "y" } else { "ies" }
                    ))
                    .because(format!("{:.0} requests/s at peak", s.requests_per_sec))
                    .rejects("no timeout", "a slow dependency holds the caller's threads until it too is slow")
                    .rejects("retries without a budget", "under overload every retry multiplies the load on a struggling dependency"),
            );
        }
        if s.requests_per_sec > 0.0 {
            let limit = (s.requests_per_sec * 1.2).ceil();
            let d = Decision::new(
                Topic::Resilience,
                name,
                RATE_LIMIT,
                format!("token bucket, {limit:.0} requests/s"),
            )
            .set("rate", format!("{limit:.0}/s"))
            .set("burst", format!("{limit:.0}"))
            .because(format!("requests_per_sec = {}", s.requests_per_sec))
            .rejects(
                "unbounded queueing",
                "past capacity, queued requests time out anyway after using capacity",
            )
            .with_id(format!("{name}/rate-limit"));
            out.push(d);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::spec;

    const TWO: &str = r#"
[[data]]
name = "orders"
kind = "booking"

[[service]]
name = "api"
regions = ["eu"]
requests_per_sec = 500
depends_on = ["orders-svc", "search"]
reads = ["orders"]

[[service]]
name = "orders-svc"
regions = ["eu"]
writes = ["orders"]

[[service]]
name = "search"
regions = ["eu"]

[[slo]]
operation = "view order"
data = "orders"
op = "read"
region = "eu"
p99_ms = 200
"#;

    #[test]
    fn timeouts_split_the_budget_and_bulkheads_follow_littles_law() {
        let s = spec(TWO);
        assert_eq!(budget_ms(&s, &s.services[0]), 200.0);
        assert_eq!(budget_ms(&s, &s.services[2]), DEFAULT_BUDGET_MS);
        let all = decide(&s);
        let call = all
            .iter()
            .find(|d| d.id == "api -> orders-svc/resilience")
            .unwrap();
        // 200 ms over two dependencies, halved for one retry.
        assert_eq!(call.settings["timeout"], "50 ms per attempt");
        // 500/s x 0.05 s x 2 = 50.
        assert_eq!(call.settings["bulkhead"], "50 concurrent calls");
        let limit = all.iter().find(|d| d.id == "api/rate-limit").unwrap();
        assert_eq!(limit.settings["rate"], "600/s");
        assert_eq!(all.len(), 3);
    }
}

//! Resilience settings per dependency: timeouts from the latency budget, retries with a
//! budget, circuit breakers, bulkheads; rate limits per service.

use super::budgets::call_budgets;
use crate::design::{Decision, Rule, Topic};
use crate::spec::Spec;

/// Timeouts, retries, breaker and bulkhead for one call path.
pub const CALL_POLICY: Rule = Rule {
    id: "RES-CALL-POLICY",
    statement: "Each call gets the budget of the tightest objective behind it (never more than its caller was given) and a timeout of half of it with one retry, or all of it without a retry where the slowest operation behind it would not finish in half; retries back off exponentially with full jitter and stay within 10% of calls; a breaker opens when half the calls of the last 10 s failed (at least 20), and a bulkhead caps concurrent calls at what Little's law predicts at peak for every attempt.",
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

/// The resilience decisions: one per dependency, one rate limit per service with a peak.
pub fn decide(spec: &Spec) -> Vec<Decision> {
    let mut out = Vec::new();
    let budgets = call_budgets(spec);
    for s in &spec.services {
        let name = s.name.get_ref();
        for dep in &s.depends_on {
            let Some(b) = budgets.get(&(name.clone(), dep.get_ref().clone())) else {
                continue;
            };
            let attempt_ms = b.timeout_ms;
            let in_flight = (s.requests_per_sec * attempt_ms / 1000.0 * (1 + b.retries) as f64)
                .ceil()
                .max(10.0);
            let retries = match b.retries {
                0 => "none: the slowest operation behind it takes over half its budget".to_string(),
                n => format!(
                    "{n}, exponential backoff from 25 ms with full jitter, within a 10% retry budget; only idempotent calls"
                ),
            };
            let decision = Decision::new(
                Topic::Resilience,
                &format!("{name} -> {}", dep.get_ref()),
                CALL_POLICY,
                format!(
                    "timeout {attempt_ms:.0} ms, {} retr{}, breaker, bulkhead of {in_flight:.0}",
                    b.retries,
                    if b.retries == 1 { "y" } else { "ies" }
                ),
            )
            .set("timeout", format!("{attempt_ms:.0} ms per attempt"))
            .set("retries", retries)
            .set(
                "breaker",
                "open at 50% failures over at least 20 calls in 10 s; probe after 5 s",
            )
            .set("bulkhead", format!("{in_flight:.0} concurrent calls"))
            .because(format!(
                "{} may take {:.0} ms ({})",
                dep.get_ref(),
                b.budget_ms,
                b.from
            ))
            .because(format!("{:.0} requests/s at peak", s.requests_per_sec));
            let decision = match &b.slowest {
                Some((floor, op, _)) => decision.because(format!(
                    "the slowest operation behind it, \"{op}\", takes at least {floor:.0} ms"
                )),
                None => decision,
            };
            out.push(
                decision
                    .rejects(
                        "no timeout",
                        "a slow dependency holds the caller's threads until it too is slow",
                    )
                    .rejects(
                        "retries without a budget",
                        "under overload every retry multiplies the load on a struggling dependency",
                    ),
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
reads = ["orders"]

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
    fn timeouts_fit_the_objectives_behind_each_call_and_bulkheads_follow_littles_law() {
        let s = spec(TWO);
        let all = decide(&s);
        let call = all
            .iter()
            .find(|d| d.id == "api -> orders-svc/resilience")
            .unwrap();
        // "view order" (200 ms) is behind orders-svc: half of it per attempt, one retry.
        assert_eq!(call.settings["timeout"], "100 ms per attempt");
        // 500/s x 0.1 s x 2 attempts = 100.
        assert_eq!(call.settings["bulkhead"], "100 concurrent calls");
        // search serves no objective: half the default.
        let search = all
            .iter()
            .find(|d| d.id == "api -> search/resilience")
            .unwrap();
        assert_eq!(search.settings["timeout"], "500 ms per attempt");
        let limit = all.iter().find(|d| d.id == "api/rate-limit").unwrap();
        assert_eq!(limit.settings["rate"], "600/s");
        assert_eq!(all.len(), 3);
    }
}

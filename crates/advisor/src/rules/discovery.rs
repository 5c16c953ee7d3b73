//! Service discovery and load balancing for the system.

use super::evidence;
use crate::design::{Decision, Rule, Topic};
use crate::spec::Spec;

const CITATION: &str = "C. Richardson, Microservices Patterns, ch. 3 (Service discovery), 2018; M. Mitzenmacher, The Power of Two Choices in Randomized Load Balancing, 2001";

/// A couple of services in one region: DNS.
pub const DNS: Rule = Rule {
    id: "DISC-DNS",
    statement: "A couple of services in one region find each other by DNS name behind a load balancer: a registry would be one more thing to run.",
    citation: CITATION,
    triggers: "at most 2 services, all in one region",
    evidence: &[],
};

/// Up to ten services: a registry and client-side balancing.
pub const CLIENT_SIDE: Rule = Rule {
    id: "DISC-CLIENT-SIDE",
    statement: "Up to ten services register with health-checked leases in a registry (such as etcd) and callers balance client-side by the power of two choices over peak-EWMA latency; a gateway per region faces the outside.",
    citation: CITATION,
    triggers: "3 to 10 services, or services in more than one region",
    evidence: &[
        evidence::PEAK_EWMA_PROTECTS_TAIL,
        evidence::LEASE_FORGETS_THE_DEAD,
    ],
};

/// More: a mesh.
pub const MESH: Rule = Rule {
    id: "DISC-MESH",
    statement: "Past ten services, discovery, balancing, retries and mutual TLS move into a service mesh's sidecars, so each service need not carry them in every language.",
    citation: CITATION,
    triggers: "more than 10 services",
    evidence: &[],
};

/// The discovery decision.
pub fn decide(spec: &Spec) -> Decision {
    let services = spec.services.len();
    let regions = spec.regions.len();
    let counts = format!(
        "{services} services in {regions} region{}",
        if regions == 1 { "" } else { "s" }
    );
    let edge = if regions > 1 {
        "a gateway per region behind latency-based DNS"
    } else {
        "one gateway"
    };
    if services <= 2 && regions == 1 {
        return Decision::new(
            Topic::Discovery,
            "system",
            DNS,
            "DNS names behind a load balancer",
        )
        .because(counts)
        .rejects(
            "a service registry",
            "nothing to discover that DNS does not already say",
        );
    }
    if services <= 10 {
        return Decision::new(
            Topic::Discovery,
            "system",
            CLIENT_SIDE,
            "registry with leases, client-side load balancing",
        )
        .set(
            "registry",
            "etcd, one key per instance under a lease renewed by heartbeat",
        )
        .set(
            "balancing",
            "power of two choices over peak-EWMA latency, outliers ejected",
        )
        .set("edge", edge)
        .because(counts)
        .rejects(
            "service mesh",
            "sidecars and a control plane for a handful of services",
        )
        .rejects(
            "DNS only",
            "TTLs keep dead instances in rotation for seconds to minutes",
        );
    }
    Decision::new(Topic::Discovery, "system", MESH, "service mesh")
        .set("edge", edge)
        .because(counts)
        .rejects(
            "client-side libraries",
            "the same discovery, retry and TLS logic kept in step across every service",
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::spec;

    fn services(n: usize) -> String {
        (0..n)
            .map(|i| format!("[[service]]\nname = \"s{i}\"\nregions = [\"eu\"]\n\n"))
            .collect()
    }

    #[test]
    fn the_number_of_services_and_regions_decides() {
        let mut s = spec(&services(2));
        assert_eq!(decide(&s).rule, CLIENT_SIDE, "two regions are defined");
        s.regions.truncate(1);
        assert_eq!(decide(&s).rule, DNS);
        assert_eq!(decide(&spec(&services(10))).rule, CLIENT_SIDE);
        let d = decide(&spec(&services(11)));
        assert_eq!(
            (d.rule, d.settings["edge"].as_str()),
            (MESH, "a gateway per region behind latency-based DNS")
        );
    }
}

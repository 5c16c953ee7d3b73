//! The decision frameworks, one module per question. Each rule is a named constant
//! ([`Rule`]) and each module a function from the spec to decisions, tested alone.

pub mod budgets;
pub mod caching;
pub mod cap;
pub mod consistency;
pub mod discovery;
pub mod evidence;
pub mod partitioning;
pub mod replication;
pub mod resilience;
pub mod transactions;

use crate::design::{Decision, Rule};
use crate::spec::{DataKind, Spec};

/// Every rule, by topic in report order: what `dsys explain` lists.
pub const ALL: &[Rule] = &[
    cap::INVARIANT,
    cap::INVARIANT_LOCAL_READS,
    cap::TIGHT_BOUND,
    cap::NO_INVARIANT,
    consistency::LINEARIZABLE,
    consistency::ORDERED_WRITES,
    consistency::CAUSAL,
    consistency::BOUNDED,
    consistency::SESSION,
    consistency::EVENTUAL,
    replication::CONSENSUS,
    replication::LEADER_PER_PARTITION,
    replication::MULTI_LEADER,
    replication::LEADER_FOLLOWER,
    partitioning::NONE,
    partitioning::GEO,
    partitioning::RANGE,
    partitioning::HASH,
    transactions::LOCAL,
    transactions::SAGA,
    transactions::OUTBOX,
    transactions::EVENT_SOURCING,
    caching::NO_CACHE_FOR_INVARIANTS,
    caching::ASIDE,
    caching::WRITE_THROUGH,
    caching::WRITE_BEHIND,
    caching::NONE,
    resilience::CALL_POLICY,
    resilience::RATE_LIMIT,
    discovery::DNS,
    discovery::CLIENT_SIDE,
    discovery::MESH,
];

/// The rule with id `id` (any case).
pub fn find(id: &str) -> Option<&'static Rule> {
    ALL.iter().find(|r| r.id.eq_ignore_ascii_case(id))
}

/// The kind, as written in the spec.
pub fn kind_name(kind: DataKind) -> &'static str {
    match kind {
        DataKind::Money => "money",
        DataKind::Inventory => "inventory",
        DataKind::Booking => "booking",
        DataKind::Chat => "chat",
        DataKind::Feed => "feed",
        DataKind::Profile => "profile",
        DataKind::Catalog => "catalog",
        DataKind::Metrics => "metrics",
        DataKind::Counter => "counter",
    }
}

/// Every decision for `spec`, in report order: per data class CAP, consistency,
/// replication, partitioning, caching; then transactions, resilience, discovery.
pub fn decide_all(spec: &Spec) -> Vec<Decision> {
    let mut out = Vec::new();
    for d in &spec.data {
        out.push(cap::decide(spec, d));
        out.push(consistency::decide(spec, d));
        out.push(replication::decide(spec, d));
        out.push(partitioning::decide(spec, d));
        out.push(caching::decide(spec, d));
    }
    out.extend(transactions::decide(spec));
    out.extend(resilience::decide(spec));
    out.push(discovery::decide(spec));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_rule_is_listed_once_and_every_demonstration_belongs_to_one() {
        let ids: BTreeSet<&str> = ALL.iter().map(|r| r.id).collect();
        assert_eq!(ids.len(), ALL.len(), "an id listed twice");
        for r in ALL {
            assert!(
                !r.triggers.is_empty() && !r.statement.is_empty(),
                "{}",
                r.id
            );
        }
        for e in evidence::ALL {
            assert!(
                ALL.iter().any(|r| r.evidence.contains(e)),
                "{} demonstrates no rule",
                e.command
            );
        }
        assert_eq!(
            find("cons-ordered-writes"),
            Some(&consistency::ORDERED_WRITES)
        );
    }

    /// Every rule a design of an example spec uses is in the list.
    #[test]
    fn the_examples_use_only_listed_rules() {
        for text in [
            include_str!("../../../../specs/checkout.toml"),
            include_str!("../../../../specs/chat.toml"),
            include_str!("../../../../specs/feed.toml"),
            include_str!("../../../../specs/url-shortener.toml"),
        ] {
            let spec = Spec::parse("example.toml", text).unwrap_or_else(|e| panic!("{e}"));
            for d in decide_all(&spec) {
                assert!(find(d.rule.id).is_some(), "{} is not in ALL", d.rule.id);
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A small spec to vary in rule tests.
    use crate::spec::Spec;

    /// Two regions 80 ms apart, one service, no data: tests append what they need.
    pub const BASE: &str = r#"
[system]
name = "test"
availability = 99.9
tolerate = ["zone"]

[[region]]
name = "eu"
zones = 3

[[region]]
name = "us"
zones = 3

[[link]]
between = ["eu", "us"]
rtt_ms = 80
"#;

    /// `BASE` plus `extra`, parsed; panics with the diagnostics if it does not parse.
    pub fn spec(extra: &str) -> Spec {
        let text = format!("{BASE}\n{extra}");
        match Spec::parse("test.toml", &text) {
            Ok(s) => s,
            Err(e) => panic!("{e}"),
        }
    }

    /// A data class of `kind` with extra lines, written by a service in `eu`.
    pub fn data(kind: &str, extra: &str) -> Spec {
        spec(&format!(
            "[[data]]\nname = \"d\"\nkind = \"{kind}\"\n{extra}\n\n[[service]]\nname = \"s\"\nregions = [\"eu\"]\nwrites = [\"d\"]\n"
        ))
    }
}

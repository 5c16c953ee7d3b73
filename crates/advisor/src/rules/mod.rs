//! The decision frameworks, one module per question. Each rule is a named constant
//! ([`Rule`]) and each module a function from the spec to decisions, tested alone.

pub mod caching;
pub mod cap;
pub mod consistency;
pub mod discovery;
pub mod evidence;
pub mod partitioning;
pub mod replication;
pub mod resilience;
pub mod transactions;

use crate::design::Decision;
use crate::spec::{DataKind, Spec};

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

//! Transaction patterns: local transactions, sagas, the transactional outbox, event
//! sourcing with CQRS.

use crate::design::{Decision, Rule, Topic};
use crate::spec::{DataKind, Spec};
use std::collections::{BTreeMap, BTreeSet};

/// One data class per service write.
pub const LOCAL: Rule = Rule {
    id: "TX-LOCAL",
    statement: "A service that writes one data class commits each change in one local transaction: no distributed protocol needed.",
    citation: "J. Gray, A. Reuter, Transaction Processing: Concepts and Techniques, 1992",
    triggers: "a service that writes one data class",
    evidence: &[],
};

/// Several data classes: a saga.
pub const SAGA: Rule = Rule {
    id: "TX-SAGA",
    statement: "A business operation that writes several data classes (each its own store) runs as a saga: a sequence of local transactions, each with a compensating action; orchestrated by one coordinator when there are three or more steps or money is involved, choreographed by events when there are two.",
    citation: "H. Garcia-Molina, K. Salem, Sagas, SIGMOD 1987; C. Richardson, Microservices Patterns, ch. 4, 2018",
    triggers: "a service that writes several data classes",
    evidence: &[],
};

/// Changes others consume: a transactional outbox.
pub const OUTBOX: Rule = Rule {
    id: "TX-OUTBOX",
    statement: "A service whose changes other services consume writes each change and its event in one local transaction (a transactional outbox) and relays the events afterwards: a dual write to a store and a broker loses or invents events when one of them fails.",
    citation: "C. Richardson, Microservices Patterns, ch. 3 (Transactional outbox), 2018",
    triggers: "a service writes a data class that other services read",
    evidence: &[],
};

/// Audit or time travel: event sourcing.
pub const EVENT_SOURCING: Rule = Rule {
    id: "TX-EVENT-SOURCING",
    statement: "Data that must be audited or queried as of a past time is stored as its events (event sourcing), with read models built from them (CQRS): the history is the data, not a log beside it.",
    citation: "M. Fowler, Event Sourcing (martinfowler.com/eaaDev/EventSourcing.html), 2005; G. Young, CQRS Documents, 2010",
    triggers: "audit = true or temporal_queries = true",
    evidence: &[],
};

/// The transaction decisions: per data class needing history, per writing service, and
/// per service whose changes others consume.
pub fn decide(spec: &Spec) -> Vec<Decision> {
    let mut out = Vec::new();
    for d in spec.data.iter().filter(|d| d.audit || d.temporal_queries) {
        let mut decision = Decision::new(
            Topic::Transactions,
            d.name.get_ref(),
            EVENT_SOURCING,
            "event sourcing with CQRS read models",
        )
        .rejects(
            "current state plus an audit table",
            "two writes that can disagree; a past state must be reconstructed by hand",
        )
        .set(
            "snapshots",
            "every 100 events per aggregate, so loading stays bounded",
        );
        if d.audit {
            decision = decision.because("audit = true");
        }
        if d.temporal_queries {
            decision = decision.because("temporal_queries = true");
        }
        out.push(decision);
    }
    // Who consumes what, built once: callers of each service, readers of each data class.
    let mut callers: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    let mut readers: BTreeMap<&str, BTreeSet<usize>> = BTreeMap::new();
    for (i, s) in spec.services.iter().enumerate() {
        for d in &s.depends_on {
            callers.entry(d.get_ref()).or_default().insert(i);
        }
        for r in &s.reads {
            readers.entry(r.get_ref()).or_default().insert(i);
        }
    }
    for (i, s) in spec.services.iter().enumerate() {
        let name = s.name.get_ref();
        let writes: Vec<&str> = s.writes.iter().map(|w| w.get_ref().as_str()).collect();
        match writes.len() {
            0 => {}
            1 => out.push(
                Decision::new(Topic::Transactions, name, LOCAL, "local transactions")
                    .because(format!("writes one data class: {}", writes[0])),
            ),
            n => {
                let money = writes.iter().any(|w| {
                    spec.data_class(w)
                        .is_some_and(|d| d.kind == DataKind::Money)
                });
                let style = if n >= 3 || money {
                    "orchestration"
                } else {
                    "choreography"
                };
                let mut decision = Decision::new(Topic::Transactions, name, SAGA, format!("saga ({style})"))
                    .set("steps", n)
                    .set("each step", "a local transaction with an idempotency key and a compensating action")
                    .because(format!("writes {n} data classes: {}", writes.join(", ")))
                    .rejects("two-phase commit", "holds locks in every store while it waits, and blocks them all while the coordinator is down")
                    .rejects("one shared database", "couples the services' schemas and deployments");
                if money {
                    decision = decision.because(
                        "money is involved: the saga's state must be explicit and auditable",
                    );
                }
                out.push(decision);
            }
        }
        let mut consumer_at: BTreeSet<usize> =
            callers.get(name.as_str()).cloned().unwrap_or_default();
        for w in &writes {
            consumer_at.extend(readers.get(w).into_iter().flatten());
        }
        consumer_at.remove(&i);
        let consumers: Vec<&str> = consumer_at
            .iter()
            .map(|&c| spec.services[c].name.get_ref().as_str())
            .collect();
        if !writes.is_empty() && !consumers.is_empty() {
            let decision = Decision::new(Topic::Transactions, &format!("{name} events"), OUTBOX, "transactional outbox, relayed at least once")
                .set("consumers", "deduplicate by event id (inbox)")
                .because(format!("{name} writes {} and {} consume it", writes.join(", "), names(&consumers)))
                .rejects("write, then publish", "a crash between the two loses the event; publishing first can announce a change that never commits")
                .with_id(format!("{name}/outbox"));
            out.push(decision);
        }
    }
    out
}

/// Names for a reason: a few, then how many more (a long list is noise, and its length
/// would grow with the square of the spec).
fn names(all: &[&str]) -> String {
    const SHOWN: usize = 5;
    if all.len() <= SHOWN {
        return all.join(", ");
    }
    format!("{} and {} more", all[..SHOWN].join(", "), all.len() - SHOWN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::spec;

    const THREE: &str = r#"
[[data]]
name = "orders"
kind = "booking"

[[data]]
name = "payments"
kind = "money"
audit = true

[[data]]
name = "stock"
kind = "inventory"
"#;

    fn service(name: &str, writes: &[&str], extra: &str) -> String {
        let list: Vec<String> = writes.iter().map(|w| format!("\"{w}\"")).collect();
        format!(
            "\n[[service]]\nname = \"{name}\"\nregions = [\"eu\"]\nwrites = [{}]\n{extra}\n",
            list.join(", ")
        )
    }

    fn rules(spec_text: &str) -> Vec<(String, &'static str, String)> {
        decide(&spec(spec_text))
            .into_iter()
            .map(|d| (d.id, d.rule.id, d.choice))
            .collect()
    }

    #[test]
    fn audit_gets_event_sourcing_and_one_write_a_local_transaction() {
        let got = rules(&format!("{THREE}{}", service("pay", &["payments"], "")));
        assert_eq!(
            got[0],
            (
                "payments/transactions".into(),
                "TX-EVENT-SOURCING",
                "event sourcing with CQRS read models".into()
            )
        );
        assert_eq!(got[1].1, "TX-LOCAL");
    }

    #[test]
    fn several_writes_make_a_saga_orchestrated_for_money_or_three_steps() {
        let got = rules(&format!(
            "{THREE}{}",
            service("checkout", &["orders", "stock"], "")
        ));
        assert_eq!(got[1].2, "saga (choreography)");
        let got = rules(&format!(
            "{THREE}{}",
            service("checkout", &["orders", "payments"], "")
        ));
        assert_eq!(got[1].2, "saga (orchestration)");
        let got = rules(&format!(
            "{THREE}{}",
            service("checkout", &["orders", "stock", "payments"], "")
        ));
        assert_eq!(got[1].2, "saga (orchestration)");
    }

    #[test]
    fn consumed_changes_go_through_an_outbox() {
        let text = format!(
            "{THREE}{}{}",
            service("orders-svc", &["orders"], ""),
            service("mail", &[], "reads = [\"orders\"]")
        );
        let got = rules(&text);
        assert!(
            got.iter()
                .any(|(id, rule, _)| id == "orders-svc/outbox" && *rule == "TX-OUTBOX"),
            "{got:?}"
        );
        // Nobody consumes payments: no outbox for it.
        let got = rules(&format!("{THREE}{}", service("pay", &["payments"], "")));
        assert!(!got.iter().any(|(_, rule, _)| *rule == "TX-OUTBOX"));
    }
}

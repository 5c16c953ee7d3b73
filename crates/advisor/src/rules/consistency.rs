//! The consistency model and session guarantees per data class.

use super::{evidence, kind_name, needs_single_order};
use crate::design::{Decision, Rule, Topic};
use crate::spec::{DataClass, DataKind, Spec};
use std::fmt;

const MODELS: &str = "M. Herlihy, J. Wing, Linearizability, TOPLAS 12(3), 1990; D. Terry et al., Session Guarantees for Weakly Consistent Replicated Data, PDIS 1994; W. Lloyd et al., Don't Settle for Eventual, SOSP 2011";

/// The models the advisor chooses between, strongest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Model {
    /// Every operation takes effect at one instant between its call and return.
    Linearizable,
    /// Effects are seen after their causes, everywhere.
    Causal,
    /// Reads are at most this many milliseconds stale.
    BoundedStaleness(u64),
    /// Eventual, plus read-your-writes and monotonic reads within a session.
    Session,
    /// Eventual, plus monotonic reads.
    EventualMonotonic,
    /// Replicas converge once writes stop.
    Eventual,
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Model::Linearizable => f.write_str("linearizable"),
            Model::Causal => f.write_str("causal (with read-your-writes)"),
            Model::BoundedStaleness(ms) => write!(f, "bounded staleness ({ms} ms)"),
            Model::Session => {
                f.write_str("eventual with session guarantees (read-your-writes, monotonic reads)")
            }
            Model::EventualMonotonic => f.write_str("eventual with monotonic reads"),
            Model::Eventual => f.write_str("eventual"),
        }
    }
}

/// An invariant needs every read to see every acknowledged write.
pub const LINEARIZABLE: Rule = Rule {
    id: "CONS-LINEARIZABLE",
    statement: "Data whose invariant is checked by reading it needs linearizable reads and writes: a stale read lets a check pass that the latest value would fail.",
    citation: MODELS,
};

/// Conversations need replies after what they answer.
pub const CAUSAL: Rule = Rule {
    id: "CONS-CAUSAL",
    statement: "Conversations need causal consistency: a reply must never be seen before the message it answers, which eventual consistency allows.",
    citation: MODELS,
};

/// A stated staleness bound.
pub const BOUNDED: Rule = Rule {
    id: "CONS-BOUNDED",
    statement: "Data with a stated staleness bound and no invariant gets bounded staleness: the cheapest model that keeps the promise.",
    citation: MODELS,
};

/// A user's own data.
pub const SESSION: Rule = Rule {
    id: "CONS-SESSION",
    statement: "A user's own data needs read-your-writes and monotonic reads (session guarantees) on top of eventual consistency: users notice their own edits vanishing, rarely others' lag.",
    citation: MODELS,
};

/// Feeds and metrics.
pub const EVENTUAL: Rule = Rule {
    id: "CONS-EVENTUAL",
    statement: "Data read in aggregate or as a stream, with no invariant and no bound, is eventually consistent; feeds add monotonic reads so items do not vanish on refresh.",
    citation: MODELS,
};

/// The model for `d` and the rule that chose it.
pub fn model(d: &DataClass) -> (Model, Rule) {
    if needs_single_order(d).is_some() {
        return (Model::Linearizable, LINEARIZABLE);
    }
    if d.kind == DataKind::Chat {
        return (Model::Causal, CAUSAL);
    }
    if let Some(bound) = &d.max_staleness_ms {
        return (Model::BoundedStaleness(*bound.get_ref()), BOUNDED);
    }
    match d.kind {
        DataKind::Profile | DataKind::Catalog => (Model::Session, SESSION),
        DataKind::Feed => (Model::EventualMonotonic, EVENTUAL),
        _ => (Model::Eventual, EVENTUAL),
    }
}

/// The consistency decision for `d`.
pub fn decide(_spec: &Spec, d: &DataClass) -> Decision {
    let (model, rule) = model(d);
    let decision = Decision::new(
        Topic::Consistency,
        d.name.get_ref(),
        rule,
        model.to_string(),
    );
    match model {
        Model::Linearizable => decision
            .because(needs_single_order(d).unwrap_or_default())
            .rejects(
                "sequential",
                "a read may return an old value: a balance check can pass on money already spent",
            )
            .rejects(
                "causal or weaker",
                "concurrent writes are not ordered, so both of two conflicting updates can succeed",
            )
            .evidence(evidence::RAFT_LINEARIZABLE),
        Model::Causal => decision
            .because("kind = chat")
            .rejects(
                "eventual",
                "a reply can arrive at a reader before the message it answers",
            )
            .rejects(
                "linearizable",
                "a cross-region round trip per message buys an order conversations do not need",
            ),
        Model::BoundedStaleness(ms) => decision
            .because(format!("max_staleness_ms = {ms}"))
            .rejects("eventual", format!("replicas may lag past {ms} ms"))
            .rejects(
                "linearizable",
                "no invariant requires reading the latest write",
            ),
        Model::Session => decision
            .because(format!("kind = {}", kind_name(d.kind)))
            .rejects(
                "eventual alone",
                "a user can save a change and read the old value back",
            )
            .rejects(
                "linearizable",
                "no invariant requires every reader to see the latest write",
            )
            .evidence(evidence::ANY_REPLICA_BREAKS_RYW),
        Model::EventualMonotonic | Model::Eventual => decision
            .because(format!(
                "kind = {} and no invariant or bound",
                kind_name(d.kind)
            ))
            .rejects(
                "causal or stronger",
                "coordination per write for data read in aggregate",
            ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::data;

    fn model_of(kind: &str, extra: &str) -> (Model, Rule) {
        model(&data(kind, extra).data[0])
    }

    #[test]
    fn each_rule_fires_on_its_case() {
        assert_eq!(model_of("booking", ""), (Model::Linearizable, LINEARIZABLE));
        assert_eq!(model_of("feed", "invariants = [\"x\"]").1, LINEARIZABLE);
        assert_eq!(model_of("chat", ""), (Model::Causal, CAUSAL));
        assert_eq!(model_of("chat", "max_staleness_ms = 5").1, CAUSAL);
        assert_eq!(
            model_of("catalog", "max_staleness_ms = 5000"),
            (Model::BoundedStaleness(5000), BOUNDED)
        );
        assert_eq!(model_of("profile", ""), (Model::Session, SESSION));
        assert_eq!(model_of("feed", ""), (Model::EventualMonotonic, EVENTUAL));
        assert_eq!(model_of("metrics", ""), (Model::Eventual, EVENTUAL));
    }

    #[test]
    fn the_decision_names_what_it_turned_down() {
        let s = data("money", "");
        let d = decide(&s, &s.data[0]);
        assert_eq!(d.choice, "linearizable");
        assert_eq!(d.id, "d/consistency");
        assert_eq!(d.rejected.len(), 2);
        assert_eq!(d.evidence, [evidence::RAFT_LINEARIZABLE]);
    }
}

//! The consistency model and session guarantees per data class.

use super::evidence;
use crate::design::{Decision, Rule, Topic};
use crate::spec::{DataClass, DataKind, Freshness, Needs, Spec};
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
    triggers: "linearizable reads: freshness = \"linearizable\", or writes in one order and no freshness given",
    evidence: &[evidence::RAFT_LINEARIZABLE],
};

/// An invariant on writes, reads that may lag.
pub const ORDERED_WRITES: Rule = Rule {
    id: "CONS-ORDERED-WRITES",
    statement: "Data whose invariant binds its writes but whose reads may lag gets linearizable writes and reads from the nearest replica: the invariant is checked where writes are ordered, so readers need not pay the quorum round trip.",
    citation: "P. Hunt et al., ZooKeeper: Wait-free Coordination for Internet-scale Systems, USENIX ATC 2010 (linearizable writes, reads served by the local replica); D. Terry et al., Session Guarantees, PDIS 1994",
    triggers: "writes in one order (an invariant, kind money, inventory or booking, or merge = \"reject\") and a freshness weaker than linearizable",
    evidence: &[evidence::LOCAL_READS_KEEP_WRITES],
};

/// Conversations need replies after what they answer.
pub const CAUSAL: Rule = Rule {
    id: "CONS-CAUSAL",
    statement: "Conversations need causal consistency: a reply must never be seen before the message it answers, which eventual consistency allows.",
    citation: MODELS,
    triggers: "kind = chat, or freshness = \"causal\"",
    evidence: &[],
};

/// A stated staleness bound.
pub const BOUNDED: Rule = Rule {
    id: "CONS-BOUNDED",
    statement: "Data with a stated staleness bound and no invariant gets bounded staleness: the cheapest model that keeps the promise.",
    citation: MODELS,
    triggers: "freshness = \"bounded:<ms>\" or max_staleness_ms on data whose writes merge",
    evidence: &[],
};

/// A user's own data.
pub const SESSION: Rule = Rule {
    id: "CONS-SESSION",
    statement: "A user's own data needs read-your-writes and monotonic reads (session guarantees) on top of eventual consistency: users notice their own edits vanishing, rarely others' lag.",
    citation: MODELS,
    triggers: "kind = profile or catalog, or freshness = \"session\"",
    evidence: &[evidence::ANY_REPLICA_BREAKS_RYW],
};

/// Feeds and metrics.
pub const EVENTUAL: Rule = Rule {
    id: "CONS-EVENTUAL",
    statement: "Data read in aggregate or as a stream, with no invariant and no bound, is eventually consistent; feeds add monotonic reads so items do not vanish on refresh.",
    citation: MODELS,
    triggers: "merged writes and no freshness, bound or kind that asks for more (feeds, metrics, counters)",
    evidence: &[],
};

/// The model reads get for `d` (writes in one order are linearizable whatever reads
/// get), and the rule that chose it.
pub fn model(d: &DataClass) -> (Model, Rule) {
    let needs = Needs::of(d);
    match needs.freshness {
        Freshness::Linearizable => (Model::Linearizable, LINEARIZABLE),
        _ if needs.single_order() => (read_model(d, needs.freshness), ORDERED_WRITES),
        Freshness::Causal => (Model::Causal, CAUSAL),
        Freshness::Bounded(ms) => (Model::BoundedStaleness(ms), BOUNDED),
        Freshness::Session => (Model::Session, SESSION),
        Freshness::Eventual => (read_model(d, needs.freshness), EVENTUAL),
    }
}

/// The model that keeps `freshness` for reads of `d`.
pub fn read_model(d: &DataClass, freshness: Freshness) -> Model {
    match freshness {
        Freshness::Linearizable => Model::Linearizable,
        Freshness::Causal => Model::Causal,
        Freshness::Bounded(ms) => Model::BoundedStaleness(ms),
        Freshness::Session => Model::Session,
        // Feeds add monotonic reads so items do not vanish on refresh.
        Freshness::Eventual if d.kind == DataKind::Feed => Model::EventualMonotonic,
        Freshness::Eventual => Model::Eventual,
    }
}

/// The consistency decision for `d`.
pub fn decide(_spec: &Spec, d: &DataClass) -> Decision {
    let (model, rule) = model(d);
    let needs = Needs::of(d);
    if rule == ORDERED_WRITES {
        return Decision::new(
            Topic::Consistency,
            d.name.get_ref(),
            rule,
            format!("linearizable writes; reads {model}"),
        )
        .set("writes", "linearizable")
        .set("reads", model.to_string())
        .because(needs.merge_because)
        .because(needs.freshness_because)
        .rejects(
            "linearizable reads",
            "every read would pay the round trip to the leader and a quorum confirmation, for a freshness the spec does not ask for",
        )
        .rejects(
            "merged writes (multi-leader, CRDTs)",
            "two sides of a partition could each accept a write that keeps the invariant and together break it",
        );
    }
    let decision = Decision::new(
        Topic::Consistency,
        d.name.get_ref(),
        rule,
        model.to_string(),
    );
    match model {
        Model::Linearizable => decision
            .because(needs.merge_because)
            .rejects(
                "sequential",
                "a read may return an old value: a balance check can pass on money already spent",
            )
            .rejects(
                "causal or weaker",
                "concurrent writes are not ordered, so both of two conflicting updates can succeed",
            ),
        Model::Causal => decision
            .because(needs.freshness_because)
            .rejects(
                "eventual",
                "a reply can arrive at a reader before the message it answers",
            )
            .rejects(
                "linearizable",
                "a cross-region round trip per message buys an order conversations do not need",
            ),
        Model::BoundedStaleness(ms) => decision
            .because(needs.freshness_because)
            .rejects("eventual", format!("replicas may lag past {ms} ms"))
            .rejects(
                "linearizable",
                "no invariant requires reading the latest write",
            ),
        Model::Session => decision
            .because(needs.freshness_because)
            .rejects(
                "eventual alone",
                "a user can save a change and read the old value back",
            )
            .rejects(
                "linearizable",
                "no invariant requires every reader to see the latest write",
            ),
        Model::EventualMonotonic | Model::Eventual => {
            decision.because(needs.freshness_because).rejects(
                "causal or stronger",
                "coordination per write for data read in aggregate",
            )
        }
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

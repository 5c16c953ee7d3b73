//! CAP stance and PACELC class per data class.

use super::{evidence, kind_name};
use crate::design::{Decision, Rule, Topic};
use crate::knowledge::{Pacelc, examples};
use crate::spec::{DataClass, Freshness, Needs, Spec};

const CITATION: &str = "S. Gilbert, N. Lynch, Brewer's conjecture and the feasibility of consistent, available, partition-tolerant web services, SIGACT News 33(2), 2002; D. Abadi, Consistency Tradeoffs in Modern Distributed Database System Design, IEEE Computer 45(2), 2012";

/// An invariant that concurrent writes on two sides of a partition could break together.
pub const INVARIANT: Rule = Rule {
    id: "CAP-INVARIANT",
    statement: "Data with an invariant that two sides of a partition could each keep while together breaking it refuses writes on the minority side (CP) and pays a round trip for consistency without partitions too (PC/EC).",
    citation: CITATION,
    triggers: "writes in one order (an invariant, kind money, inventory or booking, or merge = \"reject\") with linearizable reads",
    evidence: &[evidence::AP_STALE_UNDER_PARTITION],
};

/// No such invariant: stay available and fast, reconcile later.
pub const NO_INVARIANT: Rule = Rule {
    id: "CAP-NO-INVARIANT",
    statement: "Data without such an invariant keeps accepting writes on both sides of a partition and reconciles afterwards (AP), and answers from the nearest replica otherwise (PA/EL).",
    citation: CITATION,
    triggers: "merged writes (merge other than reject) and no bound tighter than a round trip",
    evidence: &[evidence::AP_AGAINST_CP],
};

/// An invariant on writes, reads that may lag.
pub const INVARIANT_LOCAL_READS: Rule = Rule {
    id: "CAP-INVARIANT-LOCAL-READS",
    statement: "Data whose invariant binds its writes but whose reads may lag refuses writes on the minority side of a partition (PC) and answers reads from the nearest replica otherwise (EL): only writes pay the round trip.",
    citation: CITATION,
    triggers: "writes in one order, and reads that may lag (freshness other than linearizable)",
    evidence: &[evidence::AP_STALE_UNDER_PARTITION],
};

/// A staleness bound tighter than a round trip between its regions.
pub const TIGHT_BOUND: Rule = Rule {
    id: "CAP-TIGHT-BOUND",
    statement: "Data that may stay available under partition but must never be staler than one round trip between its regions has to consult a replica that has the write: PA/EC.",
    citation: CITATION,
    triggers: "merged writes and a staleness bound (bounded:<ms> or max_staleness_ms) below the widest round trip between the data class's regions",
    evidence: &[],
};

/// The PACELC class `decide` gives `d`, and the rule.
pub fn class(spec: &Spec, d: &DataClass) -> (Pacelc, Rule) {
    let needs = Needs::of(d);
    if needs.single_order() {
        return if needs.freshness == Freshness::Linearizable {
            (Pacelc::PcEc, INVARIANT)
        } else {
            (Pacelc::PcEl, INVARIANT_LOCAL_READS)
        };
    }
    if let (Freshness::Bounded(bound), Some(rtt)) = (needs.freshness, widest_rtt(spec, d))
        && (bound as f64) < rtt
    {
        return (Pacelc::PaEc, TIGHT_BOUND);
    }
    (Pacelc::PaEl, NO_INVARIANT)
}

/// The longest round trip between two of the data class's regions, if it spans several.
fn widest_rtt(spec: &Spec, d: &DataClass) -> Option<f64> {
    let regions = spec.home_regions(d);
    let mut widest = None;
    for (i, a) in regions.iter().enumerate() {
        for b in &regions[i + 1..] {
            if let Some(rtt) = spec.rtt_ms(a, b) {
                widest = Some(widest.map_or(rtt, |w: f64| w.max(rtt)));
            }
        }
    }
    widest
}

/// The CAP and PACELC decision for `d`.
pub fn decide(spec: &Spec, d: &DataClass) -> Decision {
    let name = d.name.get_ref();
    let (class, rule) = class(spec, d);
    let cap = if class == Pacelc::PcEc || class == Pacelc::PcEl {
        "CP"
    } else {
        "AP"
    };
    let mut decision = Decision::new(Topic::Cap, name, rule, format!("{cap}, {class}"))
        .set("like", examples(class).join("; "));
    decision = match rule.id {
        "CAP-INVARIANT" | "CAP-INVARIANT-LOCAL-READS" => {
            let needs = Needs::of(d);
            let why = needs.merge_because;
            let decision = decision
                .because(why.clone())
                .rejects(
                    "AP (PA/EL)",
                    format!("both sides of a partition would accept writes that each pass the check and together break it: {why}"),
                );
            if rule == INVARIANT_LOCAL_READS {
                decision.because(needs.freshness_because).rejects(
                    "PC/EC",
                    "reads that may lag need not pay the quorum round trip",
                )
            } else {
                decision
            }
        }
        "CAP-TIGHT-BOUND" => decision
            .because(format!(
                "{} is below the {:.0} ms round trip between its regions",
                Needs::of(d).freshness_because,
                widest_rtt(spec, d).unwrap_or(0.0)
            ))
            .rejects("PA/EL", "a local replica can lag by a round trip or more, past the bound")
            .rejects("CP", format!("kind = {} has no invariant that needs writes refused under partition", kind_name(d.kind))),
        _ => decision
            .because(format!("kind = {} and no invariant", kind_name(d.kind)))
            .rejects(
                "CP (PC/EC)",
                "refusing writes on the minority side and paying a quorum round trip per write buys an order this data does not need",
            ),
    };
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::data;

    #[test]
    fn money_and_invariants_are_cp() {
        let s = data("money", "");
        assert_eq!(class(&s, &s.data[0]), (Pacelc::PcEc, INVARIANT));
        let s = data("catalog", "invariants = [\"price never negative\"]");
        let d = decide(&s, &s.data[0]);
        assert_eq!(d.choice, "CP, PC/EC");
        assert_eq!(d.because, ["invariant \"price never negative\""]);
        assert!(d.rejected[0].alternative.starts_with("AP"));
    }

    #[test]
    fn data_without_invariants_is_ap() {
        for kind in ["chat", "feed", "profile", "catalog", "metrics"] {
            let s = data(kind, "");
            assert_eq!(
                class(&s, &s.data[0]),
                (Pacelc::PaEl, NO_INVARIANT),
                "{kind}"
            );
        }
        let d = decide(&data("feed", ""), &data("feed", "").data[0]);
        assert_eq!(d.choice, "AP, PA/EL");
        assert!(d.settings["like"].contains("Cassandra"));
    }

    #[test]
    fn a_bound_below_the_round_trip_is_pa_ec() {
        let s = data("catalog", "max_staleness_ms = 50");
        assert_eq!(class(&s, &s.data[0]), (Pacelc::PaEc, TIGHT_BOUND));
        // 100 ms is above the 80 ms round trip; and one region has no round trip.
        let s = data("catalog", "max_staleness_ms = 100");
        assert_eq!(class(&s, &s.data[0]).1, NO_INVARIANT);
        let s = data("catalog", "max_staleness_ms = 50\nresidency = [\"eu\"]");
        assert_eq!(class(&s, &s.data[0]).1, NO_INVARIANT);
    }
}

//! Every kind of contradiction gets fixes, and each fix, applied to the spec's text,
//! resolves it (the re-check is real: a fix that does not work is not offered).

use super::*;
use crate::design::CheckStatus;

fn spec(text: &str) -> Spec {
    Spec::parse("t.toml", text).unwrap_or_else(|e| panic!("{e}"))
}

/// The fixes of `text`'s contradictions; each applied gives a spec whose checks no
/// longer hold the contradiction it fixes.
fn fixes_of(text: &str) -> Vec<Fix> {
    let s = spec(text);
    let checks = crate::checks::run(&s);
    assert!(
        checks
            .iter()
            .any(|c| c.status == CheckStatus::Contradiction),
        "no contradiction in {text}"
    );
    let found = fixes(&s, &checks);
    for f in &found {
        let fixed = spec(&apply(text, &f.edits));
        let left: Vec<_> = crate::checks::run(&fixed)
            .into_iter()
            .filter(|c| c.status == CheckStatus::Contradiction)
            .collect();
        assert!(
            !left
                .iter()
                .any(|c| c.check == f.check && c.subject == f.subject),
            "{} does not resolve {}",
            f.change,
            f.check
        );
        assert_eq!(left.len(), f.contradictions_left, "{}", f.change);
    }
    found
}

fn changes(fixes: &[Fix]) -> Vec<&str> {
    fixes.iter().map(|f| f.change.as_str()).collect()
}

const TWO_REGIONS: &str = "[system]\nname = \"t\"\navailability = 99.9\ntolerate = [\"region\"]\n\n[[region]]\nname = \"a\"\nzones = 3\n\n[[region]]\nname = \"b\"\nzones = 3\n\n[[link]]\nbetween = [\"a\", \"b\"]\nrtt_ms = 20\n\n[[data]]\nname = \"bookings\"\nkind = \"booking\"\n";

#[test]
fn two_regions_that_must_survive_a_region_get_a_third_place() {
    let found = fixes_of(TWO_REGIONS);
    let changes = changes(&found);
    assert!(
        changes.iter().any(|c| c.starts_with("add a third region")),
        "{changes:?}"
    );
    assert!(
        changes
            .iter()
            .any(|c| c.starts_with("add a witness in a third location")),
        "{changes:?}"
    );
    assert!(
        changes.iter().any(|c| c.starts_with("survive a zone loss")),
        "{changes:?}"
    );
    assert!(found.iter().all(|f| f.contradictions_left == 0));
    let witness = found.iter().find(|f| f.change.contains("witness")).unwrap();
    let fixed = spec(&apply(TWO_REGIONS, &witness.edits));
    let placement = crate::rules::replication::topology(&fixed, &fixed.data[0]).placement();
    assert_eq!(placement[2], ("witness".to_string(), "raft witness"));
}

#[test]
fn residency_is_widened_where_it_is_what_stands_in_the_way() {
    let third = "\n[[region]]\nname = \"c\"\nzones = 3\n";
    let pinned = TWO_REGIONS.replace(
        "kind = \"booking\"\n",
        "kind = \"booking\"\nresidency = [\"a\"]\n",
    ) + third;
    let found = fixes_of(&pinned);
    let residency: Vec<(&str, usize)> = found
        .iter()
        .filter(|f| f.check == "residency")
        .map(|f| (f.change.as_str(), f.contradictions_left))
        .collect();
    // One more region ends the residency contradiction, the quorum's needs two.
    assert_eq!(
        residency[..2],
        [
            ("let bookings live in b too (residency)", 1),
            ("let bookings live in b, c too (residency)", 0)
        ]
    );
    let two = TWO_REGIONS.replace(
        "kind = \"booking\"\n",
        "kind = \"booking\"\nresidency = [\"a\", \"b\"]\n",
    ) + third;
    let found = fixes_of(&two);
    assert!(changes(&found).contains(&"let bookings live in c too (residency)"));
    // The witness goes inside the residency too.
    let witness = found.iter().find(|f| f.change.contains("witness")).unwrap();
    assert!(apply(&two, &witness.edits).contains("residency = [\"a\", \"b\", \"witness\"]"));
}

#[test]
fn a_zone_quorum_gets_zones_a_leader_elsewhere_or_a_relaxed_failure_model() {
    let text = TWO_REGIONS
        .replace("tolerate = [\"region\"]", "tolerate = [\"zone\"]")
        .replace("name = \"a\"\nzones = 3", "name = \"a\"\nzones = 2");
    let found = fixes_of(&text);
    assert_eq!(
        changes(&found),
        [
            "give a 3 zones",
            "move the leader of bookings to b, which has 3 zones or more",
            "stop requiring that a zone loss be survived (tolerate without \"zone\")",
        ]
    );
}

#[test]
fn a_slow_objective_gets_a_leader_a_lagging_read_or_a_relaxed_bound() {
    let text = format!(
        "{}\n[[slo]]\noperation = \"book\"\ndata = \"bookings\"\nop = \"write\"\nregion = \"a\"\np99_ms = 5\n\n[[slo]]\noperation = \"look\"\ndata = \"bookings\"\nop = \"read\"\nregion = \"b\"\np99_ms = 5\n",
        TWO_REGIONS.replace("tolerate = [\"region\"]", "tolerate = [\"zone\"]")
    );
    let found = fixes_of(&text);
    let changes = changes(&found);
    assert!(
        changes.contains(
            &"let \"look\" read a nearby replica (freshness = \"eventual\" on the objective)"
        ),
        "{changes:?}"
    );
    assert!(
        changes.contains(&"relax \"look\" to p99 22 ms, the least the round trips allow"),
        "{changes:?}"
    );
}

#[test]
fn a_thin_path_gets_instances_another_region_or_a_relaxed_target() {
    let text = "[system]\nname = \"t\"\navailability = 99.95\n\n[[region]]\nname = \"a\"\nzones = 3\n\n[[service]]\nname = \"api\"\nregions = [\"a\"]\ninstances = 1\ninstance_availability = 99.0\n";
    let found = fixes_of(text);
    // Two instances in two zones reach 99.943%: a zone's outage still costs too much.
    assert_eq!(
        changes(&found),
        [
            "run 3 instances of api per region (now 1)",
            "relax the availability target to 98.909%"
        ]
    );
    // Where instances was not written (2 by default), the line is added to the service.
    let text = text.replace("instances = 1\n", "").replace("99.0", "97.0");
    let found = fixes_of(&text);
    assert!(
        found[0]
            .change
            .starts_with("run 3 instances of api per region (now 2)"),
        "{found:?}"
    );
    assert!(apply(&text, &found[0].edits).contains("name = \"api\"\ninstances = 3\n"));
    // A region's outage caps a one-region service: 99.99% needs a second region.
    let two = "[system]\nname = \"t\"\navailability = 99.99\n\n[[region]]\nname = \"a\"\nzones = 3\n\n[[region]]\nname = \"b\"\nzones = 3\n\n[[service]]\nname = \"api\"\nregions = [\"a\"]\ninstances = 3\n";
    let found = fixes_of(two);
    assert_eq!(changes(&found)[0], "run api in b too");
    assert!(apply(two, &found[0].edits).contains("regions = [\"a\", \"b\"]"));
    assert!(
        !changes(&found)
            .iter()
            .any(|c| c.starts_with("run 4 instances")),
        "{found:?}"
    );
}

#[test]
fn edits_apply_from_the_end_so_offsets_hold() {
    let source = "a = 1\nb = 2\n";
    let edits = [
        Edit::Replace {
            start: 4,
            end: 5,
            text: "10".into(),
        },
        Edit::AddLine {
            after: 6,
            text: "c = 3".into(),
        },
        Edit::Append {
            text: "[t]\nd = 4\n".into(),
        },
    ];
    assert_eq!(
        apply(source, &edits),
        "a = 10\nb = 2\nc = 3\n\n[t]\nd = 4\n"
    );
}

/// A call bounded by a tight objective in front of a slower operation: relaxing that
/// objective to what the operation takes resolves it.
#[test]
fn a_call_that_cannot_wait_for_what_is_behind_it_gets_a_relaxed_objective() {
    let text = format!(
        "{}\n[[data]]\nname = \"fast\"\nkind = \"catalog\"\n\n[[data]]\nname = \"slow\"\nkind = \"money\"\n\n\
         [[service]]\nname = \"api\"\nregions = [\"b\"]\ndepends_on = [\"mid\"]\n\n\
         [[service]]\nname = \"mid\"\nregions = [\"b\"]\ndepends_on = [\"store\"]\nreads = [\"fast\"]\n\n\
         [[service]]\nname = \"store\"\nregions = [\"b\"]\nwrites = [\"slow\"]\n\n\
         [[slo]]\noperation = \"look\"\ndata = \"fast\"\nop = \"read\"\nregion = \"b\"\np99_ms = 10\n\n\
         [[slo]]\noperation = \"pay\"\ndata = \"slow\"\nop = \"write\"\nregion = \"b\"\np99_ms = 200\n\n\
         [[slo]]\noperation = \"pay here\"\ndata = \"slow\"\nop = \"write\"\nregion = \"a\"\np99_ms = 100\n",
        TWO_REGIONS
            .replace("tolerate = [\"region\"]", "tolerate = [\"zone\"]")
            .split("\n[[data]]")
            .next()
            .unwrap_or_default()
    );
    let found = fixes_of(&text);
    assert!(
        changes(&found).contains(&"relax \"look\" to p99 22 ms, so api can wait for \"pay\""),
        "{found:?}"
    );
}

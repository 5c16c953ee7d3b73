//! Specs modelled on systems whose design is published with its reasons, each pinned to
//! the decisions its source made (`specs/README.md` says where dsys differs, and why).

use dsys_advisor::{Decision, Spec, design};

fn decisions(name: &str) -> Vec<Decision> {
    let path = format!("{}/../../specs/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let spec = Spec::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
    let d = design(&spec);
    assert_eq!(
        d.contradictions().count(),
        0,
        "{name} does not hold together"
    );
    d.decisions
}

/// `(decision id, what, expected)`: `what` is `choice` or a setting's name; `expected`
/// must begin the value.
fn pinned(spec: &str, source: &str, pins: &[(&str, &str, &str)]) {
    let all = decisions(spec);
    for (id, what, expected) in pins {
        let d = all
            .iter()
            .find(|d| d.id == *id)
            .unwrap_or_else(|| panic!("{spec}: no decision {id}"));
        let value = if *what == "choice" {
            d.choice.as_str()
        } else {
            d.settings.get(*what).map_or("", String::as_str)
        };
        assert!(
            value.starts_with(expected),
            "{spec} ({source}): {id} {what} is {value:?}, the source chose {expected:?}"
        );
    }
}

#[test]
fn dynamo_keeps_both_versions_of_a_cart_and_partitions_by_consistent_hashing() {
    pinned(
        "dynamo-cart",
        "DeCandia et al., SOSP 2007",
        &[
            ("carts/cap", "choice", "AP, PA/EL"),
            ("carts/replication", "conflict", "siblings"),
            (
                "carts/partitioning",
                "choice",
                "hash partitioning, consistent hashing with virtual nodes",
            ),
        ],
    );
}

#[test]
fn spanner_orders_every_transfer_with_a_witness_in_the_third_region() {
    pinned(
        "spanner-ledger",
        "Corbett et al., OSDI 2012; Spanner's nam3",
        &[
            ("accounts/cap", "choice", "CP, PC/EC"),
            ("accounts/consistency", "choice", "linearizable"),
            ("accounts/replication", "leader", "us-east4"),
            (
                "accounts/replication",
                "placement",
                "one replica in each of us-east4, us-east1, us-central1; the one in us-central1 a witness",
            ),
            ("accounts/partitioning", "choice", "range partitioning"),
        ],
    );
}

#[test]
fn discord_orders_messages_within_a_channel_and_partitions_by_it() {
    pinned(
        "chat",
        "Discord engineering, 2017",
        &[
            ("messages/consistency", "choice", "causal"),
            (
                "messages/replication",
                "choice",
                "leader-follower per partition",
            ),
            ("messages/partitioning", "key", "conversation id"),
        ],
    );
}

#[test]
fn twitter_keeps_each_home_timeline_by_user() {
    pinned(
        "feed",
        "Krikorian, QCon 2012",
        &[
            ("timelines/cap", "choice", "AP, PA/EL"),
            (
                "timelines/partitioning",
                "key",
                "id of the user whose feed it is",
            ),
            ("like-counts/replication", "conflict", "crdt=pn-counter"),
        ],
    );
}

#[test]
fn uber_keeps_drivers_by_map_cell_and_books_each_ride_once() {
    pinned(
        "ride-hailing",
        "Uber engineering, H3, 2018",
        &[
            ("driver-locations/partitioning", "choice", "geographic"),
            ("rides/consistency", "choice", "linearizable"),
            ("rides/replication", "choice", "consensus (Raft)"),
        ],
    );
}

#[test]
fn gorilla_favours_writes_and_keeps_samples_by_series_and_time() {
    pinned(
        "metrics",
        "Pelkonen et al., VLDB 2015",
        &[
            ("samples/cap", "choice", "AP, PA/EL"),
            ("samples/partitioning", "choice", "range partitioning"),
            ("samples/partitioning", "key", "(series id, time bucket)"),
            ("samples/caching", "choice", "write-behind"),
        ],
    );
}

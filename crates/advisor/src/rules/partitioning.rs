//! Partitioning scheme and partition key per data class.

use super::kind_name;
use crate::design::{Decision, Rule, Topic};
use crate::spec::{Access, DataClass, DataKind, Spec};

/// What one replicated group holds comfortably: data, gigabytes.
pub const NODE_GB: f64 = 1_000.0;
/// What one replicated group's leader takes comfortably: writes per second.
pub const NODE_WRITES_PER_SEC: f64 = 5_000.0;

const DDIA6: &str =
    "M. Kleppmann, Designing Data-Intensive Applications, ch. 6 (Partitioning), 2017";

/// Small enough for one group.
pub const NONE: Rule = Rule {
    id: "PART-NONE",
    statement: "Data that fits one replicated group for the next year (size and write rate) is not partitioned: partitions add routing, rebalancing and cross-partition queries for nothing.",
    citation: DDIA6,
    triggers: "size in a year (size_gb + 12 x growth_gb_per_month) and writes_per_sec within one replicated group",
    evidence: &[],
};

/// Looked up by location.
pub const GEO: Rule = Rule {
    id: "PART-GEO",
    statement: "Data looked up by location is partitioned by location (geohash cells), so a nearby-search reads a few neighbouring partitions instead of all of them.",
    citation: "G. Niemeyer, Geohash (2008); DDIA ch. 6",
    triggers: "access includes geo",
    evidence: &[],
};

/// Scanned by key range or time window.
pub const RANGE: Rule = Rule {
    id: "PART-RANGE",
    statement: "Data scanned by key range or time window is range-partitioned so a scan reads consecutive partitions; time series lead the key with the series so the newest bucket is not one hot partition.",
    citation: DDIA6,
    triggers: "access includes range or time-series, and too big for one group",
    evidence: &[],
};

/// Point lookups, too big for one group.
pub const HASH: Rule = Rule {
    id: "PART-HASH",
    statement: "Data looked up by key and too big for one group is hash-partitioned with consistent hashing (virtual nodes), so adding a node moves about 1/n of the keys rather than nearly all of them as modulo hashing would.",
    citation: "D. Karger et al., Consistent Hashing and Random Trees, STOC 1997; G. DeCandia et al., Dynamo, SOSP 2007",
    triggers: "point access and too big for one group (size in a year or write rate)",
    evidence: &[],
};

/// The partition key for a kind of data.
pub fn partition_key(kind: DataKind) -> &'static str {
    match kind {
        DataKind::Money => "account id",
        DataKind::Inventory => "item (SKU) id",
        DataKind::Booking => {
            "id of the resource booked, so the no-double-booking check stays inside one partition"
        }
        DataKind::Chat => "conversation id",
        DataKind::Feed => "id of the user whose feed it is",
        DataKind::Profile => "user id",
        DataKind::Catalog => "product id",
        DataKind::Metrics => "(series id, time bucket)",
        DataKind::Counter => "counter id",
    }
}

/// Size after a year of growth, gigabytes.
pub fn size_in_a_year(d: &DataClass) -> f64 {
    d.size_gb + 12.0 * d.growth_gb_per_month
}

/// How many groups the data needs for size and for writes.
pub fn groups_needed(d: &DataClass) -> u64 {
    let by_size = (size_in_a_year(d) / NODE_GB).ceil();
    let by_writes = (d.writes_per_sec / NODE_WRITES_PER_SEC).ceil();
    by_size.max(by_writes).max(1.0) as u64
}

/// Copies of each partition the design keeps: voters and learners of a consensus group,
/// a copy per region otherwise (three zones' worth where it lives in one region).
fn copies_per_group(spec: &Spec, d: &DataClass) -> u64 {
    let placed = crate::rules::replication::topology(spec, d).placement();
    let copies: u64 = placed
        .iter()
        .map(|(_, role)| {
            if *role == crate::rules::replication::GROUP_IN_ZONES {
                3
            } else {
                1
            }
        })
        .sum();
    copies.max(3)
}

/// Nodes for `groups` partitions of `d`, and the sizing behind them, as settings.
fn with_capacity(decision: Decision, spec: &Spec, d: &DataClass, groups: u64) -> Decision {
    let copies = copies_per_group(spec, d);
    let nodes = groups * copies;
    let reads = d.reads_per_sec / (nodes.max(1) as f64);
    decision
        .set("nodes", format!("{nodes} ({groups} group{} x {copies} copies)", if groups == 1 { "" } else { "s" }))
        .set(
            "capacity",
            format!(
                "planning figures per group, at most {NODE_GB:.0} GB and {NODE_WRITES_PER_SEC:.0} writes/s, so each node keeps room for a failed neighbour's share and for growth; about {reads:.0} reads/s per copy"
            ),
        )
}

/// The partitioning decision for `d`.
pub fn decide(spec: &Spec, d: &DataClass) -> Decision {
    with_capacity(decide_scheme(spec, d), spec, d, groups_needed(d))
}

fn decide_scheme(_spec: &Spec, d: &DataClass) -> Decision {
    let name = d.name.get_ref();
    let year = size_in_a_year(d);
    let sizing = format!(
        "{year:.0} GB in a year ({:.0} GB now + {:.0} GB/month), {:.0} writes/s",
        d.size_gb, d.growth_gb_per_month, d.writes_per_sec
    );
    if d.access.contains(&Access::Geo) {
        return Decision::new(
            Topic::Partitioning,
            name,
            GEO,
            "geographic: by geohash cell",
        )
        .set(
            "key",
            "geohash prefix of the location (5 characters, cells of about 5 km)",
        )
        .because("access: geo")
        .rejects(
            "hash",
            "neighbours land on unrelated partitions: a radius query reads every partition",
        )
        .rejects(
            "range on latitude",
            "a band of latitude spans the globe and stays hot where cities are",
        );
    }
    if d.access.contains(&Access::Range) || d.access.contains(&Access::TimeSeries) {
        let key = if d.access.contains(&Access::TimeSeries) {
            "(series id, time bucket)"
        } else {
            partition_key(d.kind)
        };
        return Decision::new(Topic::Partitioning, name, RANGE, "range partitioning")
            .set("key", key)
            .set("groups", groups_needed(d))
            .because(format!(
                "access: {}",
                if d.access.contains(&Access::TimeSeries) {
                    "time-series"
                } else {
                    "range"
                }
            ))
            .because(sizing)
            .rejects("hash", "a range scan would read every partition")
            .rejects(
                "range on time alone",
                "every write goes to the newest partition",
            );
    }
    let groups = groups_needed(d);
    if groups <= 1 {
        return Decision::new(Topic::Partitioning, name, NONE, "none: one replicated group")
            .set("groups", 1)
            .because(sizing)
            .rejects("hash partitioning now", format!("it fits one group (up to {NODE_GB:.0} GB and {NODE_WRITES_PER_SEC:.0} writes/s): partition when it does not"));
    }
    Decision::new(
        Topic::Partitioning,
        name,
        HASH,
        "hash partitioning, consistent hashing with virtual nodes",
    )
    .set("key", partition_key(d.kind))
    .set("groups", groups)
    .set("virtual nodes per group", 256)
    .because(sizing)
    .because(format!("access: point, kind = {}", kind_name(d.kind)))
    .rejects("modulo hashing", "adding a group moves nearly every key")
    .rejects(
        "range partitioning",
        "no range scans to serve, and sequential keys make one partition hot",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::data;

    fn rule_for(kind: &str, extra: &str) -> Rule {
        let s = data(kind, extra);
        decide(&s, &s.data[0]).rule
    }

    #[test]
    fn every_scheme_says_how_many_nodes_it_takes() {
        let s = data("money", "size_gb = 2500\nreads_per_sec = 9000");
        let d = decide(&s, &s.data[0]);
        // 2,500 GB: three groups of a three-replica Raft group each.
        assert_eq!(d.settings["nodes"], "9 (3 groups x 3 copies)");
        assert!(
            d.settings["capacity"].ends_with("about 1000 reads/s per copy"),
            "{}",
            d.settings["capacity"]
        );
        let s = data("catalog", "access = [\"geo\"]");
        assert_eq!(
            decide(&s, &s.data[0]).settings["nodes"],
            "3 (1 group x 3 copies)"
        );
    }

    #[test]
    fn small_data_is_not_partitioned() {
        assert_eq!(
            rule_for("money", "size_gb = 100\ngrowth_gb_per_month = 10"),
            NONE
        );
    }

    #[test]
    fn big_or_busy_point_data_is_hashed_by_its_key() {
        assert_eq!(
            rule_for("profile", "size_gb = 900\ngrowth_gb_per_month = 50"),
            HASH
        );
        assert_eq!(rule_for("profile", "writes_per_sec = 12000"), HASH);
        let s = data("booking", "size_gb = 5000");
        let d = decide(&s, &s.data[0]);
        assert_eq!(d.settings["groups"], "5");
        assert!(d.settings["key"].starts_with("id of the resource booked"));
    }

    #[test]
    fn scans_get_ranges_and_locations_get_geohashes() {
        assert_eq!(rule_for("metrics", "access = [\"time-series\"]"), RANGE);
        assert_eq!(
            rule_for("catalog", "access = [\"point\", \"range\"]"),
            RANGE
        );
        assert_eq!(rule_for("booking", "access = [\"geo\", \"range\"]"), GEO);
        let s = data("metrics", "access = [\"time-series\"]");
        assert_eq!(
            decide(&s, &s.data[0]).settings["key"],
            "(series id, time bucket)"
        );
    }
}

//! Caching strategy per data class.

use super::consistency::{self, Model};
use super::evidence;
use super::kind_name;
use crate::design::{Decision, Rule, Topic};
use crate::spec::{DataClass, DataKind, Spec};

const CACHING: &str = "AWS, Caching Best Practices (aws.amazon.com/caching/best-practices); R. Nishtala et al., Scaling Memcache at Facebook, NSDI 2013";

/// Reads that check an invariant bypass caches.
pub const NO_CACHE_FOR_INVARIANTS: Rule = Rule {
    id: "CACHE-NOT-ON-THE-CHECK",
    statement: "Reads that decide whether an invariant holds go to the source of truth: a cached value is a stale read by design.",
    citation: CACHING,
    triggers: "reads of the data class must be linearizable (its freshness, or writes in one order with no freshness given)",
    evidence: &[evidence::TTL_SERVES_STALE],
};

/// Read-mostly data that may be stale: cache-aside.
pub const ASIDE: Rule = Rule {
    id: "CACHE-ASIDE",
    statement: "Read-mostly data (10 or more reads per write) that may be briefly stale is cached aside: read the cache, fill it on a miss, delete the entry on write, and expire it after the staleness the data allows; concurrent misses are coalesced so an expiry does not stampede the store.",
    citation: CACHING,
    triggers: "reads_per_sec at least 10 times writes_per_sec, reads that may lag, and no session guarantee",
    evidence: &[evidence::CACHE_ASIDE_RACE],
};

/// A user's own read-mostly data: write-through.
pub const WRITE_THROUGH: Rule = Rule {
    id: "CACHE-WRITE-THROUGH",
    statement: "Read-mostly data with session guarantees is cached write-through: each write updates the store and then the cache, so the writer's next read hits its own write; a TTL bounds how long others' changes from elsewhere stay unseen.",
    citation: CACHING,
    triggers: "reads_per_sec at least 10 times writes_per_sec and session freshness (kind profile or catalog, or freshness = \"session\")",
    evidence: &[],
};

/// Write-heavy counters: write-behind.
pub const WRITE_BEHIND: Rule = Rule {
    id: "CACHE-WRITE-BEHIND",
    statement: "Write-heavy metrics are aggregated in memory and flushed in batches (write-behind): a crash loses at most one flush interval of increments, which metrics tolerate.",
    citation: CACHING,
    triggers: "kind = metrics or counter with writes_per_sec at least reads_per_sec",
    evidence: &[evidence::WRITE_BEHIND_LOSES_UNFLUSHED],
};

/// Otherwise no cache.
pub const NONE: Rule = Rule {
    id: "CACHE-NONE",
    statement: "Data read about as often as it is written gains little from a cache and pays for invalidation: no cache.",
    citation: CACHING,
    triggers: "fewer than 10 reads per write, and no rule above applies",
    evidence: &[],
};

/// The staleness a cache entry may have, milliseconds: the stated bound, else the kind's.
pub fn ttl_ms(d: &DataClass) -> u64 {
    match consistency::model(d).0 {
        Model::BoundedStaleness(bound) => bound,
        Model::Session => 30_000,
        _ => match d.kind {
            DataKind::Catalog => 60_000,
            DataKind::Feed => 10_000,
            _ => 5_000,
        },
    }
}

/// Reads per write (infinite with no writes).
fn read_ratio(d: &DataClass) -> f64 {
    if d.writes_per_sec == 0.0 {
        f64::INFINITY
    } else {
        d.reads_per_sec / d.writes_per_sec
    }
}

/// The caching decision for `d`.
pub fn decide(_spec: &Spec, d: &DataClass) -> Decision {
    let name = d.name.get_ref();
    let ratio = read_ratio(d);
    let rates = format!(
        "{:.0} reads/s, {:.0} writes/s",
        d.reads_per_sec, d.writes_per_sec
    );
    let (model, _) = consistency::model(d);
    if model == Model::Linearizable {
        return Decision::new(
            Topic::Caching,
            name,
            NO_CACHE_FOR_INVARIANTS,
            "no cache on reads that check the invariant",
        )
        .because("consistency: linearizable")
        .rejects(
            "cache-aside",
            "a hit can return a value already replaced: the check passes on stale data",
        )
        .rejects(
            "write-behind",
            "acknowledged writes would live only in memory",
        );
    }
    if matches!(d.kind, DataKind::Metrics | DataKind::Counter)
        && d.writes_per_sec >= d.reads_per_sec
        && d.writes_per_sec > 0.0
    {
        return Decision::new(
            Topic::Caching,
            name,
            WRITE_BEHIND,
            "write-behind: aggregate in memory, flush in batches",
        )
        .set("flush every", "1 s")
        .because(rates)
        .because(format!("kind = {}", kind_name(d.kind)))
        .rejects(
            "write-through",
            "one store write per increment at the full write rate",
        );
    }
    if ratio >= 10.0 && d.reads_per_sec > 0.0 && model == Model::Session {
        let ttl = ttl_ms(d);
        return Decision::new(
            Topic::Caching,
            name,
            WRITE_THROUGH,
            "write-through, with a TTL for what other writers change",
        )
        .set("ttl", format!("{ttl} ms"))
        .set("order", "write the store, then the cache; on a failed cache write, delete the entry")
        .because(rates)
        .because("consistency: session guarantees (read-your-writes)")
        .rejects(
            "cache-aside",
            "a write deletes the entry and the writer's next read may refill it from a lagging replica",
        )
        .rejects("no cache", format!("{ratio:.0} reads per write all reach the store"));
    }
    if ratio >= 10.0 && d.reads_per_sec > 0.0 {
        let ttl = ttl_ms(d);
        return Decision::new(
            Topic::Caching,
            name,
            ASIDE,
            "cache-aside with TTL and delete-on-write",
        )
        .set("ttl", format!("{ttl} ms"))
        .set("stampede control", "coalesce concurrent misses per key")
        .set(
            "fills",
            "under a lease taken at the miss, refused after a delete",
        )
        .because(rates)
        .because(format!(
            "kind = {} may be stale up to {ttl} ms",
            kind_name(d.kind)
        ))
        .rejects(
            "write-through",
            "every write pays the cache too, for data read mostly by others",
        )
        .rejects(
            "no cache",
            format!("{ratio:.0} reads per write all reach the store"),
        );
    }
    Decision::new(Topic::Caching, name, NONE, "no cache")
        .because(rates)
        .rejects(
            "cache-aside",
            "below 10 reads per write the hit rate does not pay for invalidation",
        )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::data;

    fn decided(kind: &str, extra: &str) -> Decision {
        let s = data(kind, extra);
        decide(&s, &s.data[0])
    }

    #[test]
    fn invariant_reads_skip_the_cache() {
        assert_eq!(
            decided("inventory", "reads_per_sec = 10000\nwrites_per_sec = 10").rule,
            NO_CACHE_FOR_INVARIANTS
        );
    }

    #[test]
    fn read_mostly_data_is_cached_aside_for_its_staleness() {
        // A catalog without a stated bound has session guarantees: write-through.
        let d = decided("catalog", "reads_per_sec = 5000\nwrites_per_sec = 5");
        assert_eq!(
            (d.rule, d.settings["ttl"].as_str()),
            (WRITE_THROUGH, "30000 ms")
        );
        let d = decided(
            "catalog",
            "reads_per_sec = 5000\nwrites_per_sec = 5\nmax_staleness_ms = 2000",
        );
        assert_eq!((d.rule, d.settings["ttl"].as_str()), (ASIDE, "2000 ms"));
        let d = decided("feed", "reads_per_sec = 100");
        assert_eq!((d.rule, d.settings["ttl"].as_str()), (ASIDE, "10000 ms"));
    }

    #[test]
    fn busy_metrics_are_written_behind_and_balanced_data_not_cached() {
        assert_eq!(
            decided("metrics", "reads_per_sec = 10\nwrites_per_sec = 50000").rule,
            WRITE_BEHIND
        );
        assert_eq!(
            decided("profile", "reads_per_sec = 50\nwrites_per_sec = 10").rule,
            NONE
        );
        assert_eq!(decided("profile", "").rule, NONE);
    }
}

//! Replication topology per data class.

use super::consistency::{self, Model};
use super::{evidence, kind_name};
use crate::design::{Decision, Rule, Topic};
use crate::spec::{DataClass, FailureDomain, Freshness, Merge, Needs, OpKind, Spec};
use std::collections::BTreeSet;

const DDIA: &str = "M. Kleppmann, Designing Data-Intensive Applications, ch. 5 (Replication) and 9 (Consistency and Consensus), 2017";
const RAFT: &str =
    "D. Ongaro, J. Ousterhout, In Search of an Understandable Consensus Algorithm, USENIX ATC 2014";

/// Linearizable data goes on a consensus group.
pub const CONSENSUS: Rule = Rule {
    id: "REP-CONSENSUS",
    statement: "Linearizable data is replicated by consensus (a Raft group of 2f+1 replicas in f+1 failure domains' worth of places): a write commits once a majority has it, so any majority that survives holds every acknowledged write.",
    citation: RAFT,
    triggers: "writes in one order (merge = \"reject\", an invariant, kind money, inventory or booking)",
    evidence: &[evidence::ASYNC_LOSES_WRITES, evidence::RAFT_KEEPS_WRITES],
};

/// Causal data with one writer per conversation.
pub const LEADER_PER_PARTITION: Rule = Rule {
    id: "REP-LEADER-PER-PARTITION",
    statement: "Causally ordered data keeps one leader per partition (per conversation): the leader's log is the order, followers in other regions replay it asynchronously.",
    citation: DDIA,
    triggers: "causal reads (kind = chat or freshness = \"causal\") and merged writes",
    evidence: &[evidence::ONE_ACK_BREAKS_SESSIONS],
};

/// Written from several regions, no invariant.
pub const MULTI_LEADER: Rule = Rule {
    id: "REP-MULTI-LEADER",
    statement: "Data without an invariant that is written in several regions takes writes in each (multi-leader) and merges them with a conflict strategy fitted to its shape: CRDT counters and sets, last-writer-wins registers.",
    citation: "M. Shapiro et al., Conflict-free Replicated Data Types, SSS 2011; DDIA ch. 5",
    triggers: "merged writes, written by services in more than one of its regions",
    evidence: &[
        evidence::LWW_LOSES_INCREMENTS,
        evidence::CRDT_KEEPS_INCREMENTS,
    ],
};

/// Written from one region, no invariant.
pub const LEADER_FOLLOWER: Rule = Rule {
    id: "REP-LEADER-FOLLOWER",
    statement: "Data without an invariant that is written in one region has one leader there and asynchronous followers where it is read.",
    citation: DDIA,
    triggers: "merged writes, all written from one region",
    evidence: &[],
};

/// The regions the data class is written from (writers' regions it may live in).
pub fn write_regions(spec: &Spec, d: &DataClass) -> BTreeSet<String> {
    let home: BTreeSet<String> = spec.home_regions(d).into_iter().collect();
    spec.writers(d.name.get_ref())
        .iter()
        .flat_map(|s| s.regions.iter().map(|r| r.get_ref().clone()))
        .filter(|r| home.contains(r))
        .collect()
}

/// Where a consensus group's leader goes: where the spec puts it, else the region of the
/// strictest write objective on the data (where it may live), else the first region it
/// is written from, else its first home region.
pub fn leader_region(spec: &Spec, d: &DataClass) -> String {
    if let Some(leader) = &d.leader {
        return leader.get_ref().clone();
    }
    let home = spec.home_regions(d);
    let strictest = spec
        .slos
        .iter()
        .filter(|s| s.data.get_ref() == d.name.get_ref() && s.op == OpKind::Write)
        .filter(|s| home.contains(s.region.get_ref()))
        .min_by(|a, b| a.p99_ms.get_ref().total_cmp(b.p99_ms.get_ref()));
    if let Some(slo) = strictest {
        return slo.region.get_ref().clone();
    }
    write_regions(spec, d)
        .into_iter()
        .next()
        .or_else(|| spec.home_regions(d).into_iter().next())
        .unwrap_or_default()
}

/// The regions a consensus group's replicas go in: the leader's, then the nearest others
/// (witness regions last), three in all when a region failure must be survived, else the
/// leader's alone (one replica per zone).
pub fn replica_regions(spec: &Spec, d: &DataClass) -> Vec<String> {
    let leader = leader_region(spec, d);
    if !spec.tolerates(FailureDomain::Region) {
        return vec![leader];
    }
    let nearest_first = |regions: Vec<String>| {
        let mut by_rtt: Vec<(f64, String)> = regions
            .into_iter()
            .filter(|r| *r != leader)
            .map(|r| (spec.rtt_ms(&leader, &r).unwrap_or(f64::INFINITY), r))
            .collect();
        by_rtt.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
        by_rtt.into_iter().map(|(_, r)| r)
    };
    // Full replicas first; a witness only where the full regions run out.
    let others: Vec<String> = nearest_first(spec.home_regions(d))
        .chain(nearest_first(spec.witness_regions(d)))
        .take(2)
        .collect();
    std::iter::once(leader.clone()).chain(others).collect()
}

/// The regions `d` is read from: its readers' and writers' regions and those of its read
/// objectives, where it may live, in the order of its home regions.
pub fn read_regions(spec: &Spec, d: &DataClass) -> Vec<String> {
    let name = d.name.get_ref();
    let mut from: BTreeSet<&str> = spec
        .services
        .iter()
        .filter(|s| s.reads.iter().chain(&s.writes).any(|r| r.get_ref() == name))
        .flat_map(|s| s.regions.iter().map(|r| r.get_ref().as_str()))
        .collect();
    from.extend(
        spec.slos
            .iter()
            .filter(|s| s.data.get_ref() == name && s.op == OpKind::Read)
            .map(|s| s.region.get_ref().as_str()),
    );
    spec.home_regions(d)
        .into_iter()
        .filter(|r| from.contains(r.as_str()))
        .collect()
}

/// Where a consensus group adds non-voting replicas (learners) so reads that may lag are
/// answered locally: every region `d` is read from when its reads may lag, else only the
/// regions of read objectives that say so; none where a voter already is.
pub fn learner_regions(spec: &Spec, d: &DataClass, voters: &[String]) -> Vec<String> {
    let lagging_reads_everywhere = Needs::of(d).freshness != Freshness::Linearizable;
    let lagging_objectives: BTreeSet<&str> = spec
        .slos
        .iter()
        .filter(|s| {
            s.data.get_ref() == d.name.get_ref()
                && s.op == OpKind::Read
                && s.freshness
                    .as_ref()
                    .is_some_and(|f| *f.get_ref() != Freshness::Linearizable)
        })
        .map(|s| s.region.get_ref().as_str())
        .collect();
    read_regions(spec, d)
        .into_iter()
        .filter(|r| lagging_reads_everywhere || lagging_objectives.contains(r.as_str()))
        .filter(|r| !voters.contains(r))
        .collect()
}

/// The multi-leader conflict setting that merges as `merge` says.
pub fn conflict_setting(merge: Merge) -> &'static str {
    match merge {
        // Reject never reaches multi-leader; last-writer is the fallback.
        Merge::LastWriter | Merge::Reject => "lww",
        Merge::Union => "crdt=or-set",
        Merge::Sum => "crdt=pn-counter",
        Merge::Max => "crdt=max-register",
        Merge::App => "siblings",
    }
}

/// The role [`Topology::placement`] gives a consensus group inside one region: a
/// replica in each of three of its zones.
pub const GROUP_IN_ZONES: &str = "raft group, 3 zones";

/// The role [`Topology::placement`] gives a consensus group's non-voting replica.
pub const LEARNER: &str = "raft learner";

/// How a data class is replicated, and where its copies are.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Topology {
    /// A Raft group: the leader's region first; one region means three zones of it.
    Consensus {
        /// Replica regions, the leader's first.
        regions: Vec<String>,
        /// Regions with a non-voting replica that answers reads that may lag.
        learners: Vec<String>,
        /// Those of `regions` that hold a witness: it votes and keeps the log, serves
        /// nothing.
        witnesses: Vec<String>,
    },
    /// One leader per partition, asynchronous followers.
    LeaderPerPartition {
        /// Where partitions' leaders are placed by default.
        leader: String,
        /// The other regions.
        followers: Vec<String>,
    },
    /// A leader in every region that writes, merging with `conflict`.
    MultiLeader {
        /// The regions that write.
        leaders: Vec<String>,
        /// Regions that only read.
        followers: Vec<String>,
        /// The conflict strategy, as a `multi-leader` setting.
        conflict: &'static str,
    },
    /// One leader, asynchronous followers.
    LeaderFollower {
        /// The leader's region.
        leader: String,
        /// The other regions.
        followers: Vec<String>,
    },
}

impl Topology {
    /// The regions whose copy takes writes (and linearizable reads).
    pub fn leaders(&self) -> Vec<String> {
        match self {
            Topology::Consensus { regions, .. } => regions.iter().take(1).cloned().collect(),
            Topology::LeaderPerPartition { leader, .. }
            | Topology::LeaderFollower { leader, .. } => {
                vec![leader.clone()]
            }
            Topology::MultiLeader { leaders, .. } => leaders.clone(),
        }
    }

    /// Every region holding a copy, with its role ("raft leader", "follower", ...).
    pub fn placement(&self) -> Vec<(String, &'static str)> {
        let with = |first: &[String], role: &'static str, rest: &[String], other: &'static str| {
            first
                .iter()
                .map(|r| (r.clone(), role))
                .chain(rest.iter().map(|r| (r.clone(), other)))
                .collect()
        };
        let learning = |learners: &[String]| -> Vec<(String, &'static str)> {
            learners.iter().map(|r| (r.clone(), LEARNER)).collect()
        };
        match self {
            Topology::Consensus {
                regions, learners, ..
            } if regions.len() == 1 => std::iter::once((regions[0].clone(), GROUP_IN_ZONES))
                .chain(learning(learners))
                .collect(),
            Topology::Consensus {
                regions,
                learners,
                witnesses,
            } => {
                let mut all: Vec<(String, &'static str)> =
                    with(&regions[..1], "raft leader", &regions[1..], "raft follower");
                for (region, role) in &mut all {
                    if witnesses.contains(region) {
                        *role = "raft witness";
                    }
                }
                all.extend(learning(learners));
                all
            }
            Topology::LeaderPerPartition { leader, followers }
            | Topology::LeaderFollower { leader, followers } => with(
                std::slice::from_ref(leader),
                "leader",
                followers,
                "follower",
            ),
            Topology::MultiLeader {
                leaders, followers, ..
            } => with(leaders, "leader", followers, "follower"),
        }
    }
}

/// The topology `decide` chooses for `d`.
pub fn topology(spec: &Spec, d: &DataClass) -> Topology {
    let home = spec.home_regions(d);
    let others = |leaders: &[String]| -> Vec<String> {
        home.iter()
            .filter(|r| !leaders.contains(r))
            .cloned()
            .collect()
    };
    let writes_from: Vec<String> = write_regions(spec, d).into_iter().collect();
    let needs = Needs::of(d);
    if needs.single_order() {
        let regions = replica_regions(spec, d);
        let witness_places = spec.witness_regions(d);
        return Topology::Consensus {
            learners: learner_regions(spec, d, &regions),
            witnesses: regions
                .iter()
                .filter(|r| witness_places.contains(r))
                .cloned()
                .collect(),
            regions,
        };
    }
    match consistency::model(d).0 {
        Model::Causal => {
            let leader = leader_region(spec, d);
            Topology::LeaderPerPartition {
                followers: others(std::slice::from_ref(&leader)),
                leader,
            }
        }
        _ if writes_from.len() > 1 => Topology::MultiLeader {
            followers: others(&writes_from),
            // Time series are samples keyed by (series, time): writes never collide, so
            // last-writer-wins drops nothing (the merge their kind implies).
            conflict: conflict_setting(needs.merge),
            leaders: writes_from,
        },
        _ => {
            let leader = writes_from
                .into_iter()
                .next()
                .unwrap_or_else(|| leader_region(spec, d));
            Topology::LeaderFollower {
                followers: others(std::slice::from_ref(&leader)),
                leader,
            }
        }
    }
}

/// The replication decision for `d`.
pub fn decide(spec: &Spec, d: &DataClass) -> Decision {
    let name = d.name.get_ref();
    match topology(spec, d) {
        Topology::Consensus {
            regions,
            learners,
            witnesses,
        } => {
            let placement = if !witnesses.is_empty() {
                format!(
                    "one replica in each of {}; the one in {} a witness (votes, keeps the log, serves no reads)",
                    regions.join(", "),
                    witnesses.join(", ")
                )
            } else if regions.len() > 1 {
                format!("one replica in each of {}", regions.join(", "))
            } else {
                format!("one replica in each of 3 zones of {}", regions[0])
            };
            let model = consistency::model(d).0;
            let reads = if model == Model::Linearizable {
                "read-index (lease only with clocks known to drift less than the lease margin)".to_string()
            } else {
                format!("{model}: the nearest replica answers (a follower, or a learner that votes in nothing); writes still go to the leader")
            };
            let decision = Decision::new(Topic::Replication, name, CONSENSUS, "consensus (Raft), 3 replicas")
                .set("protocol", "raft")
                .set("replicas", 3)
                .set("placement", placement)
                .set("leader", regions[0].clone())
                .set("reads", reads);
            let decision = if learners.is_empty() {
                decision
            } else {
                decision.set("learners", format!("one non-voting replica in each of {}, where reads may lag", learners.join(", ")))
            };
            decision
                .because(if model == Model::Linearizable {
                    "consistency: linearizable"
                } else {
                    "consistency: linearizable writes"
                })
                .because(if spec.tolerates(FailureDomain::Region) {
                    "tolerate: region"
                } else {
                    "tolerate: zone"
                })
                .rejects("leader-follower, asynchronous", "a failover loses writes the old leader acknowledged but had not shipped")
                .rejects("leaderless quorums (W + R > N)", "concurrent writes and sloppy quorums let reads see values out of order: not linearizable")
                .rejects("multi-leader", "two leaders each accept a write that passes the invariant check")
        }
        Topology::LeaderPerPartition { .. } => Decision::new(Topic::Replication, name, LEADER_PER_PARTITION, "leader-follower per partition; asynchronous followers in the other regions")
            .set("protocol", "leader-follower")
            .set("replication", "semi-sync: a majority of the partition's replicas acknowledges each message; async to the other regions")
            .set("fencing", "on: a deposed leader learns the new epoch and stops acknowledging")
            .set("reads", "at the partition's leader: causal order, and each sender sees its own messages")
            .because("consistency: causal")
            .rejects("multi-leader", "messages to one conversation from two regions need a merged order; replies could precede what they answer")
            .rejects("consensus", "a cross-region quorum round trip per message")
            .rejects("semi-sync with one acknowledgement and no fencing", "a failover loses acknowledged messages and a sender can miss its own"),
        Topology::MultiLeader { leaders, conflict, .. } => {
            let regions = leaders.join(", ");
            let decision = Decision::new(Topic::Replication, name, MULTI_LEADER, format!("multi-leader, conflict strategy {conflict}"))
                .set("protocol", "multi-leader")
                .set("conflict", conflict)
                .set("leaders", regions.clone())
                .because(format!("written in {} regions: {regions}", leaders.len()))
                .because(Needs::of(d).merge_because)
                .rejects("single leader", "writes from the other regions pay a round trip and stop when it is cut off");
            // The demonstrations are about counters and sets: they show why those merge,
            // not why a register's last writer wins.
            if conflict == "lww" {
                decision.without_evidence().rejects(
                    "siblings (version vectors)",
                    "every reader would merge concurrent versions of records that one owner edits at a time",
                )
            } else if conflict == "siblings" {
                decision.without_evidence().rejects(
                    "last-writer-wins",
                    "one of two concurrent edits is dropped; merge = \"app\" asks the application to combine them (Dynamo's shopping cart)",
                )
            } else if conflict == "crdt=max-register" {
                decision.without_evidence().rejects(
                    "last-writer-wins",
                    "a lower value written later on the other side would replace the maximum",
                )
            } else {
                decision
                    .rejects("last-writer-wins", "concurrent increments or inserts on two sides are lost")
            }
        }
        Topology::LeaderFollower { leader, .. } => {
            let reads = if consistency::model(d).0 == Model::Session {
                "a session reads at the leader after it writes (read-your-writes), others at the nearest follower"
            } else {
                "at the nearest follower"
            };
            Decision::new(Topic::Replication, name, LEADER_FOLLOWER, "leader-follower, asynchronous followers")
                .set("protocol", "leader-follower")
                .set("replication", "async")
                .set("reads", reads)
                .set("leader", leader.clone())
                .set("followers", spec.home_regions(d).join(", "))
                .because(format!("written in one region: {leader}"))
                .because(format!("kind = {} and no invariant", kind_name(d.kind)))
                .rejects("consensus", "a quorum round trip per write for data without an invariant")
                .rejects("multi-leader", "conflict handling for writes that all come from one region")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::{data, spec};

    #[test]
    fn linearizable_data_gets_a_raft_group_in_the_leaders_zones() {
        let s = data("money", "");
        let d = decide(&s, &s.data[0]);
        assert_eq!(d.rule, CONSENSUS);
        assert_eq!(
            d.settings["placement"],
            "one replica in each of 3 zones of eu"
        );
    }

    #[test]
    fn surviving_a_region_spreads_the_group_over_the_nearest_regions() {
        let mut s = spec(
            r#"
[[region]]
name = "ap"
zones = 3

[[region]]
name = "sa"
zones = 2

[[link]]
between = ["eu", "ap"]
rtt_ms = 150

[[link]]
between = ["eu", "sa"]
rtt_ms = 200

[[data]]
name = "ledger"
kind = "money"

[[slo]]
operation = "pay"
data = "ledger"
op = "write"
region = "eu"
p99_ms = 400
"#,
        );
        s.system.tolerate = toml::Spanned::new(0..0, vec![FailureDomain::Region]);
        assert_eq!(replica_regions(&s, &s.data[0]), ["eu", "us", "ap"]);
        let d = decide(&s, &s.data[0]);
        assert_eq!(d.settings["placement"], "one replica in each of eu, us, ap");
        assert_eq!(d.settings["leader"], "eu");
    }

    #[test]
    fn chat_keeps_one_leader_per_conversation() {
        let s = data("chat", "");
        assert_eq!(decide(&s, &s.data[0]).rule, LEADER_PER_PARTITION);
    }

    #[test]
    fn data_written_in_two_regions_goes_multi_leader_with_a_fitting_merge() {
        let two = "[[service]]\nname = \"t\"\nregions = [\"us\"]\nwrites = [\"d\"]";
        for (kind, extra, conflict) in [
            ("metrics", "", "crdt=pn-counter"),
            ("metrics", "access = [\"time-series\"]", "lww"),
            ("feed", "", "crdt=or-set"),
            ("profile", "", "lww"),
        ] {
            let s = spec(&format!(
                "[[data]]\nname = \"d\"\nkind = \"{kind}\"\n{extra}\n\n[[service]]\nname = \"s\"\nregions = [\"eu\"]\nwrites = [\"d\"]\n\n{two}"
            ));
            let d = decide(&s, &s.data[0]);
            assert_eq!(
                (d.rule, d.settings["conflict"].as_str()),
                (MULTI_LEADER, conflict),
                "{kind}"
            );
        }
    }

    #[test]
    fn data_written_in_one_region_has_one_leader() {
        let s = data("catalog", "");
        let d = decide(&s, &s.data[0]);
        assert_eq!(d.rule, LEADER_FOLLOWER);
        assert_eq!(d.settings["leader"], "eu");
        assert_eq!(d.settings["followers"], "eu, us");
    }
}

//! What `--verify` runs follows the design exactly, and how measurements are judged.

use super::*;
use crate::rules::testing::{data, spec};
use crate::spec::FailureDomain;

fn m(availability: f64, p50: f64, non_lin: u64, lost: u64) -> Measurement {
    Measurement {
        seeds: 5,
        availability,
        latency_p50_ms: p50,
        latency_p99_ms: p50 * 2.0,
        non_linearizable: non_lin,
        lost_writes: lost,
        ..Measurement::default()
    }
}

#[test]
fn trials_follow_the_topology_and_the_failure_model() {
    let s = data("money", "");
    let t = &trials(&s).0[0];
    assert_eq!(
        (t.chosen.config.as_str(), t.alternative.config.as_str()),
        ("raft:prefer-first=on", "leader-follower:replication=async")
    );
    assert_eq!(t.nemesis, "crash-restart");
    // Three zones of eu, the leader first.
    let places: Vec<(&str, u32)> = t
        .placement
        .nodes
        .iter()
        .map(|n| (n.region.as_str(), n.zone))
        .collect();
    assert_eq!(places, [("eu", 0), ("eu", 1), ("eu", 2)]);
    assert_eq!(t.placement.one_way_ms[0][1], 1.0);
    let mut s = data("catalog", "");
    s.system.tolerate =
        toml::Spanned::new(0..0, vec![FailureDomain::Partition, FailureDomain::Region]);
    let t = &trials(&s).0[0];
    // A catalog has session guarantees: reads at the leader, faster than Raft.
    assert_eq!(t.chosen.claims, [Claim::Faster, Claim::ReadsOwnWrites]);
    assert_eq!(t.chosen.config, "leader-follower:replication=async");
    assert_eq!(t.nemesis, "isolate-region+region-outage");
}

/// The click counter of the issue: a PN-counter is what runs, on counters, and it must
/// keep every increment (last-writer-wins is the alternative that must lose some).
#[test]
fn a_counter_runs_its_crdt_on_a_counter_workload() {
    let s = spec(
        "[[data]]\nname = \"clicks\"\nkind = \"counter\"\n\n\
         [[service]]\nname = \"a\"\nregions = [\"eu\"]\nwrites = [\"clicks\"]\n\n\
         [[service]]\nname = \"b\"\nregions = [\"us\"]\nwrites = [\"clicks\"]\n",
    );
    let t = &trials(&s).0[0];
    assert_eq!(
        t.chosen.config,
        "multi-leader:conflict=crdt,crdt=pn-counter"
    );
    assert_eq!(t.chosen.claims, [Claim::KeepsConcurrentWrites]);
    assert_eq!(t.alternative.config, "multi-leader:conflict=lww");
    assert_eq!(t.placement.workload, Workload::Counter);
    // Each leader region's node 40 ms from the other.
    assert_eq!(t.placement.one_way_ms[0][1], 40.0);
    let lost = Measurement {
        concurrent_writes_lost: 19,
        ..m(1.0, 1.0, 0, 0)
    };
    let o = judge(
        t.clone(),
        lost,
        m(1.0, 1.0, 0, 0),
        Measurement::default(),
        Vec::new(),
    );
    assert_eq!(o.chosen_verdict, Confirmation::Contradicted);
}

/// Writes in one order with reads that may lag: Raft with learners where reads happen,
/// local reads, the voters counted; users in the far region beside its learner.
#[test]
fn learners_take_the_lagging_reads_where_their_users_are() {
    let s = spec(
        "[[data]]\nname = \"links\"\nkind = \"catalog\"\ninvariants = [\"unique\"]\nfreshness = \"eventual\"\n\n\
         [[service]]\nname = \"w\"\nregions = [\"eu\"]\nwrites = [\"links\"]\n\n\
         [[service]]\nname = \"r\"\nregions = [\"us\"]\nreads = [\"links\"]\n\n\
         [[slo]]\noperation = \"follow\"\ndata = \"links\"\nop = \"read\"\nregion = \"us\"\np99_ms = 20\n",
    );
    let t = &trials(&s).0[0];
    assert_eq!(t.chosen.config, "raft:prefer-first=on,voters=3,reads=local");
    assert_eq!(t.alternative.config, "raft:prefer-first=on,voters=3");
    let roles: Vec<&str> = t.placement.nodes.iter().map(|n| n.role).collect();
    assert_eq!(
        roles,
        [
            "raft leader",
            "raft follower",
            "raft follower",
            "raft learner"
        ]
    );
    assert_eq!(t.placement.clients.len(), 1);
    let us = &t.placement.clients[0];
    assert_eq!((us.region.as_str(), us.home, us.latency_ms), ("us", 3, 0.1));
    assert_eq!(t.objectives[0].floor_ms, Some(0.0));
}

#[test]
fn a_placement_without_its_round_trips_is_not_run() {
    let s = spec(
        "[[region]]\nname = \"ap\"\nzones = 3\n\n[[data]]\nname = \"d\"\nkind = \"profile\"\n\n\
         [[service]]\nname = \"a\"\nregions = [\"ap\"]\nwrites = [\"d\"]\n",
    );
    let (run, skipped) = trials(&s);
    assert!(run.is_empty());
    assert_eq!(skipped[0].why, "no rtt_ms between ap and eu");
}

#[test]
fn a_broken_claim_is_contradicted_and_an_unshown_flaw_is_not() {
    let trial = trials(&data("money", "")).0.remove(0);
    let o = judge(
        trial.clone(),
        m(0.9, 2.0, 0, 0),
        m(0.99, 1.0, 2, 5),
        Measurement::default(),
        Vec::new(),
    );
    assert_eq!(
        (o.chosen_verdict, o.alternative_verdict),
        (Confirmation::Confirmed, Confirmation::Confirmed)
    );
    let o = judge(
        trial,
        m(0.9, 2.0, 1, 0),
        m(0.99, 1.0, 0, 0),
        Measurement::default(),
        Vec::new(),
    );
    assert_eq!(
        (o.chosen_verdict, o.alternative_verdict),
        (Confirmation::Contradicted, Confirmation::NotShown)
    );
    let verification = Verification {
        outcomes: vec![o],
        skipped: Vec::new(),
    };
    let shown = text(&verification);
    assert!(shown.contains(
        "raft:prefer-first=on claims linearizable, no acknowledged write lost: CONTRADICTED"
    ));
    // What the runs answered, beside the arithmetic's year (three zones of eu: 99.95%).
    assert!(
        shown.contains("answered 90.0% of operations under these faults; the arithmetic puts the store at 99.95"),
        "{shown}"
    );
}

#[test]
fn objectives_are_met_missed_or_below_the_bound() {
    let s = data(
        "money",
        "\n[[slo]]\noperation = \"pay\"\ndata = \"d\"\nop = \"write\"\nregion = \"us\"\np99_ms = 100",
    );
    let trial = trials(&s).0.remove(0);
    // The leader follows the objective to us; the quorum is between zones: 2 ms.
    assert_eq!(trial.objectives[0].floor_ms, Some(2.0));
    let steady = |ms: f64| Measurement {
        groups: vec![GroupLatency {
            reads_p99_ms: None,
            writes_p99_ms: Some(ms),
        }],
        ..Measurement::default()
    };
    let verdict = |ms: f64| {
        let o = judge(
            trial.clone(),
            m(1.0, 1.0, 0, 0),
            m(1.0, 1.0, 1, 0),
            Measurement::default(),
            vec![steady(ms)],
        );
        (o.latency[0].verdict, o.latency[0].below_floor)
    };
    assert_eq!(verdict(5.0), (Confirmation::Confirmed, false));
    assert_eq!(verdict(150.0), (Confirmation::Contradicted, false));
    assert_eq!(verdict(1.0), (Confirmation::Confirmed, true));
}

/// Each example spec's trials run the configuration its design decided, exactly: the
/// protocol, the quorum and learners, the read path, the conflict strategy, the leader's
/// region first and a node wherever the design places a copy.
#[test]
fn every_example_runs_exactly_the_configuration_its_design_chose() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../specs");
    let mut specs: Vec<std::path::PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    specs.sort();
    assert!(specs.len() >= 8, "{specs:?}");
    for path in specs {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let s = crate::Spec::parse("example.toml", &text).unwrap_or_else(|e| panic!("{e}"));
        let design = crate::design(&s);
        let (trials, skipped) = trials(&s);
        assert!(skipped.is_empty(), "{}: {skipped:?}", path.display());
        for t in trials {
            let decision = |topic: &str| {
                design
                    .decisions
                    .iter()
                    .find(|d| d.id == format!("{}/{topic}", t.data))
                    .unwrap_or_else(|| panic!("no {topic} decision for {}", t.data))
            };
            let replication = decision("replication");
            let protocol = &replication.settings["protocol"];
            let what = format!("{}: {}", path.display(), t.data);
            assert!(
                t.chosen.config.starts_with(protocol.as_str()),
                "{what}: {} for {protocol}",
                t.chosen.config
            );
            let d = s.data_class(&t.data).unwrap_or_else(|| panic!("{what}"));
            let placement = crate::rules::replication::topology(&s, d).placement();
            // A node in every region the design places a copy in, the leader's first.
            for (region, _) in &placement {
                assert!(
                    t.placement.nodes.iter().any(|n| n.region == *region),
                    "{what}: no node in {region}"
                );
            }
            if let Some(leader) = replication.settings.get("leader") {
                assert_eq!(&t.placement.nodes[0].region, leader, "{what}");
            }
            match protocol.as_str() {
                "raft" => {
                    let learners = t
                        .placement
                        .nodes
                        .iter()
                        .filter(|n| n.role == "raft learner")
                        .count();
                    let voters = t.placement.nodes.len() - learners;
                    assert_eq!(
                        voters.to_string(),
                        replication.settings["replicas"],
                        "{what}"
                    );
                    assert_eq!(
                        learners > 0,
                        t.chosen.config.contains(&format!("voters={voters}")),
                        "{what}"
                    );
                    let local = !replication.settings["reads"].starts_with("read-index");
                    assert_eq!(local, t.chosen.config.contains("reads=local"), "{what}");
                    assert!(t.chosen.config.contains("prefer-first=on"), "{what}");
                }
                "multi-leader" => {
                    let conflict = &replication.settings["conflict"];
                    assert!(
                        t.chosen.config.ends_with(conflict.as_str()),
                        "{what}: {} for {conflict}",
                        t.chosen.config
                    );
                    let workload = match conflict.as_str() {
                        "crdt=pn-counter" => Workload::Counter,
                        "crdt=or-set" => Workload::Set,
                        _ => Workload::Register,
                    };
                    assert_eq!(t.placement.workload, workload, "{what}");
                }
                _ => {
                    let semi = replication
                        .settings
                        .get("replication")
                        .is_some_and(|r| r.starts_with("semi-sync"));
                    assert_eq!(
                        semi,
                        t.chosen.config.contains("replication=semi-sync"),
                        "{what}"
                    );
                }
            }
        }
    }
}

/// An objective whose reads may lag, on data read linearizably otherwise, is measured
/// with the read path the design gives it: the nearest replica.
#[test]
fn a_lagging_objective_is_measured_on_its_own_read_path() {
    let s = data(
        "money",
        "\n[[slo]]\noperation = \"statement\"\ndata = \"d\"\nop = \"read\"\nregion = \"eu\"\np99_ms = 5\nfreshness = \"bounded:10000\"\n\n[[slo]]\noperation = \"balance\"\ndata = \"d\"\nop = \"read\"\nregion = \"eu\"\np99_ms = 50",
    );
    let t = &trials(&s).0[0];
    assert_eq!(t.chosen.config, "raft:prefer-first=on");
    let configs: Vec<&str> = t.objectives.iter().map(|o| o.config.as_str()).collect();
    assert_eq!(
        configs,
        ["raft:prefer-first=on,reads=local", "raft:prefer-first=on"]
    );
}

/// A set's merge is judged by what it keeps; read-your-writes has no check on sets, so it
/// is not claimed there (a claim nothing can contradict is no claim).
#[test]
fn session_claims_are_made_only_where_a_check_can_judge_them() {
    let s = spec(
        "[[data]]\nname = \"carts\"\nkind = \"profile\"\nmerge = \"union\"\n\n\
         [[service]]\nname = \"a\"\nregions = [\"eu\"]\nwrites = [\"carts\"]\n\n\
         [[service]]\nname = \"b\"\nregions = [\"us\"]\nwrites = [\"carts\"]\n",
    );
    let t = &trials(&s).0[0];
    assert_eq!(t.placement.workload, Workload::Set);
    assert_eq!(t.chosen.claims, [Claim::KeepsConcurrentWrites]);
    let s = data("profile", "");
    assert!(
        trials(&s).0[0]
            .chosen
            .claims
            .contains(&Claim::ReadsOwnWrites)
    );
}

//! What `--verify` runs for each data class: the configuration the design chose, exactly
//! (protocol, quorum, read path, conflict strategy, leader placement), and the strongest
//! alternative it rejected, both on the cluster the design places ([`super::placement`])
//! under the failures the spec must survive; and the latency objectives to measure.

use super::placement::{self, Placement};
use super::{Claim, Objective, Side, Skipped, Trial};
use crate::checks;
use crate::rules::consistency::{self, Model};
use crate::rules::replication::{Topology, topology};
use crate::spec::{FailureDomain, Freshness, OpKind, Spec};

/// The nemesis for the spec's failure model, on the design's regions: a partition cuts
/// one region off, a zone loss crashes and restarts a node (one zone's copy), a region
/// loss takes every node of a region down together.
pub fn nemesis(spec: &Spec) -> String {
    let parts: Vec<&str> = [
        (FailureDomain::Partition, "isolate-region"),
        (FailureDomain::Zone, "crash-restart"),
        (FailureDomain::Region, "region-outage"),
    ]
    .into_iter()
    .filter(|(f, _)| spec.tolerates(*f))
    .map(|(_, n)| n)
    .collect();
    if parts.is_empty() {
        // Nothing to survive: still test the claim under the commonest fault.
        "isolate-region".to_string()
    } else {
        parts.join("+")
    }
}

fn side(config: String, claims: &[Claim]) -> Side {
    Side {
        config,
        claims: claims.to_vec(),
    }
}

/// The multi-leader setting for a design's conflict strategy, as the simulator spells
/// it; `None` where the simulator has no such merge.
fn multi_leader(conflict: &str) -> Option<String> {
    Some(match conflict {
        "lww" => "multi-leader:conflict=lww".to_string(),
        "siblings" => "multi-leader:conflict=siblings".to_string(),
        "crdt=pn-counter" | "crdt=or-set" => {
            format!("multi-leader:conflict=crdt,{conflict}")
        }
        _ => return None,
    })
}

/// The chosen side and the alternative for `d`'s topology.
fn sides(spec: &Spec, d: &crate::spec::DataClass, nodes: usize) -> Result<(Side, Side), String> {
    let model = consistency::model(d).0;
    // A session model promises read-your-writes: the chosen side must keep it, where the
    // checker can judge it (registers; counters and sets have no session check).
    let session = matches!(model, Model::Session | Model::Causal);
    let checkable = placement::workload(d) == placement::Workload::Register;
    let own: &[Claim] = if session && checkable {
        &[Claim::ReadsOwnWrites]
    } else {
        &[]
    };
    let with = |claims: &[Claim]| [claims, own].concat();
    Ok(match topology(spec, d) {
        Topology::Consensus { learners, .. } => {
            // The leader is node 0, where the design puts it; learners vote in nothing.
            let mut raft = String::from("raft:prefer-first=on");
            if !learners.is_empty() {
                raft.push_str(&format!(",voters={}", nodes - learners.len()));
            }
            if model == Model::Linearizable {
                (
                    side(raft, &[Claim::Safe]),
                    side("leader-follower:replication=async".into(), &[Claim::Unsafe]),
                )
            } else {
                (
                    side(
                        format!("{raft},reads=local"),
                        &[Claim::KeepsWrites, Claim::Faster],
                    ),
                    side(raft, &[Claim::Slower]),
                )
            }
        }
        // A majority of the partition's replicas: the leader and half the followers.
        Topology::LeaderPerPartition { .. } => (
            side(
                format!(
                    "leader-follower:replication=semi-sync,acks={},fencing=on",
                    nodes / 2
                ),
                &[Claim::ReadsOwnWrites],
            ),
            side(
                "multi-leader:conflict=lww".into(),
                &[Claim::LosesConcurrentWrites],
            ),
        ),
        Topology::MultiLeader { conflict, .. } => {
            let config = multi_leader(conflict)
                .ok_or_else(|| format!("the simulator has no {conflict} to run"))?;
            if conflict.starts_with("crdt=") {
                // The merge keeps what last-writer-wins drops.
                (
                    side(config, &with(&[Claim::KeepsConcurrentWrites])),
                    side(
                        "multi-leader:conflict=lww".into(),
                        &[Claim::LosesConcurrentWrites],
                    ),
                )
            } else {
                (
                    side(config, &with(&[Claim::MoreAvailable])),
                    side("raft".into(), &[Claim::LessAvailable]),
                )
            }
        }
        // Sessions read at the leader after writing; other readers at any replica.
        Topology::LeaderFollower { .. } if session => (
            side(
                "leader-follower:replication=async".into(),
                &with(&[Claim::Faster]),
            ),
            side("raft".into(), &[Claim::Slower]),
        ),
        Topology::LeaderFollower { .. } => (
            side(
                "leader-follower:replication=async,reads=any".into(),
                &[Claim::Faster],
            ),
            side("raft".into(), &[Claim::Slower]),
        ),
    })
}

/// The objectives on `d`, each measured from the client group of its region.
fn objectives(
    spec: &Spec,
    d: &crate::spec::DataClass,
    placement: &Placement,
    chosen: &Side,
) -> Vec<Objective> {
    spec.slos
        .iter()
        .enumerate()
        .filter(|(_, s)| s.data.get_ref() == d.name.get_ref())
        .filter_map(|(index, slo)| {
            let group = placement
                .clients
                .iter()
                .position(|g| g.region == *slo.region.get_ref())?;
            // An objective whose reads may lag on a group that otherwise reads
            // linearizably is measured with reads at the nearest replica, as the design
            // serves it.
            let lagging = slo
                .freshness
                .as_ref()
                .is_some_and(|f| *f.get_ref() != Freshness::Linearizable);
            let config = if slo.op == OpKind::Read
                && lagging
                && chosen.config.starts_with("raft")
                && !chosen.config.contains("reads=")
            {
                format!("{},reads=local", chosen.config)
            } else {
                chosen.config.clone()
            };
            Some(Objective {
                operation: slo.operation.clone(),
                op: slo.op,
                group,
                p99_ms: *slo.p99_ms.get_ref(),
                floor_ms: checks::latency_floor(spec, index),
                config,
            })
        })
        .collect()
}

/// One trial per data class the simulator can run, and the others with why not.
pub fn trials(spec: &Spec) -> (Vec<Trial>, Vec<Skipped>) {
    let nemesis = nemesis(spec);
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    for d in &spec.data {
        let built = placement::placement(spec, d).and_then(|placement| {
            let (chosen, alternative) = sides(spec, d, placement.nodes.len())?;
            Ok(Trial {
                data: d.name.get_ref().clone(),
                objectives: objectives(spec, d, &placement, &chosen),
                arithmetic_availability: {
                    let rates = crate::availability::FailureRates::of(spec);
                    let part = crate::availability::store_part(spec, d, rates);
                    crate::availability::all_up(spec, &[part], rates)
                },
                chosen,
                alternative,
                nemesis: nemesis.clone(),
                placement,
            })
        });
        match built {
            Ok(trial) => out.push(trial),
            Err(why) => skipped.push(Skipped {
                data: d.name.get_ref().clone(),
                why,
            }),
        }
    }
    (out, skipped)
}

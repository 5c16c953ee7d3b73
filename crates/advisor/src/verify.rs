//! `dsys design --verify`: put each data class's replication choice and the strongest
//! alternative it rejected through the simulator under the spec's failure model, and set
//! what was measured beside what the rule claimed.
//!
//! The advisor says what to run ([`trials`]) and how to judge it ([`judge`]); the lab runs
//! it. Runs use the simulator's defaults (five nodes, 1 ms links), not the spec's regions:
//! they test the claim about behaviour under faults, not the latency arithmetic, which the
//! checks already do.

use crate::rules::consistency::{self, Model};
use crate::rules::replication::{Topology, topology};
use crate::spec::{FailureDomain, Spec};
use serde::Serialize;

/// What a trial claims of one configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Claim {
    /// Linearizable on every seed and no acknowledged write lost.
    Safe,
    /// Not linearizable, or loses acknowledged writes, on some seed.
    Unsafe,
    /// No acknowledged write lost on any seed (reads may lag).
    KeepsWrites,
    /// Loses concurrent writes to conflict resolution on some seed.
    LosesConcurrentWrites,
    /// Reads see the reader's own writes on every seed.
    ReadsOwnWrites,
    /// Answers at least as many operations as the other configuration.
    MoreAvailable,
    /// Answers fewer operations than the other configuration.
    LessAvailable,
    /// A lower median latency than the other configuration.
    Faster,
    /// A higher median latency than the other configuration.
    Slower,
}

/// One side of a trial: a configuration (as `dsys grid` spells it) and its claims.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Side {
    /// `protocol` or `protocol:key=value,...`.
    pub config: String,
    /// What the design says of it; all must hold.
    pub claims: Vec<Claim>,
}

/// What to run for one data class.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Trial {
    /// The data class.
    pub data: String,
    /// The chosen configuration.
    pub chosen: Side,
    /// The strongest alternative the rule rejected.
    pub alternative: Side,
    /// The nemesis, from the failures the spec must survive.
    pub nemesis: String,
}

/// The nemesis for the spec's failure model: partitions split the cluster in halves, a
/// zone loss crashes and restarts nodes, a region loss cuts the leader off.
pub fn nemesis(spec: &Spec) -> String {
    let parts: Vec<&str> = [
        (FailureDomain::Partition, "halves"),
        (FailureDomain::Zone, "crash-restart"),
        (FailureDomain::Region, "isolate-leader"),
    ]
    .into_iter()
    .filter(|(f, _)| spec.tolerates(*f))
    .map(|(_, n)| n)
    .collect();
    if parts.is_empty() {
        // Nothing to survive: still test the claim under the commonest fault.
        "halves".to_string()
    } else {
        parts.join("+")
    }
}

/// One trial per data class.
pub fn trials(spec: &Spec) -> Vec<Trial> {
    let nemesis = nemesis(spec);
    spec.data
        .iter()
        .map(|d| {
            let side = |config: &str, claims: &[Claim]| Side {
                config: config.to_string(),
                claims: claims.to_vec(),
            };
            // A session model promises read-your-writes: the chosen side must keep it.
            let session = matches!(consistency::model(d).0, Model::Session | Model::Causal);
            let own_writes: &[Claim] = if session {
                &[Claim::ReadsOwnWrites]
            } else {
                &[]
            };
            let with = |claim: Claim| [&[claim][..], own_writes].concat();
            let (chosen, alternative) = match topology(spec, d) {
                // Reads that may lag are answered by the nearest replica: the writes
                // keep their order, the reads are faster than read-index.
                Topology::Consensus { .. } if consistency::model(d).0 != Model::Linearizable => (
                    side("raft:reads=local", &[Claim::KeepsWrites, Claim::Faster]),
                    side("raft", &[Claim::Slower]),
                ),
                Topology::Consensus { .. } => (
                    side("raft", &[Claim::Safe]),
                    side("leader-follower:replication=async", &[Claim::Unsafe]),
                ),
                Topology::LeaderPerPartition { .. } => (
                    side(
                        "leader-follower:replication=semi-sync,acks=2,fencing=on",
                        &[Claim::ReadsOwnWrites],
                    ),
                    side("multi-leader:conflict=lww", &[Claim::LosesConcurrentWrites]),
                ),
                Topology::MultiLeader { .. } => (
                    side("multi-leader:conflict=lww", &with(Claim::MoreAvailable)),
                    side("raft", &[Claim::LessAvailable]),
                ),
                // Sessions read at the leader after writing; other readers at any replica.
                Topology::LeaderFollower { .. } if session => (
                    side("leader-follower:replication=async", &with(Claim::Faster)),
                    side("raft", &[Claim::Slower]),
                ),
                Topology::LeaderFollower { .. } => (
                    side(
                        "leader-follower:replication=async,reads=any",
                        &[Claim::Faster],
                    ),
                    side("raft", &[Claim::Slower]),
                ),
            };
            Trial {
                data: d.name.get_ref().clone(),
                chosen,
                alternative,
                nemesis: nemesis.clone(),
            }
        })
        .collect()
}

/// What the simulator measured for one configuration under the trial's nemesis.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Measurement {
    /// Seeds run.
    pub seeds: u64,
    /// Share of operations answered.
    pub availability: f64,
    /// Median latency of successful operations, virtual ms.
    pub latency_p50_ms: f64,
    /// 99th percentile, virtual ms.
    pub latency_p99_ms: f64,
    /// Seeds not linearizable.
    pub non_linearizable: u64,
    /// Acknowledged writes lost.
    pub lost_writes: u64,
    /// Writes dropped by conflict resolution.
    pub concurrent_writes_lost: u64,
    /// Read-your-writes violations.
    pub read_your_writes_violations: u64,
}

/// One configuration under one nemesis: what a [`Measure`] is asked to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// `protocol` or `protocol:key=value,...`.
    pub config: String,
    /// The nemesis.
    pub nemesis: String,
}

/// What runs the trials (the lab, in the simulator). The advisor says what to run and
/// judges what comes back; the runner implements this, so the dependency points at the
/// advisor and the advisor needs no simulator.
pub trait Measure {
    /// Why measuring failed.
    type Error;
    /// Measure each run over `seeds` seeds, one measurement per run, in order.
    fn measure(&self, runs: &[Run], seeds: u64) -> Result<Vec<Measurement>, Self::Error>;
}

/// `--verify`: every data class's trial, measured by `measure` and judged.
pub fn verify<M: Measure>(spec: &Spec, seeds: u64, measure: &M) -> Result<Vec<Outcome>, M::Error> {
    let trials = trials(spec);
    let mut runs: Vec<Run> = Vec::new();
    for t in &trials {
        for side in [&t.chosen, &t.alternative] {
            let run = Run {
                config: side.config.clone(),
                nemesis: t.nemesis.clone(),
            };
            if !runs.contains(&run) {
                runs.push(run);
            }
        }
    }
    let measured = measure.measure(&runs, seeds)?;
    let of = |config: &str, nemesis: &str| {
        runs.iter()
            .position(|r| r.config == config && r.nemesis == nemesis)
            .and_then(|i| measured.get(i).copied())
            .unwrap_or_default()
    };
    Ok(trials
        .into_iter()
        .map(|t| {
            let chosen = of(&t.chosen.config, &t.nemesis);
            let alternative = of(&t.alternative.config, &t.nemesis);
            judge(t, chosen, alternative)
        })
        .collect())
}

/// What contradicts the design: its own checks' contradictions, then the claims the
/// simulator contradicted; each as `subject (check)`. Empty: the design holds together.
pub fn contradictions(design: &crate::Design, outcomes: &[Outcome]) -> Vec<String> {
    design
        .contradictions()
        .map(|c| format!("{} ({})", c.subject, c.check))
        .chain(
            outcomes
                .iter()
                .filter(|o| o.chosen_verdict == Confirmation::Contradicted)
                .map(|o| format!("{} (verify: {})", o.trial.data, o.trial.chosen.config)),
        )
        .collect()
}

/// A design with its verification, as `--verify --format json` prints it: the design's
/// fields, then `verification`.
#[derive(Debug, Serialize)]
pub struct VerifiedDesign<'a> {
    /// The design.
    #[serde(flatten)]
    pub design: &'a crate::Design,
    /// One outcome per data class.
    pub verification: &'a [Outcome],
}

/// How a claim fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confirmation {
    /// The measurement shows what was claimed.
    Confirmed,
    /// The measurement shows the opposite: the design's reasoning is wrong here.
    Contradicted,
    /// The rejected alternative did not show its flaw on these seeds: the rejection
    /// stands on the rule, not on this run.
    NotShown,
}

/// A trial with its measurements and verdicts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// The trial.
    pub trial: Trial,
    /// The chosen configuration's measurement.
    pub chosen: Measurement,
    /// The alternative's.
    pub alternative: Measurement,
    /// The verdict on the chosen configuration's claim (never `NotShown`).
    pub chosen_verdict: Confirmation,
    /// The verdict on the alternative's.
    pub alternative_verdict: Confirmation,
}

/// Whether `m` shows `claim` (`other` is the other side, for comparative claims).
fn holds(claim: Claim, m: &Measurement, other: &Measurement) -> bool {
    match claim {
        Claim::Safe => m.non_linearizable == 0 && m.lost_writes == 0,
        Claim::Unsafe => m.non_linearizable > 0 || m.lost_writes > 0,
        Claim::KeepsWrites => m.lost_writes == 0,
        Claim::LosesConcurrentWrites => m.concurrent_writes_lost > 0 || m.lost_writes > 0,
        Claim::ReadsOwnWrites => m.read_your_writes_violations == 0,
        Claim::MoreAvailable => m.availability >= other.availability,
        Claim::LessAvailable => m.availability < other.availability,
        Claim::Faster => m.latency_p50_ms < other.latency_p50_ms,
        Claim::Slower => m.latency_p50_ms > other.latency_p50_ms,
    }
}

/// Judge a trial: the chosen side's claims must hold (else `Contradicted`); the
/// alternative's flaw may fail to show on the seeds run (`NotShown`).
pub fn judge(trial: Trial, chosen: Measurement, alternative: Measurement) -> Outcome {
    let all = |side: &Side, m: &Measurement, other: &Measurement| {
        side.claims.iter().all(|&c| holds(c, m, other))
    };
    let chosen_verdict = if all(&trial.chosen, &chosen, &alternative) {
        Confirmation::Confirmed
    } else {
        Confirmation::Contradicted
    };
    let alternative_verdict = if all(&trial.alternative, &alternative, &chosen) {
        Confirmation::Confirmed
    } else {
        Confirmation::NotShown
    };
    Outcome {
        trial,
        chosen,
        alternative,
        chosen_verdict,
        alternative_verdict,
    }
}

fn claim_words(claim: Claim) -> &'static str {
    match claim {
        Claim::Safe => "linearizable, no acknowledged write lost",
        Claim::Unsafe => "not linearizable or loses acknowledged writes",
        Claim::KeepsWrites => "no acknowledged write lost",
        Claim::LosesConcurrentWrites => "loses concurrent writes",
        Claim::ReadsOwnWrites => "every reader sees its own writes",
        Claim::MoreAvailable => "at least as available as the alternative",
        Claim::LessAvailable => "less available",
        Claim::Faster => "lower median latency than the alternative",
        Claim::Slower => "higher median latency",
    }
}

fn measured(m: &Measurement) -> String {
    format!(
        "availability {:.1}%, p50 {:.2} ms, p99 {:.2} ms, not linearizable on {}/{} seeds, {} lost writes, {} concurrent writes lost, {} read-your-writes violations",
        m.availability * 100.0,
        m.latency_p50_ms,
        m.latency_p99_ms,
        m.non_linearizable,
        m.seeds,
        m.lost_writes,
        m.concurrent_writes_lost,
        m.read_your_writes_violations
    )
}

fn verdict_word(v: Confirmation) -> &'static str {
    match v {
        Confirmation::Confirmed => "confirmed",
        Confirmation::Contradicted => "CONTRADICTED",
        Confirmation::NotShown => "not shown on these seeds",
    }
}

/// The outcomes as text, one block per data class.
pub fn text(outcomes: &[Outcome]) -> String {
    let mut out = String::from("\nVerification (simulator, 5 nodes, 1 ms links)\n");
    for o in outcomes {
        let t = &o.trial;
        out.push_str(&format!("  {} under {}\n", t.data, t.nemesis));
        for (side, m, v) in [
            (&t.chosen, &o.chosen, o.chosen_verdict),
            (&t.alternative, &o.alternative, o.alternative_verdict),
        ] {
            let claims: Vec<&str> = side.claims.iter().map(|&c| claim_words(c)).collect();
            out.push_str(&format!(
                "    {} claims {}: {}\n      measured {}\n",
                side.config,
                claims.join("; "),
                verdict_word(v),
                measured(m)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::testing::data;

    fn m(availability: f64, p50: f64, non_lin: u64, lost: u64) -> Measurement {
        Measurement {
            seeds: 5,
            availability,
            latency_p50_ms: p50,
            latency_p99_ms: p50 * 2.0,
            non_linearizable: non_lin,
            lost_writes: lost,
            concurrent_writes_lost: 0,
            read_your_writes_violations: 0,
        }
    }

    #[test]
    fn trials_follow_the_topology_and_the_failure_model() {
        let s = data("money", "");
        let t = &trials(&s)[0];
        assert_eq!(
            (t.chosen.config.as_str(), t.alternative.config.as_str()),
            ("raft", "leader-follower:replication=async")
        );
        assert_eq!(t.nemesis, "crash-restart");
        let mut s = data("catalog", "");
        s.system.tolerate =
            toml::Spanned::new(0..0, vec![FailureDomain::Partition, FailureDomain::Region]);
        let t = &trials(&s)[0];
        // A catalog has session guarantees: reads at the leader, faster than Raft.
        assert_eq!(t.chosen.claims, [Claim::Faster, Claim::ReadsOwnWrites]);
        assert_eq!(t.chosen.config, "leader-follower:replication=async");
        assert_eq!(t.nemesis, "halves+isolate-leader");
    }

    #[test]
    fn a_broken_claim_is_contradicted_and_an_unshown_flaw_is_not() {
        let trial = trials(&data("money", "")).remove(0);
        let o = judge(trial.clone(), m(0.9, 2.0, 0, 0), m(0.99, 1.0, 2, 5));
        assert_eq!(
            (o.chosen_verdict, o.alternative_verdict),
            (Confirmation::Confirmed, Confirmation::Confirmed)
        );
        let o = judge(trial.clone(), m(0.9, 2.0, 1, 0), m(0.99, 1.0, 0, 0));
        assert_eq!(
            (o.chosen_verdict, o.alternative_verdict),
            (Confirmation::Contradicted, Confirmation::NotShown)
        );
        assert!(
            text(&[o])
                .contains("raft claims linearizable, no acknowledged write lost: CONTRADICTED")
        );
    }
}

//! Judging what the simulator measured against what the design claimed, and saying it.

use super::{Claim, Measurement, Objective, Side, Trial, Verification};
use crate::spec::OpKind;
use serde::Serialize;
use std::fmt::Write;

/// How a claim fared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Confirmation {
    /// The measurement shows what was claimed.
    Confirmed,
    /// The measurement shows the opposite: the design's reasoning is wrong here.
    Contradicted,
    /// The rejected alternative did not show its flaw on these seeds (the rejection
    /// stands on the rule, not on this run), or an objective had no operation to measure.
    NotShown,
}

/// One latency objective, measured.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Latency {
    /// The objective.
    pub objective: Objective,
    /// The p99 measured from its users' region without faults, virtual ms.
    pub measured_p99_ms: Option<f64>,
    /// Met (`Confirmed`), missed (`Contradicted`), or nothing measured (`NotShown`).
    pub verdict: Confirmation,
    /// Whether the measurement came in below the arithmetic's lower bound (the bound, or
    /// the model behind it, is wrong).
    pub below_floor: bool,
}

/// A trial with its measurements and verdicts.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Outcome {
    /// The trial.
    pub trial: Trial,
    /// The chosen configuration's measurement under the nemesis.
    pub chosen: Measurement,
    /// The alternative's.
    pub alternative: Measurement,
    /// The chosen configuration without faults.
    pub steady: Measurement,
    /// The verdict on the chosen configuration's claims (never `NotShown`).
    pub chosen_verdict: Confirmation,
    /// The verdict on the alternative's.
    pub alternative_verdict: Confirmation,
    /// Each latency objective on the data, measured.
    pub latency: Vec<Latency>,
}

/// Whether `m` shows `claim` (`other` is the other side, for comparative claims).
fn holds(claim: Claim, m: &Measurement, other: &Measurement) -> bool {
    match claim {
        Claim::Safe => m.non_linearizable == 0 && m.lost_writes == 0,
        Claim::Unsafe => m.non_linearizable > 0 || m.lost_writes > 0,
        Claim::KeepsWrites => m.lost_writes == 0,
        Claim::LosesConcurrentWrites => m.concurrent_writes_lost > 0 || m.lost_writes > 0,
        Claim::KeepsConcurrentWrites => m.concurrent_writes_lost == 0 && m.lost_writes == 0,
        Claim::ReadsOwnWrites => m.read_your_writes_violations == 0,
        Claim::MoreAvailable => m.availability >= other.availability,
        Claim::LessAvailable => m.availability < other.availability,
        Claim::Faster => m.latency_p50_ms < other.latency_p50_ms,
        Claim::Slower => m.latency_p50_ms > other.latency_p50_ms,
    }
}

/// A measured p99 may sit this far under the bound before it counts as below it: the
/// simulator rounds to the nanosecond and links jitter by a few per cent.
const FLOOR_TOLERANCE: f64 = 0.02;

/// Judge a trial: the chosen side's claims must hold (else `Contradicted`), and each
/// objective's p99 (measured without faults on its configuration: `per_objective`, in
/// the trial's order) must be met; the alternative's flaw may fail to show on the seeds
/// run (`NotShown`).
pub fn judge(
    trial: Trial,
    chosen: Measurement,
    alternative: Measurement,
    steady: Measurement,
    per_objective: Vec<Measurement>,
) -> Outcome {
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
    let latency = trial
        .objectives
        .iter()
        .zip(per_objective.iter().chain(std::iter::repeat(&steady)))
        .map(|(o, m)| {
            let measured = m.groups.get(o.group).and_then(|g| g.p99(o.op));
            Latency {
                verdict: match measured {
                    None => Confirmation::NotShown,
                    Some(ms) if ms <= o.p99_ms => Confirmation::Confirmed,
                    Some(_) => Confirmation::Contradicted,
                },
                below_floor: match (measured, o.floor_ms) {
                    (Some(ms), Some(floor)) => ms < floor * (1.0 - FLOOR_TOLERANCE),
                    _ => false,
                },
                measured_p99_ms: measured,
                objective: o.clone(),
            }
        })
        .collect();
    Outcome {
        trial,
        chosen,
        alternative,
        steady,
        chosen_verdict,
        alternative_verdict,
        latency,
    }
}

fn claim_words(claim: Claim) -> &'static str {
    match claim {
        Claim::Safe => "linearizable, no acknowledged write lost",
        Claim::Unsafe => "not linearizable or loses acknowledged writes",
        Claim::KeepsWrites => "no acknowledged write lost",
        Claim::LosesConcurrentWrites => "loses concurrent writes",
        Claim::KeepsConcurrentWrites => "no concurrent or acknowledged write lost",
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

/// The cluster in one line: `eu-west/0 raft leader, eu-west/1 raft follower, ...`.
fn cluster(trial: &Trial) -> String {
    trial
        .placement
        .nodes
        .iter()
        .map(|n| format!("{}/{} {}", n.region, n.zone, n.role))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The verification as text, one block per data class.
pub fn text(verification: &Verification) -> String {
    let mut out = String::from(
        "\nVerification (simulator, on the design's placement and the spec's round trips)\n",
    );
    for o in &verification.outcomes {
        let t = &o.trial;
        let _ = writeln!(
            out,
            "  {} under {}, {} workload\n    cluster: {}\n    availability: the chosen side answered {:.1}% of operations under these faults; the arithmetic puts the store at {:.4}% of a year, outages included",
            t.data,
            t.nemesis,
            t.placement.workload.word(),
            cluster(t),
            o.chosen.availability * 100.0,
            t.arithmetic_availability * 100.0
        );
        for (side, m, v) in [
            (&t.chosen, &o.chosen, o.chosen_verdict),
            (&t.alternative, &o.alternative, o.alternative_verdict),
        ] {
            let claims: Vec<&str> = side.claims.iter().map(|&c| claim_words(c)).collect();
            let _ = writeln!(
                out,
                "    {} claims {}: {}\n      measured {}",
                side.config,
                claims.join("; "),
                verdict_word(v),
                measured(m)
            );
        }
        for l in &o.latency {
            let o = &l.objective;
            let group = &t.placement.clients[o.group];
            let op = match o.op {
                OpKind::Read => "read",
                OpKind::Write => "write",
            };
            let floor = o
                .floor_ms
                .map_or("no bound (round trips missing)".into(), |f| {
                    format!("bound {f:.1} ms")
                });
            let measured = l
                .measured_p99_ms
                .map_or("nothing measured".into(), |ms| format!("p99 {ms:.1} ms"));
            let _ = writeln!(
                out,
                "    \"{}\" ({op} from {}): {measured} without faults, {floor}, objective {:.0} ms: {}{}",
                o.operation,
                group.region,
                o.p99_ms,
                match l.verdict {
                    Confirmation::Confirmed => "met",
                    Confirmation::Contradicted => "MISSED",
                    Confirmation::NotShown => "not measured",
                },
                if l.below_floor {
                    " (BELOW THE BOUND: the arithmetic is wrong)"
                } else {
                    ""
                }
            );
        }
    }
    for s in &verification.skipped {
        let _ = writeln!(out, "  {}: not run: {}", s.data, s.why);
    }
    out
}

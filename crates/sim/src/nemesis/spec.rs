//! The nemesis spec: fault kinds joined with `+`, e.g. `halves+loss:0.05`.

use super::disk::DiskFault;
use super::partition::PartitionKind;
use crate::dist::{DistError, LatencyDist};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One fault kind of a nemesis spec.
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Fault {
    /// A partition of this shape, now and then (healed in between).
    Partition(PartitionKind),
    /// Crash nodes (a minority at most); they stay down until the final heal.
    Crash,
    /// Crash a node and restart it later, again and again.
    CrashRestart,
    /// Crash whichever node leads and restart it later, again and again (Jepsen's
    /// "kill the primary"). Not drawn by `swarm`.
    CrashLeader,
    /// Pause a node (it processes nothing) and resume it later.
    Pause,
    /// Lose each message with this probability.
    Loss(f64),
    /// Duplicate each message with this probability.
    Dup(f64),
    /// Add this extra delay to every message.
    Delay(LatencyDist),
    /// Crash every node of one region (the network's region grouping; each node its
    /// own region without one) and restart them together later, again and again. Not
    /// drawn by `swarm`.
    RegionOutage,
    /// Offsets, bumps and drift on node clocks.
    ClockSkew,
    /// Node clocks flipping rapidly between two offsets.
    ClockStrobe,
    /// A disk failing this way, on one node at a time. Not drawn by `swarm`.
    Disk(DiskFault),
    /// Fault kinds and rates drawn from the seed.
    Swarm,
}

impl Fault {
    /// The kinds that take no parameter, by name (partitions first).
    const PLAIN: [(&'static str, Fault); 11] = [
        ("halves", Fault::Partition(PartitionKind::Halves)),
        ("isolate-one", Fault::Partition(PartitionKind::IsolateOne)),
        (
            "isolate-leader",
            Fault::Partition(PartitionKind::IsolateLeader),
        ),
        (
            "majority-ring",
            Fault::Partition(PartitionKind::MajorityRing),
        ),
        ("bridge", Fault::Partition(PartitionKind::Bridge)),
        ("one-way", Fault::Partition(PartitionKind::OneWay)),
        ("crash", Fault::Crash),
        ("crash-restart", Fault::CrashRestart),
        ("pause", Fault::Pause),
        ("clock-skew", Fault::ClockSkew),
        ("clock-strobe", Fault::ClockStrobe),
    ];

    /// Every kind a swarm may draw that takes no parameter.
    pub fn plain_kinds() -> impl Iterator<Item = Fault> {
        Fault::PLAIN.into_iter().map(|(_, f)| f)
    }

    fn name(&self) -> &'static str {
        match self {
            Fault::Loss(_) => "loss",
            Fault::Dup(_) => "dup",
            Fault::Delay(_) => "delay",
            Fault::Swarm => "swarm",
            Fault::CrashLeader => "crash-leader",
            Fault::RegionOutage => "region-outage",
            Fault::Partition(PartitionKind::IsolateRegion) => "isolate-region",
            Fault::Disk(disk) => disk.name(),
            plain => Fault::PLAIN
                .iter()
                .find(|(_, f)| f == plain)
                .map_or("?", |(n, _)| n),
        }
    }

    /// The smallest cluster the fault makes sense for.
    pub fn min_nodes(&self) -> usize {
        match self {
            Fault::Partition(PartitionKind::MajorityRing) => 4,
            Fault::Partition(PartitionKind::Bridge) => 3,
            Fault::Partition(_) | Fault::RegionOutage => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Loss(p) | Fault::Dup(p) => write!(f, "{}:{p}", self.name()),
            Fault::Delay(d) => write!(f, "delay:{d}"),
            Fault::Disk(d) => write!(f, "{d}"),
            other => f.write_str(other.name()),
        }
    }
}

/// A nemesis: the fault kinds it injects. Empty means `none`.
#[derive(Clone, PartialEq, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NemesisSpec {
    faults: Vec<Fault>,
}

/// Why a nemesis spec was rejected.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NemesisSpecError {
    /// A `+`-separated part names no fault.
    #[error(
        "unknown fault `{0}` in nemesis spec (expected none, halves, isolate-one, isolate-leader, majority-ring, bridge, one-way, isolate-region, crash, crash-restart, crash-leader, region-outage, pause, loss:P, dup:P, delay:DIST, clock-skew, clock-strobe, fsync-fail, fsync-lie, torn-write, lose-unsynced, corrupt-read, disk-full, slow-disk:DIST or swarm)"
    )]
    Unknown(String),
    /// An empty part, such as in `halves++crash`.
    #[error("empty fault in nemesis spec `{0}`")]
    Empty(String),
    /// A probability that is not a number in [0, 1].
    #[error("`{part}`: probability must be a number between 0 and 1")]
    Probability {
        /// The offending part.
        part: String,
    },
    /// A fault that takes no parameter was given one, or the reverse.
    #[error("`{part}`: {reason}")]
    Parameter {
        /// The offending part.
        part: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A bad `delay:` distribution.
    #[error("`{part}`: {source}")]
    Delay {
        /// The offending part.
        part: String,
        /// The distribution error.
        source: DistError,
    },
    /// The same kind twice.
    #[error("fault `{0}` is listed twice in the nemesis spec")]
    Duplicate(String),
    /// `none` together with something else.
    #[error("`none` cannot be combined with other faults")]
    NoneCombined,
}

impl NemesisSpec {
    /// The spec that injects no fault.
    pub fn none() -> Self {
        NemesisSpec::default()
    }

    /// A spec from fault kinds.
    pub fn of(faults: impl IntoIterator<Item = Fault>) -> Self {
        NemesisSpec {
            faults: faults.into_iter().collect(),
        }
    }

    /// The fault kinds, in the order given.
    pub fn faults(&self) -> &[Fault] {
        &self.faults
    }

    /// Whether the spec injects nothing.
    pub fn is_none(&self) -> bool {
        self.faults.is_empty()
    }

    /// The smallest cluster every listed fault makes sense for.
    pub fn min_nodes(&self) -> usize {
        self.faults.iter().map(Fault::min_nodes).max().unwrap_or(1)
    }
}

fn parse_probability(part: &str, raw: Option<&str>) -> Result<f64, NemesisSpecError> {
    let raw = raw.ok_or(NemesisSpecError::Parameter {
        part: part.to_string(),
        reason: "needs a probability, e.g. loss:0.05",
    })?;
    match raw.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(NemesisSpecError::Probability {
            part: part.to_string(),
        }),
    }
}

fn parse_fault(part: &str) -> Result<Option<Fault>, NemesisSpecError> {
    let (name, param) = match part.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (part, None),
    };
    let plain = |fault: Fault| match param {
        None => Ok(Some(fault)),
        Some(_) => Err(NemesisSpecError::Parameter {
            part: part.to_string(),
            reason: "this fault takes no parameter",
        }),
    };
    match name {
        "none" if param.is_none() => Ok(None),
        "swarm" => plain(Fault::Swarm),
        "crash-leader" => plain(Fault::CrashLeader),
        // Region faults follow the network's region grouping; swarm does not draw them.
        "region-outage" => plain(Fault::RegionOutage),
        "isolate-region" => plain(Fault::Partition(PartitionKind::IsolateRegion)),
        "loss" => Ok(Some(Fault::Loss(parse_probability(part, param)?))),
        "dup" => Ok(Some(Fault::Dup(parse_probability(part, param)?))),
        "delay" => {
            let raw = param.ok_or(NemesisSpecError::Parameter {
                part: part.to_string(),
                reason: "needs a distribution, e.g. delay:exponential:5",
            })?;
            raw.parse::<LatencyDist>()
                .map(|d| Some(Fault::Delay(d)))
                .map_err(|source| NemesisSpecError::Delay {
                    part: part.to_string(),
                    source,
                })
        }
        _ => match Fault::PLAIN.iter().find(|(n, _)| *n == name) {
            Some((_, fault)) => plain(*fault),
            None => part.parse::<DiskFault>().map(|d| Some(Fault::Disk(d))),
        },
    }
}

impl FromStr for NemesisSpec {
    type Err = NemesisSpecError;

    fn from_str(spec: &str) -> Result<Self, NemesisSpecError> {
        let spec = spec.trim();
        let mut faults: Vec<Fault> = Vec::new();
        let mut saw_none = false;
        for part in spec.split('+') {
            let part = part.trim();
            if part.is_empty() {
                return Err(NemesisSpecError::Empty(spec.to_string()));
            }
            match parse_fault(part)? {
                None => saw_none = true,
                Some(fault) => {
                    if faults.iter().any(|f| f.name() == fault.name()) {
                        return Err(NemesisSpecError::Duplicate(fault.name().to_string()));
                    }
                    faults.push(fault);
                }
            }
        }
        if saw_none && !faults.is_empty() {
            return Err(NemesisSpecError::NoneCombined);
        }
        Ok(NemesisSpec { faults })
    }
}

impl fmt::Display for NemesisSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.faults.is_empty() {
            return f.write_str("none");
        }
        for (i, fault) in self.faults.iter().enumerate() {
            if i > 0 {
                f.write_str("+")?;
            }
            write!(f, "{fault}")?;
        }
        Ok(())
    }
}

serde_as_spec_string!(NemesisSpec, NemesisSpecError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_documented_spelling() {
        for spec in [
            "none",
            "halves",
            "isolate-one",
            "isolate-leader",
            "majority-ring",
            "bridge",
            "one-way",
            "crash",
            "crash-restart",
            "crash-leader",
            "pause",
            "loss:0.05",
            "dup:0.1",
            "delay:constant:5",
            "delay:uniform:1:10",
            "delay:exponential:3",
            "delay:lognormal:2:0.5",
            "delay:pareto:1:1.5",
            "clock-skew",
            "clock-strobe",
            "fsync-fail",
            "fsync-lie",
            "torn-write",
            "lose-unsynced",
            "corrupt-read",
            "disk-full",
            "slow-disk:exponential:20",
            "swarm",
            "halves+loss:0.05",
            "crash-restart+pause+clock-skew",
        ] {
            let parsed: NemesisSpec = spec.parse().unwrap_or_else(|e| panic!("{spec}: {e}"));
            assert_eq!(parsed.to_string(), spec);
        }
    }

    #[test]
    fn bad_specs_name_the_problem() {
        let err = |s: &str| s.parse::<NemesisSpec>().unwrap_err().to_string();
        assert!(err("halfs").contains("unknown fault `halfs`"));
        assert!(err("loss:2").contains("probability"));
        assert!(err("loss").contains("needs a probability"));
        assert!(err("loss:x").contains("probability"));
        assert!(err("halves:3").contains("takes no parameter"));
        assert!(err("delay").contains("needs a distribution"));
        assert!(err("delay:normal:3").contains("unknown latency distribution"));
        assert!(err("halves++crash").contains("empty fault"));
        assert!(err("").contains("empty fault"));
        assert!(err("halves+halves").contains("listed twice"));
        assert!(err("none+halves").contains("cannot be combined"));
    }
}

//! Storage faults: what a disk does wrong, and when the nemesis makes it.
//!
//! Each storage fault strikes one node at a time for a spell. Faults whose harm only
//! shows at a crash (an fsync that lied, writes torn or lost out of order) end with the
//! node losing power and booting again; `corrupt-read` starts with a reboot whose reads
//! come back damaged. Swarm does not draw storage faults: name them.

use super::action::{FaultAction, TimedFault};
use super::generator::NemesisTiming;
use super::spec::NemesisSpecError;
use crate::dist::LatencyDist;
use dsys_node::{DetRng, Instant, NodeId};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One way a disk fails; written as in a nemesis spec (`fsync-lie`, `slow-disk:constant:20`).
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum DiskFault {
    /// fsync returns an error; the buffered writes it was flushing are dropped.
    FsyncFail,
    /// fsync reports success without writing; the writes are lost at the next crash.
    FsyncLie,
    /// A crash leaves the last unsynced (or in-flight) write cut short on the disk.
    TornWrite,
    /// A crash keeps any subset of the unsynced writes, not only a prefix.
    LoseUnsynced,
    /// Entries read at boot may come back with a flipped bit.
    CorruptRead,
    /// Every write fails with "no space left".
    DiskFull,
    /// Synced writes take this long; later effects of the node wait for them.
    SlowDisk(LatencyDist),
}

impl DiskFault {
    /// The kinds that take no parameter, by their nemesis names.
    pub const PLAIN: [(&'static str, DiskFault); 6] = [
        ("fsync-fail", DiskFault::FsyncFail),
        ("fsync-lie", DiskFault::FsyncLie),
        ("torn-write", DiskFault::TornWrite),
        ("lose-unsynced", DiskFault::LoseUnsynced),
        ("corrupt-read", DiskFault::CorruptRead),
        ("disk-full", DiskFault::DiskFull),
    ];

    /// The nemesis name, without a parameter.
    pub fn name(&self) -> &'static str {
        match self {
            DiskFault::SlowDisk(_) => "slow-disk",
            plain => DiskFault::PLAIN
                .iter()
                .find(|(_, f)| f == plain)
                .map_or("?", |(n, _)| n),
        }
    }

    /// Whether the fault's harm shows only when the node loses power, so its spell ends
    /// with a crash and a reboot.
    pub fn ends_with_power_loss(&self) -> bool {
        matches!(
            self,
            DiskFault::FsyncFail
                | DiskFault::FsyncLie
                | DiskFault::TornWrite
                | DiskFault::LoseUnsynced
        )
    }
}

impl fmt::Display for DiskFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DiskFault::SlowDisk(d) => write!(f, "slow-disk:{d}"),
            other => f.write_str(other.name()),
        }
    }
}

impl FromStr for DiskFault {
    type Err = NemesisSpecError;

    /// `fsync-fail`, ..., `disk-full`, or `slow-disk:DIST`.
    fn from_str(part: &str) -> Result<Self, NemesisSpecError> {
        let (name, param) = match part.split_once(':') {
            Some((n, p)) => (n, Some(p)),
            None => (part, None),
        };
        if name == "slow-disk" {
            let raw = param.ok_or(NemesisSpecError::Parameter {
                part: part.to_string(),
                reason: "needs a distribution, e.g. slow-disk:exponential:20",
            })?;
            return raw
                .parse::<LatencyDist>()
                .map(DiskFault::SlowDisk)
                .map_err(|source| NemesisSpecError::Delay {
                    part: part.to_string(),
                    source,
                });
        }
        let fault = DiskFault::PLAIN
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| NemesisSpecError::Unknown(part.to_string()))?;
        match param {
            None => Ok(fault),
            Some(_) => Err(NemesisSpecError::Parameter {
                part: part.to_string(),
                reason: "this fault takes no parameter",
            }),
        }
    }
}

serde_as_spec_string!(DiskFault, NemesisSpecError);

/// The generator's state for one storage fault: the node it strikes while on.
#[derive(Debug)]
pub(super) struct DiskProcess {
    pub(super) fault: DiskFault,
    pub(super) struck: Option<NodeId>,
}

impl DiskProcess {
    /// The next action after one at `now`: a spell on a random node after a quiet
    /// spell, then its end after the fault's duration.
    pub(super) fn plan(
        &mut self,
        now: Instant,
        timing: &NemesisTiming,
        nodes: &[NodeId],
        rng: &mut DetRng,
    ) -> Option<TimedFault> {
        let after = |ns: u64| Instant::from_nanos(now.as_nanos().saturating_add(ns));
        match self.struck.take() {
            Some(node) => Some(TimedFault {
                at: after(timing.fault(rng)),
                action: FaultAction::DiskHeal {
                    node,
                    fault: self.fault,
                },
            }),
            None => {
                let at = after(timing.quiet(rng));
                let node = *rng.choose(nodes)?;
                self.struck = Some(node);
                Some(TimedFault {
                    at,
                    action: FaultAction::DiskFault {
                        node,
                        fault: self.fault,
                    },
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_through_text_and_json() {
        let plain = DiskFault::PLAIN.iter().map(|(name, _)| name.to_string());
        for text in plain.chain(["slow-disk:constant:20".to_string()]) {
            let fault: DiskFault = text.parse().unwrap();
            assert_eq!(fault.to_string(), text);
            let json = serde_json::to_string(&fault).unwrap();
            assert_eq!(serde_json::from_str::<DiskFault>(&json).unwrap(), fault);
        }
        assert!("slow-disk".parse::<DiskFault>().is_err());
        assert!("fsync-lie:3".parse::<DiskFault>().is_err());
        assert!("fsync-lies".parse::<DiskFault>().is_err());
    }

    #[test]
    fn a_spell_strikes_one_node_and_heals_the_same_one() {
        let mut p = DiskProcess {
            fault: DiskFault::FsyncLie,
            struck: None,
        };
        let nodes = [NodeId(0), NodeId(1), NodeId(2)];
        let mut rng = DetRng::from_seed(3);
        let timing = NemesisTiming::default();
        let start = p.plan(Instant::ZERO, &timing, &nodes, &mut rng).unwrap();
        let end = p.plan(start.at, &timing, &nodes, &mut rng).unwrap();
        match (start.action, end.action) {
            (FaultAction::DiskFault { node: a, .. }, FaultAction::DiskHeal { node: b, .. }) => {
                assert_eq!(a, b)
            }
            other => panic!("{other:?}"),
        }
        assert!(end.at > start.at);
    }
}

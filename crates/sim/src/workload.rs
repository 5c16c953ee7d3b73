//! The key-value workload: which operation each client issues next.

use crate::dist::LatencyDist;
use crate::zipf::Zipf;
use dsys_node::{DetRng, Key, Op, Value};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

/// How keys are chosen.
#[derive(Clone, Copy, PartialEq, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum KeyDist {
    /// Every key equally likely (`uniform`).
    Uniform,
    /// Key `k` (from 0) with probability proportional to `1 / (k + 1)^exponent` (`zipf:S`).
    Zipf {
        /// The skew; 0 is uniform, around 1 is typical of real traffic.
        exponent: f64,
    },
}

impl fmt::Display for KeyDist {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyDist::Uniform => f.write_str("uniform"),
            KeyDist::Zipf { exponent } => write!(f, "zipf:{exponent}"),
        }
    }
}

impl FromStr for KeyDist {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.split_once(':') {
            None if s == "uniform" => Ok(KeyDist::Uniform),
            None if s == "zipf" => Ok(KeyDist::Zipf { exponent: 1.0 }),
            Some(("zipf", e)) => match e.parse::<f64>() {
                Ok(exponent) if exponent.is_finite() && exponent >= 0.0 => {
                    Ok(KeyDist::Zipf { exponent })
                }
                _ => Err(format!(
                    "`{s}`: the Zipf exponent must be a non-negative number"
                )),
            },
            _ => Err(format!(
                "unknown key distribution `{s}` (expected uniform or zipf:S)"
            )),
        }
    }
}

serde_as_spec_string!(KeyDist, String);

/// What the clients operate on.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkloadKind {
    /// Registers: read, write, compare-and-set (`kv`).
    #[default]
    Kv,
    /// Counters: read, and increments by -1, 1, 2 or 3 (`counter`).
    Counter,
    /// Sets: read, inserts of unique elements, and removes of the element the client
    /// last inserted into the key, in the compare-and-set share of the mix (`set`).
    Set,
}

impl WorkloadKind {
    /// Every kind.
    pub const ALL: [WorkloadKind; 3] = [WorkloadKind::Kv, WorkloadKind::Counter, WorkloadKind::Set];

    /// The CLI name.
    pub fn name(self) -> &'static str {
        match self {
            WorkloadKind::Kv => "kv",
            WorkloadKind::Counter => "counter",
            WorkloadKind::Set => "set",
        }
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for WorkloadKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        WorkloadKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| format!("unknown workload `{s}` (expected kv, counter or set)"))
    }
}

/// Relative weights of reads, writes and compare-and-sets. The counter and set workloads
/// use the read weight for reads and the rest for increments or inserts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OpMix {
    /// Weight of reads.
    pub read: u32,
    /// Weight of writes.
    pub write: u32,
    /// Weight of compare-and-sets.
    pub cas: u32,
}

impl Default for OpMix {
    fn default() -> Self {
        OpMix {
            read: 50,
            write: 35,
            cas: 15,
        }
    }
}

/// The workload's configuration.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadConfig {
    /// Registers, counters or sets.
    #[serde(default)]
    pub kind: WorkloadKind,
    /// Concurrent closed-loop clients.
    pub clients: usize,
    /// Operations issued in all.
    pub ops: u64,
    /// Distinct keys.
    pub keys: u64,
    /// How keys are picked.
    pub key_dist: KeyDist,
    /// The operation mix.
    pub mix: OpMix,
    /// Pause between one operation's completion and the client's next invocation.
    pub think: LatencyDist,
    /// After this long without an answer an operation is recorded as indeterminate.
    pub timeout_ms: f64,
    /// After the final heal and convergence, read every key once (Jepsen's final reads),
    /// so lost writes can be judged.
    #[serde(default = "final_reads_default")]
    pub final_reads: bool,
}

fn final_reads_default() -> bool {
    true
}

impl Default for WorkloadConfig {
    fn default() -> Self {
        WorkloadConfig {
            kind: WorkloadKind::Kv,
            clients: 5,
            ops: 1_000,
            keys: 8,
            key_dist: KeyDist::Uniform,
            mix: OpMix::default(),
            think: LatencyDist::Exponential { mean: 50.0 },
            timeout_ms: 500.0,
            final_reads: true,
        }
    }
}

/// Draws operations. Written values are unique across the run (1, 2, 3, ...), so every
/// read names the one write it observed.
#[derive(Debug)]
pub struct KvWorkload {
    kind: WorkloadKind,
    keys: u64,
    zipf: Option<Zipf>,
    mix: OpMix,
    next_value: Value,
}

impl KvWorkload {
    /// A workload drawing from `config`.
    pub fn new(config: &WorkloadConfig) -> Self {
        let zipf = match config.key_dist {
            KeyDist::Uniform => None,
            KeyDist::Zipf { exponent } => Some(Zipf::new(config.keys, exponent)),
        };
        KvWorkload {
            kind: config.kind,
            keys: config.keys.max(1),
            zipf,
            mix: config.mix,
            next_value: 1,
        }
    }

    fn key(&self, rng: &mut DetRng) -> Key {
        match &self.zipf {
            None => rng.below(self.keys),
            Some(zipf) => zipf.sample(rng) as Key,
        }
    }

    /// The next operation for a client whose latest knowledge of each key is `seen`.
    /// A compare-and-set expects the value the client last saw; with nothing seen for
    /// the key it becomes a read.
    pub fn next_op(&mut self, rng: &mut DetRng, seen: &BTreeMap<Key, Value>) -> Op {
        let key = self.key(rng);
        let total = u64::from(self.mix.read) + u64::from(self.mix.write) + u64::from(self.mix.cas);
        let pick = rng.below(total.max(1));
        if pick < u64::from(self.mix.read) {
            return Op::Read { key };
        }
        let value = self.next_value;
        match self.kind {
            WorkloadKind::Kv => {}
            WorkloadKind::Counter => {
                const DELTAS: [i64; 4] = [-1, 1, 2, 3];
                let delta = DELTAS[rng.below(DELTAS.len() as u64) as usize];
                return Op::Increment { key, delta };
            }
            // The compare-and-set share removes the element this client last inserted
            // into the key, when there is one.
            WorkloadKind::Set => {
                let removing = pick >= u64::from(self.mix.read) + u64::from(self.mix.write);
                if let (true, Some(&element)) = (removing, seen.get(&key)) {
                    return Op::Remove { key, element };
                }
                self.next_value += 1;
                return Op::Insert {
                    key,
                    element: value,
                };
            }
        }
        if pick < u64::from(self.mix.read) + u64::from(self.mix.write) {
            self.next_value += 1;
            return Op::Write { key, value };
        }
        match seen.get(&key) {
            Some(&expected) => {
                self.next_value += 1;
                Op::Cas {
                    key,
                    expected,
                    new: value,
                }
            }
            None => Op::Read { key },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_values_are_unique_and_mix_is_respected() {
        let config = WorkloadConfig {
            mix: OpMix {
                read: 1,
                write: 1,
                cas: 1,
            },
            ..WorkloadConfig::default()
        };
        let mut w = KvWorkload::new(&config);
        let mut rng = DetRng::from_seed(2);
        let seen: BTreeMap<Key, Value> = (0..8).map(|k| (k, 1)).collect();
        let mut values = std::collections::BTreeSet::new();
        let mut counts = [0; 3];
        for _ in 0..30_000 {
            match w.next_op(&mut rng, &seen) {
                Op::Read { .. } => counts[0] += 1,
                Op::Write { value, .. } => {
                    counts[1] += 1;
                    assert!(values.insert(value));
                }
                Op::Cas { new, .. } => {
                    counts[2] += 1;
                    assert!(values.insert(new));
                }
                other => panic!("the kv workload drew {other:?}"),
            }
        }
        for c in counts {
            assert!((9_400..10_600).contains(&c), "{counts:?}");
        }
    }

    #[test]
    fn counter_and_set_workloads_draw_their_own_operations() {
        let mut rng = DetRng::from_seed(3);
        let seen = BTreeMap::new();
        for kind in [WorkloadKind::Counter, WorkloadKind::Set] {
            let mut w = KvWorkload::new(&WorkloadConfig {
                kind,
                ..WorkloadConfig::default()
            });
            let mut elements = std::collections::BTreeSet::new();
            let (mut reads, mut updates) = (0, 0);
            for _ in 0..2_000 {
                match (kind, w.next_op(&mut rng, &seen)) {
                    (_, Op::Read { .. }) => reads += 1,
                    (WorkloadKind::Counter, Op::Increment { delta, .. }) => {
                        assert!([-1, 1, 2, 3].contains(&delta));
                        updates += 1;
                    }
                    (WorkloadKind::Set, Op::Insert { element, .. }) => {
                        assert!(elements.insert(element), "elements are unique");
                        updates += 1;
                    }
                    (kind, op) => panic!("{kind} drew {op:?}"),
                }
            }
            assert!(
                reads > 800 && updates > 800,
                "{kind}: {reads} reads, {updates} updates"
            );
        }
        assert_eq!("set".parse::<WorkloadKind>(), Ok(WorkloadKind::Set));
        assert!(
            "bag"
                .parse::<WorkloadKind>()
                .unwrap_err()
                .contains("unknown workload")
        );
    }

    #[test]
    fn zipf_prefers_low_keys() {
        let config = WorkloadConfig {
            keys: 100,
            key_dist: KeyDist::Zipf { exponent: 1.2 },
            ..WorkloadConfig::default()
        };
        let w = KvWorkload::new(&config);
        let mut rng = DetRng::from_seed(4);
        let mut hist = [0u32; 100];
        for _ in 0..50_000 {
            hist[w.key(&mut rng) as usize] += 1;
        }
        assert!(hist[0] > 5 * hist[10], "{:?}", &hist[..12]);
        assert!(hist.iter().all(|&c| c < 50_000));
    }

    #[test]
    fn key_dist_parses_and_rejects() {
        assert_eq!(
            "zipf:0.9".parse::<KeyDist>().unwrap(),
            KeyDist::Zipf { exponent: 0.9 }
        );
        assert_eq!("uniform".parse::<KeyDist>().unwrap(), KeyDist::Uniform);
        assert!(
            "zipf:-1"
                .parse::<KeyDist>()
                .unwrap_err()
                .contains("non-negative")
        );
        assert!(
            "pareto"
                .parse::<KeyDist>()
                .unwrap_err()
                .contains("unknown key distribution")
        );
    }
}

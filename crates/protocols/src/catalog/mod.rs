//! The protocol catalog's settings (`dsys simulate --set KEY=VALUE`): each protocol's
//! config declares its keys once ([`Configurable::SETTINGS`]: type, default, help) and
//! applies typed values to itself ([`Configurable::set`]), in one file per protocol
//! below; parsing, checking and `--help` come from here. No string map is read anywhere
//! else.

mod leader_follower;
mod leaderless;
mod multi_leader;
mod raft;
mod single;

use dsys_node::Duration;

/// The type of a setting's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingKind {
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A whole number in `min..=max`.
    Count {
        /// Smallest.
        min: u64,
        /// Largest.
        max: u64,
    },
    /// Whole milliseconds in `min..=max`.
    Millis {
        /// Smallest.
        min: u64,
        /// Largest.
        max: u64,
    },
}

/// One `--set` key of a protocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SettingSpec {
    /// The key.
    pub key: &'static str,
    /// Its type.
    pub kind: SettingKind,
    /// Its value when not set.
    pub default: &'static str,
    /// One line for `--help` and docs.
    pub help: &'static str,
}

/// A value that passed its setting's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingValue<'a> {
    /// One of a choice's words.
    Word(&'a str),
    /// A count.
    Count(u64),
    /// Milliseconds.
    Millis(Duration),
}

impl SettingValue<'_> {
    /// The word (`""` for a number: a spec's kind decides which a key gets).
    pub fn word(&self) -> &str {
        match self {
            SettingValue::Word(w) => w,
            _ => "",
        }
    }

    /// The count (0 for anything else).
    pub fn count(&self) -> u64 {
        match self {
            SettingValue::Count(n) => *n,
            _ => 0,
        }
    }

    /// The duration (zero for anything else).
    pub fn millis(&self) -> Duration {
        match self {
            SettingValue::Millis(d) => *d,
            _ => Duration::ZERO,
        }
    }

    /// `on` is true.
    pub fn on(&self) -> bool {
        self.word() == "on"
    }
}

/// Why settings were refused. The texts are the CLI's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// A `--set` argument without `=`.
    #[error("--set `{0}`: expected key=value")]
    Malformed(String),
    /// A key the protocol does not have.
    #[error("protocol `{protocol}` has no setting `{key}` (settings: {known})")]
    Unknown {
        /// The protocol.
        protocol: &'static str,
        /// What was given.
        key: String,
        /// Its settings, comma-separated.
        known: String,
    },
    /// A value of the wrong type or out of range, alone or with the others.
    #[error("--set {key}={value}: expected {expected}")]
    BadValue {
        /// The key.
        key: String,
        /// What was given.
        value: String,
        /// What is allowed.
        expected: String,
    },
}

impl SettingSpec {
    /// Check `value` against the kind.
    pub fn parse<'a>(&self, value: &'a str) -> Result<SettingValue<'a>, SettingError> {
        let bad = |expected: String| SettingError::BadValue {
            key: self.key.to_string(),
            value: value.to_string(),
            expected,
        };
        match self.kind {
            SettingKind::Choice(words) => match words.iter().find(|w| **w == value) {
                Some(_) => Ok(SettingValue::Word(value)),
                None => Err(bad(format!("one of {}", words.join(", ")))),
            },
            SettingKind::Millis { min, max } => match value.parse::<u64>() {
                Ok(ms) if (min..=max).contains(&ms) => {
                    Ok(SettingValue::Millis(Duration::from_millis(ms)))
                }
                _ => Err(bad(format!("whole milliseconds from {min} to {max}"))),
            },
            SettingKind::Count { min, max } => match value.parse::<u64>() {
                Ok(n) if (min..=max).contains(&n) => Ok(SettingValue::Count(n)),
                _ => Err(bad(format!("a whole number from {min} to {max}"))),
            },
        }
    }
}

/// A protocol config that `--set` can configure.
pub trait Configurable: Default {
    /// The protocol's stable CLI name.
    const PROTOCOL: &'static str;
    /// Its keys, in the order they are applied (a key that refines another comes after
    /// it: `acks` after `replication`).
    const SETTINGS: &'static [SettingSpec];

    /// Apply one value, already checked against `key`'s spec; refuse it if it does not
    /// go with a setting applied before it.
    fn set(&mut self, key: &'static str, value: SettingValue<'_>) -> Result<(), SettingError>;

    /// What depends on several settings or on the cluster's size, once all are set.
    fn check(&self, nodes: usize) -> Result<(), SettingError> {
        let _ = nodes;
        Ok(())
    }

    /// The defaults with `pairs` applied in catalog order (so a refinement such as
    /// `acks` always meets the `replication` it refines); a key given twice, the last.
    fn configured(pairs: &[(String, String)]) -> Result<Self, SettingError> {
        for (key, _) in pairs {
            if !Self::SETTINGS.iter().any(|s| s.key == key) {
                return Err(SettingError::Unknown {
                    protocol: Self::PROTOCOL,
                    key: key.clone(),
                    known: Self::SETTINGS
                        .iter()
                        .map(|s| s.key)
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
        }
        let mut config = Self::default();
        for spec in Self::SETTINGS {
            if let Some((_, value)) = pairs.iter().rev().find(|(k, _)| k == spec.key) {
                config.set(spec.key, spec.parse(value)?)?;
            }
        }
        Ok(config)
    }
}

/// A bad combination, in the words of [`SettingError::BadValue`].
pub fn refuse(key: &str, value: impl ToString, expected: impl Into<String>) -> SettingError {
    SettingError::BadValue {
        key: key.to_string(),
        value: value.to_string(),
        expected: expected.into(),
    }
}

/// `heartbeat` means something a little different in each protocol: one spec each, so
/// `--help` says what it does there. Same key, range and default everywhere.
pub const fn heartbeat(help: &'static str) -> SettingSpec {
    SettingSpec {
        key: "heartbeat",
        kind: SettingKind::Millis {
            min: 1,
            max: 60_000,
        },
        default: "50",
        help,
    }
}

/// `election-timeout`, the same in leader-follower and raft.
pub const ELECTION_TIMEOUT: SettingSpec = SettingSpec {
    key: "election-timeout",
    kind: SettingKind::Millis {
        min: 1,
        max: 60_000,
    },
    default: "300",
    help: "ms without a leader before a follower stands for election (randomised up to 2x)",
};

/// `durability` (`synced` or `buffered`), the same key, choices and default wherever a
/// protocol has it; `help` says what it makes durable there.
pub const fn durability_setting(help: &'static str) -> SettingSpec {
    SettingSpec {
        key: "durability",
        kind: SettingKind::Choice(&["synced", "buffered"]),
        default: "synced",
        help,
    }
}

/// `durability` in single and primary-async.
pub const DURABILITY: SettingSpec = durability_setting(
    "fsync each write before acknowledging it (synced) or not (buffered: a crash loses it)",
);

/// `synced` or `buffered`.
pub fn durability(value: SettingValue<'_>) -> dsys_node::Durability {
    match value.word() {
        "buffered" => dsys_node::Durability::Buffered,
        _ => dsys_node::Durability::Synced,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every default a spec declares is what the config's `Default` holds: setting
    /// every key to its declared default changes nothing.
    pub fn defaults_agree<C: Configurable + PartialEq + std::fmt::Debug>() {
        let pairs: Vec<(String, String)> = C::SETTINGS
            .iter()
            .map(|s| (s.key.to_string(), s.default.to_string()))
            .collect();
        assert_eq!(
            C::configured(&pairs).unwrap(),
            C::default(),
            "{}",
            C::PROTOCOL
        );
        for spec in C::SETTINGS {
            assert!(
                spec.parse(spec.default).is_ok(),
                "{}: {}",
                C::PROTOCOL,
                spec.key
            );
        }
    }
}

//! Invalid configuration, reported instead of panicking.

/// A configuration value that cannot work.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// A count that must be at least one was zero.
    #[error("{name} must be at least 1, not 0")]
    Zero {
        /// The setting.
        name: &'static str,
    },
    /// A rate or ratio outside its range.
    #[error("{name} must be {expected}, not {value}")]
    OutOfRange {
        /// The setting.
        name: &'static str,
        /// The value given.
        value: f64,
        /// What it must be.
        expected: &'static str,
    },
    /// Two settings that contradict each other.
    #[error("{0}")]
    Inconsistent(&'static str),
}

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

/// `value` if strictly between 0 and 1 (a fraction that must neither vanish nor be
/// whole), else an error naming the setting.
pub(crate) fn open_fraction(name: &'static str, value: f64) -> Result<f64, ConfigError> {
    if value > 0.0 && value < 1.0 {
        Ok(value)
    } else {
        Err(ConfigError::OutOfRange {
            name,
            value,
            expected: "between 0 and 1, exclusive",
        })
    }
}

/// `value` if finite and at least 1 (a multiplier or tolerance), else an error naming the
/// setting.
pub(crate) fn at_least_one(name: &'static str, value: f64) -> Result<f64, ConfigError> {
    if value.is_finite() && value >= 1.0 {
        Ok(value)
    } else {
        Err(ConfigError::OutOfRange {
            name,
            value,
            expected: "finite and at least 1",
        })
    }
}

/// The text of a caught panic's payload (`panic!` with a literal or a formatted message),
/// for reporting a panic as an error value.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic".to_string())
}

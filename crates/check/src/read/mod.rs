//! History readers: the dsys JSONL format, Jepsen EDN (one map per line) and Jepsen's
//! textual log lines. Every error names the line.

mod dsys;
pub mod edn;
mod jepsen;
mod recorded;

pub use recorded::{RecordedError, Unfit, from_recorded};

use crate::history::{Event, EventKind, History, HistoryBuilder, OpFn, PairingError, Value};
use std::fmt;
use std::str::FromStr;

/// The formats a history can be read from.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum InputFormat {
    /// dsys JSON lines (`docs/history-format.md`).
    Dsys,
    /// Jepsen EDN, one op map per line.
    JepsenEdn,
    /// Jepsen log lines written by `jepsen.util`.
    JepsenLog,
}

impl InputFormat {
    /// The CLI spelling.
    pub fn name(self) -> &'static str {
        match self {
            InputFormat::Dsys => "dsys",
            InputFormat::JepsenEdn => "jepsen-edn",
            InputFormat::JepsenLog => "jepsen-log",
        }
    }

    /// Guess the format from the first meaningful line.
    pub fn detect(text: &str) -> Option<InputFormat> {
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(';') {
                continue;
            }
            if line.contains("jepsen.util") {
                return Some(InputFormat::JepsenLog);
            }
            if line.starts_with("{\"") {
                return Some(InputFormat::Dsys);
            }
            if line.starts_with("{:") || line.starts_with('#') || line.starts_with('[') {
                return Some(InputFormat::JepsenEdn);
            }
            // Log files may start with unrelated log lines; keep looking a little.
            if !line.starts_with('{')
                && (line.contains(" INFO ") || line.starts_with("INFO") || line.contains("WARN"))
            {
                continue;
            }
            return None;
        }
        None
    }
}

impl fmt::Display for InputFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for InputFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "dsys" => Ok(InputFormat::Dsys),
            "jepsen-edn" | "edn" => Ok(InputFormat::JepsenEdn),
            "jepsen-log" | "log" => Ok(InputFormat::JepsenLog),
            _ => Err(format!(
                "unknown input format `{s}` (expected dsys, jepsen-edn or jepsen-log)"
            )),
        }
    }
}

/// Why a history could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// A line could not be parsed.
    #[error("line {line}: {message}")]
    Syntax {
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Events do not pair into operations.
    #[error(transparent)]
    Pairing(#[from] PairingError),
    /// The format could not be recognised.
    #[error(
        "cannot tell the history format from the first line; pass --input-format dsys, jepsen-edn or jepsen-log"
    )]
    UnknownFormat,
    /// Nothing to check.
    #[error("the history has no events")]
    Empty,
}

pub(crate) fn syntax(line: usize, message: impl Into<String>) -> ReadError {
    ReadError::Syntax {
        line,
        message: message.into(),
    }
}

/// Build an event, resolving the function name: an operation for clients (`sigil` is
/// how the format spells names in errors, `:` for EDN), a free-form name for the nemesis.
#[allow(clippy::too_many_arguments)]
pub(crate) fn event(
    line: usize,
    process: Option<u64>,
    kind: EventKind,
    f: &str,
    sigil: &str,
    key: Option<String>,
    value: Value,
    time: Option<u64>,
) -> Result<Event, ReadError> {
    let (f, nemesis_f) = match process {
        Some(_) => (
            Some(
                OpFn::parse(f)
                    .ok_or_else(|| syntax(line, format!("unknown operation `{sigil}{f}`")))?,
            ),
            None,
        ),
        None => (None, Some(f.to_string())),
    };
    Ok(Event {
        line,
        process,
        kind,
        f,
        nemesis_f,
        key,
        value,
        time,
    })
}

/// Read a history from text, detecting the format unless one is given.
pub fn read_history(text: &str, format: Option<InputFormat>) -> Result<History, ReadError> {
    let format = match format {
        Some(f) => f,
        None => InputFormat::detect(text).ok_or(ReadError::UnknownFormat)?,
    };
    let mut builder = HistoryBuilder::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        let event = match format {
            InputFormat::Dsys => dsys::parse_line(line, line_no)?,
            InputFormat::JepsenEdn => jepsen::parse_edn_line(line, line_no)?,
            InputFormat::JepsenLog => jepsen::parse_log_line(line, line_no)?,
        };
        if let Some(event) = event {
            builder.push(event)?;
        }
    }
    let history = builder.finish();
    if history.events == 0 {
        return Err(ReadError::Empty);
    }
    Ok(history)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_format() {
        assert_eq!(
            InputFormat::detect("{\"index\":0}"),
            Some(InputFormat::Dsys)
        );
        assert_eq!(
            InputFormat::detect("\n{:process 0, :type :invoke}"),
            Some(InputFormat::JepsenEdn)
        );
        assert_eq!(
            InputFormat::detect(
                "INFO  jepsen.core - start\nINFO  jepsen.util - 3\t:invoke\t:read\tnil"
            ),
            Some(InputFormat::JepsenLog)
        );
        assert_eq!(InputFormat::detect("garbage"), None);
        assert_eq!(
            read_history("garbage\n", None),
            Err(ReadError::UnknownFormat)
        );
        assert_eq!(
            read_history("\n\n", Some(InputFormat::Dsys)),
            Err(ReadError::Empty)
        );
    }
}

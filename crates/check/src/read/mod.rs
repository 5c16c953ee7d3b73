//! History readers: the dsys JSONL format, Jepsen EDN (one map per line) and Jepsen's
//! textual log lines. Every error names the line.

mod dsys;
pub mod edn;
mod jepsen;
mod lines;
mod recorded;

pub use lines::{DEFAULT_MAX_INPUT_BYTES, InputLimits, MAX_LINE_BYTES};

pub use recorded::{RecordedError, Unfit, from_recorded};

use crate::history::{Event, EventKind, History, HistoryBuilder, OpFn, PairingError, Value};
use lines::BoundedLines;
use std::fmt;
use std::io::BufRead;
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
            match Looks::at(line) {
                Looks::Like(format) => return Some(format),
                Looks::Unknown => return None,
                Looks::Skip => {}
            }
        }
        None
    }
}

/// What one line says about the format of the file it starts.
enum Looks {
    Like(InputFormat),
    /// Blank, a comment, or log noise before the history: look further.
    Skip,
    Unknown,
}

impl Looks {
    fn at(line: &str) -> Looks {
        let line = line.trim();
        if line.is_empty() || line.starts_with(';') {
            return Looks::Skip;
        }
        if line.contains("jepsen.util") {
            return Looks::Like(InputFormat::JepsenLog);
        }
        if line.starts_with("{\"") {
            return Looks::Like(InputFormat::Dsys);
        }
        if line.starts_with("{:") || line.starts_with('#') || line.starts_with('[') {
            return Looks::Like(InputFormat::JepsenEdn);
        }
        // Log files may start with unrelated log lines; keep looking a little.
        if !line.starts_with('{')
            && (line.contains(" INFO ") || line.starts_with("INFO") || line.contains("WARN"))
        {
            return Looks::Skip;
        }
        Looks::Unknown
    }
}

/// Lines of log noise a reader looks through for the first event before it gives up.
const MAX_LINES_BEFORE_THE_FIRST_EVENT: usize = 10_000;

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
    /// One line is longer than the reader takes.
    #[error("line {line}: longer than {limit} bytes, the longest line a history may have")]
    LineTooLong {
        /// 1-based line.
        line: usize,
        /// The limit, bytes.
        limit: usize,
    },
    /// The input is larger than the reader takes.
    #[error("larger than {limit} bytes, the input limit (raise it with --max-input)")]
    TooLarge {
        /// The limit, bytes.
        limit: u64,
    },
    /// Reading failed.
    #[error("read failed: {0}")]
    Io(String),
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
    read_history_from(text.as_bytes(), format, InputLimits::default())
}

/// Read a history line by line from `reader` within `limits`, detecting the format
/// unless one is given. Memory stays within the limits whatever the input.
pub fn read_history_from(
    reader: impl BufRead,
    format: Option<InputFormat>,
    limits: InputLimits,
) -> Result<History, ReadError> {
    let mut lines = BoundedLines::new(reader, limits);
    let mut looked_at: Vec<(usize, String)> = Vec::new();
    let format = match format {
        Some(f) => f,
        None => loop {
            let Some(next) = lines.next() else {
                return Err(ReadError::UnknownFormat);
            };
            let (no, line) = next?;
            let looks = Looks::at(&line);
            looked_at.push((no, line));
            match looks {
                Looks::Like(format) => break format,
                Looks::Unknown => return Err(ReadError::UnknownFormat),
                Looks::Skip if looked_at.len() >= MAX_LINES_BEFORE_THE_FIRST_EVENT => {
                    return Err(ReadError::UnknownFormat);
                }
                Looks::Skip => {}
            }
        },
    };
    let mut builder = HistoryBuilder::new();
    for next in looked_at.into_iter().map(Ok).chain(lines) {
        let (line_no, line) = next?;
        let event = match format {
            InputFormat::Dsys => dsys::parse_line(&line, line_no)?,
            InputFormat::JepsenEdn => jepsen::parse_edn_line(&line, line_no)?,
            InputFormat::JepsenLog => jepsen::parse_log_line(&line, line_no)?,
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

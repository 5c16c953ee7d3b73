//! The one history model of dsys: the events of a run — client operations invoked and
//! completed, nemesis actions — and their JSONL codec, the format of
//! `docs/history-format.md`. The simulator records into it; the checker reads it; a real
//! runtime's clients will record into it too.
//!
//! A nemesis event carries its fault action as the type parameter `F`: the simulator's
//! own actions where they are known, any JSON ([`serde_json::Value`], the default) where
//! they only need to be carried.

use dsys_node::NodeId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::io::{self, Write};

/// Who performed an event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Process {
    /// A client process. A client whose operation timed out continues as a new process
    /// (Jepsen's convention), so a process never has two operations outstanding.
    Client(u64),
    /// The fault injector; serialised as the string `"nemesis"`.
    Nemesis,
}

impl Serialize for Process {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Process::Client(p) => s.serialize_u64(*p),
            Process::Nemesis => s.serialize_str("nemesis"),
        }
    }
}

impl<'de> Deserialize<'de> for Process {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ProcessVisitor)
    }
}

/// Reads a process, with errors that say what a process may be.
struct ProcessVisitor;

impl serde::de::Visitor<'_> for ProcessVisitor {
    type Value = Process;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a non-negative integer or \"nemesis\"")
    }

    fn visit_u64<E: serde::de::Error>(self, p: u64) -> Result<Process, E> {
        Ok(Process::Client(p))
    }

    fn visit_i64<E: serde::de::Error>(self, p: i64) -> Result<Process, E> {
        u64::try_from(p)
            .map(Process::Client)
            .map_err(|_| E::custom(format!("process {p} is not a non-negative integer")))
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Process, E> {
        match name {
            "nemesis" => Ok(Process::Nemesis),
            _ => Err(E::custom(format!(
                "process must be an integer or \"nemesis\", got {name:?}"
            ))),
        }
    }
}

/// The four event types of a history.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// An operation began.
    Invoke,
    /// It completed and took effect.
    Ok,
    /// It definitely did not take effect.
    Fail,
    /// Unknown: it may or may not have taken effect, at any time after its invocation.
    Info,
}

/// The value an event carries.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum EventValue<F> {
    /// A written or read value.
    One(u64),
    /// A compare-and-set's `[expected, new]`.
    Pair([u64; 2]),
    /// A counter's value or an increment's delta, when negative (non-negative ones are
    /// written as [`EventValue::One`]: the bytes are the same number).
    Count(i64),
    /// The elements a set read returned, ascending.
    Elements(Vec<u64>),
    /// A nemesis action.
    Fault(F),
}

impl<F> EventValue<F> {
    /// A counter value or delta: non-negative ones as [`EventValue::One`].
    pub fn count(n: i64) -> EventValue<F> {
        match u64::try_from(n) {
            Ok(n) => EventValue::One(n),
            Err(_) => EventValue::Count(n),
        }
    }
}

/// One line of a history.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    bound(serialize = "F: Serialize", deserialize = "F: Deserialize<'de>")
)]
pub struct HistoryEvent<F = serde_json::Value> {
    /// Position in the history, from 0.
    pub index: u64,
    /// True time, ns since the start of the run (virtual in the simulator).
    pub time: u64,
    /// Who.
    pub process: Process,
    /// What kind of event.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The function: `read`, `write`, `cas`, `add`, `remove`, or a nemesis action name.
    pub f: Cow<'static, str>,
    /// The key, for client operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u64>,
    /// The value; `null` for a read of a never-written key or an invoked read.
    #[serde(default)]
    pub value: Option<EventValue<F>>,
    /// The node that served the operation (on completions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// Why an operation failed or is indeterminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'static, str>>,
}

/// Write `events` as JSON lines.
pub fn write_jsonl<F: Serialize, W: Write>(
    events: &[HistoryEvent<F>],
    mut out: W,
) -> io::Result<()> {
    for event in events {
        serde_json::to_writer(&mut out, event).map_err(io::Error::other)?;
        out.write_all(b"\n")?;
    }
    out.flush()
}

/// Read JSON lines written by [`write_jsonl`] (blank lines skipped); errors name the line.
pub fn read_jsonl<F: DeserializeOwned>(text: &str) -> Result<Vec<HistoryEvent<F>>, HistoryError> {
    let mut events = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let event = read_line(line).map_err(|source| HistoryError {
            line: i + 1,
            source,
        })?;
        events.extend(event);
    }
    Ok(events)
}

/// Read one line of a history: `None` for a blank line. The one decoder of the format,
/// behind [`read_jsonl`] and `dsys check`'s reader alike.
pub fn read_line<F: DeserializeOwned>(
    line: &str,
) -> Result<Option<HistoryEvent<F>>, serde_json::Error> {
    let line = line.trim();
    if line.is_empty() {
        return Ok(None);
    }
    // serde would also read an event from a JSON array of its fields in order; the
    // format is objects only.
    if !line.starts_with('{') {
        return Err(serde::de::Error::custom("expected a JSON object"));
    }
    serde_json::from_str(line).map(Some)
}

/// A history line that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("history line {line}: {source}")]
pub struct HistoryError {
    /// 1-based line number.
    pub line: usize,
    /// What was wrong.
    #[source]
    pub source: serde_json::Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_fault_payload_travels_as_json() {
        let text = concat!(
            r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"cas","key":3,"value":[1,2]}"#,
            "\n",
            r#"{"index":1,"time":6,"process":"nemesis","type":"info","f":"crash","value":{"action":"crash","node":2}}"#,
            "\n\n",
            r#"{"index":2,"time":9,"process":0,"type":"fail","f":"cas","key":3,"value":[1,2],"node":1,"error":"cas-mismatch"}"#,
            "\n",
        );
        let events: Vec<HistoryEvent> = read_jsonl(text).unwrap();
        assert_eq!(events.len(), 3);
        assert_eq!(events[0].value, Some(EventValue::Pair([1, 2])));
        assert_eq!(events[1].process, Process::Nemesis);
        assert!(matches!(events[1].value, Some(EventValue::Fault(_))));
        assert_eq!(events[2].node, Some(NodeId(1)));
        let mut out = Vec::new();
        write_jsonl(&events, &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), text.replace("\n\n", "\n"));
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = read_jsonl::<serde_json::Value>("\n{\"index\":0}\n").unwrap_err();
        assert_eq!(err.line, 2);
        let bob = r#"{"index":0,"time":1,"process":"bob","type":"ok","f":"read"}"#;
        let err = read_jsonl::<serde_json::Value>(bob).unwrap_err();
        assert!(err.to_string().contains("process must be"), "{err}");
        let negative = r#"{"index":0,"time":1,"process":-1,"type":"ok","f":"read"}"#;
        let err = read_jsonl::<serde_json::Value>(negative).unwrap_err();
        assert!(
            err.to_string()
                .contains("process -1 is not a non-negative integer"),
            "{err}"
        );
        let array = r#"[0,1,1,"ok","read",null,null,null,null]"#;
        let err = read_jsonl::<serde_json::Value>(array).unwrap_err();
        assert!(err.to_string().contains("expected a JSON object"), "{err}");
        let extra = r#"{"index":0,"time":1,"process":1,"type":"ok","f":"read","colour":1}"#;
        assert!(read_jsonl::<serde_json::Value>(extra).is_err());
    }

    #[test]
    fn negative_counts_only_are_counts() {
        assert_eq!(EventValue::<()>::count(4), EventValue::One(4));
        assert_eq!(EventValue::<()>::count(-4), EventValue::Count(-4));
    }
}

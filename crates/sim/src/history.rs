//! The recorded history of a run, in the JSONL format of `docs/history-format.md`.

use crate::nemesis::FaultAction;
use dsys_node::{Instant, NodeId, Op};
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
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Client(u64),
            Name(String),
        }
        match Repr::deserialize(d)? {
            Repr::Client(p) => Ok(Process::Client(p)),
            Repr::Name(n) if n == "nemesis" => Ok(Process::Nemesis),
            Repr::Name(n) => Err(serde::de::Error::custom(format!(
                "process must be an integer or \"nemesis\", got {n:?}"
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
pub enum EventValue {
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
    Fault(FaultAction),
}

/// One line of a history.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryEvent {
    /// Position in the history, from 0.
    pub index: u64,
    /// True virtual time, ns since the start of the run.
    pub time: u64,
    /// Who.
    pub process: Process,
    /// What kind of event.
    #[serde(rename = "type")]
    pub kind: EventType,
    /// The function: `read`, `write`, `cas`, or a nemesis action name.
    pub f: Cow<'static, str>,
    /// The key, for client operations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<u64>,
    /// The value; `null` for a read of a never-written key or an invoked read.
    #[serde(default)]
    pub value: Option<EventValue>,
    /// The node that served the operation (on completions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<NodeId>,
    /// Why an operation failed or is indeterminate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<Cow<'static, str>>,
}

/// A history: events in the order they happened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    events: Vec<HistoryEvent>,
}

fn op_f(op: &Op) -> &'static str {
    match op {
        Op::Read { .. } => "read",
        Op::Write { .. } => "write",
        Op::Cas { .. } => "cas",
        // Jepsen's name for both: the model (counter or set) tells them apart.
        Op::Increment { .. } | Op::Insert { .. } => "add",
        Op::Remove { .. } => "remove",
    }
}

impl EventValue {
    /// A counter value or delta: non-negative ones as [`EventValue::One`].
    pub fn count(n: i64) -> EventValue {
        match u64::try_from(n) {
            Ok(n) => EventValue::One(n),
            Err(_) => EventValue::Count(n),
        }
    }
}

fn op_value(op: &Op) -> Option<EventValue> {
    match *op {
        Op::Read { .. } => None,
        Op::Write { value, .. } => Some(EventValue::One(value)),
        Op::Cas { expected, new, .. } => Some(EventValue::Pair([expected, new])),
        Op::Increment { delta, .. } => Some(EventValue::count(delta)),
        Op::Insert { element, .. } | Op::Remove { element, .. } => Some(EventValue::One(element)),
    }
}

impl History {
    /// The events so far.
    pub fn events(&self) -> &[HistoryEvent] {
        &self.events
    }

    fn push(&mut self, mut event: HistoryEvent) {
        event.index = self.events.len() as u64;
        self.events.push(event);
    }

    /// A client invoked `op`.
    pub fn invoke(&mut self, at: Instant, process: u64, op: &Op) {
        self.push(HistoryEvent {
            index: 0,
            time: at.as_nanos(),
            process: Process::Client(process),
            kind: EventType::Invoke,
            f: Cow::Borrowed(op_f(op)),
            key: Some(op.key()),
            value: op_value(op),
            node: None,
            error: None,
        });
    }

    /// `op` completed. For reads, `read` is what was read; otherwise the invoked value is kept.
    #[allow(clippy::too_many_arguments)]
    pub fn complete(
        &mut self,
        at: Instant,
        process: u64,
        op: &Op,
        kind: EventType,
        read: Option<EventValue>,
        node: Option<NodeId>,
        error: Option<&'static str>,
    ) {
        let value = match op {
            Op::Read { .. } => read,
            other => op_value(other),
        };
        self.push(HistoryEvent {
            index: 0,
            time: at.as_nanos(),
            process: Process::Client(process),
            kind,
            f: Cow::Borrowed(op_f(op)),
            key: Some(op.key()),
            value,
            node,
            error: error.map(Cow::Borrowed),
        });
    }

    /// The nemesis did something. `action` is `None` for the final heal.
    pub fn nemesis(&mut self, at: Instant, f: &'static str, action: Option<FaultAction>) {
        self.push(HistoryEvent {
            index: 0,
            time: at.as_nanos(),
            process: Process::Nemesis,
            kind: EventType::Info,
            f: Cow::Borrowed(f),
            key: None,
            value: action.map(EventValue::Fault),
            node: None,
            error: None,
        });
    }

    /// Write the history as JSON lines.
    pub fn write_jsonl<W: Write>(&self, mut out: W) -> io::Result<()> {
        for event in &self.events {
            serde_json::to_writer(&mut out, event).map_err(io::Error::other)?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }

    /// Read a history written by [`History::write_jsonl`]; errors name the line.
    pub fn read_jsonl(text: &str) -> Result<History, HistoryError> {
        let mut events = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let event: HistoryEvent =
                serde_json::from_str(line).map_err(|source| HistoryError {
                    line: i + 1,
                    source,
                })?;
            events.push(event);
        }
        Ok(History { events })
    }
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
    fn round_trips_through_jsonl() {
        let mut h = History::default();
        let op = Op::Cas {
            key: 3,
            expected: 1,
            new: 2,
        };
        h.invoke(Instant::from_nanos(5), 0, &op);
        h.complete(
            Instant::from_nanos(9),
            0,
            &op,
            EventType::Fail,
            None,
            Some(NodeId(1)),
            Some("cas-mismatch"),
        );
        let read = Op::Read { key: 3 };
        h.invoke(Instant::from_nanos(10), 5, &read);
        h.complete(
            Instant::from_nanos(12),
            5,
            &read,
            EventType::Ok,
            Some(EventValue::One(1)),
            Some(NodeId(0)),
            None,
        );
        h.nemesis(
            Instant::from_nanos(11),
            "crash",
            Some(FaultAction::Crash { node: NodeId(2) }),
        );
        let mut buf = Vec::new();
        h.write_jsonl(&mut buf).unwrap();
        let text = String::from_utf8(buf).unwrap();
        assert!(text.starts_with(r#"{"index":0,"time":5,"process":0,"type":"invoke","f":"cas","key":3,"value":[1,2]}"#), "{text}");
        assert!(text.contains(r#""process":"nemesis","type":"info","f":"crash","value":{"action":"crash","node":2}"#), "{text}");
        assert_eq!(History::read_jsonl(&text).unwrap(), h);
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = History::read_jsonl("\n{\"index\":0}\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err =
            History::read_jsonl(r#"{"index":0,"time":1,"process":"bob","type":"ok","f":"read"}"#)
                .unwrap_err();
        assert!(err.to_string().contains("process must be"), "{err}");
    }
}

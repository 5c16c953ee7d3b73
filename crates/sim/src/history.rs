//! Recording a run into the one history model (`dsys-history`), whose JSONL codec is the
//! format of `docs/history-format.md`.

use crate::nemesis::FaultAction;
use dsys_history::{EventType, EventValue, HistoryError, HistoryEvent, Process};
use dsys_node::{Instant, NodeId, Op};
use std::borrow::Cow;
use std::io;

/// An event of a simulated run: nemesis events carry the simulator's own fault actions.
pub type SimEvent = HistoryEvent<FaultAction>;

/// The recorded history of a run: events in the order they happened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunHistory {
    events: Vec<SimEvent>,
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

fn op_value(op: &Op) -> Option<EventValue<FaultAction>> {
    match *op {
        Op::Read { .. } => None,
        Op::Write { value, .. } => Some(EventValue::One(value)),
        Op::Cas { expected, new, .. } => Some(EventValue::Pair([expected, new])),
        Op::Increment { delta, .. } => Some(EventValue::count(delta)),
        Op::Insert { element, .. } | Op::Remove { element, .. } => Some(EventValue::One(element)),
    }
}

impl RunHistory {
    /// The events so far.
    pub fn events(&self) -> &[SimEvent] {
        &self.events
    }

    fn push(&mut self, mut event: SimEvent) {
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
        read: Option<EventValue<FaultAction>>,
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

    /// `node` would not start from what its disk held, and said why.
    pub fn refused_boot(&mut self, at: Instant, node: NodeId, reason: String) {
        self.push(HistoryEvent {
            index: 0,
            time: at.as_nanos(),
            process: Process::Nemesis,
            kind: EventType::Info,
            f: Cow::Borrowed("refused-boot"),
            key: None,
            value: None,
            node: Some(node),
            error: Some(Cow::Owned(reason)),
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
    pub fn write_jsonl<W: io::Write>(&self, out: W) -> io::Result<()> {
        dsys_history::write_jsonl(&self.events, out)
    }

    /// Read a history written by [`RunHistory::write_jsonl`]; errors name the line.
    pub fn read_jsonl(text: &str) -> Result<RunHistory, HistoryError> {
        dsys_history::read_jsonl(text).map(|events| RunHistory { events })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_jsonl() {
        let mut h = RunHistory::default();
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
        assert_eq!(RunHistory::read_jsonl(&text).unwrap(), h);
    }

    #[test]
    fn bad_lines_are_reported_with_their_number() {
        let err = RunHistory::read_jsonl("\n{\"index\":0}\n").unwrap_err();
        assert_eq!(err.line, 2);
        let err = RunHistory::read_jsonl(
            r#"{"index":0,"time":1,"process":"bob","type":"ok","f":"read"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("process must be"), "{err}");
    }
}

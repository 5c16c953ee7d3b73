//! The history model the checkers judge: operations paired from invoke / completion
//! events, whatever format they were read from.
//!
//! Real-time order is the order of events in the file: an operation `a` precedes `b`
//! when `a`'s completion event comes before `b`'s invocation event.

use std::collections::BTreeMap;
use std::fmt;

/// What an operation does.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum OpFn {
    /// Read a key (Jepsen `:read`, `:get`; `:r`).
    Read,
    /// Overwrite a key (`:write`, `:put`).
    Write,
    /// Compare-and-set a key (`:cas`), value `[expected new]`.
    Cas,
    /// Add an element to a set, or a delta to a counter (`:add`).
    Add,
    /// Append an element to a list (`:append`).
    Append,
    /// Take an element out of a set (`:remove`).
    Remove,
}

impl OpFn {
    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            OpFn::Read => "read",
            OpFn::Write => "write",
            OpFn::Cas => "cas",
            OpFn::Add => "add",
            OpFn::Append => "append",
            OpFn::Remove => "remove",
        }
    }

    /// Parse a name, accepting Jepsen's aliases.
    pub fn parse(name: &str) -> Option<OpFn> {
        Some(match name {
            "read" | "get" | "r" => OpFn::Read,
            "write" | "put" | "w" => OpFn::Write,
            "cas" => OpFn::Cas,
            "add" => OpFn::Add,
            "append" => OpFn::Append,
            "remove" => OpFn::Remove,
            _ => return None,
        })
    }
}

/// A value as it appears in a history event.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum Value {
    /// `nil` / `null`.
    Nil,
    /// An integer.
    Int(i64),
    /// A list of integers: a cas `[expected new]`, or what a set / list read returned.
    List(Vec<i64>),
    /// Not known: a completion that carries no value (`:timed-out`).
    Unknown,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Int(i) => write!(f, "{i}"),
            Value::List(xs) => {
                f.write_str("[")?;
                for (i, x) in xs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{x}")?;
                }
                f.write_str("]")
            }
            Value::Unknown => f.write_str("?"),
        }
    }
}

/// The type of a history event.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum EventKind {
    /// An operation began.
    Invoke,
    /// It took effect.
    Ok,
    /// It did not take effect.
    Fail,
    /// It may or may not have taken effect.
    Info,
}

/// One event as a reader produced it, before pairing.
#[derive(Clone, PartialEq, Debug)]
pub struct Event {
    /// 1-based line in the source, for errors.
    pub line: usize,
    /// The client process, or `None` for the nemesis.
    pub process: Option<u64>,
    /// Invoke, ok, fail or info.
    pub kind: EventKind,
    /// The function; for nemesis events, its name is in `nemesis_f`.
    pub f: Option<OpFn>,
    /// The nemesis function name (nemesis events only).
    pub nemesis_f: Option<String>,
    /// The key, if the history has keys.
    pub key: Option<String>,
    /// The value.
    pub value: Value,
    /// Wall or virtual time in nanoseconds, if the source records it.
    pub time: Option<u64>,
}

/// Whether an operation is known to have taken effect.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Status {
    /// Completed with `ok`.
    Ok,
    /// `info`, a timeout, or never completed: may or may not have taken effect.
    Indeterminate,
}

/// Index of a key in [`History::keys`].
pub type KeyId = u32;

/// One client operation, invocation paired with completion.
#[derive(Clone, PartialEq, Debug)]
pub struct Op {
    /// Position in [`History::ops`].
    pub id: usize,
    /// The client process.
    pub process: u64,
    /// The key.
    pub key: KeyId,
    /// What it does.
    pub f: OpFn,
    /// Its argument (write / add / append: the element; cas: `List([expected, new])`;
    /// read: `Nil`).
    pub input: Value,
    /// What a read returned (`Unknown` for indeterminate reads); the input otherwise.
    pub output: Value,
    /// Position of the invocation event.
    pub call: u64,
    /// Position of the completion event; `u64::MAX` if it is indeterminate.
    pub ret: u64,
    /// Known to have happened, or not known.
    pub status: Status,
    /// Source lines of the invocation and the completion (0 if none).
    pub lines: (usize, usize),
    /// What `lines` counts, for the words a witness cites it with.
    pub positions: Positions,
    /// Times of the invocation and completion, if the source records them.
    pub times: (Option<u64>, Option<u64>),
}

impl Op {
    /// Whether the operation may change state.
    pub fn is_update(&self) -> bool {
        self.f != OpFn::Read
    }

    /// Whether `self` completed before `other` was invoked.
    pub fn precedes(&self, other: &Op) -> bool {
        self.ret < other.call
    }
}

/// A nemesis event, kept for timelines and reports.
#[derive(Clone, PartialEq, Debug)]
pub struct NemesisEvent {
    /// Position among all events.
    pub position: u64,
    /// Its function name.
    pub f: String,
    /// Its time, if recorded.
    pub time: Option<u64>,
}

/// A history ready for checking.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct History {
    /// Client operations in invocation order; `fail`ed ones are not included.
    pub ops: Vec<Op>,
    /// Operations that failed (did not take effect), for reports.
    pub failed: usize,
    /// Key names; an operation's `key` indexes this. A history without keys has one, "".
    pub keys: Vec<String>,
    /// Nemesis events.
    pub nemesis: Vec<NemesisEvent>,
    /// Events read.
    pub events: u64,
}

/// A history whose events do not pair up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    /// A completion for a process with nothing outstanding.
    #[error("line {line}: {kind} for process {process}, which has no operation in progress")]
    CompletionWithoutInvocation {
        /// Where.
        line: usize,
        /// `ok`, `fail` or `info`.
        kind: &'static str,
        /// The process.
        process: u64,
    },
    /// A second invocation before the first completed.
    #[error(
        "line {line}: process {process} invokes again while its operation from line {pending} is in progress"
    )]
    DoubleInvocation {
        /// Where.
        line: usize,
        /// The process.
        process: u64,
        /// The line of the outstanding invocation.
        pending: usize,
    },
    /// A completion whose function differs from its invocation's.
    #[error(
        "line {line}: process {process} completes `{got}` but invoked `{expected}` on line {invoked}"
    )]
    MismatchedCompletion {
        /// Where.
        line: usize,
        /// The process.
        process: u64,
        /// The invoked function.
        expected: &'static str,
        /// The completed function.
        got: &'static str,
        /// The invocation's line.
        invoked: usize,
    },
    /// An event with no function.
    #[error("line {line}: client event without an operation")]
    MissingFunction {
        /// Where.
        line: usize,
    },
}

fn kind_name(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Invoke => "invoke",
        EventKind::Ok => "ok",
        EventKind::Fail => "fail",
        EventKind::Info => "info",
    }
}

/// What an event's position counts: lines of a history file, or the events of a run that
/// was never written to a file (the N-th event, from 1: the line it would have).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Positions {
    /// Lines of a file.
    #[default]
    Lines,
    /// Events of a run held in memory.
    Events,
}

/// Pairs events into operations as a reader produces them.
#[derive(Debug, Default)]
pub struct HistoryBuilder {
    history: History,
    key_ids: BTreeMap<String, KeyId>,
    /// Outstanding invocations by process: the op under construction.
    pending: BTreeMap<u64, Op>,
    position: u64,
    positions: Positions,
}

impl HistoryBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Cite positions as `positions` (lines of a file, the default, or events of a run).
    pub fn citing(mut self, positions: Positions) -> Self {
        self.positions = positions;
        self
    }

    fn key_id(&mut self, key: Option<&str>) -> KeyId {
        let key = key.unwrap_or("");
        if let Some(&id) = self.key_ids.get(key) {
            return id;
        }
        let id = self.history.keys.len() as KeyId;
        self.history.keys.push(key.to_string());
        self.key_ids.insert(key.to_string(), id);
        id
    }

    /// Add the next event.
    pub fn push(&mut self, event: Event) -> Result<(), PairingError> {
        let position = self.position;
        self.position += 1;
        self.history.events += 1;
        let Some(process) = event.process else {
            self.history.nemesis.push(NemesisEvent {
                position,
                f: event.nemesis_f.unwrap_or_default(),
                time: event.time,
            });
            return Ok(());
        };
        let f = event
            .f
            .ok_or(PairingError::MissingFunction { line: event.line })?;
        match event.kind {
            EventKind::Invoke => {
                if let Some(p) = self.pending.get(&process) {
                    return Err(PairingError::DoubleInvocation {
                        line: event.line,
                        process,
                        pending: p.lines.0,
                    });
                }
                let key = self.key_id(event.key.as_deref());
                let input = if f == OpFn::Read {
                    Value::Nil
                } else {
                    event.value
                };
                self.pending.insert(
                    process,
                    Op {
                        id: 0,
                        process,
                        key,
                        f,
                        output: input.clone(),
                        input,
                        call: position,
                        ret: u64::MAX,
                        status: Status::Indeterminate,
                        lines: (event.line, 0),
                        positions: self.positions,
                        times: (event.time, None),
                    },
                );
            }
            kind => {
                let Some(mut op) = self.pending.remove(&process) else {
                    return Err(PairingError::CompletionWithoutInvocation {
                        line: event.line,
                        kind: kind_name(kind),
                        process,
                    });
                };
                if op.f != f {
                    return Err(PairingError::MismatchedCompletion {
                        line: event.line,
                        process,
                        expected: op.f.name(),
                        got: f.name(),
                        invoked: op.lines.0,
                    });
                }
                op.lines.1 = event.line;
                op.times.1 = event.time;
                match kind {
                    EventKind::Fail => self.history.failed += 1,
                    EventKind::Ok => {
                        op.ret = position;
                        op.status = Status::Ok;
                        if f == OpFn::Read {
                            op.output = event.value;
                        }
                        self.history.ops.push(op);
                    }
                    _ => {
                        // Indeterminate: it may take effect at any time after its
                        // invocation, so it has no return point; a read's value is unknown.
                        if f == OpFn::Read {
                            op.output = Value::Unknown;
                        }
                        self.history.ops.push(op);
                    }
                }
            }
        }
        Ok(())
    }

    /// The history: operations never completed become indeterminate.
    pub fn finish(mut self) -> History {
        let pending = std::mem::take(&mut self.pending);
        for (_, mut op) in pending {
            if op.f == OpFn::Read {
                op.output = Value::Unknown;
            }
            self.history.ops.push(op);
        }
        self.history.ops.sort_by_key(|op| op.call);
        for (i, op) in self.history.ops.iter_mut().enumerate() {
            op.id = i;
        }
        self.history
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(line: usize, process: u64, kind: EventKind, f: OpFn, value: Value) -> Event {
        Event {
            line,
            process: Some(process),
            kind,
            f: Some(f),
            nemesis_f: None,
            key: None,
            value,
            time: None,
        }
    }

    #[test]
    fn pairs_events_and_classifies_outcomes() {
        let mut b = HistoryBuilder::new();
        b.push(ev(1, 0, EventKind::Invoke, OpFn::Write, Value::Int(1)))
            .unwrap();
        b.push(ev(2, 1, EventKind::Invoke, OpFn::Read, Value::Nil))
            .unwrap();
        b.push(ev(3, 0, EventKind::Ok, OpFn::Write, Value::Int(1)))
            .unwrap();
        b.push(ev(4, 1, EventKind::Ok, OpFn::Read, Value::Int(1)))
            .unwrap();
        b.push(ev(
            5,
            2,
            EventKind::Invoke,
            OpFn::Cas,
            Value::List(vec![1, 2]),
        ))
        .unwrap();
        b.push(ev(
            6,
            2,
            EventKind::Fail,
            OpFn::Cas,
            Value::List(vec![1, 2]),
        ))
        .unwrap();
        b.push(ev(7, 3, EventKind::Invoke, OpFn::Write, Value::Int(3)))
            .unwrap();
        b.push(ev(8, 3, EventKind::Info, OpFn::Write, Value::Unknown))
            .unwrap();
        b.push(ev(9, 4, EventKind::Invoke, OpFn::Read, Value::Nil))
            .unwrap();
        let h = b.finish();
        assert_eq!(h.failed, 1);
        assert_eq!(h.ops.len(), 4);
        assert_eq!(
            (h.ops[0].call, h.ops[0].ret, h.ops[0].status),
            (0, 2, Status::Ok)
        );
        assert_eq!(h.ops[1].output, Value::Int(1));
        assert_eq!(
            (h.ops[2].input.clone(), h.ops[2].ret, h.ops[2].status),
            (Value::Int(3), u64::MAX, Status::Indeterminate)
        );
        assert_eq!(
            (h.ops[3].output.clone(), h.ops[3].status),
            (Value::Unknown, Status::Indeterminate)
        );
        assert!(h.ops[0].precedes(&h.ops[2]));
        assert!(!h.ops[1].precedes(&h.ops[0]));
    }

    #[test]
    fn bad_pairings_name_the_line() {
        let mut b = HistoryBuilder::new();
        let err = b
            .push(ev(3, 0, EventKind::Ok, OpFn::Read, Value::Nil))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 3: ok for process 0, which has no operation in progress"
        );
        b.push(ev(4, 0, EventKind::Invoke, OpFn::Read, Value::Nil))
            .unwrap();
        let err = b
            .push(ev(5, 0, EventKind::Invoke, OpFn::Read, Value::Nil))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 5: process 0 invokes again while its operation from line 4 is in progress"
        );
        let err = b
            .push(ev(6, 0, EventKind::Ok, OpFn::Write, Value::Int(1)))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "line 6: process 0 completes `write` but invoked `read` on line 4"
        );
    }
}

//! Histories already in memory as `dsys-history` events (a simulated run, a real
//! runtime's clients), paired into operations without a trip through text.

use crate::history::{
    Event, EventKind, History, HistoryBuilder, OpFn, PairingError, Positions, Value,
};
use dsys_history::{EventType, EventValue, HistoryEvent, Process};

/// Why recorded events could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordedError {
    /// A value the checker's integers cannot hold.
    #[error("event {index}: value {value} does not fit a 64-bit signed integer")]
    TooLarge {
        /// The event's position, from 0.
        index: u64,
        /// The value.
        value: u64,
    },
    /// The events do not pair up into operations.
    #[error(transparent)]
    Pairing(#[from] PairingError),
}

fn int(index: u64, value: u64) -> Result<i64, RecordedError> {
    i64::try_from(value).map_err(|_| RecordedError::TooLarge { index, value })
}

fn value<F>(index: u64, value: Option<&EventValue<F>>) -> Result<Value, RecordedError> {
    Ok(match value {
        Some(EventValue::One(v)) => Value::Int(int(index, *v)?),
        Some(EventValue::Pair([a, b])) => Value::List(vec![int(index, *a)?, int(index, *b)?]),
        Some(EventValue::Count(n)) => Value::Int(*n),
        Some(EventValue::Elements(es)) => Value::List(
            es.iter()
                .map(|e| int(index, *e))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        // Nemesis values describe the fault; the checkers do not need them.
        None | Some(EventValue::Fault(_)) => Value::Nil,
    })
}

/// The operations of `events`, their witnesses citing `positions` (event N is the N-th,
/// from 1: the line it has in the JSONL file).
pub fn from_recorded<F>(
    events: &[HistoryEvent<F>],
    positions: Positions,
) -> Result<History, RecordedError> {
    let mut builder = HistoryBuilder::new().citing(positions);
    for e in events {
        let kind = match e.kind {
            EventType::Invoke => EventKind::Invoke,
            EventType::Ok => EventKind::Ok,
            EventType::Fail => EventKind::Fail,
            EventType::Info => EventKind::Info,
        };
        let (process, f, nemesis_f) = match e.process {
            Process::Client(p) => (Some(p), OpFn::parse(&e.f), None),
            Process::Nemesis => (None, None, Some(e.f.to_string())),
        };
        builder.push(Event {
            line: e.index as usize + 1,
            process,
            kind,
            f,
            nemesis_f,
            key: e.key.map(|k| k.to_string()),
            value: value(e.index, e.value.as_ref())?,
            time: Some(e.time),
        })?;
    }
    Ok(builder.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn event(
        index: u64,
        process: Process,
        kind: EventType,
        value: Option<EventValue<()>>,
    ) -> HistoryEvent<()> {
        HistoryEvent {
            index,
            time: index,
            process,
            kind,
            f: Cow::Borrowed("write"),
            key: Some(1),
            value,
            node: None,
            error: None,
        }
    }

    #[test]
    fn values_beyond_i64_are_refused_not_wrapped() {
        let events = [
            event(
                0,
                Process::Client(0),
                EventType::Invoke,
                Some(EventValue::One(u64::MAX)),
            ),
            event(
                1,
                Process::Client(0),
                EventType::Ok,
                Some(EventValue::One(u64::MAX)),
            ),
        ];
        let err = from_recorded(&events, Positions::Events).unwrap_err();
        assert_eq!(
            err,
            RecordedError::TooLarge {
                index: 0,
                value: u64::MAX
            }
        );
        let ok = [
            event(
                0,
                Process::Client(0),
                EventType::Invoke,
                Some(EventValue::One(7)),
            ),
            event(
                1,
                Process::Client(0),
                EventType::Ok,
                Some(EventValue::One(7)),
            ),
        ];
        let history = from_recorded(&ok, Positions::Events).unwrap();
        assert_eq!(history.ops.len(), 1);
        assert_eq!(history.ops[0].lines, (1, 2));
    }

    #[test]
    fn an_unpaired_completion_is_an_error() {
        let events = [event(0, Process::Client(3), EventType::Ok, None)];
        assert!(matches!(
            from_recorded(&events, Positions::Events),
            Err(RecordedError::Pairing(_))
        ));
    }
}

//! Histories already in memory as `dsys-history` events (a simulated run, a real
//! runtime's clients), paired into operations without a trip through text.

use crate::history::{Event, EventKind, History, HistoryBuilder, PairingError, Positions, Value};
use dsys_history::{EventType, EventValue, HistoryEvent, Process};
use serde::Serialize;

/// Why recorded events could not be checked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordedError {
    /// An event the checker's model cannot hold.
    #[error("event {index}: {unfit}")]
    Unfit {
        /// The event's position, from 0.
        index: u64,
        /// What does not fit.
        unfit: Unfit,
    },
    /// The events do not pair up into operations.
    #[error(transparent)]
    Pairing(#[from] PairingError),
}

/// What about one event does not fit the checker's model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unfit {
    /// A value the checker's integers cannot hold.
    #[error("value {0} does not fit a 64-bit signed integer")]
    TooLarge(u64),
    /// A client operation the checker does not know.
    #[error("unknown operation `{0}`")]
    UnknownOperation(String),
    /// A client event whose value is none of the format's values.
    #[error("unsupported value {0}")]
    UnsupportedValue(String),
}

fn int(value: u64) -> Result<i64, Unfit> {
    i64::try_from(value).map_err(|_| Unfit::TooLarge(value))
}

fn value<F: Serialize>(value: Option<&EventValue<F>>, client: bool) -> Result<Value, Unfit> {
    Ok(match value {
        Some(EventValue::One(v)) => Value::Int(int(*v)?),
        Some(EventValue::Pair([a, b])) => Value::List(vec![int(*a)?, int(*b)?]),
        Some(EventValue::Count(n)) => Value::Int(*n),
        Some(EventValue::Elements(es)) => {
            Value::List(es.iter().map(|e| int(*e)).collect::<Result<Vec<_>, _>>()?)
        }
        // Nemesis values describe the fault; the checkers do not need them. A client's
        // value that is none of the above is not in the format.
        Some(EventValue::Fault(other)) if client => {
            let json = serde_json::to_string(other).unwrap_or_else(|e| e.to_string());
            return Err(Unfit::UnsupportedValue(json));
        }
        None | Some(EventValue::Fault(_)) => Value::Nil,
    })
}

/// One recorded event in the checker's model, cited as `line`: the one conversion, for
/// events in memory and lines of a file alike.
pub(super) fn event<F: Serialize>(e: &HistoryEvent<F>, line: usize) -> Result<Event, Unfit> {
    let kind = match e.kind {
        EventType::Invoke => EventKind::Invoke,
        EventType::Ok => EventKind::Ok,
        EventType::Fail => EventKind::Fail,
        EventType::Info => EventKind::Info,
    };
    let process = match e.process {
        Process::Client(p) => Some(p),
        Process::Nemesis => None,
    };
    let value = value(e.value.as_ref(), process.is_some())?;
    let key = e.key.map(|k| k.to_string());
    // The readers' one constructor; the only thing it refuses is an unknown operation.
    super::event(line, process, kind, &e.f, "", key, value, Some(e.time))
        .map_err(|_| Unfit::UnknownOperation(e.f.to_string()))
}

/// The operations of `events`, their witnesses citing `positions` (event N is the N-th,
/// from 1: the line it has in the JSONL file).
pub fn from_recorded<F: Serialize>(
    events: &[HistoryEvent<F>],
    positions: Positions,
) -> Result<History, RecordedError> {
    let mut builder = HistoryBuilder::new().citing(positions);
    for e in events {
        let converted = event(e, e.index as usize + 1).map_err(|unfit| RecordedError::Unfit {
            index: e.index,
            unfit,
        })?;
        builder.push(converted)?;
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
            RecordedError::Unfit {
                index: 0,
                unfit: Unfit::TooLarge(u64::MAX)
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

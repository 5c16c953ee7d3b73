//! The dsys JSONL history format (`docs/history-format.md`).

use super::{ReadError, event, syntax};
use crate::history::{Event, EventKind, Value};
use serde_json::Value as Json;

const FIELDS: [&str; 9] = [
    "index", "time", "process", "type", "f", "key", "value", "node", "error",
];

fn value(line: usize, v: &Json, nemesis: bool) -> Result<Value, ReadError> {
    match v {
        Json::Null => Ok(Value::Nil),
        Json::Number(n) => n
            .as_i64()
            .map(Value::Int)
            .ok_or_else(|| syntax(line, format!("value {n} is not a 64-bit integer"))),
        Json::Array(items) => items
            .iter()
            .map(|x| {
                x.as_i64()
                    .ok_or_else(|| syntax(line, format!("list element {x} is not an integer")))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        // Nemesis values describe the fault; the checkers do not need them.
        Json::Object(_) if nemesis => Ok(Value::Nil),
        other => Err(syntax(line, format!("unsupported value {other}"))),
    }
}

/// Parse one line; `None` for a blank line.
pub(super) fn parse_line(text: &str, line: usize) -> Result<Option<Event>, ReadError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    let json: Json =
        serde_json::from_str(text).map_err(|e| syntax(line, format!("invalid JSON ({e})")))?;
    let Json::Object(obj) = json else {
        return Err(syntax(line, "expected a JSON object"));
    };
    if let Some(unknown) = obj.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(syntax(line, format!("unknown field `{unknown}`")));
    }
    let process =
        match obj.get("process") {
            Some(Json::Number(n)) => Some(n.as_u64().ok_or_else(|| {
                syntax(line, format!("process {n} is not a non-negative integer"))
            })?),
            Some(Json::String(s)) if s == "nemesis" => None,
            Some(other) => {
                return Err(syntax(
                    line,
                    format!("process must be an integer or \"nemesis\", got {other}"),
                ));
            }
            None => return Err(syntax(line, "missing field `process`")),
        };
    let kind = match obj.get("type").and_then(Json::as_str) {
        Some("invoke") => EventKind::Invoke,
        Some("ok") => EventKind::Ok,
        Some("fail") => EventKind::Fail,
        Some("info") => EventKind::Info,
        Some(other) => {
            return Err(syntax(
                line,
                format!("unknown event type `{other}` (expected invoke, ok, fail or info)"),
            ));
        }
        None => return Err(syntax(line, "missing or non-string field `type`")),
    };
    let f_name = obj
        .get("f")
        .and_then(Json::as_str)
        .ok_or_else(|| syntax(line, "missing or non-string field `f`"))?;
    let key = match obj.get("key") {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) => Some(n.to_string()),
        Some(Json::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(syntax(
                line,
                format!("key must be an integer or a string, got {other}"),
            ));
        }
    };
    let value = value(
        line,
        obj.get("value").unwrap_or(&Json::Null),
        process.is_none(),
    )?;
    let time = match obj.get("time") {
        None | Some(Json::Null) => None,
        Some(t) => Some(
            t.as_u64()
                .ok_or_else(|| syntax(line, format!("time {t} is not a non-negative integer")))?,
        ),
    };
    event(line, process, kind, f_name, "", key, value, time).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpFn;

    #[test]
    fn reads_client_and_nemesis_lines() {
        let e = parse_line(r#"{"index":4,"time":9,"process":2,"type":"ok","f":"cas","key":3,"value":[1,2],"node":0}"#, 5).unwrap().unwrap();
        assert_eq!(
            (e.process, e.kind, e.f, e.key.as_deref(), e.value, e.time),
            (
                Some(2),
                EventKind::Ok,
                Some(OpFn::Cas),
                Some("3"),
                Value::List(vec![1, 2]),
                Some(9)
            )
        );
        let n = parse_line(r#"{"index":5,"time":9,"process":"nemesis","type":"info","f":"crash","value":{"action":"crash","node":1}}"#, 6).unwrap().unwrap();
        assert_eq!((n.process, n.nemesis_f.as_deref()), (None, Some("crash")));
        assert_eq!(parse_line("   ", 7).unwrap(), None);
    }

    #[test]
    fn bad_lines_say_what_and_where() {
        let err = |s: &str| parse_line(s, 12).unwrap_err().to_string();
        assert!(
            err(r#"{"process":1,"type":"ok","f":"read","value":n"#)
                .starts_with("line 12: invalid JSON")
        );
        assert_eq!(
            err(r#"{"process":1,"type":"ok","f":"explode"}"#),
            "line 12: unknown operation `explode`"
        );
        assert_eq!(
            err(r#"{"process":1,"type":"done","f":"read"}"#),
            "line 12: unknown event type `done` (expected invoke, ok, fail or info)"
        );
        assert_eq!(
            err(r#"{"process":1,"type":"ok","f":"read","colour":1}"#),
            "line 12: unknown field `colour`"
        );
        assert_eq!(
            err(r#"{"process":-1,"type":"ok","f":"read"}"#),
            "line 12: process -1 is not a non-negative integer"
        );
        assert_eq!(
            err(r#"{"process":1,"type":"ok","f":"read","value":"x"}"#),
            "line 12: unsupported value \"x\""
        );
        assert_eq!(err("[1,2]"), "line 12: expected a JSON object");
    }
}

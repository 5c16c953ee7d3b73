//! The dsys JSONL history format (`docs/history-format.md`), read with `dsys-history`'s
//! decoder and converted as recorded events are.

use super::recorded::event;
use super::{ReadError, syntax};
use crate::history::Event;
use dsys_history::HistoryEvent;

/// Parse one line with the format's one decoder (`dsys_history::read_line`); `None` for a
/// blank line. Errors name the file's line.
pub(super) fn parse_line(text: &str, line: usize) -> Result<Option<Event>, ReadError> {
    let recorded: Option<HistoryEvent> =
        dsys_history::read_line(text).map_err(|e| syntax(line, json_reason(&e)))?;
    recorded
        .map(|e| event(&e, line).map_err(|unfit| syntax(line, unfit.to_string())))
        .transpose()
}

/// What serde_json found wrong, without its position inside the one-line string (the
/// caller names the file's line).
fn json_reason(e: &serde_json::Error) -> String {
    let full = e.to_string();
    let at = format!(" at line {} column {}", e.line(), e.column());
    let reason = full.strip_suffix(&at).unwrap_or(&full);
    match e.classify() {
        serde_json::error::Category::Data if e.column() == 0 => reason.to_string(),
        serde_json::error::Category::Data => format!("{reason} (column {})", e.column()),
        _ => format!("invalid JSON ({reason} at column {})", e.column()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::{EventKind, OpFn, Value};

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
        let line = |rest: &str| format!(r#"{{"index":0,"time":1,"process":1,{rest}}}"#);
        assert!(
            err(r#"{"process":1,"type":"ok","f":"read","value":n"#)
                .starts_with("line 12: invalid JSON")
        );
        assert_eq!(
            err(&line(r#""type":"ok","f":"explode""#)),
            "line 12: unknown operation `explode`"
        );
        let done = err(&line(r#""type":"done","f":"read""#));
        assert!(
            done.starts_with(
                "line 12: unknown variant `done`, expected one of `invoke`, `ok`, `fail`, `info`"
            ),
            "{done}"
        );
        let colour = err(&line(r#""type":"ok","f":"read","colour":1"#));
        assert!(
            colour.starts_with("line 12: unknown field `colour`"),
            "{colour}"
        );
        let negative = err(r#"{"index":0,"time":1,"process":-1,"type":"ok","f":"read"}"#);
        assert!(
            negative.starts_with("line 12: process -1 is not a non-negative integer"),
            "{negative}"
        );
        assert_eq!(
            err(&line(r#""type":"ok","f":"read","value":"x""#)),
            "line 12: unsupported value \"x\""
        );
        let missing = err(r#"{"process":1,"type":"ok","f":"read"}"#);
        assert!(
            missing.starts_with("line 12: missing field `index`"),
            "{missing}"
        );
        let string_key = err(&line(r#""type":"ok","f":"read","key":"a""#));
        assert!(
            string_key.starts_with("line 12: invalid type: string"),
            "{string_key}"
        );
        assert_eq!(err("[1,2]"), "line 12: expected a JSON object");
        assert_eq!(
            err(r#"[0,1,1,"ok","read",null,null,null,null]"#),
            "line 12: expected a JSON object"
        );
    }
}

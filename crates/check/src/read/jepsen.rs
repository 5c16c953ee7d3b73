//! Jepsen histories: EDN op maps (one per line) and `jepsen.util` log lines.

use super::edn::{self, Edn};
use super::{ReadError, event, syntax};
use crate::history::{Event, EventKind, Value};

fn edn_value(line: usize, v: &Edn) -> Result<Value, ReadError> {
    match v {
        Edn::Nil => Ok(Value::Nil),
        Edn::Int(i) => Ok(Value::Int(*i)),
        Edn::Vector(items) | Edn::List(items) | Edn::Set(items) => items
            .iter()
            .map(|x| match x {
                Edn::Int(i) => Ok(*i),
                other => Err(syntax(
                    line,
                    format!("list element {other:?} is not an integer"),
                )),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List),
        // `:timed-out` and friends: the completion carries no value.
        Edn::Keyword(_) => Ok(Value::Unknown),
        other => Err(syntax(line, format!("unsupported value {other:?}"))),
    }
}

fn kind(line: usize, word: &str) -> Result<EventKind, ReadError> {
    match word.trim_start_matches(':') {
        "invoke" => Ok(EventKind::Invoke),
        "ok" => Ok(EventKind::Ok),
        "fail" => Ok(EventKind::Fail),
        "info" => Ok(EventKind::Info),
        other => Err(syntax(
            line,
            format!("unknown event type `:{other}` (expected :invoke, :ok, :fail or :info)"),
        )),
    }
}

fn name_of(v: &Edn) -> Option<&str> {
    match v {
        Edn::Keyword(s) | Edn::Symbol(s) | Edn::Str(s) => Some(s),
        _ => None,
    }
}

/// Client process number, or `None` for the nemesis.
fn process(line: usize, v: Option<&Edn>) -> Result<Option<u64>, ReadError> {
    match v {
        Some(Edn::Int(p)) => u64::try_from(*p)
            .map(Some)
            .map_err(|_| syntax(line, format!("process {p} is negative"))),
        Some(Edn::Keyword(k)) if k == "nemesis" => Ok(None),
        Some(other) => Err(syntax(
            line,
            format!("process must be an integer or :nemesis, got {other:?}"),
        )),
        None => Err(syntax(line, "missing :process")),
    }
}

/// One EDN op map per line: `{:process 3, :type :invoke, :f :write, :key "k1", :value 4}`.
pub(super) fn parse_edn_line(text: &str, line: usize) -> Result<Option<Event>, ReadError> {
    let trimmed = text.trim();
    if trimmed.is_empty() || trimmed.starts_with(';') {
        return Ok(None);
    }
    let map = edn::parse(trimmed).map_err(|e| syntax(line, e))?;
    if !matches!(map, Edn::Map(_)) {
        return Err(syntax(
            line,
            "expected one op map per line, like {:process 0, :type :invoke, :f :read, :value nil}",
        ));
    }
    let process = process(line, map.get("process"))?;
    let kind = kind(
        line,
        map.get("type")
            .and_then(name_of)
            .ok_or_else(|| syntax(line, "missing :type"))?,
    )?;
    let f = map
        .get("f")
        .and_then(name_of)
        .ok_or_else(|| syntax(line, "missing :f"))?;
    let key = match map.get("key") {
        None | Some(Edn::Nil) => None,
        Some(Edn::Int(i)) => Some(i.to_string()),
        Some(k) => Some(
            name_of(k)
                .ok_or_else(|| syntax(line, format!("unsupported key {k:?}")))?
                .to_string(),
        ),
    };
    let value = match (process, map.get("value")) {
        (None, _) | (_, None) => Value::Nil,
        (Some(_), Some(v)) => edn_value(line, v)?,
    };
    let time = match map.get("time") {
        Some(Edn::Int(t)) => u64::try_from(*t).ok(),
        _ => None,
    };
    event(line, process, kind, f, ":", key, value, time).map(Some)
}

/// A `jepsen.util` log line: `INFO  jepsen.util - 3<TAB>:invoke<TAB>:cas<TAB>[1 4]`.
/// Lines from other loggers are not events and are skipped.
pub(super) fn parse_log_line(text: &str, line: usize) -> Result<Option<Event>, ReadError> {
    let Some(at) = text.find("jepsen.util") else {
        return Ok(None);
    };
    // `jepsen.util - 3\t...` (older) or `jepsen.util: 3\t...` (newer).
    let rest = text[at + "jepsen.util".len()..].trim_start();
    let rest = rest
        .strip_prefix('-')
        .or_else(|| rest.strip_prefix(": "))
        .unwrap_or(rest)
        .trim_start_matches(' ');
    let fields: Vec<&str> = rest.split('\t').map(str::trim).collect();
    if fields.len() < 4 {
        return Err(syntax(
            line,
            "expected PROCESS<tab>TYPE<tab>F<tab>VALUE after `jepsen.util -`",
        ));
    }
    let process = match fields[0] {
        ":nemesis" => None,
        p => Some(p.parse::<u64>().map_err(|_| {
            syntax(
                line,
                format!("process `{p}` is not a non-negative integer or :nemesis"),
            )
        })?),
    };
    let kind = kind(line, fields[1])?;
    let f = fields[2]
        .strip_prefix(':')
        .ok_or_else(|| syntax(line, format!("operation `{}` is not a keyword", fields[2])))?;
    let value = match process {
        None => Value::Nil,
        Some(_) => edn_value(
            line,
            &edn::parse(fields[3])
                .map_err(|e| syntax(line, format!("value `{}`: {e}", fields[3])))?,
        )?,
    };
    event(line, process, kind, f, ":", None, value, None).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::OpFn;

    #[test]
    fn edn_lines() {
        let e = parse_edn_line(
            r#"{:process 3, :type :invoke, :f :write, :key "k1", :value 4}"#,
            1,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (e.process, e.kind, e.f, e.key.as_deref(), e.value),
            (
                Some(3),
                EventKind::Invoke,
                Some(OpFn::Write),
                Some("k1"),
                Value::Int(4)
            )
        );
        let e = parse_edn_line("{:process 0, :type :ok, :f :get, :value nil, :index 7}", 2)
            .unwrap()
            .unwrap();
        assert_eq!((e.f, e.value), (Some(OpFn::Read), Value::Nil));
        let n = parse_edn_line(
            "{:process :nemesis, :type :info, :f :start, :value [:isolated {\"n1\" #{\"n2\"}}]}",
            3,
        )
        .unwrap()
        .unwrap();
        assert_eq!((n.process, n.nemesis_f.as_deref()), (None, Some("start")));
        assert_eq!(parse_edn_line("; comment", 4).unwrap(), None);
    }

    #[test]
    fn log_lines() {
        let e = parse_log_line("INFO  jepsen.util - 3\t:invoke\t:cas\t[1 4]", 1)
            .unwrap()
            .unwrap();
        assert_eq!(
            (e.process, e.kind, e.f, e.value),
            (
                Some(3),
                EventKind::Invoke,
                Some(OpFn::Cas),
                Value::List(vec![1, 4])
            )
        );
        let e = parse_log_line("INFO  jepsen.util - 4\t:fail\t:read\t:timed-out", 2)
            .unwrap()
            .unwrap();
        assert_eq!((e.kind, e.value), (EventKind::Fail, Value::Unknown));
        let e = parse_log_line(
            "2014-04-15 13:23:12,345{GMT}\tINFO\t[jepsen worker 1] jepsen.util: 1\t:ok\t:read\tnil",
            3,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            (e.process, e.kind, e.value),
            (Some(1), EventKind::Ok, Value::Nil)
        );
        let n = parse_log_line("INFO  jepsen.util - :nemesis\t:info\t:start\tnil", 4)
            .unwrap()
            .unwrap();
        assert_eq!(n.process, None);
        assert_eq!(
            parse_log_line("INFO  jepsen.core - Run complete", 5).unwrap(),
            None
        );
    }

    #[test]
    fn bad_jepsen_lines() {
        let err = |s: &str| parse_edn_line(s, 9).unwrap_err().to_string();
        assert_eq!(
            err("{:process 1, :type :invoke, :f :explode, :value 1}"),
            "line 9: unknown operation `:explode`"
        );
        assert!(
            err("{:process 1, :type :invoke, :f :read")
                .contains("line 9: `{` opened at column 1 is never closed (truncated?)")
        );
        assert_eq!(
            err("{:process 1, :type :begin, :f :read}"),
            "line 9: unknown event type `:begin` (expected :invoke, :ok, :fail or :info)"
        );
        assert!(err("[1 2 3]").contains("expected one op map per line"));
        assert_eq!(err("{:type :ok, :f :read}"), "line 9: missing :process");
        let log = |s: &str| parse_log_line(s, 9).unwrap_err().to_string();
        assert!(log("INFO  jepsen.util - 3\t:invoke").contains("expected PROCESS<tab>TYPE"));
        assert!(log("INFO  jepsen.util - x\t:invoke\t:read\tnil").contains("process `x`"));
        assert!(log("INFO  jepsen.util - 1\t:invoke\t:read\t[1 2").contains("never closed"));
    }
}

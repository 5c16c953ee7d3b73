//! Publishing to NATS JetStream: the bus for services on more than one machine.
//!
//! A small synchronous client of the NATS protocol — the relay's [`Publisher`] is
//! blocking, like the stores, and what it needs of NATS is four verbs: connect, publish
//! with headers and wait for JetStream's acknowledgement, create a stream, read a stream
//! message back. (The maintained client, `async-nats`, would bring an async runtime into
//! a blocking library for those four.)
//!
//! Each message is published with its id as `Nats-Msg-Id`: JetStream drops a copy
//! published again within the stream's duplicate window, so a relay that publishes
//! twice (it died before recording the first) stores the message once. The key,
//! correlation and causation ids travel as headers (`Dsys-Key`, `Dsys-Correlation`,
//! `Dsys-Causation`). `publish` returns only once JetStream has stored the message, or
//! says why not.
//!
//! What "stored" means is the server's to say, not this client's. With file storage a
//! single NATS server acknowledges once the message is written to its file, and fsyncs
//! that file on a timer (`sync_interval`, two minutes by default; `always`, to fsync
//! before acknowledging, came with nats-server 2.10): a power loss of that machine within
//! the interval loses acknowledged messages. An acknowledgement means durable only from a
//! replicated stream (a majority of its replicas hold the message) or from a server run
//! with `sync_interval: always`. The servers the tests start (Debian's 2.9) are neither,
//! so the relay's tests show ordering and no loss across a process restart, not across a
//! power loss.

use crate::outbox::{Message, PublishError, Publisher};
use std::hash::{BuildHasher, Hasher};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// The longest protocol line read from a server (an `INFO` with a cluster's URLs is the
/// longest a real one sends; NATS's own `max_control_line` is 4 KiB).
const MAX_LINE_BYTES: u64 = 64 << 10;
/// `max_payload` when the server's `INFO` does not say (NATS's default, 1 MiB).
const DEFAULT_MAX_PAYLOAD: usize = 1 << 20;
/// The most any server may claim as `max_payload` (NATS refuses to start above 64 MiB).
const MAX_PAYLOAD_CEILING: usize = 64 << 20;
/// Idle longer than this, a connection is checked with a PING before use: the server
/// drops a client that leaves its pings unanswered (two minutes apart by default), and a
/// blocking client answers them only while it waits for something.
const IDLE_CHECK: Duration = Duration::from_secs(30);

/// What went wrong talking to NATS.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NatsError {
    /// The connection failed, or timed out.
    #[error("nats: {0}")]
    Io(String),
    /// The server said something this client does not understand.
    #[error("nats protocol: {0}")]
    Protocol(String),
    /// The server or JetStream refused the request.
    #[error("nats refused: {0}")]
    Refused(String),
    /// No one answered: no stream takes this subject (yet). Not the message's fault.
    #[error("nats: {0}")]
    Unanswered(String),
}

fn io(e: std::io::Error) -> NatsError {
    NatsError::Io(e.to_string())
}

/// A message as JetStream stored it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    /// Its sequence number in the stream.
    pub seq: u64,
    /// Its subject.
    pub subject: String,
    /// Its headers, in order.
    pub headers: Vec<(String, String)>,
    /// Its payload.
    pub data: Vec<u8>,
}

impl Stored {
    /// The value of header `name`, if it has one.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A connection to a NATS server, publishing to JetStream.
#[derive(Debug)]
pub struct JetStream {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    /// The prefix of this connection's reply subjects: random, so no other client on
    /// the bus can guess it and forge an acknowledgement.
    inbox: String,
    next_reply: u64,
    /// The largest message the server takes (its `INFO`): what it sends back is held to
    /// a small multiple of it (a stored message returns base64-encoded in JSON).
    max_payload: usize,
    /// Where to connect again, and how long any wait may be.
    addr: std::net::SocketAddr,
    timeout: Duration,
    /// An exchange failed and left the connection out of step: connect again before use.
    broken: bool,
    /// When the connection was last used.
    last_used: Instant,
}

/// A reply to a request: its headers' status line (if it had headers) and its body.
struct Reply {
    status: Option<String>,
    body: Vec<u8>,
}

impl JetStream {
    /// Connect to the server at `addr` (`127.0.0.1:4222`); every later wait is bounded by
    /// `timeout`.
    pub fn connect(addr: &str, timeout: Duration) -> Result<JetStream, NatsError> {
        let socket: std::net::SocketAddr = addr
            .parse()
            .map_err(|e| NatsError::Io(format!("address {addr:?}: {e}")))?;
        let writer = TcpStream::connect_timeout(&socket, timeout).map_err(io)?;
        writer.set_read_timeout(Some(timeout)).map_err(io)?;
        writer.set_write_timeout(Some(timeout)).map_err(io)?;
        writer.set_nodelay(true).map_err(io)?;
        let reader = BufReader::new(writer.try_clone().map_err(io)?);
        let mut js = JetStream {
            reader,
            writer,
            inbox: format!("_INBOX.dsys.{}", random_token()),
            next_reply: 0,
            max_payload: DEFAULT_MAX_PAYLOAD,
            addr: socket,
            timeout,
            broken: false,
            last_used: now(),
        };
        let info = js.line()?;
        let Some(info) = info.strip_prefix("INFO ") else {
            return Err(NatsError::Protocol(format!("expected INFO, got {info:?}")));
        };
        js.max_payload = serde_json::from_str::<serde_json::Value>(info)
            .ok()
            .and_then(|v| v["max_payload"].as_u64())
            .map_or(DEFAULT_MAX_PAYLOAD, |m| {
                usize::try_from(m)
                    .unwrap_or(usize::MAX)
                    .min(MAX_PAYLOAD_CEILING)
            });
        let hello = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"name\":\"dsys-tx\"}}\r\nSUB {}.* 1\r\nPING\r\n",
            js.inbox
        );
        js.writer.write_all(hello.as_bytes()).map_err(io)?;
        loop {
            let line = js.line()?;
            match line.as_str() {
                "PONG" => return Ok(js),
                "+OK" => {}
                l if l.starts_with("-ERR") => return Err(NatsError::Refused(l.to_string())),
                l if l.starts_with("INFO ") => {}
                l => return Err(NatsError::Protocol(format!("unexpected {l:?}"))),
            }
        }
    }

    /// One protocol line, without its CRLF; a line longer than [`MAX_LINE_BYTES`] is a
    /// protocol error, read no further.
    fn line(&mut self) -> Result<String, NatsError> {
        let mut line = Vec::new();
        let read = (&mut self.reader)
            .take(MAX_LINE_BYTES + 1)
            .read_until(b'\n', &mut line)
            .map_err(io)?;
        if read == 0 {
            return Err(NatsError::Io("the server closed the connection".into()));
        }
        if line.last() != Some(&b'\n') {
            return Err(NatsError::Protocol(format!(
                "a line longer than {MAX_LINE_BYTES} bytes"
            )));
        }
        let line = String::from_utf8_lossy(&line);
        Ok(line.trim_end_matches(['\r', '\n']).to_string())
    }

    /// Make the connection fit for use: after a failed exchange, connect again (with a new
    /// inbox: late replies to the old one cannot be mistaken for new ones); after a long
    /// idle spell, check it with a PING first.
    fn usable(&mut self) -> Result<(), NatsError> {
        if !self.broken && now().saturating_duration_since(self.last_used) > IDLE_CHECK {
            self.broken = self.ping().is_err();
        }
        if self.broken {
            *self = JetStream::connect(&self.addr.to_string(), self.timeout)?;
        }
        Ok(())
    }

    /// A PING answered by a PONG (server PINGs answered, stray messages skipped).
    fn ping(&mut self) -> Result<(), NatsError> {
        self.writer.write_all(b"PING\r\n").map_err(io)?;
        loop {
            let line = self.line()?;
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            match words.first().copied() {
                Some("PONG") => return Ok(()),
                Some("PING") => self.writer.write_all(b"PONG\r\n").map_err(io)?,
                Some("MSG" | "HMSG") => {
                    let total = number(words.last().copied().unwrap_or_default())?;
                    self.payload(total)?;
                }
                Some("+OK" | "INFO") => {}
                _ => return Err(NatsError::Protocol(format!("unexpected {line:?}"))),
            }
        }
    }

    /// Send `body` to `subject` with `headers`, and wait for the reply; a connection left
    /// out of step by a failure is replaced before the next request.
    fn request(
        &mut self,
        subject: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Reply, NatsError> {
        self.usable()?;
        let result = self.exchange(subject, headers, body);
        if matches!(result, Err(NatsError::Io(_) | NatsError::Protocol(_))) {
            self.broken = true;
        }
        self.last_used = now();
        result
    }

    fn exchange(
        &mut self,
        subject: &str,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<Reply, NatsError> {
        if subject.is_empty() || subject.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(NatsError::Refused(format!("subject {subject:?}")));
        }
        if body.len() > self.max_payload {
            return Err(NatsError::Refused(format!(
                "a message of {} bytes, beyond the server's max_payload of {}",
                body.len(),
                self.max_payload
            )));
        }
        self.next_reply += 1;
        let reply_to = format!("{}.{}", self.inbox, self.next_reply);
        let mut frame = Vec::with_capacity(body.len() + 128);
        if headers.is_empty() {
            frame.extend(format!("PUB {subject} {reply_to} {}\r\n", body.len()).bytes());
        } else {
            let mut block = String::from("NATS/1.0\r\n");
            for (name, value) in headers {
                if value.contains(['\r', '\n']) {
                    return Err(NatsError::Refused(format!("header {name} value {value:?}")));
                }
                block.push_str(&format!("{name}: {value}\r\n"));
            }
            block.push_str("\r\n");
            frame.extend(
                format!(
                    "HPUB {subject} {reply_to} {} {}\r\n",
                    block.len(),
                    block.len() + body.len()
                )
                .bytes(),
            );
            frame.extend(block.bytes());
        }
        frame.extend(body);
        frame.extend(b"\r\n");
        self.writer.write_all(&frame).map_err(io)?;
        self.reply(&reply_to)
    }

    /// Read until the reply on `reply_to` (answering the server's PINGs, skipping late
    /// replies to earlier requests).
    fn reply(&mut self, reply_to: &str) -> Result<Reply, NatsError> {
        loop {
            let line = self.line()?;
            let words: Vec<&str> = line.split_ascii_whitespace().collect();
            match words.first().copied() {
                Some("PING") => self.writer.write_all(b"PONG\r\n").map_err(io)?,
                Some("+OK" | "PONG" | "INFO") => {}
                Some("-ERR") => return Err(NatsError::Refused(line)),
                Some("MSG") if words.len() >= 4 => {
                    let total = number(words[words.len() - 1])?;
                    let body = self.payload(total)?;
                    if words[1] == reply_to {
                        return Ok(Reply { status: None, body });
                    }
                }
                Some("HMSG") if words.len() >= 5 => {
                    let head = number(words[words.len() - 2])?;
                    let total = number(words[words.len() - 1])?;
                    let all = self.payload(total)?;
                    if head > all.len() {
                        return Err(NatsError::Protocol(format!("header of {head} bytes")));
                    }
                    if words[1] == reply_to {
                        let head_text = String::from_utf8_lossy(&all[..head]);
                        let status = head_text.lines().next().unwrap_or_default().to_string();
                        return Ok(Reply {
                            status: Some(status),
                            body: all[head..].to_vec(),
                        });
                    }
                }
                _ => return Err(NatsError::Protocol(format!("unexpected {line:?}"))),
            }
        }
    }

    fn payload(&mut self, len: usize) -> Result<Vec<u8>, NatsError> {
        let limit = self.max_payload.saturating_mul(2).saturating_add(64 << 10);
        if len > limit {
            // Refused before anything is allocated: a length is the server's word only.
            return Err(NatsError::Protocol(format!(
                "a message of {len} bytes, beyond the {limit} this connection takes"
            )));
        }
        let mut body = vec![0; len + 2];
        self.reader.read_exact(&mut body).map_err(io)?;
        if !body.ends_with(b"\r\n") {
            return Err(NatsError::Protocol("a payload without its CRLF".into()));
        }
        body.truncate(len);
        Ok(body)
    }

    /// A JetStream API call: its JSON answer, or the error it carries.
    fn api(
        &mut self,
        subject: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, NatsError> {
        let reply = self.request(subject, &[], body.to_string().as_bytes())?;
        json_reply(reply)
    }

    /// Create (or keep, if it exists alike) stream `name` over `subjects`, stored on disk,
    /// dropping a message id seen again within two minutes.
    pub fn create_stream(&mut self, name: &str, subjects: &[&str]) -> Result<(), NatsError> {
        let config = serde_json::json!({
            "name": name,
            "subjects": subjects,
            "storage": "file",
            "duplicate_window": 120_000_000_000u64,
        });
        self.api(&format!("$JS.API.STREAM.CREATE.{name}"), &config)?;
        Ok(())
    }

    /// How many messages stream `name` holds.
    pub fn stream_messages(&mut self, name: &str) -> Result<u64, NatsError> {
        let info = self.api(
            &format!("$JS.API.STREAM.INFO.{name}"),
            &serde_json::json!({}),
        )?;
        info["state"]["messages"]
            .as_u64()
            .ok_or_else(|| NatsError::Protocol(format!("stream info without a count: {info}")))
    }

    /// Message `seq` of stream `name`.
    pub fn get(&mut self, name: &str, seq: u64) -> Result<Stored, NatsError> {
        let found = self.api(
            &format!("$JS.API.STREAM.MSG.GET.{name}"),
            &serde_json::json!({ "seq": seq }),
        )?;
        let m = &found["message"];
        let text = |field: &str| m[field].as_str().unwrap_or_default().to_string();
        let headers = String::from_utf8_lossy(&base64(&text("hdrs"))?)
            .lines()
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
            .collect();
        Ok(Stored {
            seq: m["seq"].as_u64().unwrap_or(seq),
            subject: text("subject"),
            headers,
            data: base64(&text("data"))?,
        })
    }
}

/// The real clock: a connection's idleness is real time.
#[allow(clippy::disallowed_methods)]
fn now() -> Instant {
    Instant::now()
}

/// 128 unpredictable bits as hex: std's hasher keys come from the operating system's
/// randomness, fresh for each `RandomState`.
fn random_token() -> String {
    let draw = || {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(0x6e61_7473);
        h.finish()
    };
    format!("{:016x}{:016x}", draw(), draw())
}

/// A subject an application may publish to: dot-separated tokens, none empty, none a
/// wildcard (`*`, `>`), no whitespace or control characters, and not under `$` (the
/// server's own APIs, such as `$JS.API`, which a message's topic must never reach).
pub fn check_subject(subject: &str) -> Result<(), NatsError> {
    let bad = |why: &str| Err(NatsError::Refused(format!("subject {subject:?}: {why}")));
    if subject.starts_with('$') {
        return bad("subjects under `$` are the server's own");
    }
    if subject.len() > 1024 {
        return bad("longer than 1,024 bytes");
    }
    for token in subject.split('.') {
        if token.is_empty() {
            return bad("an empty token");
        }
        if token == "*" || token == ">" {
            return bad("a wildcard");
        }
        if token.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return bad("whitespace or a control character");
        }
    }
    Ok(())
}

fn number(word: &str) -> Result<usize, NatsError> {
    word.parse()
        .map_err(|_| NatsError::Protocol(format!("a length {word:?}")))
}

/// A JSON answer, or the refusal it carries (or its status says: 503 is "no stream
/// listens on this subject").
fn json_reply(reply: Reply) -> Result<serde_json::Value, NatsError> {
    if let Some(status) = &reply.status {
        if status.contains("503") {
            return Err(NatsError::Unanswered(
                "no JetStream stream for this subject".into(),
            ));
        }
    }
    let value: serde_json::Value = serde_json::from_slice(&reply.body).map_err(|e| {
        NatsError::Protocol(format!("{e}: {:?}", String::from_utf8_lossy(&reply.body)))
    })?;
    if let Some(error) = value.get("error") {
        return Err(NatsError::Refused(
            error["description"]
                .as_str()
                .unwrap_or("an error")
                .to_string(),
        ));
    }
    Ok(value)
}

/// Standard base64 (as JetStream returns stored messages) to bytes.
fn base64(text: &str) -> Result<Vec<u8>, NatsError> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut bits = 0u32;
    let mut count = 0;
    for c in text.bytes().filter(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(NatsError::Protocol(format!("base64 with {:?}", c as char))),
        };
        bits = (bits << 6) | u32::from(v);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Ok(out)
}

/// A refusal (by this client's checks or by JetStream) is permanent; a lost connection, a
/// timeout, a garbled reply or a subject no stream takes yet may pass.
fn publish_error(e: NatsError) -> PublishError {
    match e {
        NatsError::Refused(_) => PublishError::refused(e.to_string()),
        NatsError::Io(_) | NatsError::Protocol(_) | NatsError::Unanswered(_) => {
            PublishError::transient(e.to_string())
        }
    }
}

impl Publisher for JetStream {
    /// Publish to the subject named by the message's topic; `Ok` once JetStream stored
    /// it, or had it already (a copy within the duplicate window).
    fn publish(&mut self, message: &Message) -> Result<(), PublishError> {
        check_subject(&message.topic).map_err(|e| PublishError::refused(e.to_string()))?;
        let headers = [
            ("Nats-Msg-Id", format!("{:032x}", message.id)),
            ("Dsys-Key", message.key.clone()),
            ("Dsys-Correlation", format!("{:032x}", message.correlation)),
            ("Dsys-Causation", format!("{:032x}", message.causation)),
        ];
        let reply = self
            .request(&message.topic, &headers, &message.payload)
            .map_err(publish_error)?;
        let ack = json_reply(reply).map_err(publish_error)?;
        if ack.get("seq").and_then(serde_json::Value::as_u64).is_none() {
            return Err(PublishError::transient(format!(
                "not a JetStream acknowledgement: {ack}"
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "nats_hostile_tests.rs"]
mod hostile_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_decodes_what_jetstream_sends_and_refuses_the_rest() {
        assert_eq!(base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64("").unwrap(), b"");
        assert_eq!(base64("AAEC/w==").unwrap(), [0, 1, 2, 255]);
        assert!(base64("a*b").is_err());
    }

    #[test]
    fn a_reply_carrying_an_error_or_no_responders_is_a_refusal() {
        let reply = |status: Option<&str>, body: &str| Reply {
            status: status.map(String::from),
            body: body.as_bytes().to_vec(),
        };
        assert!(matches!(
            json_reply(reply(None, r#"{"error":{"code":400,"description":"bad"}}"#)),
            Err(NatsError::Refused(d)) if d == "bad"
        ));
        assert!(matches!(
            json_reply(reply(Some("NATS/1.0 503"), "")),
            Err(NatsError::Unanswered(_))
        ));
        assert!(matches!(
            json_reply(reply(None, "not json")),
            Err(NatsError::Protocol(_))
        ));
        assert_eq!(
            json_reply(reply(None, r#"{"stream":"S","seq":3}"#)).unwrap()["seq"],
            3
        );
    }

    #[test]
    fn connecting_to_nothing_is_an_error_not_a_hang() {
        let free = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap();
        assert!(matches!(
            JetStream::connect(&free.to_string(), Duration::from_millis(500)),
            Err(NatsError::Io(_))
        ));
        assert!(matches!(
            JetStream::connect("not an address", Duration::from_millis(500)),
            Err(NatsError::Io(_))
        ));
    }
}

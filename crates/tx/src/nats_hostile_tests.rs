//! The client against a server that lies: lengths it cannot mean, lines that never end,
//! acknowledgements on someone else's subject. Each ends in an error, never an abort, a
//! hang or an allocation the server asked for.

use super::*;
use std::net::TcpListener;

/// A fake server on a free port: it sends `info`, answers PINGs, and answers the first
/// publish with what `answer` makes of the publish's reply subject; then it holds the
/// connection open for a second.
fn fake(info: &'static str, answer: Answer) -> String {
    serve(info, vec![Some(answer)])
}

/// What a fake server sends back to a publish with this reply subject.
type Answer = fn(&str) -> Vec<u8>;

/// As [`fake`], one connection after another: the i-th connection's publish gets
/// `answers[i]`, or, for `None`, the connection closed under it (a server going away).
fn serve(info: &'static str, answers: Vec<Option<Answer>>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for answer in answers {
            let Ok((socket, _)) = listener.accept() else {
                return;
            };
            let mut out = socket.try_clone().unwrap();
            let mut lines = BufReader::new(socket);
            out.write_all(info.as_bytes()).unwrap();
            let mut line = String::new();
            while lines.read_line(&mut line).is_ok_and(|n| n > 0) {
                let words: Vec<&str> = line.split_whitespace().collect();
                match words.first().copied() {
                    Some("PING") => out.write_all(b"PONG\r\n").unwrap(),
                    Some("PUB" | "HPUB") => {
                        let total: usize = words.last().unwrap().parse().unwrap();
                        let mut skip = vec![0; total + 2];
                        lines.read_exact(&mut skip).unwrap();
                        match answer {
                            Some(answer) => {
                                let _ = out.write_all(&answer(words[2]));
                                std::thread::sleep(Duration::from_secs(1));
                            }
                            None => drop(out.shutdown(std::net::Shutdown::Both)),
                        }
                        break;
                    }
                    _ => {}
                }
                line.clear();
            }
        }
    });
    addr
}

/// JetStream's acknowledgement, on `reply`.
fn ack(reply: &str) -> Vec<u8> {
    let body = br#"{"stream":"ORDERS","seq":1}"#;
    let mut frame = format!("MSG {reply} 1 {}\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    frame.extend_from_slice(b"\r\n");
    frame
}

#[test]
fn after_a_server_goes_away_the_next_publish_connects_again() {
    let addr = serve(INFO, vec![None, Some(ack)]);
    let mut js = JetStream::connect(&addr, Duration::from_millis(500)).unwrap();
    let message = Message::new(1, "orders", "o-1", b"{}".to_vec());
    let lost = js.publish(&message).unwrap_err();
    assert!(
        !lost.permanent,
        "a server gone is worth another try: {lost}"
    );
    // The relay tries again: a new connection (and inbox), and the acknowledgement.
    js.publish(&message).unwrap();
}

const INFO: &str = "INFO {\"server_id\":\"fake\",\"max_payload\":1048576}\r\n";

fn publish(addr: &str) -> Result<(), PublishError> {
    let mut js = JetStream::connect(addr, Duration::from_millis(500)).unwrap();
    js.publish(&Message::new(1, "orders", "o-1", b"{}".to_vec()))
}

#[test]
fn a_length_of_a_terabyte_is_refused_before_anything_is_allocated() {
    let addr = fake(INFO, |reply| {
        format!("MSG {reply} 1 1099511627776\r\n").into_bytes()
    });
    let err = publish(&addr).unwrap_err();
    assert!(err.reason.contains("1099511627776 bytes, beyond"), "{err}");
}

#[test]
fn a_line_that_never_ends_is_refused_at_the_line_limit() {
    let addr = fake(INFO, |_| vec![b'x'; 200_000]);
    let err = publish(&addr).unwrap_err();
    assert!(
        err.reason.contains("a line longer than 65536 bytes"),
        "{err}"
    );
}

#[test]
fn an_acknowledgement_on_another_subject_is_not_taken() {
    // Someone else's inbox (or a guess at ours) carries a perfect acknowledgement: the
    // client waits for its own, and times out without one.
    let addr = fake(INFO, |_| ack("_INBOX.dsys.guess.1"));
    let err = publish(&addr).unwrap_err();
    assert!(
        err.reason.starts_with("nats: ") && !err.permanent,
        "an I/O timeout, not an ack: {err}"
    );
}

#[test]
fn a_message_larger_than_the_server_takes_is_refused_here() {
    let addr = fake("INFO {\"max_payload\":16}\r\n", |_| Vec::new());
    let mut js = JetStream::connect(&addr, Duration::from_millis(500)).unwrap();
    let err = js
        .publish(&Message::new(1, "orders", "o-1", vec![0; 17]))
        .unwrap_err();
    assert!(
        err.reason.contains("beyond the server's max_payload of 16"),
        "{err}"
    );
    assert!(err.permanent, "retrying cannot make it fit");
}

#[test]
fn inboxes_are_unpredictable() {
    let a = random_token();
    let b = random_token();
    assert_eq!(a.len(), 32);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[test]
fn only_plain_subjects_are_published_to() {
    for good in ["orders", "orders.created", "a-b_c.D9"] {
        assert!(check_subject(good).is_ok(), "{good}");
    }
    for bad in [
        "$JS.API.STREAM.DELETE.S",
        "",
        "orders.",
        ".orders",
        "a..b",
        "orders.*",
        "orders.>",
        "or ders",
        "orders\r\nPUB x 1",
        "orders\u{0}",
    ] {
        assert!(check_subject(bad).is_err(), "{bad:?}");
    }
    assert!(check_subject(&"a".repeat(1025)).is_err());
}

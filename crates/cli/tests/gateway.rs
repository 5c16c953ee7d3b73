//! `dsys gateway`: a configuration checked (every problem with file, line and field,
//! exit 2), served until SIGTERM, reloaded on SIGHUP.

#![allow(clippy::unwrap_used)] // tests and their helpers may panic

mod common;

use common::{dsys, stderr, stdout, temp};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Command, Stdio};

fn config(endpoint: &str, policy: &str) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\n[[services]]\nname = \"api\"\nendpoints = [\"{endpoint}\"]\n[[routes]]\nprefix = \"/\"\nservice = \"api\"\npolicy = \"{policy}\"\n"
    )
}

#[test]
fn check_prints_the_routes_of_a_good_file() {
    let path = temp("gw.toml");
    std::fs::write(&path, config("127.0.0.1:9", "round-robin")).unwrap();
    let o = dsys(&["gateway", "--config", &path, "--check"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(
        stdout(&o).contains(": ok\n  / -> api (round-robin"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn every_problem_is_named_with_file_line_and_field_and_exit_2() {
    let path = temp("gw.toml");
    let text =
        config("127.0.0.1:0", "fastest").replace("listen = \"127.0.0.1:0\"", "listen = \"here\"");
    std::fs::write(&path, text).unwrap();
    let o = dsys(&["gateway", "--config", &path, "--check"]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    for want in [
        "gw.toml:1:10: listen: \"here\" is not IP:PORT",
        "gw.toml:4:14: services[0].endpoints[0]: 127.0.0.1:0 cannot be connected to",
        "gw.toml:8:10: routes[0].policy: unknown policy \"fastest\"",
        "8 | policy = \"fastest\"",
        "hint: one of round-robin, least-requests, p2c-peak-ewma, consistent-hash",
    ] {
        assert!(err.contains(want), "missing {want:?} in\n{err}");
    }
    let o = dsys(&["gateway", "--config", "/nonexistent/gw.toml"]);
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot read /nonexistent/gw.toml"));
}

/// A backend that answers every request on every connection with `name`.
fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream);
                loop {
                    let mut line = String::new();
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) if line == "\r\n" => {
                            let reply = format!(
                                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{name}",
                                name.len()
                            );
                            if reader.get_mut().write_all(reply.as_bytes()).is_err() {
                                return;
                            }
                        }
                        Ok(_) => {}
                    }
                }
            });
        }
    });
    address
}

fn get(address: SocketAddr) -> String {
    let mut s = TcpStream::connect(address).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out.rsplit("\r\n\r\n").next().unwrap().to_string()
}

#[test]
fn it_serves_until_sigterm_and_reloads_on_sighup() {
    let (one, two) = (backend("one"), backend("two"));
    let path = temp("gw.toml");
    std::fs::write(&path, config(&one.to_string(), "p2c-peak-ewma")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dsys"))
        .args(["gateway", "--config", &path])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    let address: SocketAddr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    assert_eq!(get(address), "one");
    std::fs::write(&path, config(&two.to_string(), "p2c-peak-ewma")).unwrap();
    let signal = |name: &str| {
        let ok = Command::new("kill")
            .args([name, &child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    };
    signal("-HUP");
    // The reload is done when the new route answers (within 10 s).
    let mut answered = String::new();
    for _ in 0..200 {
        answered = get(address);
        if answered == "two" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(answered, "two");
    signal("-TERM");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("reloaded: 1 route"), "{err}");
}

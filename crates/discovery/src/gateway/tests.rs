//! The gateway against real backends on loopback, through a raw HTTP/1.1 client (so a
//! test sees exactly what went over the wire, and can keep one connection open).

use super::backend::Backend;
use super::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

/// One keep-alive connection.
struct Conn {
    reader: BufReader<TcpStream>,
}

/// A response: status, headers (lower-case names), body.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    /// The backend's echo: name, URI, traceparent, x-forwarded-for.
    fn echo(&self) -> Vec<&str> {
        self.body.lines().collect()
    }
}

impl Conn {
    fn open(address: SocketAddr) -> Conn {
        let stream = TcpStream::connect(address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Conn {
            reader: BufReader::new(stream),
        }
    }

    fn send(&mut self, method: &str, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = format!("{method} {path} HTTP/1.1\r\n");
        if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
            request.push_str("Host: test\r\n");
        }
        for (n, v) in headers {
            request.push_str(&format!("{n}: {v}\r\n"));
        }
        request.push_str("Content-Length: 0\r\n\r\n");
        self.reader.get_mut().write_all(request.as_bytes()).unwrap();
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let status: u16 = line.split(' ').nth(1).unwrap().parse().unwrap();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (n, v) = h.split_once(':').unwrap();
            headers.push((n.to_ascii_lowercase(), v.trim().to_string()));
        }
        let length: usize = headers
            .iter()
            .find(|(n, _)| n == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; length];
        self.reader.read_exact(&mut body).unwrap();
        Reply {
            status,
            headers,
            body: String::from_utf8(body).unwrap(),
        }
    }

    fn get(&mut self, path: &str) -> Reply {
        self.send("GET", path, &[])
    }
}

fn backend(name: &str) -> Backend {
    Backend::start("127.0.0.1:0".parse().unwrap(), name, Duration::ZERO, 1).unwrap()
}

/// A port nothing listens on.
fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

fn start(text: &str) -> Gateway {
    let config = Config::parse("gw.toml", text).unwrap();
    Gateway::start(config, None, 2).unwrap()
}

fn admin_get(gw: &Gateway, path: &str) -> String {
    Conn::open(gw.admin_address().unwrap()).get(path).body
}

#[test]
fn routes_by_host_and_prefix_and_strips_the_prefix() {
    let (alpha, beta) = (backend("alpha"), backend("beta"));
    let gw = start(&format!(
        r#"listen = "127.0.0.1:0"
[[services]]
name = "a"
endpoints = ["{}"]
[[services]]
name = "b"
endpoints = ["{}"]
[[routes]]
host = "b.test"
prefix = "/"
service = "b"
[[routes]]
prefix = "/a/"
strip_prefix = true
service = "a"
"#,
        alpha.address(),
        beta.address()
    ));
    let mut c = Conn::open(gw.listen_address());
    let r = c.get("/a/users/7?x=1");
    assert_eq!(
        (r.status, r.echo()[0], r.echo()[1]),
        (200, "alpha", "/users/7?x=1")
    );
    let r = c.send("GET", "/a/x", &[("Host", "B.TEST:8080")]);
    assert_eq!(
        (r.echo()[0], r.echo()[1]),
        ("beta", "/a/x"),
        "host first, port ignored"
    );
    let r = c.get("/elsewhere");
    assert_eq!(r.status, 404);
    // The backend saw who called.
    let r = c.get("/a/");
    assert_eq!(r.echo()[3], "127.0.0.1");
}

#[test]
fn a_callers_trace_is_continued_and_a_new_one_started_otherwise() {
    let b = backend("b");
    let gw = start(&format!(
        "listen = \"127.0.0.1:0\"\n[[services]]\nname = \"s\"\nendpoints = [\"{}\"]\n[[routes]]\nprefix = \"/\"\nservice = \"s\"\n",
        b.address()
    ));
    let mut c = Conn::open(gw.listen_address());
    let theirs = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = c.send("GET", "/", &[("traceparent", theirs)]);
    let sent = TraceParent::parse(r.echo()[2]).unwrap();
    let given = TraceParent::parse(theirs).unwrap();
    assert_eq!((sent.trace_id, sent.flags), (given.trace_id, given.flags));
    assert_ne!(
        sent.parent_id, given.parent_id,
        "the gateway's own span is the parent"
    );
    let mut traces = Vec::new();
    for header in [None, Some("00-garbage-00f067aa0ba902b7-01")] {
        let headers: Vec<(&str, &str)> = header.map(|h| ("traceparent", h)).into_iter().collect();
        let r = c.send("GET", "/", &headers);
        let started = TraceParent::parse(r.echo()[2]).expect("a valid new traceparent");
        assert_ne!(started.trace_id, given.trace_id);
        traces.push(started.trace_id);
    }
    assert_ne!(traces[0], traces[1], "each new trace has its own id");
}

#[test]
fn requests_never_sent_are_retried_on_another_endpoint() {
    let good = backend("good");
    let gw = start(&format!(
        "listen = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n[[services]]\nname = \"s\"\nendpoints = [\"{}\", \"{}\"]\n[[routes]]\nprefix = \"/\"\nservice = \"s\"\npolicy = \"round-robin\"\nretry_budget = 1.0\n",
        good.address(),
        closed_port()
    ));
    let mut c = Conn::open(gw.listen_address());
    for _ in 0..20 {
        // A POST too: a refused connection means the request was never sent.
        assert_eq!(c.get("/").status, 200);
        assert_eq!(c.send("POST", "/", &[]).status, 200);
    }
    let metrics = admin_get(&gw, "/metrics");
    let attempts: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("dsys_gateway_upstream_attempts_total{route=\"/\"} "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        attempts > 40,
        "{attempts} attempts for 40 requests: the dead one was tried"
    );
    assert_eq!(good.served(), 40);
}

#[test]
fn a_slow_backend_times_out_with_504_and_a_failing_one_is_not_retried_past_budget() {
    let slow = backend("slow");
    slow.set_delay(Duration::from_millis(400));
    let failing = backend("failing");
    failing.set_status(503);
    let gw = start(&format!(
        "listen = \"127.0.0.1:0\"\n[[services]]\nname = \"slow\"\nendpoints = [\"{}\"]\n[[services]]\nname = \"failing\"\nendpoints = [\"{}\"]\n[[routes]]\nprefix = \"/slow\"\nservice = \"slow\"\ntimeout_ms = 50\n[[routes]]\nprefix = \"/failing\"\nservice = \"failing\"\nretries = 3\nretry_budget = 0.1\n",
        slow.address(),
        failing.address()
    ));
    let mut c = Conn::open(gw.listen_address());
    assert_eq!(c.get("/slow").status, 504);
    for _ in 0..50 {
        assert_eq!(c.get("/failing").status, 503, "the backend's own answer");
    }
    // Fifty requests earn five retries (and one saved): far fewer than 3 x 50.
    assert!(
        (50..=57).contains(&failing.served()),
        "{}",
        failing.served()
    );
    // A POST answered 503 is not retried (it may have been processed).
    let before = failing.served();
    c.send("POST", "/failing", &[]);
    assert_eq!(failing.served(), before + 1);
}

#[test]
fn rate_limits_answer_429_with_retry_after_and_breakers_open() {
    let b = backend("b");
    b.set_status(500);
    let gw = start(&format!(
        "listen = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n[[services]]\nname = \"s\"\nendpoints = [\"{}\"]\n[[routes]]\nprefix = \"/limited\"\nservice = \"s\"\nrate_limit = 1\nburst = 3\n[[routes]]\nprefix = \"/broken\"\nservice = \"s\"\nbreaker = true\nretries = 0\n",
        b.address()
    ));
    let mut c = Conn::open(gw.listen_address());
    let statuses: Vec<u16> = (0..5).map(|_| c.get("/limited").status).collect();
    assert_eq!(statuses, [500, 500, 500, 429, 429]);
    let r = c.get("/limited");
    assert_eq!(r.header("retry-after"), Some("1"));
    // The breaker's default: half of at least 20 calls failing opens it.
    let statuses: Vec<u16> = (0..30).map(|_| c.get("/broken").status).collect();
    assert_eq!(statuses.iter().filter(|&&s| s == 500).count(), 20);
    assert_eq!(statuses[20..], [503; 10]);
    let metrics = admin_get(&gw, "/metrics");
    for line in [
        "dsys_gateway_refusals_total{route=\"/limited\",reason=\"rate_limited\"} 3",
        "dsys_gateway_refusals_total{route=\"/broken\",reason=\"breaker_open\"} 10",
        "dsys_gateway_breaker_open{route=\"/broken\"} 1",
        "dsys_gateway_responses_total{route=\"/broken\",class=\"5xx\"} 30",
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line}");
    }
}

#[test]
fn a_reload_swaps_routes_without_dropping_a_connection_and_a_bad_file_changes_nothing() {
    let (one, two) = (backend("one"), backend("two"));
    let dir = std::env::temp_dir().join(format!("dsys-gw-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("gw.toml");
    let file = |target: &Backend| {
        format!(
            "listen = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n[[services]]\nname = \"s\"\nendpoints = [\"{}\"]\n[[routes]]\nprefix = \"/\"\nservice = \"s\"\n",
            target.address()
        )
    };
    std::fs::write(&path, file(&one)).unwrap();
    let gw = Gateway::start(load(&path).unwrap(), Some(path.clone()), 2).unwrap();
    let mut c = Conn::open(gw.listen_address());
    assert_eq!(c.get("/").echo()[0], "one");
    std::fs::write(&path, file(&two)).unwrap();
    let r = Conn::open(gw.admin_address().unwrap()).send("POST", "/reload", &[]);
    assert_eq!((r.status, r.body.as_str()), (200, "reloaded: 1 route\n"));
    assert_eq!(
        c.get("/").echo()[0],
        "two",
        "the same connection, the new route"
    );
    std::fs::write(
        &path,
        file(&one).replace("prefix = \"/\"", "prefix = \"nope\""),
    )
    .unwrap();
    let r = Conn::open(gw.admin_address().unwrap()).send("POST", "/reload", &[]);
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("gw.toml:7:10: routes[0].prefix"),
        "{}",
        r.body
    );
    assert_eq!(c.get("/").echo()[0], "two", "the running routes stayed");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn etcd_unreachable_at_start_is_a_clear_error_within_its_timeout() {
    let config = Config::parse(
        "gw.toml",
        &format!(
            "listen = \"127.0.0.1:0\"\n[registry]\nkind = \"etcd\"\naddress = \"{}\"\ntimeout_ms = 300\n[[routes]]\nprefix = \"/\"\nservice = \"s\"\n",
            closed_port()
        ),
    )
    .unwrap();
    let e = Gateway::start(config, None, 1).unwrap_err();
    assert!(matches!(e, GatewayError::Registry(_)), "{e}");
    assert!(e.to_string().contains("etcd at 127.0.0.1:"), "{e}");
}

#[test]
fn an_endpoint_failing_its_health_check_gets_no_traffic_until_it_passes_again() {
    let (a, b) = (backend("a"), backend("b"));
    b.set_status(503);
    let gw = start(&format!(
        "listen = \"127.0.0.1:0\"\nadmin = \"127.0.0.1:0\"\n[[services]]\nname = \"s\"\nendpoints = [\"{}\", \"{}\"]\n[[routes]]\nprefix = \"/\"\nservice = \"s\"\npolicy = \"round-robin\"\nretries = 0\nhealth_check = \"/health\"\nhealth_interval_ms = 20\n",
        a.address(),
        b.address()
    ));
    let down = |gw: &Gateway| {
        admin_get(gw, "/metrics").contains("dsys_gateway_endpoints_down{route=\"/\"} 1")
    };
    let wait = |what: &str, ok: &dyn Fn() -> bool| {
        for _ in 0..250 {
            if ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("{what}");
    };
    wait("b found down", &|| down(&gw));
    let mut c = Conn::open(gw.listen_address());
    let before = b.served();
    for _ in 0..20 {
        let r = c.get("/");
        assert_eq!((r.status, r.echo()[0]), (200, "a"));
    }
    // b answered only its health checks meanwhile (each is a request it served).
    assert!(b.served() - before < 20, "b took traffic while down");
    b.set_status(200);
    wait("b back up", &|| !down(&gw));
    let names: Vec<String> = (0..4).map(|_| c.get("/").echo()[0].to_string()).collect();
    assert!(names.iter().any(|n| n == "b"), "{names:?}");
}

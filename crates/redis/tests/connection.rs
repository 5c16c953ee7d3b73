//! The client against a real Redis (started by `scripts/services.sh` through
//! dsys-services; without Redis installed and not required, those tests say so and pass)
//! and against fake servers that send what no Redis would.

#![allow(clippy::unwrap_used)] // tests may panic

use dsys_redis::{Connection, Options, Pool, Protocol, RedisError, Reply, Script};
use dsys_services::{Kind, Server};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn options(protocol: Protocol) -> Options {
    Options {
        protocol,
        ..Options::default()
    }
}

fn bulk(s: &str) -> Reply {
    Reply::Bulk(s.as_bytes().to_vec())
}

#[test]
fn commands_pipelines_and_errors_in_both_protocols() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    for protocol in [Protocol::Resp2, Protocol::Resp3] {
        let mut conn = Connection::connect(redis.addr(), &options(protocol)).unwrap();
        assert_eq!(
            conn.call(&[b"SET", b"k", b"v"]).unwrap(),
            Reply::Simple("OK".into())
        );
        assert_eq!(conn.call(&[b"GET", b"k"]).unwrap(), bulk("v"));
        assert_eq!(conn.call(&[b"GET", b"absent"]).unwrap(), Reply::Nil);
        let err = conn.call(&[b"INCR", b"k"]).unwrap_err();
        assert!(
            matches!(&err, RedisError::Server(e) if e.contains("not an integer")),
            "{err}"
        );
        assert!(err.connection_usable());
        // One failed command in a pipeline does not hide the rest.
        let replies = conn
            .pipeline(&[&[b"INCR", b"n"], &[b"INCR", b"k"], &[b"GET", b"n"]])
            .unwrap();
        assert!(matches!(replies[1], Reply::Error(_)));
        assert_eq!(replies[2].as_integer(), replies[0].as_integer());
        conn.call(&[b"DEL", b"k", b"n"]).unwrap();
    }
}

#[test]
fn a_resp3_connection_sets_pushes_aside_while_waiting_for_replies() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let mut tracked = Connection::connect(redis.addr(), &options(Protocol::Resp3)).unwrap();
    let mut writer = Connection::connect(redis.addr(), &options(Protocol::Resp2)).unwrap();
    tracked.call(&[b"CLIENT", b"TRACKING", b"ON"]).unwrap();
    tracked.call(&[b"GET", b"watched"]).unwrap();
    writer.call(&[b"SET", b"watched", b"1"]).unwrap();
    // The invalidation arrives before the next reply, and is set aside, not returned.
    assert_eq!(
        tracked.call(&[b"PING"]).unwrap(),
        Reply::Simple("PONG".into())
    );
    assert_eq!(
        tracked.take_pushes(),
        vec![Reply::Push(vec![
            bulk("invalidate"),
            Reply::Array(vec![bulk("watched")])
        ])]
    );
}

#[test]
fn a_script_is_loaded_again_after_the_server_forgot_it() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    static ADD: Script = Script::new("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    let mut conn = Connection::connect(redis.addr(), &Options::default()).unwrap();
    assert_eq!(
        ADD.run(&mut conn, &[b"s"], &[b"2"]).unwrap(),
        Reply::Integer(2)
    );
    conn.call(&[b"SCRIPT", b"FLUSH"]).unwrap();
    assert_eq!(
        ADD.run(&mut conn, &[b"s"], &[b"3"]).unwrap(),
        Reply::Integer(5)
    );
    let err = ADD.run(&mut conn, &[b"s"], &[b"x"]).unwrap_err();
    assert!(matches!(err, RedisError::Server(_)), "{err}");
}

#[test]
fn a_pool_sets_connections_up_again_after_renew_and_drops_broken_ones() {
    let Some(redis) = Server::start(Kind::Redis) else {
        return;
    };
    let setups = Arc::new(AtomicU64::new(0));
    let counted = setups.clone();
    let pool = Pool::new(redis.addr(), Options::default()).with_setup(move |conn| {
        counted.fetch_add(1, Ordering::Relaxed);
        conn.call(&[b"CLIENT", b"SETNAME", b"pooled"]).map(drop)
    });
    for _ in 0..3 {
        assert_eq!(pool.call(&[b"PING"]).unwrap(), Reply::Simple("PONG".into()));
    }
    assert_eq!(
        setups.load(Ordering::Relaxed),
        1,
        "one connection, set up once"
    );
    pool.renew();
    pool.call(&[b"PING"]).unwrap();
    assert_eq!(
        setups.load(Ordering::Relaxed),
        2,
        "set up again after renew"
    );
    // The server goes away: the pooled connection fails and is dropped; once the server
    // is back, a new one is made (and set up).
    redis.stop();
    assert!(pool.call(&[b"PING"]).is_err());
    redis.restart();
    assert_eq!(pool.call(&[b"PING"]).unwrap(), Reply::Simple("PONG".into()));
    assert_eq!(setups.load(Ordering::Relaxed), 3);
}

/// A fake server on loopback that answers every connection with `reply` (after reading
/// whatever arrives first), then keeps the socket open, silent, for `hold`.
fn fake_server(reply: &'static [u8], hold: Duration) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let mut buf = [0; 256];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(reply);
            std::thread::sleep(hold);
        }
    });
    addr
}

#[test]
#[allow(clippy::disallowed_methods)] // real sockets on the real clock: no simulated world here
fn hostile_and_silent_servers_are_errors_within_the_timeout() {
    let quick = Options {
        timeout: Duration::from_millis(200),
        ..Options::default()
    };
    for (reply, expect) in [
        // A terabyte promised: refused before anything is allocated.
        (&b"$1099511627776\r\n"[..], "out of bounds"),
        (b"*1099511627776\r\n", "out of bounds"),
        (b"%1\r\n:1\r\n", ""),
        (b"@@@\r\n", "unknown reply type"),
        // Silence: the read times out.
        (b"", ""),
    ] {
        let addr = fake_server(reply, Duration::from_secs(2));
        let mut conn = Connection::connect(addr, &quick).unwrap();
        let started = Instant::now();
        let err = conn.call(&[b"GET", b"k"]).unwrap_err();
        assert!(err.to_string().contains(expect), "{err}");
        assert!(!err.connection_usable(), "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "waited {:?}",
            started.elapsed()
        );
    }
    // A server that cannot speak RESP3 is a clear error, not a hang.
    let addr = fake_server(b"-ERR unknown command 'HELLO'\r\n", Duration::from_secs(2));
    let err = Connection::connect(addr, &options(Protocol::Resp3)).unwrap_err();
    assert!(err.to_string().contains("does not speak RESP3"), "{err}");
}

#[test]
fn nothing_listening_is_an_error_at_once() {
    // Port 1 on loopback: refused.
    let addr: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let err = Connection::connect(addr, &Options::default()).unwrap_err();
    assert!(matches!(err, RedisError::Io(_)), "{err}");
    let zero = Options {
        timeout: Duration::ZERO,
        ..Options::default()
    };
    assert!(Connection::connect(addr, &zero).is_err());
}

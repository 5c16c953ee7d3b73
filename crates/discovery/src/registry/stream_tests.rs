use super::*;
use crate::registry::{LeaseId, Listing, MemoryRegistry};
use dsys_resilience::ManualClock;
use futures_core::Stream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Waker;
use std::time::Instant;

/// A registry that can be taken down and brought back.
struct Flaky {
    inner: MemoryRegistry<ManualClock>,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), RegistryError> {
        match self.down.load(Ordering::Acquire) {
            true => Err(RegistryError::Unavailable("connection refused".into())),
            false => Ok(()),
        }
    }
}

impl Registry for Flaky {
    fn register(&self, i: Instance, ttl: Duration) -> Result<LeaseId, RegistryError> {
        self.inner.register(i, ttl)
    }
    fn keep_alive(&self, lease: LeaseId) -> Result<(), RegistryError> {
        self.inner.keep_alive(lease)
    }
    fn deregister(&self, lease: LeaseId) -> Result<(), RegistryError> {
        self.inner.deregister(lease)
    }
    fn list(&self, service: &str) -> Result<Listing, RegistryError> {
        self.check()?;
        self.inner.list(service)
    }
    fn changes(&self, service: &str, after: u64) -> Result<(Vec<Change>, u64), RegistryError> {
        self.check()?;
        self.inner.changes(service, after)
    }
}

fn registry() -> Arc<Flaky> {
    Arc::new(Flaky {
        inner: MemoryRegistry::new(ManualClock::new(), 4),
        down: AtomicBool::new(false),
    })
}

fn fast() -> WatchSettings {
    WatchSettings {
        interval: Duration::from_millis(5),
        max_backoff: Duration::from_millis(40),
    }
}

fn instance(id: &str, port: u16) -> Instance {
    Instance::new("api", id, &format!("127.0.0.1:{port}")).unwrap()
}

const TTL: Duration = Duration::from_secs(60);

/// What the stream says, as text, until `want` changes have come (within 10 s).
fn next(stream: &mut WatchStream<u16>, want: usize) -> Vec<String> {
    #[allow(clippy::disallowed_methods)] // a bound on a wait for a real thread
    let start = Instant::now();
    let mut seen = Vec::new();
    let mut cx = Context::from_waker(Waker::noop());
    while seen.len() < want {
        match Pin::new(&mut *stream).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(Discovered::Insert(e, port)))) => {
                seen.push(format!("+{}@{port}", e.id))
            }
            Poll::Ready(Some(Ok(Discovered::Remove(e)))) => seen.push(format!("-{}", e.id)),
            Poll::Ready(other) => panic!("unexpected {:?}", other.map(|r| r.err())),
            Poll::Pending => {
                assert!(start.elapsed() < Duration::from_secs(10), "only {seen:?}");
                std::thread::sleep(Duration::from_millis(2));
            }
        }
    }
    seen
}

#[test]
fn the_stream_inserts_and_removes_what_the_registry_says() {
    let reg = registry();
    let a = reg.register(instance("a", 1001), TTL).unwrap();
    reg.register(instance("b", 1002), TTL).unwrap();
    let mut stream =
        WatchStream::spawn(Arc::clone(&reg), "api", fast(), |i| i.address.port()).unwrap();
    assert_eq!(next(&mut stream, 2), ["+a@1001", "+b@1002"]);
    reg.register(instance("c", 1003), TTL).unwrap();
    assert_eq!(next(&mut stream, 1), ["+c@1003"]);
    reg.deregister(a).unwrap();
    assert_eq!(next(&mut stream, 1), ["-a"]);
    // b moves: its old endpoint goes before the new one comes.
    reg.register(instance("b", 2002), TTL).unwrap();
    assert_eq!(next(&mut stream, 2), ["-b", "+b@2002"]);
}

#[test]
fn an_unreachable_registry_at_start_is_an_error_not_a_hang() {
    let reg = registry();
    reg.down.store(true, Ordering::Release);
    let err = WatchStream::spawn(reg, "api", fast(), |i| i.address.port()).unwrap_err();
    assert!(matches!(err, RegistryError::Unavailable(_)), "{err}");
}

#[test]
fn an_outage_keeps_the_last_known_endpoints_and_loses_no_change() {
    let reg = registry();
    reg.register(instance("a", 1001), TTL).unwrap();
    let mut stream =
        WatchStream::spawn(Arc::clone(&reg), "api", fast(), |i| i.address.port()).unwrap();
    assert_eq!(next(&mut stream, 1), ["+a@1001"]);
    reg.down.store(true, Ordering::Release);
    // Changes while the watch cannot reach the registry: more than its history keeps,
    // so it must list again when it is back.
    for (i, port) in (1..=6).zip(3001..) {
        reg.register(instance(&format!("n{i}"), port), TTL).unwrap();
    }
    #[allow(clippy::disallowed_methods)] // a bound on a wait for a real thread
    let start = Instant::now();
    while stream.health().failures < 3 {
        assert!(start.elapsed() < Duration::from_secs(10), "no failure seen");
        std::thread::sleep(Duration::from_millis(5));
    }
    let health = stream.health();
    assert!(health.last_error.unwrap().contains("connection refused"));
    let mut cx = Context::from_waker(Waker::noop());
    assert!(
        Pin::new(&mut stream).poll_next(&mut cx).is_pending(),
        "nothing removed"
    );
    reg.down.store(false, Ordering::Release);
    let mut seen = next(&mut stream, 6);
    seen.sort();
    assert_eq!(
        seen,
        [
            "+n1@3001", "+n2@3002", "+n3@3003", "+n4@3004", "+n5@3005", "+n6@3006"
        ]
    );
    assert_eq!(stream.health().failures, 0);
    assert_eq!(stream.health().relists, 1);
}

#[test]
fn dropping_the_stream_stops_its_thread() {
    let reg = registry();
    let stream = WatchStream::spawn(Arc::clone(&reg), "api", fast(), |i| i.address.port()).unwrap();
    assert_eq!(Arc::strong_count(&reg), 2);
    drop(stream);
    assert_eq!(
        Arc::strong_count(&reg),
        1,
        "the thread let go of the registry"
    );
}

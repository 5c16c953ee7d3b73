use super::*;
use dsys_resilience::ManualClock;
use proptest::prelude::*;

fn registry(history: usize) -> (MemoryRegistry<ManualClock>, ManualClock) {
    let clock = ManualClock::new();
    (MemoryRegistry::new(clock.clone(), history), clock)
}

fn instance(id: &str) -> Instance {
    Instance::new("api", id, "127.0.0.1:8080").unwrap()
}

fn ids(listing: &Listing) -> Vec<&str> {
    listing.instances.iter().map(|i| i.id.as_str()).collect()
}

const TTL: Duration = Duration::from_secs(10);

#[test]
fn bad_names_addresses_and_ttls_are_refused() {
    for address in [
        "",
        "localhost:80",
        "127.0.0.1",
        "127.0.0.1:0",
        "0.0.0.0:80",
        "[::]:80",
        "224.0.0.1:80",
        "127.0.0.1:99999",
        "1.2.3.4:80 ",
    ] {
        let err = Instance::new("api", "a", address).unwrap_err();
        assert!(
            matches!(err, RegistryError::BadAddress(_)),
            "{address:?}: {err}"
        );
    }
    for (service, id) in [
        ("", "a"),
        ("api", ""),
        ("a pi", "a"),
        ("api", "a\nb"),
        ("api", "é"),
    ] {
        assert!(matches!(
            Instance::new(service, id, "127.0.0.1:80"),
            Err(RegistryError::BadName(_))
        ));
    }
    assert!(Instance::new("api", "a", "[::1]:443").is_ok());
    let (r, _) = registry(100);
    assert_eq!(
        r.register(instance("a"), Duration::ZERO),
        Err(RegistryError::ZeroTtl)
    );
}

#[test]
fn a_lease_that_is_not_kept_alive_takes_its_registration_with_it() {
    let (r, clock) = registry(100);
    let a = r.register(instance("a"), TTL).unwrap();
    let b = r.register(instance("b"), TTL).unwrap();
    let mut watcher = Watcher::start(&r, "api").unwrap();
    clock.advance(Duration::from_secs(6));
    r.keep_alive(a).unwrap();
    clock.advance(Duration::from_secs(6));
    // b lapsed at 10 s; a was kept alive at 6 s, so it lasts until 16 s.
    assert_eq!(ids(&r.list("api").unwrap()), ["a"]);
    assert_eq!(
        watcher.poll(&r).unwrap(),
        vec![Change::Delete { id: "b".into() }]
    );
    assert_eq!(r.keep_alive(b), Err(RegistryError::LeaseGone(b)));
    clock.advance(Duration::from_secs(5));
    assert!(r.list("api").unwrap().instances.is_empty());
    assert_eq!(r.held(), (0, 0));
}

#[test]
fn a_watcher_behind_a_compaction_lists_again_and_misses_nothing() {
    let (r, _) = registry(3);
    let leases: Vec<_> = ["a", "b", "c"]
        .iter()
        .map(|id| r.register(instance(id), TTL).unwrap())
        .collect();
    let mut watcher = Watcher::start(&r, "api").unwrap();
    // More changes than the history keeps, while the watcher is away.
    r.deregister(leases[0]).unwrap();
    r.register(instance("d"), TTL).unwrap();
    r.register(Instance::new("api", "b", "127.0.0.2:9090").unwrap(), TTL)
        .unwrap();
    r.register(instance("e"), TTL).unwrap();
    r.register(instance("f"), TTL).unwrap();
    let changes = watcher.poll(&r).unwrap();
    assert_eq!(watcher.relists(), 1);
    let mut seen: Vec<_> = watcher
        .instances()
        .map(|i| (i.id.clone(), i.address))
        .collect();
    let mut listed: Vec<_> = r
        .list("api")
        .unwrap()
        .instances
        .into_iter()
        .map(|i| (i.id, i.address))
        .collect();
    seen.sort();
    listed.sort();
    assert_eq!(seen, listed);
    assert!(changes.contains(&Change::Delete { id: "a".into() }));
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, Change::Put(i) if i.id == "b" && i.address.port() == 9090))
    );
    assert!(
        !changes
            .iter()
            .any(|c| matches!(c, Change::Put(i) if i.id == "c")),
        "c did not change"
    );
    // A forced compaction: the same.
    r.register(instance("g"), TTL).unwrap();
    r.compact();
    watcher.poll(&r).unwrap();
    assert_eq!(watcher.relists(), 2);
    assert!(watcher.instances().any(|i| i.id == "g"));
}

#[test]
fn two_hundred_registration_cycles_leave_nothing_behind() {
    let (r, clock) = registry(16);
    let mut watcher = Watcher::start(&r, "api").unwrap();
    for n in 0..200 {
        let lease = r.register(instance(&format!("i{n}")), TTL).unwrap();
        if n % 2 == 0 {
            r.deregister(lease).unwrap();
        } else {
            // Half end by crashing: the lease lapses.
            clock.advance(TTL);
        }
        watcher.poll(&r).unwrap();
    }
    assert_eq!(r.held(), (0, 0));
    assert_eq!(watcher.instances().count(), 0);
}

#[derive(Clone, Debug)]
enum Op {
    Register(u8, u8),
    KeepAlive(u8),
    Deregister(u8),
    Advance(u16),
    Compact,
    Poll,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6, 0u8..3).prop_map(|(id, port)| Op::Register(id, port)),
        (0u8..6).prop_map(Op::KeepAlive),
        (0u8..6).prop_map(Op::Deregister),
        (0u16..8_000).prop_map(Op::Advance),
        Just(Op::Compact),
        Just(Op::Poll),
        Just(Op::Poll),
    ]
}

proptest! {
    /// Whatever registers, lapses, deregisters and compacts between polls: after a poll
    /// the watcher's view is the registry's.
    #[test]
    fn after_a_poll_the_watcher_sees_what_the_registry_holds(
        history in 1usize..8,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let (r, clock) = registry(history);
        let mut watcher = Watcher::start(&r, "api").unwrap();
        let mut leases = std::collections::BTreeMap::new();
        for op in ops {
            match op {
                Op::Register(id, port) => {
                    let i = Instance::new("api", &format!("i{id}"), &format!("127.0.0.1:{}", 8000 + u16::from(port))).unwrap();
                    leases.insert(id, r.register(i, TTL).unwrap());
                }
                Op::KeepAlive(id) => if let Some(&l) = leases.get(&id) { let _ = r.keep_alive(l); },
                Op::Deregister(id) => if let Some(l) = leases.remove(&id) { let _ = r.deregister(l); },
                Op::Advance(ms) => clock.advance(Duration::from_millis(u64::from(ms))),
                Op::Compact => r.compact(),
                Op::Poll => {
                    watcher.poll(&r).unwrap();
                    let seen: Vec<_> = watcher.instances().cloned().collect();
                    prop_assert_eq!(seen, r.list("api").unwrap().instances);
                }
            }
        }
    }
}

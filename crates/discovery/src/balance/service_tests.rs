use super::*;
use crate::balance::Policy;
use dsys_resilience::ManualClock;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::atomic::{AtomicU32, Ordering};
use std::task::Waker;

/// A discover stream the test feeds by hand.
#[derive(Clone, Default)]
struct Feed(Arc<Mutex<VecDeque<Change<String, Backend>>>>);

impl Feed {
    fn insert(&self, id: &str, backend: Backend) {
        lock(&self.0).push_back(Change::Insert(id.to_string(), backend));
    }
    fn remove(&self, id: &str) {
        lock(&self.0).push_back(Change::Remove(id.to_string()));
    }
}

impl futures_core::Stream for Feed {
    type Item = Result<Change<String, Backend>, Infallible>;
    fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match lock(&self.0).pop_front() {
            Some(c) => Poll::Ready(Some(Ok(c))),
            None => Poll::Pending,
        }
    }
}

/// A backend that answers at once with its name, or fails; counts its calls.
#[derive(Clone)]
struct Backend {
    name: &'static str,
    fails: bool,
    calls: Arc<AtomicU32>,
}

fn backend(name: &'static str, fails: bool) -> Backend {
    Backend {
        name,
        fails,
        calls: Arc::default(),
    }
}

impl Service<u32> for Backend {
    type Response = &'static str;
    type Error = BoxError;
    type Future = std::future::Ready<Result<&'static str, BoxError>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, _: u32) -> Self::Future {
        self.calls.fetch_add(1, Ordering::Relaxed);
        std::future::ready(match self.fails {
            true => Err(format!("{} failed", self.name).into()),
            false => Ok(self.name),
        })
    }
}

/// Poll a future that is ready at once.
fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("not ready at once"),
    }
}

fn call<S: Service<u32, Error = BoxError>>(s: &mut S) -> Result<S::Response, BoxError> {
    now(std::future::poll_fn(|cx| s.poll_ready(cx)))?;
    now(s.call(0))
}

fn balance(policy: Policy, feed: &Feed, clock: &ManualClock) -> Balance<Feed, ManualClock> {
    Balance::new(
        feed.clone(),
        Settings::new(policy),
        OutlierSettings::default(),
        clock.clone(),
        7,
    )
    .unwrap()
}

#[test]
fn endpoints_come_and_go_with_the_stream() {
    let (feed, clock) = (Feed::default(), ManualClock::new());
    let mut b = balance(Policy::RoundRobin, &feed, &clock);
    assert!(
        call(&mut b).unwrap_err().is::<NoEndpoint>(),
        "nothing discovered yet"
    );
    let (a, c) = (backend("a", false), backend("c", false));
    feed.insert("a", a.clone());
    feed.insert("b", backend("b", false));
    feed.insert("c", c.clone());
    let picks: Vec<&str> = (0..6).map(|_| call(&mut b).unwrap()).collect();
    assert_eq!(picks, ["b", "c", "a", "b", "c", "a"]);
    // Removing the middle one leaves no stale index: the others take turns.
    feed.remove("b");
    let picks: Vec<&str> = (0..4).map(|_| call(&mut b).unwrap()).collect();
    assert!(picks.iter().all(|p| *p != "b"), "{picks:?}");
    assert_eq!(b.endpoints(), ["a", "c"]);
    assert_eq!(
        a.calls.load(Ordering::Relaxed) + c.calls.load(Ordering::Relaxed),
        8
    );
}

#[test]
fn a_response_after_its_endpoint_left_is_not_credited_elsewhere() {
    let (feed, clock) = (Feed::default(), ManualClock::new());
    let mut b = balance(Policy::LeastRequests, &feed, &clock);
    feed.insert("a", backend("a", false));
    feed.insert("b", backend("b", false));
    now(std::future::poll_fn(|cx| b.poll_ready(cx))).unwrap();
    let pending = b.call(0); // picked, not yet polled
    let (pa, pb) = (b.pending(&"a".into()), b.pending(&"b".into()));
    assert_eq!(pa.unwrap() + pb.unwrap(), 1);
    feed.remove("a");
    feed.remove("b");
    feed.insert("a", backend("a", false));
    now(std::future::poll_fn(|cx| b.poll_ready(cx))).unwrap();
    drop(pending); // abandoned after its endpoint was replaced
    assert_eq!(
        b.pending(&"a".into()),
        Some(0),
        "the new endpoint owes nothing"
    );
}

#[test]
fn an_abandoned_request_frees_its_place_and_is_no_failure() {
    let (feed, clock) = (Feed::default(), ManualClock::new());
    let mut b = balance(Policy::LeastRequests, &feed, &clock);
    feed.insert("a", backend("a", false));
    now(std::future::poll_fn(|cx| b.poll_ready(cx))).unwrap();
    for _ in 0..10 {
        drop(b.call(0));
    }
    assert_eq!(b.pending(&"a".into()), Some(0));
    assert!(!b.is_ejected(&"a".into()));
}

#[test]
fn an_endpoint_that_keeps_failing_is_ejected_then_readmitted() {
    let (feed, clock) = (Feed::default(), ManualClock::new());
    let mut b = balance(Policy::RoundRobin, &feed, &clock);
    let bad = backend("bad", true);
    feed.insert("bad", bad.clone());
    for name in ["g1", "g2", "g3", "g4", "g5", "g6", "g7", "g8", "g9", "g10"] {
        feed.insert(name, backend(name, false));
    }
    let mut failures = 0;
    for _ in 0..200 {
        failures += usize::from(call(&mut b).is_err());
    }
    // Envoy's default: five consecutive failures eject it.
    assert_eq!(failures, 5);
    assert!(b.is_ejected(&"bad".into()));
    assert_eq!(bad.calls.load(Ordering::Relaxed), 5);
    // Its base ejection time (30 s) passes: it is tried again.
    clock.advance(Duration::from_secs(31));
    let before = bad.calls.load(Ordering::Relaxed);
    for _ in 0..11 {
        let _ = call(&mut b);
    }
    assert_eq!(bad.calls.load(Ordering::Relaxed), before + 1);
}

#[test]
fn a_classifier_counts_failures_inside_ok_responses() {
    let (feed, clock) = (Feed::default(), ManualClock::new());
    let mut b = balance(Policy::RoundRobin, &feed, &clock)
        .classify(|r: &Result<&'static str, BoxError>| matches!(r, Ok("503")));
    // Ten endpoints, so the 10% ceiling on ejections leaves room for one.
    feed.insert("x", backend("503", false));
    for name in ["y", "y1", "y2", "y3", "y4", "y5", "y6", "y7", "y8"] {
        feed.insert(name, backend("ok", false));
    }
    for _ in 0..60 {
        call(&mut b).unwrap();
    }
    assert!(b.is_ejected(&"x".into()));
    assert!(!b.is_ejected(&"y".into()));
}

#[test]
fn the_same_session_key_sticks_to_one_endpoint() {
    let (feed, clock) = (Feed::default(), ManualClock::new());
    let mut b = balance(Policy::ConsistentHash, &feed, &clock)
        .keyed(|req: &u32| Some(req.to_le_bytes().to_vec()));
    for name in ["a", "b", "c", "d"] {
        feed.insert(name, backend(name, false));
    }
    now(std::future::poll_fn(|cx| b.poll_ready(cx))).unwrap();
    for session in 0..50u32 {
        let first = now(b.call(session)).unwrap();
        for _ in 0..5 {
            assert_eq!(now(b.call(session)).unwrap(), first);
        }
    }
}

/// Endpoints keyed with their zone.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct InZone(String, String);

impl Display for InZone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Zoned for InZone {
    fn zone(&self) -> Option<&str> {
        Some(&self.1)
    }
}

struct Zoned2(VecDeque<Change<InZone, Backend>>);

impl futures_core::Stream for Zoned2 {
    type Item = Result<Change<InZone, Backend>, Infallible>;
    fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }
}

/// Requests that stay local out of 10,000, with `local` endpoints in zone "a" and
/// `remote` in zone "b", the callers split evenly between the two zones.
fn local_share(local: usize, remote: usize) -> usize {
    let mut changes = VecDeque::new();
    for (zone, n) in [("a", local), ("b", remote)] {
        for i in 0..n {
            let key = InZone(format!("{zone}{i}"), zone.to_string());
            changes.push_back(Change::Insert(
                key,
                backend(if zone == "a" { "local" } else { "remote" }, false),
            ));
        }
    }
    let clock = ManualClock::new();
    let mut b = Balance::new(
        Zoned2(changes),
        Settings::new(Policy::LeastRequests),
        OutlierSettings::default(),
        clock,
        3,
    )
    .unwrap()
    .zone_aware(ZoneAware::even("a", 2))
    .unwrap();
    (0..10_000)
        .filter(|_| call(&mut b).unwrap() == "local")
        .count()
}

#[test]
fn zone_aware_routing_stays_local_while_the_zone_holds_its_share() {
    // Six of twelve endpoints local, half the callers local: everything stays local.
    assert_eq!(local_share(6, 6), 10_000);
    // Two of twelve: the zone has a third of its share, so a third stays local.
    let stayed = local_share(2, 10);
    assert!((3_100..3_600).contains(&stayed), "{stayed}");
    // Fewer than six endpoints in all: zones are ignored (Envoy's min_cluster_size),
    // so the two choices spread evenly.
    let stayed = local_share(2, 2);
    assert!((4_500..5_500).contains(&stayed), "{stayed}");
    // No local endpoint at all: everything goes remote.
    assert_eq!(local_share(0, 8), 0);
}

#[test]
fn a_zone_share_outside_zero_to_one_is_refused() {
    let clock = ManualClock::new();
    for share in [0.0, -1.0, 1.5, f64::NAN] {
        let b = balance(Policy::RoundRobin, &Feed::default(), &clock);
        let zones = ZoneAware {
            local_share: share,
            ..ZoneAware::even("a", 2)
        };
        assert!(matches!(
            b.zone_aware(zones),
            Err(BalanceError::LocalShare(_))
        ));
    }
}

#[test]
fn a_failed_stream_fails_the_balancer_with_its_reason() {
    struct Broken;
    impl futures_core::Stream for Broken {
        type Item = Result<Change<String, Backend>, BoxError>;
        fn poll_next(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            Poll::Ready(Some(Err("registry on fire".into())))
        }
    }
    let clock = ManualClock::new();
    let mut b = Balance::new(
        Broken,
        Settings::new(Policy::RoundRobin),
        OutlierSettings::default(),
        clock,
        1,
    )
    .unwrap();
    for _ in 0..2 {
        let e = call(&mut b).unwrap_err().to_string();
        assert!(e.contains("registry on fire"), "{e}");
    }
}

/// A sleep on the manual clock that moves it when polled (every wait takes no real time).
fn manual_sleep(clock: &ManualClock) -> impl Fn(Duration) -> std::future::Ready<()> + Clone {
    let clock = clock.clone();
    move |d| {
        clock.advance(d);
        std::future::ready(())
    }
}

#[test]
fn retries_within_a_budget_go_round_a_failing_endpoint() {
    use dsys_resilience::layer::{Layer, RetryLayer};
    use dsys_resilience::retry::{Backoff, Jitter, Retry, RetryBudget};
    let (feed, clock) = (Feed::default(), ManualClock::new());
    let bad = backend("bad", true);
    let good = backend("good", false);
    feed.insert("bad", bad.clone());
    feed.insert("good", good.clone());
    // Ten percent of requests may be retried (one saved up at most).
    let budget = RetryBudget::new(0.1, 10, 1).unwrap();
    let backoff = Backoff::new(
        Duration::from_millis(10),
        Duration::from_millis(10),
        Jitter::None,
    );
    let policy = Retry::new(backoff.unwrap(), 3, clock.clone())
        .unwrap()
        .with_budget(budget);
    let inner = Balance::new(
        feed.clone(),
        Settings::new(Policy::RoundRobin),
        // Never eject, so only the retries steer round the bad endpoint.
        OutlierSettings {
            consecutive_failures: u32::MAX,
            ..OutlierSettings::default()
        },
        clock.clone(),
        1,
    )
    .unwrap();
    let mut svc = RetryLayer::new(policy, manual_sleep(&clock)).layer(inner);
    let ok = (0..1_000).filter(|_| call(&mut svc).is_ok()).count();
    let (bad_calls, good_calls) = (
        bad.calls.load(Ordering::Relaxed) as usize,
        good.calls.load(Ordering::Relaxed) as usize,
    );
    let retries = bad_calls + good_calls - 1_000;
    // The budget pays for one retry per ten requests (and one saved up).
    assert!((80..=101).contains(&retries), "{retries} retries");
    // Every retry went to the next endpoint, the good one, and succeeded; every failed
    // request is a first try at the bad one that the budget could not pay to retry.
    assert_eq!(ok, good_calls);
    assert_eq!(1_000 - ok, bad_calls - retries);
}

#[test]
fn an_endpoint_a_health_check_marked_down_gets_nothing_until_it_is_up() {
    let (feed, clock) = (Feed::default(), ManualClock::new());
    let mut b = balance(Policy::RoundRobin, &feed, &clock);
    let (x, y) = (backend("x", false), backend("y", false));
    feed.insert("x", x.clone());
    feed.insert("y", y.clone());
    now(std::future::poll_fn(|cx| b.poll_ready(cx))).unwrap();
    b.set_up(|k| k == "x", false);
    assert!(b.is_down(&"x".into()));
    for _ in 0..10 {
        assert_eq!(call(&mut b).unwrap(), "y");
    }
    b.set_up(|k| k == "x", true);
    let picks: Vec<&str> = (0..4).map(|_| call(&mut b).unwrap()).collect();
    assert!(picks.contains(&"x"), "{picks:?}");
    // Every endpoint down: none to call.
    b.set_up(|_| true, false);
    assert!(call(&mut b).unwrap_err().is::<NoEndpoint>());
    assert_eq!(x.calls.load(Ordering::Relaxed), 2);
}

use super::*;
use proptest::prelude::*;

const MS: u64 = 1_000_000;

/// A seeded draw for tests (SplitMix64).
fn draws(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    move || splitmix(&mut state)
}

fn balancer(policy: Policy) -> Balancer<u32> {
    Balancer::new(Settings::new(policy)).unwrap()
}

#[test]
fn round_robin_takes_each_in_turn() {
    let mut b = balancer(Policy::RoundRobin);
    for id in 0..3 {
        b.insert(id, 0);
    }
    let mut random = draws(1);
    let picks: Vec<u32> = (0..6).map(|_| b.pick(0, &mut random).unwrap()).collect();
    assert_eq!(picks, [1, 2, 0, 1, 2, 0]);
    assert_eq!(b.pending(&0), Some(2));
}

#[test]
fn the_two_choices_steer_away_from_a_slow_endpoint() {
    for policy in [Policy::LeastRequests, Policy::PeakEwma] {
        let mut b = balancer(policy);
        for id in 0..10 {
            b.insert(id, 0);
        }
        let mut random = draws(7);
        // Endpoint 9 answers in a second, the others in a millisecond; requests every
        // millisecond, each finishing after its endpoint's latency.
        let mut in_flight: Vec<(u64, u32)> = Vec::new();
        let mut to_slow = 0;
        for t in 0..20_000u64 {
            let now = t * MS;
            in_flight.retain(|&(done, id)| {
                if done <= now {
                    b.finish(
                        &id,
                        Duration::from_nanos(if id == 9 { 1_000 * MS } else { MS }),
                        now,
                    );
                    false
                } else {
                    true
                }
            });
            let id = b.pick(now, &mut random).unwrap();
            to_slow += u64::from(id == 9);
            in_flight.push((now + if id == 9 { 1_000 * MS } else { MS }, id));
        }
        // Round robin would send it 2,000.
        assert!(
            to_slow < 200,
            "{policy:?} sent {to_slow} of 20,000 to the slow endpoint"
        );
    }
}

/// A warm pool of ten fast endpoints; an eleventh, as fast, joins. With the typical
/// estimate it takes its share within the first decay window; with a fixed second (the
/// starting point of tower's peak EWMA) it gets none in that window.
#[test]
fn a_new_endpoint_gets_traffic_within_one_decay_window() {
    let run = |initial: Initial| {
        let settings = Settings {
            initial,
            ..Settings::new(Policy::PeakEwma)
        };
        let mut b = Balancer::new(settings).unwrap();
        let mut random = draws(3);
        for id in 0..10 {
            b.insert(id, 0);
        }
        let mut requests = |b: &mut Balancer<u32>, from: u64, to: u64| {
            let mut to_new = 0;
            for t in from..to {
                let now = t * MS;
                let id = b.pick(now, &mut random).unwrap();
                to_new += u64::from(id == 10);
                b.finish(&id, Duration::from_nanos(MS), now + MS / 2);
            }
            to_new
        };
        requests(&mut b, 0, 20_000);
        b.insert(10, 20_000 * MS);
        // One decay window: 10 s at 1,000 requests a second.
        requests(&mut b, 20_000, 30_000)
    };
    let typical = run(Initial::Typical(Duration::from_millis(30)));
    let fixed = run(Initial::Fixed(Duration::from_secs(1)));
    assert!(
        typical > 500,
        "about 1/11 of 10,000 expected, got {typical}"
    );
    assert!(fixed < 10, "a fixed second starves it: {fixed}");
}

#[test]
fn an_endpoint_that_stops_answering_looks_slow_before_any_answer_says_so() {
    let mut b = balancer(Policy::PeakEwma);
    b.insert(0, 0);
    let id = b.pick(0, draws(1)).unwrap();
    b.finish(&id, Duration::from_millis(1), MS);
    let id = b.pick(2 * MS, draws(1)).unwrap();
    // Nothing answers: half a second later the estimate is at least that old.
    let estimate = b.estimate(&id, 502 * MS).unwrap();
    assert!(estimate >= Duration::from_millis(500), "{estimate:?}");
    // Once it answers, the estimate is the peak it saw, and the age is forgotten.
    b.finish(&id, Duration::from_millis(500), 502 * MS);
    assert_eq!(b.pending(&id), Some(0));
    let later = b.estimate(&id, 502 * MS).unwrap();
    assert_eq!(later, Duration::from_millis(500));
}

#[test]
fn only_admitted_endpoints_are_picked() {
    for policy in Policy::ALL {
        let mut b = balancer(policy);
        for id in 0..5 {
            b.insert(id, 0);
        }
        let mut random = draws(11);
        for t in 0..200 {
            let id = b
                .pick_where(t * MS, &mut random, |&id| id % 2 == 0)
                .unwrap();
            assert!(id % 2 == 0, "{policy:?} picked {id}");
        }
        assert_eq!(b.pick_where(0, &mut random, |_| false), None);
        assert_eq!(b.pick_where(0, &mut random, |&id| id == 3), Some(3));
    }
}

#[test]
fn consistent_hashing_keeps_a_key_with_its_endpoint_while_others_come_and_go() {
    let mut b = balancer(Policy::ConsistentHash);
    for id in 0..8 {
        b.insert(id, 0);
    }
    let mut random = draws(5);
    let all = |_: &u32| true;
    let keys: Vec<String> = (0..400).map(|k| format!("session-{k}")).collect();
    let before: Vec<u32> = keys
        .iter()
        .map(|k| b.pick_keyed(0, k.as_bytes(), &mut random, all).unwrap())
        .collect();
    // The same key, the same endpoint.
    for (k, &e) in keys.iter().zip(&before) {
        assert_eq!(b.pick_keyed(0, k.as_bytes(), &mut random, all), Some(e));
    }
    // Endpoint 3 leaves: only its keys move; it is ejected instead: the same.
    b.remove(&3);
    let after: Vec<u32> = keys
        .iter()
        .map(|k| b.pick_keyed(0, k.as_bytes(), &mut random, all).unwrap())
        .collect();
    b.insert(3, 0);
    let skipping: Vec<u32> = keys
        .iter()
        .map(|k| {
            b.pick_keyed(0, k.as_bytes(), &mut random, |&id| id != 3)
                .unwrap()
        })
        .collect();
    assert_eq!(after, skipping, "ejection moves keys as removal does");
    for ((&was, &now), k) in before.iter().zip(&after).zip(&keys) {
        assert!(was == now || was == 3, "{k} moved from {was} to {now}");
        assert_ne!(now, 3);
    }
    let spread: std::collections::BTreeSet<u32> = before.iter().copied().collect();
    assert_eq!(spread.len(), 8, "every endpoint gets keys");
}

#[test]
fn a_zero_decay_is_refused_and_an_empty_balancer_picks_nothing() {
    let zero = Settings {
        decay: Duration::ZERO,
        ..Settings::new(Policy::PeakEwma)
    };
    assert_eq!(
        Balancer::<u32>::new(zero).unwrap_err(),
        SettingsError::ZeroDecay
    );
    let mut b = balancer(Policy::PeakEwma);
    assert_eq!(b.pick(0, draws(1)), None);
    b.insert(5, 0);
    assert_eq!(b.pick(0, draws(1)), Some(5), "one endpoint: that one");
}

#[derive(Clone, Debug)]
enum Op {
    Insert(u8),
    Remove(u8),
    Pick,
    Finish(u8, u16),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..6).prop_map(Op::Insert),
        (0u8..6).prop_map(Op::Remove),
        Just(Op::Pick),
        Just(Op::Pick),
        (0u8..6, 0u16..2_000).prop_map(|(id, ms)| Op::Finish(id, ms)),
    ]
}

proptest! {
    /// Whatever the endpoints do: a pick names an endpoint that is there; requests in
    /// flight are picks less finishes for as long as the endpoint stays; a finish for an
    /// endpoint that left changes nothing.
    #[test]
    fn picks_name_present_endpoints_and_pending_counts_add_up(
        policy in proptest::sample::select(Policy::ALL.to_vec()),
        ops in proptest::collection::vec(op(), 1..200),
        seed in any::<u64>(),
    ) {
        let mut b = balancer(policy);
        let mut random = draws(seed);
        let mut present = std::collections::BTreeMap::new();
        for (step, op) in ops.into_iter().enumerate() {
            let now = step as u64 * MS;
            match op {
                Op::Insert(id) => {
                    b.insert(u32::from(id), now);
                    present.entry(id).or_insert(0u32);
                }
                Op::Remove(id) => {
                    prop_assert_eq!(b.remove(&u32::from(id)), present.remove(&id).is_some());
                }
                Op::Pick => match b.pick(now, &mut random) {
                    Some(id) => {
                        let id = u8::try_from(id).unwrap();
                        prop_assert!(present.contains_key(&id), "picked absent {}", id);
                        *present.get_mut(&id).unwrap() += 1;
                    }
                    None => prop_assert!(present.is_empty()),
                },
                Op::Finish(id, ms) => {
                    b.finish(&u32::from(id), Duration::from_millis(u64::from(ms)), now);
                    if let Some(p) = present.get_mut(&id) {
                        *p = p.saturating_sub(1);
                    }
                }
            }
            for (&id, &p) in &present {
                prop_assert_eq!(b.pending(&u32::from(id)), Some(p));
            }
            prop_assert_eq!(b.len(), present.len());
        }
    }
}

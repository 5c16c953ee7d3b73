//! Tests of `range`.

use super::*;
use proptest::prelude::*;

fn policy() -> RangePolicy {
    RangePolicy::new(10_000, 1_000.0, 2_000, 3.0).unwrap()
}

fn map() -> RangeMap {
    RangeMap::new(vec!["a".into(), "b".into(), "c".into()], policy()).unwrap()
}

/// Ranges tile the key space: the first starts at the empty key, each ends where the
/// next starts, the last has no end.
fn tiles(m: &RangeMap) -> bool {
    let r = m.ranges();
    r[0].start.is_empty()
        && r.last().is_some_and(|l| l.end.is_none())
        && r.windows(2)
            .all(|w| w[0].end.as_deref() == Some(w[1].start.as_slice()) && w[0].start < w[1].start)
}

#[test]
fn sequential_inserts_split_the_tail_and_every_range_stays_small() {
    let mut m = map();
    for i in 0..2_000u32 {
        m.record(format!("order-{i:08}").as_bytes(), 100, 1.0);
        if i % 50 == 0 {
            m.maintain();
        }
    }
    m.maintain();
    assert!(tiles(&m));
    assert!(
        m.ranges().len() >= 20,
        "200,000 bytes in ranges of at most 10,000"
    );
    let total: u64 = m.ranges().iter().map(|r| r.bytes).sum();
    assert_eq!(total, 200_000, "splits conserve bytes");
    for r in m.ranges() {
        assert!(
            r.bytes <= 10_000 + 100,
            "{} bytes from {:?}",
            r.bytes,
            r.start
        );
    }
    let key = b"order-00001234";
    assert!(m.locate(key).contains(key));
}

#[test]
fn a_busy_range_splits_by_load_but_a_single_hot_key_is_reported_instead() {
    let mut m = map();
    for i in 0..100u32 {
        m.record(format!("user-{i:04}").as_bytes(), 10, 20.0);
    }
    let changes = m.maintain();
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, RangeChange::SplitByLoad { .. })),
        "{changes:?}"
    );
    assert!(m.ranges().iter().all(|r| r.load <= 1_000.0 + 20.0));
    // One celebrity key: no split can spread it.
    let mut m = map();
    for i in 0..100u32 {
        m.record(format!("user-{i:04}").as_bytes(), 10, 1.0);
    }
    m.record(b"user-0042", 0, 5_000.0);
    m.maintain();
    let hot = m.hot_spots();
    assert_eq!(hot.len(), 1, "{hot:?}");
    assert_eq!(hot[0].hot_key.as_deref(), Some(&b"user-0042"[..]));
}

#[test]
fn deletes_merge_neighbours_back() {
    let mut m = map();
    let keys: Vec<String> = (0..400).map(|i| format!("k{i:05}")).collect();
    for k in &keys {
        m.record(k.as_bytes(), 100, 0.0);
    }
    m.maintain();
    let split = m.ranges().len();
    assert!(split > 3);
    for k in &keys {
        m.record(k.as_bytes(), -100, 0.0);
    }
    let changes = m.maintain();
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, RangeChange::Merged { .. }))
    );
    assert_eq!(m.ranges().len(), 1, "empty again: one range");
    assert!(tiles(&m));
}

#[test]
fn bad_policies_and_splits_are_errors() {
    assert!(RangePolicy::new(0, 1.0, 0, 2.0).is_err());
    assert!(
        RangePolicy::new(100, 1.0, 60, 2.0).is_err(),
        "merge above half"
    );
    assert!(RangePolicy::new(100, 0.0, 10, 2.0).is_err());
    assert!(RangePolicy::new(100, f64::NAN, 10, 2.0).is_err());
    assert!(RangePolicy::new(100, 1.0, 10, 0.5).is_err());
    assert_eq!(
        RangeMap::new(vec![], policy()),
        Err(PartitionError::NoNodes)
    );
    let mut m = map();
    assert!(matches!(m.split(b""), Err(PartitionError::BadSplit(_))));
    m.split(b"m").unwrap();
    assert!(matches!(m.split(b"m"), Err(PartitionError::BadSplit(_))));
    assert!(tiles(&m));
}

#[test]
fn new_nodes_take_an_even_share_through_a_plan_that_moves_the_minimum() {
    use crate::planner::{Throttle, plan};
    let mut m = map();
    for i in 0..3_000u32 {
        m.record(format!("k{i:06}").as_bytes(), 100, 0.0);
    }
    m.maintain();
    let nodes: Vec<String> = ["a", "b", "c", "d", "e", "f"].map(String::from).to_vec();
    let changes = m.balance(&nodes).unwrap();
    assert!(!changes.is_empty());
    let mut held: BTreeMap<&str, u64> = BTreeMap::new();
    for r in m.ranges() {
        assert_eq!(r.replicas.len(), 3);
        let distinct: BTreeSet<&String> = r.replicas.iter().collect();
        assert_eq!(distinct.len(), 3, "two replicas on one node");
        for n in &r.replicas {
            *held.entry(n.as_str()).or_default() += r.bytes;
        }
    }
    // 300,000 bytes x 3 replicas over 6 nodes: 150,000 each, within a range's size.
    let largest = m.ranges().iter().map(|r| r.bytes).max().unwrap();
    for (n, b) in &held {
        assert!(b.abs_diff(150_000) <= largest, "{n}: {b} bytes ({held:?})");
    }
    let p = plan(
        &changes,
        Throttle {
            per_node: 2,
            wave_bytes: None,
        },
    )
    .unwrap();
    assert_eq!(p.bytes_moved, p.minimum_bytes);
    // Half of every replica's bytes had to move to the new nodes, at least.
    assert!(p.bytes_moved >= 3 * 150_000);
    // Nodes leaving: their replicas go, the rest stay balanced.
    let fewer: Vec<String> = ["a", "b", "d", "e"].map(String::from).to_vec();
    m.balance(&fewer).unwrap();
    assert!(
        m.ranges()
            .iter()
            .all(|r| r.replicas.iter().all(|n| fewer.contains(n)))
    );
    assert!(matches!(
        m.balance(&["a".into(), "b".into()]),
        Err(PartitionError::TooManyReplicas { .. })
    ));
}

proptest! {
    #[test]
    fn ranges_always_tile_the_key_space_and_conserve_bytes(
        ops in proptest::collection::vec((proptest::collection::vec(0u8..4, 0..6), 0i64..500, 0.0f64..100.0), 1..300),
        every in 1usize..50,
    ) {
        let mut m = map();
        let mut total = 0u64;
        for (n, (key, bytes, load)) in ops.iter().enumerate() {
            m.record(key, *bytes, *load);
            total += *bytes as u64;
            if n % every == 0 {
                m.maintain();
            }
            if n % 7 == 3 {
                // An operator's split anywhere: refused only at a range's start.
                let starts_a_range = m.ranges().iter().any(|r| r.start == *key);
                prop_assert_eq!(m.split(key).is_err(), starts_a_range);
            }
            prop_assert!(m.locate(key).contains(key));
        }
        m.maintain();
        prop_assert!(tiles(&m));
        prop_assert_eq!(m.ranges().iter().map(|r| r.bytes).sum::<u64>(), total);
    }
}

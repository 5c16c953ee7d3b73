//! Properties every placement must have, checked on random node sets and keys.

use crate::*;
use proptest::prelude::*;

/// Every algorithm over `nodes` that accepts them (all do for equal weights).
fn all(nodes: &Nodes) -> Vec<Box<dyn Placement>> {
    vec![
        Box::new(Ring::new(nodes.clone(), 16).unwrap()),
        Box::new(Jump::new(nodes.clone()).unwrap()),
        Box::new(Rendezvous::new(nodes.clone()).unwrap()),
        Box::new(Maglev::with_table(nodes.clone(), 1_009).unwrap()),
        Box::new(Anchor::new(nodes.clone(), nodes.len() * 2).unwrap()),
    ]
}

/// A placement before a change and after it.
type BeforeAfter = (Box<dyn Placement>, Box<dyn Placement>);

fn owner(p: &dyn Placement, key: u64) -> &str {
    &p.nodes().node(p.locate(key)).id
}

proptest! {
    #[test]
    fn every_key_maps_to_a_node_and_replicas_are_distinct_on_distinct_zones(
        count in 1usize..24,
        zones in 1usize..6,
        replicas in 1usize..6,
        keys in proptest::collection::vec(any::<u64>(), 1..40),
    ) {
        let nodes = Nodes::uniform(count, zones).unwrap();
        for p in all(&nodes) {
            for &key in &keys {
                prop_assert!(p.locate(key) < count);
                match p.replicas(key, replicas) {
                    Err(PartitionError::TooManyReplicas { .. }) => prop_assert!(replicas > count),
                    Err(e) => prop_assert!(false, "{e}"),
                    Ok(chosen) => {
                        prop_assert_eq!(chosen.len(), replicas);
                        prop_assert_eq!(chosen[0], p.locate(key), "{}: the owner first", p.name());
                        let mut distinct = chosen.clone();
                        distinct.sort_unstable();
                        distinct.dedup();
                        prop_assert_eq!(distinct.len(), replicas, "{}: distinct nodes", p.name());
                        let mut used: Vec<u32> = chosen.iter().map(|&i| nodes.zone_of(i)).collect();
                        used.sort_unstable();
                        used.dedup();
                        prop_assert_eq!(used.len(), replicas.min(nodes.zones()), "{}: distinct zones", p.name());
                    }
                }
            }
        }
    }

    #[test]
    fn adding_a_node_moves_keys_only_to_it(
        count in 1usize..30,
        keys in proptest::collection::vec(any::<u64>(), 1..200),
    ) {
        let before = Nodes::uniform(count, 3).unwrap();
        let added = Node::new("newcomer", "zone-new");
        let after = before.with(added.clone()).unwrap();
        let mut anchor = Anchor::new(before.clone(), count + 1).unwrap();
        let old_anchor = anchor.clone();
        anchor.add(added).unwrap();
        let pairs: Vec<BeforeAfter> = vec![
            (Box::new(Ring::new(before.clone(), 16).unwrap()), Box::new(Ring::new(after.clone(), 16).unwrap())),
            (Box::new(Jump::new(before.clone()).unwrap()), Box::new(Jump::new(after.clone()).unwrap())),
            (Box::new(Rendezvous::new(before.clone()).unwrap()), Box::new(Rendezvous::new(after.clone()).unwrap())),
            (Box::new(old_anchor), Box::new(anchor)),
        ];
        for (old, new) in &pairs {
            for &key in &keys {
                let (was, is) = (owner(old.as_ref(), key), owner(new.as_ref(), key));
                prop_assert!(was == is || is == "newcomer", "{}: {key} moved {was} -> {is}", old.name());
            }
        }
    }

    #[test]
    fn removing_a_node_moves_only_its_keys(
        count in 2usize..30,
        gone in any::<prop::sample::Index>(),
        keys in proptest::collection::vec(any::<u64>(), 1..200),
    ) {
        let before = Nodes::uniform(count, 3).unwrap();
        let victim = before.node(gone.index(count)).id.clone();
        let last = before.node(count - 1).id.clone();
        let mut anchor = Anchor::new(before.clone(), count).unwrap();
        let old_anchor = anchor.clone();
        anchor.remove(&victim).unwrap();
        let after = before.without(&victim).unwrap();
        let pairs: Vec<(BeforeAfter, &str)> = vec![
            ((Box::new(Ring::new(before.clone(), 16).unwrap()), Box::new(Ring::new(after.clone(), 16).unwrap())), &victim),
            ((Box::new(Rendezvous::new(before.clone()).unwrap()), Box::new(Rendezvous::new(after.clone()).unwrap())), &victim),
            ((Box::new(old_anchor), Box::new(anchor)), &victim),
            // Jump can only lose its last bucket.
            ((Box::new(Jump::new(before.clone()).unwrap()), Box::new(Jump::new(before.without(&last).unwrap()).unwrap())), &last),
        ];
        for ((old, new), removed) in &pairs {
            for &key in &keys {
                let (was, is) = (owner(old.as_ref(), key), owner(new.as_ref(), key));
                prop_assert!(was == is || was == *removed, "{}: {key} moved {was} -> {is}", old.name());
                prop_assert!(is != *removed);
            }
        }
    }

    #[test]
    fn anchor_undoes_removals_in_reverse(
        count in 2usize..20,
        order in proptest::collection::vec(any::<prop::sample::Index>(), 1..10),
        keys in proptest::collection::vec(any::<u64>(), 1..100),
    ) {
        let nodes = Nodes::uniform(count, 2).unwrap();
        let original = Anchor::new(nodes.clone(), count + 4).unwrap();
        let mut anchor = original.clone();
        let mut gone = Vec::new();
        for i in order.iter().take(count - 1) {
            let working = Placement::nodes(&anchor).clone();
            let victim = working.node(i.index(working.len())).clone();
            anchor.remove(&victim.id).unwrap();
            gone.push(victim);
            for &key in &keys {
                prop_assert!(owner(&anchor, key) != gone.last().unwrap().id);
            }
        }
        while let Some(node) = gone.pop() {
            anchor.add(node).unwrap();
        }
        for &key in &keys {
            prop_assert_eq!(owner(&anchor, key), owner(&original, key));
        }
    }

    #[test]
    fn bounded_loads_never_exceed_the_cap(
        count in 1usize..20,
        c_thousandths in 1_000u32..2_000,
        keys in proptest::collection::vec(0u64..50, 1..400),
    ) {
        // Few distinct keys, many repeats: the skew a plain ring would pile on one node.
        let c = f64::from(c_thousandths) / 1_000.0;
        let ring = Ring::new(Nodes::uniform(count, 2).unwrap(), 16).unwrap();
        let mut bounded = BoundedLoads::new(ring, c).unwrap();
        for (m, &key) in keys.iter().enumerate() {
            bounded.assign(mix(key));
            // ceil(c × keys / nodes), in integers.
            let cap = (u64::from(c_thousandths) * (m as u64 + 1)).div_ceil(1_000 * count as u64);
            prop_assert!(bounded.loads().iter().all(|&l| l <= cap), "{:?} over {cap}", bounded.loads());
        }
    }
}

#[test]
fn weighted_placements_give_each_node_its_share() {
    let nodes = Nodes::new(vec![
        Node::new("small", "a"),
        Node::new("medium", "b").weighted(2),
        Node::new("large", "c").weighted(5),
    ])
    .unwrap();
    let placements: Vec<Box<dyn Placement>> = vec![
        Box::new(Ring::new(nodes.clone(), 200).unwrap()),
        Box::new(Rendezvous::new(nodes.clone()).unwrap()),
        Box::new(Maglev::new(nodes.clone()).unwrap()),
    ];
    for p in placements {
        let mut count = [0u32; 3];
        for key in 0..80_000u64 {
            count[p.locate(mix(key))] += 1;
        }
        // 10,000 per unit of weight, within 5%.
        for (i, w) in [1u32, 2, 5].into_iter().enumerate() {
            let want = 10_000.0 * f64::from(w);
            let got = f64::from(count[i]);
            assert!((got - want).abs() < 0.05 * want, "{}: {count:?}", p.name());
        }
    }
    assert!(matches!(
        Jump::new(nodes.clone()),
        Err(PartitionError::Unsupported { .. })
    ));
    assert!(matches!(
        Anchor::new(nodes, 8),
        Err(PartitionError::Unsupported { .. })
    ));
}

#[test]
fn bad_settings_are_errors() {
    let nodes = Nodes::uniform(4, 2).unwrap();
    assert!(matches!(
        Ring::with_points(nodes.clone(), vec![]),
        Err(PartitionError::OutOfRange { .. })
    ));
    assert!(matches!(
        Ring::with_points(nodes.clone(), vec![(7, 4)]),
        Err(PartitionError::OutOfRange { .. })
    ));
    let two_points = Ring::with_points(nodes.clone(), vec![(100, 2), (50, 1)]).unwrap();
    assert_eq!([two_points.locate(60), two_points.locate(101)], [2, 1]);
    assert_eq!(two_points.preference(60).collect::<Vec<_>>(), [2, 1]);
    // Sizes that would take gigabytes are refused, not allocated.
    let huge = Nodes::uniform(2, 1).unwrap();
    assert!(matches!(
        Anchor::new(huge.clone(), 1 << 29),
        Err(PartitionError::OutOfRange { .. })
    ));
    assert!(matches!(
        Ring::new(huge.clone(), 1 << 28),
        Err(PartitionError::OutOfRange { .. })
    ));
    assert!(matches!(
        Maglev::with_table(huge, 536_870_909),
        Err(PartitionError::OutOfRange { .. })
    ));
    assert!(matches!(
        Ring::new(nodes.clone(), 0),
        Err(PartitionError::OutOfRange { .. })
    ));
    assert!(
        matches!(
            Maglev::with_table(nodes.clone(), 1_000),
            Err(PartitionError::OutOfRange { .. })
        ),
        "not a prime"
    );
    assert!(
        matches!(
            Maglev::with_table(nodes.clone(), 3),
            Err(PartitionError::OutOfRange { .. })
        ),
        "smaller than the nodes"
    );
    assert!(matches!(
        Anchor::new(nodes.clone(), 3),
        Err(PartitionError::OutOfRange { .. })
    ));
    let ring = Ring::new(nodes.clone(), 4).unwrap();
    assert!(BoundedLoads::new(ring.clone(), 0.5).is_err());
    assert!(BoundedLoads::new(ring, f64::NAN).is_err());
    assert_eq!(
        Jump::new(nodes.clone()).unwrap().replicas(1, 5),
        Err(PartitionError::TooManyReplicas {
            replicas: 5,
            nodes: 4
        })
    );
    let mut anchor = Anchor::new(Nodes::uniform(1, 1).unwrap(), 1).unwrap();
    assert_eq!(anchor.remove("node-0"), Err(PartitionError::NoNodes));
    assert!(
        matches!(
            anchor.add(Node::new("x", "z")),
            Err(PartitionError::OutOfRange { .. })
        ),
        "full"
    );
    assert_eq!(
        anchor.add(Node::new("node-0", "z")),
        Err(PartitionError::DuplicateNode("node-0".into()))
    );
    assert_eq!(
        anchor.remove("nobody"),
        Err(PartitionError::NoSuchNode("nobody".into()))
    );
}

/// Keys as a service would see them: positions of `count` distinct numbers.
fn sample(count: u64) -> impl Iterator<Item = u64> {
    (0..count).map(mix)
}

/// The quality figures the issue sets, on a sample small enough for every test run:
/// 100 nodes, 1M keys (10,000 per node, so a spread of 1% per node and, over 100 nodes,
/// a peak near 1 + 2.5%; the 10M-key figures are in `dsys partition`'s table).
#[test]
fn balance_and_movement_on_a_hundred_nodes() {
    use crate::quality::{balance, moved};
    const KEYS: u64 = 1_000_000;
    let nodes = Nodes::uniform(100, 5).unwrap();
    let grown = nodes.with(Node::new("node-100", "zone-0")).unwrap();
    let minimal = 1.0 / 101.0;

    let jump = (
        Jump::new(nodes.clone()).unwrap(),
        Jump::new(grown.clone()).unwrap(),
    );
    let hrw = (
        Rendezvous::new(nodes.clone()).unwrap(),
        Rendezvous::new(grown.clone()).unwrap(),
    );
    let maglev = (
        Maglev::new(nodes.clone()).unwrap(),
        Maglev::new(grown.clone()).unwrap(),
    );
    let mut anchor = Anchor::new(nodes.clone(), 128).unwrap();
    let anchor_before = anchor.clone();
    anchor.add(Node::new("node-100", "zone-0")).unwrap();
    let ring = Ring::new(nodes.clone(), DEFAULT_VNODES).unwrap();

    for p in [&jump.0 as &dyn Placement, &hrw.0, &maglev.0, &anchor_before] {
        let b = balance(p, sample(KEYS));
        assert!(b <= 1.045, "{}: peak / average {b}", p.name());
    }
    let ring_balance = balance(&ring, sample(KEYS));
    assert!(
        ring_balance > 1.1,
        "100 points per node leave a node 10% over: {ring_balance}"
    );

    for (before, after, bound) in [
        (
            &jump.0 as &dyn Placement,
            &jump.1 as &dyn Placement,
            1.05 * minimal,
        ),
        (&hrw.0, &hrw.1, 1.05 * minimal),
        (&anchor_before, &anchor, 1.05 * minimal),
        (&maglev.0, &maglev.1, 2.0 * minimal),
    ] {
        let m = moved(before, after, sample(KEYS));
        assert!(m <= bound, "{}: moved {m}, bound {bound}", before.name());
        assert!(
            m >= 0.9 * minimal,
            "{}: moved {m}: the newcomer must get its share",
            before.name()
        );
    }
}

#[test]
fn anchor_spreads_the_keys_of_removed_nodes_evenly() {
    use crate::quality::balance;
    let mut anchor = Anchor::new(Nodes::uniform(64, 4).unwrap(), 64).unwrap();
    // Remove every third node: their keys must spread over all the rest, not pile up.
    for i in (0..64).step_by(3) {
        anchor.remove(&format!("node-{i}")).unwrap();
    }
    assert_eq!(Placement::nodes(&anchor).len(), 42);
    let b = balance(&anchor, sample(420_000));
    assert!(b <= 1.05, "peak / average {b}");
}

mod planning {
    use crate::planner::{Plan, ShardChange, Throttle, hash_changes, plan};
    use crate::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Replay `plan` on `changes`, checking every step; the holders at the end.
    fn replay(
        changes: &[ShardChange],
        plan: &Plan,
        throttle: Throttle,
        replicas: usize,
    ) -> Result<Vec<BTreeSet<String>>, TestCaseError> {
        let index: BTreeMap<u64, usize> = changes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.shard, i))
            .collect();
        let mut holders: Vec<BTreeSet<String>> = changes
            .iter()
            .map(|c| c.before.iter().cloned().collect())
            .collect();
        for wave in &plan.waves {
            prop_assert!(!wave.is_empty(), "an empty wave");
            let mut busy: BTreeMap<&str, usize> = BTreeMap::new();
            let mut bytes = 0;
            for t in wave {
                let held = &holders[index[&t.shard]];
                prop_assert!(
                    held.contains(&t.from),
                    "copied from a node without the shard"
                );
                prop_assert!(!held.contains(&t.to), "copied to a node that has it");
                *busy.entry(&t.from).or_default() += 1;
                *busy.entry(&t.to).or_default() += 1;
                bytes += t.bytes;
            }
            prop_assert!(busy.values().all(|&b| b <= throttle.per_node), "{busy:?}");
            if let Some(max) = throttle.wave_bytes {
                prop_assert!(bytes <= max || wave.len() == 1, "{bytes} bytes in a wave");
            }
            for t in wave {
                holders[index[&t.shard]].insert(t.to.clone());
            }
            for t in wave {
                if let Some(d) = &t.drop {
                    holders[index[&t.shard]].remove(d);
                }
            }
            for h in &holders {
                prop_assert!(h.len() >= replicas, "a shard fell to {} replicas", h.len());
            }
        }
        for (shard, node) in &plan.drops {
            holders[index[shard]].remove(node);
        }
        Ok(holders)
    }

    fn placement(kind: usize, nodes: Nodes) -> Box<dyn Placement> {
        match kind {
            0 => Box::new(Ring::new(nodes, 16).unwrap()),
            1 => Box::new(Rendezvous::new(nodes).unwrap()),
            _ => Box::new(Maglev::with_table(nodes, 1_009).unwrap()),
        }
    }

    proptest! {
        #[test]
        fn plans_move_the_minimum_keep_replicas_and_end_at_the_new_placement(
            count in 3usize..16,
            zones in 1usize..4,
            replicas in 1usize..4,
            kind in 0usize..3,
            added in 0usize..3,
            removed in 0usize..3,
            sizes in proptest::collection::vec(1u64..1_000_000, 1..120),
            per_node in 1usize..4,
            wave_bytes in proptest::option::of(1u64..3_000_000),
        ) {
            let before_nodes = Nodes::uniform(count, zones).unwrap();
            let mut after_nodes = before_nodes.clone();
            for i in 0..removed.min(count - replicas) {
                after_nodes = after_nodes.without(&format!("node-{}", i * 2 % count)).unwrap_or(after_nodes);
            }
            for i in 0..added {
                after_nodes = after_nodes.with(Node::new(format!("new-{i}"), format!("zone-{i}"))).unwrap();
            }
            prop_assume!(replicas <= after_nodes.len() && replicas <= count);
            let before = placement(kind, before_nodes);
            let after = placement(kind, after_nodes);
            let shards: Vec<(u64, u64)> =
                sizes.iter().enumerate().map(|(i, &b)| (mix(i as u64), b)).collect();
            let changes = hash_changes(before.as_ref(), after.as_ref(), &shards, replicas).unwrap();
            let throttle = Throttle { per_node, wave_bytes };
            let p = plan(&changes, throttle).unwrap();
            // The least any plan must copy, counted here on its own: each replica a shard
            // gains, once.
            let minimum: u64 = changes
                .iter()
                .map(|c| c.bytes * c.after.iter().filter(|n| !c.before.contains(n)).count() as u64)
                .sum();
            prop_assert_eq!(p.minimum_bytes, minimum);
            prop_assert!(p.bytes_moved as f64 <= 1.05 * minimum as f64, "{} > 1.05 x {minimum}", p.bytes_moved);
            let end = replay(&changes, &p, throttle, replicas)?;
            for (c, h) in changes.iter().zip(&end) {
                let want: BTreeSet<String> = c.after.iter().cloned().collect();
                prop_assert_eq!(h, &want, "shard {} ends elsewhere", c.shard);
            }
        }
    }

    #[test]
    fn bad_plans_are_errors() {
        let change = |shard, before: &[&str], after: &[&str]| ShardChange {
            shard,
            bytes: 10,
            before: before.iter().map(|s| s.to_string()).collect(),
            after: after.iter().map(|s| s.to_string()).collect(),
        };
        let throttle = Throttle {
            per_node: 1,
            wave_bytes: None,
        };
        assert_eq!(
            plan(&[change(1, &[], &["a"])], throttle),
            Err(PartitionError::NoReplicas { shard: 1 })
        );
        assert_eq!(
            plan(
                &[change(1, &["a"], &["b"]), change(1, &["a"], &["c"])],
                throttle
            ),
            Err(PartitionError::DuplicateShard(1))
        );
        assert!(matches!(
            plan(
                &[change(1, &["a"], &["b"])],
                Throttle {
                    per_node: 0,
                    wave_bytes: None
                }
            ),
            Err(PartitionError::OutOfRange { .. })
        ));
        // One node sends to three: with one transfer per node, three waves.
        let p = plan(
            &[
                change(1, &["a"], &["b"]),
                change(2, &["a"], &["c"]),
                change(3, &["a"], &["d"]),
            ],
            throttle,
        )
        .unwrap();
        assert_eq!(p.waves.len(), 3);
        assert_eq!((p.bytes_moved, p.minimum_bytes, p.transfers()), (30, 30, 3));
    }
}

//! Tests of the evaluation.

use super::*;

fn setup(keys: u64, distribution: Keys) -> Setup {
    Setup {
        nodes: 20,
        zones: 3,
        keys,
        distribution,
        seed: 1,
        vnodes: 100,
    }
}

#[test]
fn the_figures_say_what_each_algorithm_is_known_for() {
    let s = setup(200_000, Keys::Uniform);
    let rows = evaluate(&s, &Algorithm::ALL).unwrap();
    let row = |a: Algorithm| rows.iter().find(|r| r.algorithm == a).unwrap();
    for a in [Algorithm::Jump, Algorithm::Rendezvous, Algorithm::Anchor] {
        let r = row(a);
        assert!(r.moved_on_add <= 1.1 * r.minimum_on_add, "{a:?}: {r:?}");
        assert!(r.peak_over_average < 1.05, "{a:?}: {r:?}");
    }
    for a in [Algorithm::Ring, Algorithm::Rendezvous, Algorithm::Anchor] {
        let r = row(a);
        assert!(
            (r.moved_on_remove - r.minimum_on_remove).abs() < 1e-9,
            "{a:?}: only the removed node's keys move: {r:?}"
        );
    }
    // Jump renumbers the nodes after the middle one: about half the keys move.
    assert!(row(Algorithm::Jump).moved_on_remove > 0.3);
    assert!(row(Algorithm::Bounded).peak_over_average <= 1.25 + 1e-9);
    let text = table(&s, &rows);
    assert!(text.contains("rendezvous") && text.contains("x minimum"));
    let picture = svg(&s, &rows);
    assert!(picture.starts_with("<svg") && picture.contains("maglev"));
}

#[test]
fn a_join_plan_copies_the_minimum_and_the_newcomer_takes_its_share() {
    let s = setup(1_000, Keys::Uniform);
    let plan = PlanSetup {
        shards: 2_000,
        shard_bytes: 1_000,
        replicas: 3,
        per_node: 2,
    };
    let rows = plan_join(&s, &plan, &Algorithm::ALL).unwrap();
    assert_eq!(rows.len(), 5, "bounded loads has no plan");
    for r in &rows {
        assert_eq!(r.bytes_moved, r.minimum_bytes, "{r:?}");
        // 6,000 replicas over 21 nodes: the newcomer's share is about 286 shards.
        assert!(r.shards_moved >= 150, "{r:?}");
    }
    // Ring and rendezvous choose replicas down one preference order, so the only
    // shards that change are those the newcomer joins, and it takes two copies at a
    // time.
    for r in rows
        .iter()
        .filter(|r| matches!(r.algorithm, Algorithm::Ring | Algorithm::Rendezvous))
    {
        assert!(r.shards_moved <= 450, "{r:?}");
        assert_eq!(r.minimum_bytes, r.shards_moved as u64 * 1_000, "{r:?}");
        assert!(r.waves * 2 >= r.shards_moved, "{r:?}");
    }
    assert!(plan_table(&s, &plan, &rows).contains("minimum bytes"));
}

#[test]
fn key_streams_are_deterministic_and_zipf_is_skewed() {
    let s = setup(50_000, Keys::Zipf { exponent: 1.0 });
    assert_eq!(keys(&s), keys(&s));
    let rows = evaluate(&s, &[Algorithm::Maglev]).unwrap();
    // The hottest key alone carries several nodes' fair share.
    assert!(rows[0].peak_over_average > 1.5, "{rows:?}");
    assert_eq!(keys(&setup(10, Keys::Sequential)).len(), 10);
}

#[test]
fn bad_setups_are_errors() {
    assert!(Keys::parse("zipf:-1").is_err());
    assert!(Keys::parse("gaussian").is_err());
    assert_eq!(Keys::parse("zipf:0.99"), Ok(Keys::Zipf { exponent: 0.99 }));
    let mut s = setup(10, Keys::Uniform);
    s.nodes = 1;
    assert!(evaluate(&s, &Algorithm::ALL).is_err());
    s.nodes = 100_000;
    s.keys = 100_000;
    assert!(matches!(
        evaluate(&s, &[Algorithm::Rendezvous]),
        Err(PartitionError::OutOfRange { .. })
    ));
    assert_eq!(Algorithm::parse("maglev"), Some(Algorithm::Maglev));
    assert_eq!(Algorithm::parse("consistent"), None);
}

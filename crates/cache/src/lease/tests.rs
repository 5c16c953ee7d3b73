//! The lease rule against every interleaving proptest finds: readers (miss, read the
//! source, fill) and writers (write the source, delete) stepping in any order, on one key
//! or on two keys sharing a stripe.

use super::*;
use proptest::prelude::*;

/// One key's world: the source's version, the cache's copy, and the newest version whose
/// delete has completed.
#[derive(Debug, Default)]
struct World {
    source: [u64; 2],
    cache: [Option<u64>; 2],
    deleted: [u64; 2],
}

/// An actor's next step, by its program counter.
#[derive(Clone, Copy, Debug)]
enum Actor {
    /// Miss (take a lease), read the source, fill.
    Reader { key: usize },
    /// Write the source, delete.
    Writer { key: usize },
}

/// Run `schedule` (indices into `actors`, each step advancing that actor's program);
/// `leased` says whether fills go through the lease. Returns the first time the cache
/// held a version older than one whose delete had completed.
fn run(actors: &[Actor], schedule: &[usize], leased: bool, leases: &Leases) -> Option<String> {
    let mut world = World::default();
    let mut step = vec![0usize; actors.len()];
    let mut held: Vec<Option<(Lease, u64)>> = vec![None; actors.len()];
    let mut wrote = vec![0u64; actors.len()];
    for &a in schedule {
        let a = a % actors.len();
        match actors[a] {
            Actor::Reader { key } => match step[a] % 3 {
                0 => held[a] = Some((leases.lease(&key), 0)),
                1 => {
                    if let Some((lease, _)) = held[a] {
                        held[a] = Some((lease, world.source[key]));
                    }
                }
                _ => {
                    if let Some((lease, version)) = held[a].take() {
                        let cache = &mut world.cache[key];
                        if leased {
                            let _ = leases.fill(&key, lease, || {
                                *cache = Some(version);
                                true
                            });
                        } else {
                            *cache = Some(version);
                        }
                    }
                }
            },
            Actor::Writer { key } => {
                if step[a] % 2 == 0 {
                    world.source[key] += 1;
                    wrote[a] = world.source[key];
                } else {
                    let cache = &mut world.cache[key];
                    leases.invalidate(&key, || *cache = None);
                    world.deleted[key] = world.deleted[key].max(wrote[a]);
                }
            }
        }
        step[a] += 1;
        for key in 0..2 {
            if let Some(v) = world.cache[key]
                && v < world.deleted[key]
            {
                return Some(format!(
                    "key {key}: the cache holds version {v} after the delete of version {}",
                    world.deleted[key]
                ));
            }
        }
    }
    None
}

fn actors() -> impl Strategy<Value = Vec<Actor>> {
    prop::collection::vec(
        (any::<bool>(), 0usize..2).prop_map(|(reader, key)| {
            if reader {
                Actor::Reader { key }
            } else {
                Actor::Writer { key }
            }
        }),
        2..6,
    )
}

#[test]
fn the_textbook_race_leaves_a_stale_value_without_a_lease_and_none_with_one() {
    let actors = [Actor::Reader { key: 0 }, Actor::Writer { key: 0 }];
    // Reader misses and reads v0; writer writes v1 and deletes; reader fills.
    let schedule = [0, 0, 1, 1, 0];
    let naive = run(&actors, &schedule, false, &Leases::new());
    assert!(naive.is_some(), "the race shows without leases");
    assert_eq!(run(&actors, &schedule, true, &Leases::new()), None);
}

#[test]
fn a_fill_under_a_lease_with_no_delete_since_is_admitted() {
    let leases = Leases::new();
    let lease = leases.lease("k");
    leases.invalidate("other", || {});
    let mut filled = false;
    // "other" may share a stripe with "k" only by hash; with 1024 stripes these two don't.
    assert_eq!(
        leases.stripe("k") == leases.stripe("other"),
        !leases.fill("k", lease, || {
            filled = true;
            true
        })
    );
    let single = Leases::with_stripes(1);
    let lease = single.lease("k");
    single.invalidate("other", || {});
    assert!(
        !single.fill("k", lease, || true),
        "one stripe: any delete refuses the fill"
    );
    assert!(
        single.fill("k", single.lease("k"), || true),
        "a fresh lease is admitted"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn no_fill_older_than_the_last_delete_gets_in(
        actors in actors(),
        schedule in prop::collection::vec(0usize..8, 0..60),
        stripes in 1usize..3,
    ) {
        let leases = Leases::with_stripes(stripes);
        prop_assert_eq!(run(&actors, &schedule, true, &leases), None);
    }
}

//! The simulation tells the strategies apart the way the textbook says, on the default
//! setup's seed.

use super::*;

fn row(rows: &[Row], s: Strategy) -> &Row {
    rows.iter()
        .find(|r| r.strategy == s)
        .expect("a row per strategy")
}

#[test]
fn the_default_run_shows_each_strategy_s_trade_off() {
    let rows = run_all(&Setup::default(), &Strategy::ALL);
    println!("{}", table(&rows));
    let no_cache = row(&rows, Strategy::NoCache);
    assert_eq!((no_cache.stale_reads, no_cache.hit_ratio), (0, 0.0));
    // The race: cache-aside fills a value older than the last delete; the lease refuses.
    let aside = row(&rows, Strategy::CacheAside);
    let leased = row(&rows, Strategy::CacheAsideLease);
    assert!(
        aside.stale_reads > leased.stale_reads,
        "{aside:?}\n{leased:?}"
    );
    assert!(
        aside.largest_stampede > 1,
        "cache-aside without single-flight stampedes"
    );
    assert_eq!(
        leased.largest_stampede, 1,
        "single-flight: one load per key at a time"
    );
    // A TTL-only cache serves stale values for up to its TTL.
    assert!(row(&rows, Strategy::Ttl).max_stale_ms > 1_000);
    // Write-behind in memory loses what was not flushed at the restart; journaled, nothing.
    assert!(row(&rows, Strategy::WriteBehind).writes_lost > 0);
    assert_eq!(row(&rows, Strategy::WriteBehindJournal).writes_lost, 0);
    for r in &rows {
        if !matches!(r.strategy, Strategy::WriteBehind) {
            assert_eq!(r.writes_lost, 0, "{r:?}");
        }
        assert!(r.reads > 50_000, "{r:?}");
    }
}

#[test]
fn with_stalls_alone_the_lease_removes_every_stale_read_cache_aside_has() {
    let setup = Setup {
        incidents: Incidents::parse("stalls").expect("known"),
        ..Setup::default()
    };
    let rows = run_all(&setup, &Strategy::ALL);
    println!("{}", report(&setup, &rows));
    let aside = row(&rows, Strategy::CacheAside);
    assert!(aside.stale_reads > 0, "the race shows: {aside:?}");
    let race = aside.first_stale_read.as_deref().unwrap_or_default();
    assert!(race.starts_with("stale read:"), "{race}");
    // Everything that guards its fills, or does not fill from a load at all.
    for s in Strategy::ALL
        .into_iter()
        .filter(|s| !matches!(s, Strategy::Ttl | Strategy::CacheAside))
    {
        let r = row(&rows, s);
        assert_eq!((r.stale_reads, r.writes_lost), (0, 0), "{r:?}");
    }
}

#[test]
fn incidents_parse_and_refuse_unknown_names() {
    assert_eq!(Incidents::parse("all"), Ok(Incidents::ALL));
    assert_eq!(Incidents::parse("none"), Ok(Incidents::NONE));
    let two = Incidents::parse("stalls, lost-deletes").expect("known");
    assert!(two.stalls && two.lost_deletes && !two.restart);
    assert!(Incidents::parse("fire").is_err());
}

#[test]
fn a_seed_gives_the_same_rows() {
    let setup = Setup {
        seconds: 40,
        reads: 200,
        ..Setup::default()
    };
    let a = run_all(&setup, &Strategy::ALL);
    let b = run_all(&setup, &Strategy::ALL);
    assert_eq!(table(&a), table(&b));
}

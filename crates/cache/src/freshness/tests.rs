//! The freshness rules: settings that cannot be honoured are refused; nothing is served
//! past expire-after-write, however long a refresh hangs; refresh keeps firing when loads
//! are slower than the refresh interval; and XFetch on the paper's example (10 requests a
//! second, a 3 s recompute) refreshes about once per expiry with no misses after warm-up,
//! where a plain TTL has every reader during the recompute miss.

use super::*;
use dsys_node::DetRng;
use proptest::prelude::*;

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn settings_that_cannot_be_honoured_are_refused() {
    assert_eq!(
        Freshness::new(Duration::ZERO),
        Err(FreshnessError::ZeroExpiry)
    );
    let f = Freshness::new(secs(60.0)).expect("a minute");
    assert!(f.refresh_after(Duration::ZERO).is_err());
    assert!(
        f.refresh_after(secs(60.0)).is_err(),
        "not before the expiry"
    );
    assert!(f.refresh_after(secs(61.0)).is_err());
    for beta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(f.early_expiration(beta).is_err(), "{beta}");
    }
    for jitter in [1.0, -0.1, f64::NAN] {
        assert!(f.jitter(jitter).is_err(), "{jitter}");
    }
    assert!(
        f.refresh_after(secs(50.0))
            .and_then(|f| f.early_expiration(1.0))
            .and_then(|f| f.jitter(0.1))
            .is_ok()
    );
}

fn settings() -> impl Strategy<Value = Freshness> {
    (
        1u64..10_000,
        prop::option::of(1u64..10_000),
        prop::option::of(0.1f64..4.0),
        0.0f64..0.9,
    )
        .prop_map(|(expiry, refresh, beta, jitter)| {
            let mut f = Freshness::new(Duration::from_millis(expiry)).expect("positive");
            if let Some(r) = refresh.filter(|r| *r < expiry) {
                f = f
                    .refresh_after(Duration::from_millis(r))
                    .expect("before the expiry");
            }
            if let Some(b) = beta {
                f = f.early_expiration(b).expect("positive");
            }
            f.jitter(jitter).expect("a fraction")
        })
}

proptest! {
    #[test]
    fn nothing_is_served_past_expire_after_write_even_while_a_refresh_hangs(
        f in settings(),
        written in 0u64..1_000_000,
        recompute in 0u64..100_000,
        since in prop::option::of(0u64..2_000_000),
        after in 0u64..5_000_000,
        draws in (0.0f64..=1.0, 0.0f64..=1.0),
    ) {
        let mut stamp = f.stamp(Duration::from_millis(written), Duration::from_millis(recompute), draws.0);
        // A refresh that started any time and never returned.
        stamp.refreshing_since = since.map(Duration::from_millis);
        prop_assert!(stamp.expires <= stamp.written + f.expire_after_write());
        let now = stamp.written + f.expire_after_write() + Duration::from_millis(after);
        prop_assert_eq!(f.judge(&stamp, now, draws.1), Verdict::Expired);
    }

    #[test]
    fn refresh_keeps_firing_when_a_load_outlasts_the_refresh_interval(
        expiry in 1_000u64..100_000,
        refresh_share in 0.05f64..0.9,
        started_share in 0.0f64..1.0,
        waited_share in 0.0f64..1.0,
    ) {
        let refresh = Duration::from_millis(((expiry as f64) * refresh_share) as u64 + 1);
        let f = Freshness::new(Duration::from_millis(expiry))
            .and_then(|f| f.refresh_after(refresh))
            .expect("valid");
        let mut stamp = f.stamp(Duration::ZERO, refresh * 4, 0.0);
        // A reload started once the entry was due, and never returned.
        let window = stamp.expires.saturating_sub(refresh);
        let since = refresh + window.mul_f64(started_share);
        stamp.refreshing_since = Some(since);
        let now = since + refresh + stamp.expires.saturating_sub(since + refresh).mul_f64(waited_share);
        prop_assume!(now < stamp.expires);
        prop_assert_eq!(f.judge(&stamp, now, 1.0), Verdict::Refresh);
    }
}

/// Readers at `rate` a second on one key for `hours` of virtual time, each load taking
/// `recompute`; returns (loads, and after the first load finished: misses, the most loads
/// started during one entry's life).
fn readers(
    f: &Freshness,
    recompute: Duration,
    rate: u32,
    hours: u32,
    seed: u64,
) -> (u32, u32, u32) {
    let mut rng = DetRng::from_seed(seed);
    let step = Duration::from_secs(1) / rate;
    let end = Duration::from_secs(3600 * u64::from(hours));
    // The entry, and the load in flight: (started, done).
    let mut entry: Option<Stamp> = None;
    let mut loading: Option<(Duration, Duration)> = None;
    let (mut loads, mut misses, mut most, mut this_entry) = (0u32, 0u32, 0u32, 0u32);
    let mut now = Duration::ZERO;
    while now < end {
        if let Some((_, done)) = loading.filter(|(_, done)| *done <= now) {
            entry = Some(f.stamp(done, recompute, rng.unit_f64()));
            loading = None;
            this_entry = 0;
        }
        let verdict = entry.map_or(Verdict::Expired, |e| f.judge(&e, now, 1.0 - rng.unit_f64()));
        match verdict {
            Verdict::Fresh => {}
            Verdict::Refresh | Verdict::Expired => {
                if verdict == Verdict::Expired && entry.is_some() {
                    misses += 1;
                }
                // Without single-flight every reader that finds it expired loads; a
                // refresh is started once (it is marked on the entry).
                let refresh_running = verdict == Verdict::Refresh && loading.is_some();
                if !refresh_running {
                    loads += 1;
                    if entry.is_some() {
                        this_entry += 1;
                        most = most.max(this_entry);
                    }
                    if loading.is_none() {
                        loading = Some((now, now + recompute));
                    }
                    if let Some(e) = entry.as_mut() {
                        e.refreshing_since = Some(now);
                    }
                }
            }
        }
        now += step;
    }
    (loads, misses, most)
}

#[test]
fn xfetch_and_refresh_ahead_reload_once_per_expiry_where_a_plain_ttl_stampedes() {
    // The XFetch paper's example: 10 requests a second, a recompute of 3 s; an hour.
    let recompute = secs(3.0);
    let plain = Freshness::new(secs(60.0)).expect("a minute");
    let early = plain.early_expiration(1.0).expect("beta 1");
    let ahead = plain.refresh_after(secs(48.0)).expect("before the expiry");
    let (plain_loads, plain_misses, plain_most) = readers(&plain, recompute, 10, 1, 7);
    let (early_loads, early_misses, early_most) = readers(&early, recompute, 10, 1, 7);
    let (ahead_loads, ahead_misses, ahead_most) = readers(&ahead, recompute, 10, 1, 7);
    println!(
        "one hour at 10 reads/s, 3 s recompute, 60 s TTL (loads, misses after warm-up, \
         most loads at one expiry): plain TTL {plain_loads}, {plain_misses}, {plain_most}; \
         XFetch {early_loads}, {early_misses}, {early_most}; \
         refresh-ahead at 48 s {ahead_loads}, {ahead_misses}, {ahead_most}"
    );
    // A plain TTL: every reader during each 3 s recompute misses and loads (about 30).
    assert!(
        plain_most >= 25,
        "plain TTL: {plain_most} loads at one expiry"
    );
    assert!(
        plain_misses >= 25 * 50,
        "plain TTL: {plain_misses} misses in an hour"
    );
    // XFetch and refresh-ahead: one load per entry, no miss after the first load.
    for (name, misses, most) in [
        ("XFetch", early_misses, early_most),
        ("refresh-ahead", ahead_misses, ahead_most),
    ] {
        assert_eq!(misses, 0, "{name} missed after warm-up");
        assert_eq!(most, 1, "{name}: {most} loads at one expiry");
    }
    assert!(
        early_loads < plain_loads / 10,
        "XFetch {early_loads}, plain {plain_loads}"
    );
}

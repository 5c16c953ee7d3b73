//! Cache-aside in front of a product catalogue, and the race it is known for.
//!
//! ```text
//! cargo run -p dsys-cache --example cache_aside
//! ```
//!
//! On a manual clock (virtual time: the same story every run): a miss loads and fills, a
//! hit does not; a hundred readers missing one key at once load it once; a reader that
//! read the old price and stalled finds its fill refused, because a writer changed the
//! price and deleted the key meanwhile (the lease); an entry past its expire-after-write
//! is never served; one tag invalidates every product of a brand.

use dsys_cache::aside::{CacheAside, Settings, Source};
use dsys_cache::freshness::{Freshness, FreshnessError};
use dsys_resilience::ManualClock;
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Barrier, Mutex};
use std::time::Duration;

#[path = "../support/story.rs"]
mod story;

/// The database: prices by product id, each product of a brand.
#[derive(Default)]
struct Catalogue {
    prices: Mutex<BTreeMap<String, u64>>,
    loads: AtomicU64,
    /// Hold the next load between reading and returning (to stage the race).
    hold: Mutex<Option<(Sender<()>, Receiver<()>)>>,
}

impl Catalogue {
    fn set(&self, id: &str, price: u64) {
        if let Ok(mut p) = self.prices.lock() {
            p.insert(id.to_string(), price);
        }
    }
}

impl Source<String, u64> for Catalogue {
    type Error = Infallible;
    fn load(&self, id: &String) -> Result<Option<u64>, Infallible> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        let price = self.prices.lock().ok().and_then(|p| p.get(id).copied());
        // Slow enough that concurrent misses overlap.
        std::thread::sleep(Duration::from_millis(20));
        if let Some((read, go)) = self.hold.lock().ok().and_then(|mut h| h.take()) {
            let _ = read.send(());
            let _ = go.recv();
        }
        Ok(price)
    }
    /// Products `acme-*` are tagged `brand:acme`.
    fn tags(&self, id: &String, _: &u64) -> Vec<String> {
        match id.split_once('-') {
            Some((brand, _)) => vec![format!("brand:{brand}")],
            None => Vec::new(),
        }
    }
}

type Cache = CacheAside<String, u64, Catalogue, ManualClock>;

fn price(cache: &Cache, id: &str) -> Option<u64> {
    cache.get(&id.to_string()).ok().flatten()
}

/// What happened, as the example prints it.
fn narrative() -> Result<String, FreshnessError> {
    let clock = ManualClock::new();
    let catalogue = Catalogue::default();
    for (id, p) in [("acme-1", 100), ("acme-2", 250), ("globex-1", 80)] {
        catalogue.set(id, p);
    }
    let settings = Settings::new(1_000, Freshness::new(Duration::from_secs(60))?);
    let cache = Arc::new(CacheAside::with_clock(catalogue, settings, clock.clone()));
    let loads = |c: &Cache| c.source().loads.load(Ordering::SeqCst);
    let mut out = String::new();

    let first = price(&cache, "acme-1");
    let again = price(&cache, "acme-1");
    let _ = writeln!(
        out,
        "read acme-1: {first:?} (a miss: loaded), again: {again:?} (a hit)\n  loads so far: {}",
        loads(&cache)
    );

    let before = loads(&cache);
    let start = Arc::new(Barrier::new(100));
    let readers: Vec<_> = (0..100)
        .map(|_| {
            let (cache, start) = (Arc::clone(&cache), Arc::clone(&start));
            std::thread::spawn(move || {
                start.wait();
                price(&cache, "acme-2")
            })
        })
        .collect();
    let answers = readers
        .into_iter()
        .filter_map(|r| r.join().ok().flatten())
        .count();
    let _ = writeln!(
        out,
        "100 readers missed acme-2 at once: {answers} answered, {} load (single-flight)",
        loads(&cache) - before
    );

    // The race: a reader reads globex-1's old price and stalls before its fill; a writer
    // changes the price and deletes the key; the stalled fill comes last.
    let (read_tx, read_rx) = channel();
    let (go_tx, go_rx) = channel();
    if let Ok(mut hold) = cache.source().hold.lock() {
        *hold = Some((read_tx, go_rx));
    }
    let slow = {
        let cache = Arc::clone(&cache);
        std::thread::spawn(move || price(&cache, "globex-1"))
    };
    let _ = read_rx.recv();
    let wrote = cache.write(&"globex-1".to_string(), || -> Result<(), Infallible> {
        cache.source().set("globex-1", 90);
        Ok(())
    });
    let _ = go_tx.send(());
    let stalled = slow.join().ok().flatten();
    let _ = writeln!(
        out,
        "a slow reader read globex-1 at {stalled:?}, then stalled; meanwhile the price\n  \
         became 90 and the key was deleted ({}); the stalled fill came last\n  \
         and was refused: {} refused fill(s); the next read: {:?}",
        if wrote.is_ok() {
            "written"
        } else {
            "write failed"
        },
        cache.stats().refused_fills,
        price(&cache, "globex-1")
    );

    cache.source().set("acme-1", 120);
    clock.advance(Duration::from_secs(59));
    let within = price(&cache, "acme-1");
    clock.advance(Duration::from_secs(1));
    let after = price(&cache, "acme-1");
    let _ = writeln!(
        out,
        "acme-1's price changed to 120 without a delete: at 59 s the cache still says\n  \
         {within:?}, at 60 s (expire-after-write) it loads {after:?}"
    );

    cache.source().set("acme-2", 300);
    let tagged = cache.invalidate_tag("brand:acme");
    let _ = writeln!(
        out,
        "invalidate brand:acme: {tagged} product(s) dropped; acme-2 now reads {:?}\n  \
         (globex-1 is still cached)",
        price(&cache, "acme-2")
    );
    let s = cache.stats();
    let _ = writeln!(
        out,
        "reads: {} hits, {} misses; database loads: {}",
        s.hits, s.misses, s.loads
    );
    Ok(out)
}

fn main() {
    story::tell(narrative());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_story_holds() {
        let text = narrative().expect("valid settings");
        print!("{text}");
        // The narrative's lines are wrapped; read it as one line.
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        for expected in [
            "again: Some(100) (a hit) loads so far: 1",
            "100 answered, 1 load (single-flight)",
            "read globex-1 at Some(80)",
            "1 refused fill(s); the next read: Some(90)",
            "still says Some(100), at 60 s (expire-after-write) it loads Some(120)",
            "2 product(s) dropped; acme-2 now reads Some(300)",
        ] {
            assert!(flat.contains(expected), "{expected:?} missing:\n{text}");
        }
    }
}

//! Invalidation from dsys-tx's outbox: a change and its invalidation commit together; the
//! relay publishes (here twice over, as a relay that died after publishing would); two
//! consumers, each with its cache and its inbox, apply every invalidation exactly once,
//! and their caches serve the new value.

#![allow(clippy::unwrap_used)] // tests may panic

use dsys_cache::aside::{CacheAside, Settings, Source};
use dsys_cache::freshness::Freshness;
use dsys_cache::outbox::{Invalidator, TOPIC, enqueue};
use dsys_tx::{Database, MemoryBus, Publisher, Relay, RetryPolicy, SqliteStore, StoreError, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A directory of the test's own, removed however the test ends.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("dsys-cache-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
    fn store(&self, name: &str) -> SqliteStore {
        SqliteStore::open(self.0.join(format!("{name}.db"))).unwrap()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The source of truth: a table in the service's database.
struct Rows(Arc<SqliteStore>);

impl Source<String, String> for Rows {
    type Error = StoreError;
    fn load(&self, key: &String) -> Result<Option<String>, StoreError> {
        self.0.transact(|sql| {
            sql.query_opt("SELECT value FROM rows WHERE key = $1", &[Value::Text(key)])?
                .map(|row| row.text(0))
                .transpose()
        })
    }
}

/// Change `key` to `value` and enqueue its invalidation, in one transaction (or, with
/// `fail`, roll both back).
fn change(
    db: &SqliteStore,
    id: u128,
    key: &str,
    value: &str,
    fail: bool,
) -> Result<(), StoreError> {
    db.transact(|sql| {
        sql.execute(
            "INSERT INTO rows (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            &[Value::Text(key), Value::Text(value)],
        )?;
        enqueue(sql, id, key, 0)?;
        if fail {
            return Err(StoreError::Storage("the change failed".into()));
        }
        Ok(())
    })
}

#[test]
fn a_committed_change_invalidates_each_consumer_exactly_once() {
    let scratch = Scratch::new("outbox-once");
    let service = Arc::new(scratch.store("service"));
    service
        .transact(|sql| sql.batch("CREATE TABLE rows (key TEXT PRIMARY KEY, value TEXT NOT NULL)"))
        .unwrap();
    change(&service, 1, "user:1", "ada", false).unwrap();
    let consumers: Vec<_> = ["a", "b"]
        .iter()
        .map(|name| {
            let settings = Settings::new(100, Freshness::new(Duration::from_secs(3_600)).unwrap());
            let cache = CacheAside::new(Rows(service.clone()), settings);
            assert_eq!(
                cache.get(&"user:1".to_string()).unwrap().as_deref(),
                Some("ada")
            );
            (
                cache,
                Invalidator::new(scratch.store(name), *name),
                AtomicU64::new(0),
            )
        })
        .collect();
    // The change commits with its invalidation; a change that fails leaves neither.
    change(&service, 2, "user:1", "grace", false).unwrap();
    assert!(change(&service, 3, "user:1", "lost", true).is_err());
    let mut bus = MemoryBus::new();
    let relay = Relay::new("relay", Duration::from_secs(30), RetryPolicy::immediate(3));
    while Relay::lag(&*service, 0).unwrap().pending > 0 {
        relay.relay(&*service, &mut bus, 0).unwrap();
    }
    // Published again, as by a relay that died before recording it had.
    for message in bus.read(TOPIC, 0, 100) {
        bus.publish(&message).unwrap();
    }
    let messages = bus.read(TOPIC, 0, 100);
    assert_eq!(messages.len(), 4, "two invalidations, each published twice");
    for (cache, invalidator, applied) in &consumers {
        for message in &messages {
            let first = invalidator
                .apply(message, 0, |key| cache.invalidate(&key.to_string()))
                .unwrap();
            if first {
                applied.fetch_add(1, Ordering::Relaxed);
            }
        }
        assert_eq!(
            applied.load(Ordering::Relaxed),
            2,
            "once per committed change"
        );
        assert_eq!(
            cache.get(&"user:1".to_string()).unwrap().as_deref(),
            Some("grace")
        );
    }
}

#[test]
fn a_consumer_that_fails_before_its_inbox_commits_applies_the_message_again() {
    let scratch = Scratch::new("outbox-again");
    let inbox = scratch.store("inbox");
    let invalidator = Invalidator::new(inbox, "a");
    let message = dsys_cache::outbox::message(7, "user:1");
    let mut deletes = 0;
    // The delete runs, then the transaction fails (the inbox entry does not commit).
    let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        invalidator.apply(&message, 0, |_| {
            deletes += 1;
            panic!("the consumer died");
        })
    }));
    assert!(failed.is_err());
    assert!(
        invalidator.apply(&message, 0, |_| deletes += 1).unwrap(),
        "applied again"
    );
    assert!(
        !invalidator.apply(&message, 0, |_| deletes += 1).unwrap(),
        "and then never"
    );
    assert_eq!(deletes, 2);
    let other = dsys_tx::Message::new(8, "orders", "o:1", Vec::new());
    assert!(!invalidator.apply(&other, 0, |_| deletes += 1).unwrap());
}

//! What the Redis tests share: a source of truth they can change and count, and ways to
//! wait for what happens on other threads (bounded: a test that waits too long fails).

#![allow(dead_code)] // each test binary uses a part

use dsys_cache::aside::Source;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A source of truth in memory: key → (value, version), loads counted.
#[derive(Clone, Default)]
pub struct Truth {
    rows: Arc<Mutex<BTreeMap<String, (String, u64)>>>,
    loads: Arc<AtomicU64>,
    /// How long a load takes.
    pub delay: Duration,
}

/// A load that never fails.
#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

impl Truth {
    /// A source whose loads take `delay`.
    pub fn slow(delay: Duration) -> Truth {
        Truth {
            delay,
            ..Truth::default()
        }
    }

    /// Write `key`: the next version, valued `key@version`; the version.
    pub fn write(&self, key: &str) -> u64 {
        let mut rows = self.rows.lock().unwrap();
        let version = rows.get(key).map_or(1, |(_, v)| v + 1);
        rows.insert(key.to_string(), (format!("{key}@{version}"), version));
        version
    }

    /// The version a value names.
    pub fn version_of(value: &str) -> u64 {
        value
            .rsplit('@')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Loads so far.
    pub fn loads(&self) -> u64 {
        self.loads.load(Ordering::SeqCst)
    }
}

impl Source<String, String> for Truth {
    type Error = Never;
    fn load(&self, key: &String) -> Result<Option<String>, Never> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if !self.delay.is_zero() {
            std::thread::sleep(self.delay);
        }
        Ok(self.rows.lock().unwrap().get(key).map(|(v, _)| v.clone()))
    }
    fn tags(&self, key: &String, _: &String) -> Vec<String> {
        key.split_once('/')
            .map(|(group, _)| vec![group.to_string()])
            .unwrap_or_default()
    }
}

/// Wait until `done` holds, for at most 10 s.
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..2_000 {
        if done() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("waited 10 s for {what}");
}

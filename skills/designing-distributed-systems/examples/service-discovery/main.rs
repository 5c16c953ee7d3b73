//! Client-side discovery for an `orders` service with three instances, and what happens
//! when one of them crashes.
//!
//! ```text
//! cargo run -p dsys-discovery --example service_discovery
//! ```
//!
//! On a manual clock (virtual time: the same story every run): instances register under
//! 10 s leases and keep them alive; a caller watches the registry and balances by the
//! power of two choices over peak-EWMA latency, with outlier ejection. One instance
//! answers slowly: it gets little traffic. Another crashes: its refusals get it ejected
//! after five, and when its lease lapses the watcher drops it. A compaction while the
//! caller was away makes it list again, and it misses nothing.

use dsys_discovery::balance::{Balancer, Policy, Settings};
use dsys_discovery::outlier::{OutlierSettings, Outliers};
use dsys_discovery::registry::{Instance, MemoryRegistry, Registry, RegistryError, Watcher};
use dsys_resilience::ManualClock;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

#[path = "../support/story.rs"]
mod story;

const MS: u64 = 1_000_000;

/// Why the story could not be told.
#[derive(Debug)]
enum StoryError {
    Registry(RegistryError),
    Settings(String),
}

impl std::fmt::Display for StoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoryError::Registry(e) => write!(f, "{e}"),
            StoryError::Settings(e) => write!(f, "{e}"),
        }
    }
}

impl From<RegistryError> for StoryError {
    fn from(e: RegistryError) -> Self {
        StoryError::Registry(e)
    }
}

/// The caller: its view of the registry, its balancer and its outlier detector.
struct Caller {
    watcher: Watcher,
    balancer: Balancer<String>,
    outliers: Outliers<String>,
    random: u64,
}

impl Caller {
    /// Catch up with the registry: new instances in, gone ones out.
    fn refresh(&mut self, registry: &impl Registry, now: u64) -> Result<(), RegistryError> {
        self.watcher.poll(registry)?;
        let listed: Vec<String> = self.watcher.instances().map(|i| i.id.clone()).collect();
        for id in &listed {
            self.balancer.insert(id.clone(), now);
            self.outliers.insert(id.clone());
        }
        for id in ["a", "b", "c"].map(String::from) {
            if !listed.contains(&id) {
                self.balancer.remove(&id);
                self.outliers.remove(&id);
            }
        }
        Ok(())
    }

    /// Send `n` requests, one per millisecond from `from`; instance `latency` says how
    /// each answers (`None`: refused). Requests per instance.
    fn send(
        &mut self,
        n: u64,
        from: u64,
        latency: impl Fn(&str) -> Option<u64>,
    ) -> BTreeMap<String, u64> {
        let mut sent = BTreeMap::new();
        for i in 0..n {
            let now = from + i * MS;
            let random = &mut self.random;
            let outliers = &self.outliers;
            let draw = || {
                *random ^= *random << 13;
                *random ^= *random >> 7;
                *random ^= *random << 17;
                *random
            };
            let Some(id) = self
                .balancer
                .pick_where(now, draw, |id| !outliers.is_ejected(id, now))
            else {
                continue;
            };
            *sent.entry(id.clone()).or_insert(0) += 1;
            let (took, ok) = match latency(&id) {
                Some(ms) => (ms * MS, true),
                None => (MS / 10, false),
            };
            self.balancer
                .finish(&id, Duration::from_nanos(took), now + took);
            self.outliers.record(&id, ok, now + took);
        }
        sent
    }
}

fn narrative() -> Result<String, StoryError> {
    let clock = ManualClock::new();
    let registry = MemoryRegistry::new(clock.clone(), 64);
    let ttl = Duration::from_secs(10);
    let mut leases = BTreeMap::new();
    for (id, port) in [("a", 8081), ("b", 8082), ("c", 8083)] {
        let instance = Instance::new("orders", id, &format!("127.0.0.1:{port}"))?;
        leases.insert(id, registry.register(instance, ttl)?);
    }
    // A name that cannot be routed to is refused at the door.
    let refused = match Instance::new("orders", "d", "0.0.0.0:8084") {
        Ok(_) => "nothing".to_string(),
        Err(e) => e.to_string(),
    };
    let outliers = OutlierSettings {
        max_ejected_fraction: 0.34,
        ..OutlierSettings::default()
    };
    let mut caller = Caller {
        watcher: Watcher::start(&registry, "orders")?,
        balancer: Balancer::new(Settings::new(Policy::PeakEwma))
            .map_err(|e| StoryError::Settings(e.to_string()))?,
        outliers: Outliers::new(outliers).map_err(|e| StoryError::Settings(e.to_string()))?,
        random: 0x5eed,
    };
    caller.refresh(&registry, 0)?;
    let mut out = String::new();
    let _ = writeln!(out, "registered a, b, c under 10 s leases");
    let _ = writeln!(out, "refused d: {refused}");

    // b answers in 200 ms, the others in 5 ms: peak EWMA sends it little.
    let sent = caller.send(1_000, 0, |id| Some(if id == "b" { 200 } else { 5 }));
    let _ = writeln!(out, "b slow (200 ms, others 5 ms), 1000 requests: {sent:?}");

    // c crashes at 2 s: its requests are refused; a and b keep their leases alive.
    clock.advance(Duration::from_secs(2));
    let sent = caller.send(1_000, 2_000 * MS, |id| match id {
        "c" => None,
        _ => Some(5),
    });
    let ejected = caller.outliers.is_ejected(&"c".to_string(), 3_000 * MS);
    let _ = writeln!(
        out,
        "c crashed: {} request(s) reached it, then ejected ({ejected}): {sent:?}",
        sent.get("c").copied().unwrap_or(0)
    );
    for id in ["a", "b"] {
        if let Some(&lease) = leases.get(id) {
            registry.keep_alive(lease)?;
        }
    }
    clock.advance(Duration::from_secs(9));
    caller.refresh(&registry, 11_000 * MS)?;
    let listed: Vec<String> = caller.watcher.instances().map(|i| i.id.clone()).collect();
    let _ = writeln!(
        out,
        "at 11 s c's lease has lapsed: the caller sees {listed:?}"
    );

    // The caller is away while more changes than the registry keeps go by, then a
    // compaction: it lists again and misses nothing.
    for n in 0..70 {
        let instance = Instance::new("orders", &format!("e{n}"), "127.0.0.1:9000")?;
        let lease = registry.register(instance, ttl)?;
        registry.deregister(lease)?;
    }
    let instance = Instance::new("orders", "c", "127.0.0.1:8093")?;
    registry.register(instance, ttl)?;
    registry.compact();
    caller.refresh(&registry, 12_000 * MS)?;
    let listed: Vec<String> = caller
        .watcher
        .instances()
        .map(|i| format!("{}@{}", i.id, i.address))
        .collect();
    let _ = writeln!(
        out,
        "away through 141 changes and a compaction: {} relist, and it sees\n  {listed:?}",
        caller.watcher.relists()
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
        assert!(text.contains("refused d: bad address: 0.0.0.0:8084 cannot be routed to"));
        let slow = text
            .lines()
            .find(|l| l.starts_with("b slow"))
            .expect("the slow line");
        let b: u64 = slow
            .split("\"b\": ")
            .nth(1)
            .and_then(|s| s.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok())
            .expect("b's count");
        assert!(b < 100, "the slow instance got {b} of 1000: {slow}");
        assert!(text.contains("reached it, then ejected (true)"), "{text}");
        let reached: u64 = text
            .split("c crashed: ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .expect("c's count");
        assert!(
            reached <= 10,
            "{reached} requests reached the crashed instance"
        );
        assert!(text.contains("at 11 s c's lease has lapsed: the caller sees [\"a\", \"b\"]"));
        assert!(text.contains("compaction: 1 relist, and it sees"), "{text}");
        assert!(
            text.contains("[\"a@127.0.0.1:8081\", \"b@127.0.0.1:8082\", \"c@127.0.0.1:8093\"]"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    }
}

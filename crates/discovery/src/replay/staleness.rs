//! How long a SIGKILLed instance stays visible, and what traffic it takes meanwhile, under
//! two ways of keeping a registry: a lease with a time to live that the registry expires
//! itself (etcd's, as [`crate::registry`] uses it), and heartbeats with a periodic
//! eviction sweep and caches on the way to the client (Eureka's defaults).
//!
//! Eureka's defaults, from its configuration and source: instances renew every 30 s, a
//! lease lasts 90 s, the eviction sweep runs every 60 s, and the server's response cache,
//! the client's registry fetch and the load balancer's server list each refresh every
//! 30 s. Its `Lease.isExpired` also adds the lease duration twice (a known bug its
//! source leaves unfixed, to keep behaviour for existing users), so an instance that dies
//! without deregistering is evicted 180 s after its last renewal at the earliest. The
//! timers' phases are drawn from the seed.
//!
//! A client sends 100 requests a second to ten instances through the power of two
//! choices over peak EWMA, among the instances its view lists; at 60 s one instance is
//! killed, after which every request to it fails at once (connection refused). With
//! passive health on, five failures in a row eject it (outlier detection, at most half
//! the pool), whatever the registry says.

use crate::balance::{Balancer, Policy, Settings};
use crate::outlier::{OutlierSettings, Outliers};
use dsys_node::DetRng;
use serde::Serialize;
use std::time::Duration;

const S: u64 = 1_000_000_000;

/// How the registry learns an instance died.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Keeping {
    /// A lease of 10 s kept alive every 3 s; watchers hear a change within 1 s.
    Lease,
    /// Eureka's defaults: renewals, a 90 s lease counted twice, a 60 s sweep, three 30 s
    /// caches.
    Heartbeats,
}

/// One row.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Staleness {
    /// How the registry learns.
    pub keeping: Keeping,
    /// Whether passive health ejects failing instances.
    pub ejection: bool,
    /// How long the dead instance stayed in the client's view, s.
    pub visible_s: f64,
    /// Requests the client sent to it after it died.
    pub sent_to_dead: u64,
    /// All requests after the kill.
    pub requests: u64,
}

/// When the client's view stops listing an instance killed at `killed` (ns), for a
/// seed's timer phases.
fn forgotten(keeping: Keeping, killed: u64, rng: &mut DetRng) -> u64 {
    let phase = |rng: &mut DetRng, period: u64| rng.below(period);
    match keeping {
        Keeping::Lease => {
            // Last keep-alive up to 3 s before the kill; the lease lapses 10 s after it;
            // the watcher hears within a second.
            let last = killed - phase(rng, 3 * S);
            last + 10 * S + phase(rng, S)
        }
        Keeping::Heartbeats => {
            let last = killed - phase(rng, 30 * S);
            let expired = last + 180 * S;
            // The sweep runs every 60 s from its own phase.
            let sweep_phase = phase(rng, 60 * S);
            let evicted =
                expired + (60 * S - (expired + 60 * S - sweep_phase) % (60 * S)) % (60 * S);
            // Three 30 s refreshes in a row: response cache, client fetch, balancer list.
            evicted + phase(rng, 30 * S) + phase(rng, 30 * S) + phase(rng, 30 * S)
        }
    }
}

/// One run: 10 instances, 100 requests a second, instance 0 killed at 60 s; until 60 s
/// after it has left the view.
pub fn run(keeping: Keeping, ejection: bool, seed: u64) -> Staleness {
    let mut timers = DetRng::from_seed(seed);
    let mut choices = DetRng::from_seed(seed ^ 0x0c40_1ce5);
    let killed = 60 * S;
    let gone = forgotten(keeping, killed, &mut timers);
    let mut balancer: Balancer<u32> =
        Balancer::new(Settings::new(Policy::PeakEwma)).unwrap_or_else(|_| unreachable!("10 s"));
    let settings = OutlierSettings {
        max_ejected_fraction: 0.5,
        ..OutlierSettings::default()
    };
    let mut outliers: Outliers<u32> =
        Outliers::new(settings).unwrap_or_else(|_| unreachable!("default settings"));
    for id in 0..10 {
        balancer.insert(id, 0);
        outliers.insert(id);
    }
    let (mut sent_to_dead, mut requests) = (0, 0);
    let end = gone + 60 * S;
    let mut now = 0;
    while now < end {
        let listed = |id: &u32| *id != 0 || now < gone;
        let admitted = |id: &u32| listed(id) && !(ejection && outliers.is_ejected(id, now));
        if let Some(id) = balancer.pick_where(now, || choices.next_u64(), admitted) {
            let dead = id == 0 && now >= killed;
            // A live instance answers in 20 ms; a dead one refuses at once.
            let took = if dead { S / 1_000 } else { 20 * S / 1_000 };
            balancer.finish(&id, Duration::from_nanos(took), now + took);
            outliers.record(&id, !dead, now + took);
            if now >= killed {
                requests += 1;
                sent_to_dead += u64::from(dead);
            }
        }
        now += S / 100;
    }
    Staleness {
        keeping,
        ejection,
        visible_s: (gone - killed) as f64 / S as f64,
        sent_to_dead,
        requests,
    }
}

/// Every keeping, with and without ejection.
pub fn run_all(seed: u64) -> Vec<Staleness> {
    [Keeping::Lease, Keeping::Heartbeats]
        .into_iter()
        .flat_map(|k| [false, true].map(|e| run(k, e, seed)))
        .collect()
}

/// The rows as a table.
pub fn table(rows: &[Staleness], seed: u64) -> String {
    let mut out = format!(
        "registry: 10 instances, 100 requests/s through p2c-peak-ewma, one SIGKILLed at 60 s, seed {seed}\n\n"
    );
    out += &format!(
        "{:<28} {:>9} {:>12} {:>14}\n",
        "registry", "ejection", "visible s", "sent to dead"
    );
    for r in rows {
        let keeping = match r.keeping {
            Keeping::Lease => "lease 10 s, watch",
            Keeping::Heartbeats => "heartbeats (Eureka defaults)",
        };
        out += &format!(
            "{:<28} {:>9} {:>12.1} {:>14}\n",
            keeping,
            if r.ejection { "on" } else { "off" },
            r.visible_s,
            r.sent_to_dead
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_forgets_the_dead_in_seconds_heartbeats_in_minutes_and_ejection_caps_the_harm() {
        for seed in 1..=5 {
            let rows = run_all(seed);
            let row = |k, e| {
                rows.iter()
                    .find(|r| r.keeping == k && r.ejection == e)
                    .unwrap()
            };
            let lease = row(Keeping::Lease, false);
            let beats = row(Keeping::Heartbeats, false);
            assert!((7.0..=11.0).contains(&lease.visible_s), "{lease:?}");
            assert!((150.0..=300.0).contains(&beats.visible_s), "{beats:?}");
            // Without ejection it takes its share (a refusal is fast, so more than a tenth).
            assert!(
                beats.sent_to_dead > 10 * lease.sent_to_dead,
                "{beats:?} {lease:?}"
            );
            // With ejection a handful of refusals, then none until it is probed again.
            for k in [Keeping::Lease, Keeping::Heartbeats] {
                let ejected = row(k, true);
                assert!(
                    ejected.sent_to_dead * 20 < row(k, false).sent_to_dead,
                    "{ejected:?}"
                );
            }
        }
    }
}

//! Which endpoint a request goes to.
//!
//! A [`Balancer`] holds the endpoints by id and what it knows of each: requests in
//! flight and a [`PeakEwma`] latency estimate. [`Balancer::pick`] chooses one and counts
//! the request against it; [`Balancer::finish`] tells it the response came (or the
//! request gave up) and how long it took. Endpoints come and go by id, so a response for
//! an endpoint removed meanwhile is ignored, never credited to whichever endpoint took
//! its place.
//!
//! [`Balance`] is the same balancer as a tower service over a tower `Discover` stream
//! (a registry's watch), with outlier ejection and zone-aware routing.
//!
//! Policies:
//! - [`Policy::RoundRobin`]: each in turn, whatever they do.
//! - [`Policy::LeastRequests`]: two picked at random, the one with fewer requests in
//!   flight (the power of two choices: nearly as good as the least loaded of all, at the
//!   cost of two looks, and no herd onto one endpoint).
//! - [`Policy::PeakEwma`]: two picked at random, the one with the lower cost: latency
//!   estimate times (requests in flight + 1).
//! - [`Policy::ConsistentHash`]: the endpoint a request's key hashes to on a ring with
//!   virtual nodes (dsys-partition's), or the next admitted one clockwise: sticky
//!   sessions, and few keys move when an endpoint comes or goes. Blind to load.

mod ewma;
mod service;

pub use ewma::PeakEwma;
pub use service::{Balance, BalanceError, KeyOf, NoEndpoint, NoKey, Routed, ZoneAware, Zoned};

use dsys_partition::{DEFAULT_VNODES, Node, Nodes, Ring, key_hash};
use std::collections::BTreeMap;
use std::fmt::Display;
use std::time::Duration;

/// SplitMix64: the next uniform 64-bit draw from `state` (the balancers' seeded source
/// of randomness, so a run replays).
pub(crate) fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// How a balancer chooses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Policy {
    /// Each endpoint in turn.
    RoundRobin,
    /// The power of two choices over requests in flight.
    LeastRequests,
    /// The power of two choices over peak-EWMA latency times requests in flight.
    PeakEwma,
    /// The key's endpoint on a consistent-hash ring.
    ConsistentHash,
}

impl Policy {
    /// Every policy, in table order.
    pub const ALL: [Policy; 4] = [
        Policy::RoundRobin,
        Policy::LeastRequests,
        Policy::PeakEwma,
        Policy::ConsistentHash,
    ];

    /// Its name on the command line and in tables.
    pub fn name(self) -> &'static str {
        match self {
            Policy::RoundRobin => "round-robin",
            Policy::LeastRequests => "least-requests",
            Policy::PeakEwma => "p2c-peak-ewma",
            Policy::ConsistentHash => "consistent-hash",
        }
    }

    /// The policy called `name`.
    pub fn parse(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Where a new endpoint's latency estimate starts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Initial {
    /// The median of the current estimates of the others (this, if there are none): a
    /// new endpoint looks like a typical one, so it gets its share at once and its own
    /// responses set its estimate from there.
    Typical(Duration),
    /// This, whatever the others do. A high one starves a new endpoint while its
    /// estimate decays (tower's default is one second, with a ten-second decay).
    Fixed(Duration),
}

/// A balancer's settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// How it chooses.
    pub policy: Policy,
    /// The peak-EWMA time constant.
    pub decay: Duration,
    /// Where a new endpoint's estimate starts.
    pub initial: Initial,
}

impl Settings {
    /// `policy`, a 10 s decay, new endpoints at the typical estimate (30 ms if none).
    pub fn new(policy: Policy) -> Settings {
        Settings {
            policy,
            decay: Duration::from_secs(10),
            initial: Initial::Typical(Duration::from_millis(30)),
        }
    }
}

/// Why settings were refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// The decay is zero: the estimate would forget everything at once.
    #[error("the peak-EWMA decay must be more than zero")]
    ZeroDecay,
}

#[derive(Clone, Debug)]
struct Slot<Id> {
    id: Id,
    pending: u32,
    ewma: PeakEwma,
    /// When each request in flight was sent (ns → how many): the oldest one's age is a
    /// latency already observed, before any answer says so.
    sent: BTreeMap<u64, u32>,
}

impl<Id> Slot<Id> {
    /// The latency estimate at `now`: the peak EWMA, or the age of the oldest request
    /// still in flight if that is longer (an endpoint that stopped answering looks slow
    /// at once, not only when its first request times out).
    fn estimate(&self, now: u64, decay_ns: f64) -> f64 {
        let oldest = self
            .sent
            .keys()
            .next()
            .map_or(0, |&t| now.saturating_sub(t));
        self.ewma.at(now, decay_ns).max(oldest as f64)
    }
}

/// A load balancer over endpoints named by `Id`.
#[derive(Clone, Debug)]
pub struct Balancer<Id> {
    settings: Settings,
    decay_ns: f64,
    slots: Vec<Slot<Id>>,
    next: usize,
    /// The ring over the endpoints in slot order, built when first needed after a change
    /// (`Some(None)`: two endpoints display alike, so no ring can tell them apart).
    ring: Option<Option<Ring>>,
}

impl<Id: Clone + PartialEq + Display> Balancer<Id> {
    /// No endpoints yet.
    pub fn new(settings: Settings) -> Result<Balancer<Id>, SettingsError> {
        if settings.decay.is_zero() {
            return Err(SettingsError::ZeroDecay);
        }
        Ok(Balancer {
            decay_ns: settings.decay.as_nanos() as f64,
            settings,
            slots: Vec::new(),
            next: 0,
            ring: None,
        })
    }

    /// The endpoints, in the order they were inserted.
    pub fn ids(&self) -> impl Iterator<Item = &Id> {
        self.slots.iter().map(|s| &s.id)
    }

    /// How many endpoints it has.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether it has none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Add endpoint `id` at `now` (ns); one already there keeps what it has.
    pub fn insert(&mut self, id: Id, now: u64) {
        if self.slots.iter().any(|s| s.id == id) {
            return;
        }
        let estimate = match self.settings.initial {
            Initial::Fixed(d) => d.as_nanos() as f64,
            Initial::Typical(fallback) => self
                .median_estimate(now)
                .unwrap_or(fallback.as_nanos() as f64),
        };
        self.ring = None;
        self.slots.push(Slot {
            id,
            pending: 0,
            ewma: PeakEwma::new(estimate, now),
            sent: BTreeMap::new(),
        });
    }

    /// Remove endpoint `id`; whether it was there.
    pub fn remove(&mut self, id: &Id) -> bool {
        let before = self.slots.len();
        self.slots.retain(|s| s.id != *id);
        let removed = before != self.slots.len();
        if removed {
            self.ring = None;
        }
        removed
    }

    /// Choose an endpoint for a request at `now` and count the request against it;
    /// `random` gives uniform 64-bit draws. `None` if there are no endpoints.
    pub fn pick(&mut self, now: u64, random: impl FnMut() -> u64) -> Option<Id> {
        self.pick_where(now, random, |_| true)
    }

    /// As [`Balancer::pick`], among the endpoints `eligible` admits (those an outlier
    /// detector has not ejected, say). `None` if it admits none.
    pub fn pick_where(
        &mut self,
        now: u64,
        random: impl FnMut() -> u64,
        eligible: impl Fn(&Id) -> bool,
    ) -> Option<Id> {
        self.choose(now, random, eligible, None)
    }

    /// As [`Balancer::pick_where`], for a request with `key` (a session, a user): with
    /// [`Policy::ConsistentHash`] the same key goes to the same endpoint while it stays
    /// admitted. Other policies ignore the key; consistent hashing without one spreads
    /// requests at random.
    pub fn pick_keyed(
        &mut self,
        now: u64,
        key: &[u8],
        random: impl FnMut() -> u64,
        eligible: impl Fn(&Id) -> bool,
    ) -> Option<Id> {
        self.choose(now, random, eligible, Some(key_hash(key)))
    }

    fn choose(
        &mut self,
        now: u64,
        mut random: impl FnMut() -> u64,
        eligible: impl Fn(&Id) -> bool,
        key: Option<u64>,
    ) -> Option<Id> {
        let n = self.slots.len();
        let admitted = self.slots.iter().filter(|s| eligible(&s.id)).count();
        if admitted == 0 {
            return None;
        }
        // The k-th admitted endpoint's index.
        let nth = |slots: &[Slot<Id>], k: usize| {
            (0..n)
                .filter(|&i| eligible(&slots[i].id))
                .nth(k)
                .unwrap_or_else(|| unreachable!("k < admitted"))
        };
        let chosen = match self.settings.policy {
            Policy::RoundRobin => {
                // The next admitted one after the last pick.
                let start = self.next;
                let step = (1..=n)
                    .find(|d| eligible(&self.slots[(start + d) % n].id))
                    .unwrap_or(n);
                self.next = (start + step) % n;
                self.next
            }
            Policy::ConsistentHash => {
                let key = key.unwrap_or_else(&mut random);
                let slots = &self.slots;
                let ring = self.ring.get_or_insert_with(|| ring_of(slots));
                match ring {
                    Some(ring) => ring
                        .preference(key)
                        .find(|&i| i < n && eligible(&slots[i].id))
                        .unwrap_or_else(|| nth(slots, 0)),
                    None => nth(slots, (key % admitted as u64) as usize),
                }
            }
            Policy::LeastRequests | Policy::PeakEwma if admitted == 1 => nth(&self.slots, 0),
            Policy::LeastRequests | Policy::PeakEwma => {
                // Two distinct admitted endpoints, uniformly.
                let a = (random() % admitted as u64) as usize;
                let b = (random() % (admitted as u64 - 1)) as usize;
                let b = if b >= a { b + 1 } else { b };
                let (a, b) = (nth(&self.slots, a), nth(&self.slots, b));
                if self.cost(b, now) < self.cost(a, now) {
                    b
                } else {
                    a
                }
            }
        };
        let slot = &mut self.slots[chosen];
        slot.pending += 1;
        *slot.sent.entry(now).or_insert(0) += 1;
        Some(slot.id.clone())
    }

    /// The request sent to `id` ended at `now` after `rtt` (a response, or the caller
    /// giving up: then `rtt` is how long it waited, which is what the endpoint cost it).
    /// Ignored if `id` is gone.
    pub fn finish(&mut self, id: &Id, rtt: Duration, now: u64) {
        let decay = self.decay_ns;
        if let Some(slot) = self.slots.iter_mut().find(|s| s.id == *id) {
            slot.pending = slot.pending.saturating_sub(1);
            let sent = now.saturating_sub(u64::try_from(rtt.as_nanos()).unwrap_or(u64::MAX));
            // The request that ended: sent at `now - rtt` (or, if the caller's clock
            // disagrees, the oldest one).
            let key = match slot.sent.contains_key(&sent) {
                true => Some(sent),
                false => slot.sent.keys().next().copied(),
            };
            if let Some(key) = key {
                if let Some(n) = slot.sent.get_mut(&key) {
                    *n -= 1;
                    if *n == 0 {
                        slot.sent.remove(&key);
                    }
                }
            }
            slot.ewma.observe(rtt.as_nanos() as f64, now, decay);
        }
    }

    /// Requests in flight to `id`.
    pub fn pending(&self, id: &Id) -> Option<u32> {
        self.slots.iter().find(|s| s.id == *id).map(|s| s.pending)
    }

    /// `id`'s latency estimate at `now` (the peak EWMA, or the age of its oldest request
    /// in flight if that is longer).
    pub fn estimate(&self, id: &Id, now: u64) -> Option<Duration> {
        let slot = self.slots.iter().find(|s| s.id == *id)?;
        Some(Duration::from_nanos(
            slot.estimate(now, self.decay_ns) as u64
        ))
    }

    fn cost(&self, index: usize, now: u64) -> f64 {
        let slot = &self.slots[index];
        let load = f64::from(slot.pending);
        match self.settings.policy {
            Policy::PeakEwma => slot.estimate(now, self.decay_ns) * (load + 1.0),
            _ => load,
        }
    }

    fn median_estimate(&self, now: u64) -> Option<f64> {
        let mut estimates: Vec<f64> = self
            .slots
            .iter()
            .map(|s| s.ewma.at(now, self.decay_ns))
            .collect();
        if estimates.is_empty() {
            return None;
        }
        estimates.sort_by(f64::total_cmp);
        Some(estimates[estimates.len() / 2])
    }
}

/// The ring over `slots`, in their order (node i is slot i), each node named by its
/// endpoint's id, so a key stays with its endpoint while the others come and go. `None`
/// if two ids display alike.
fn ring_of<Id: Display>(slots: &[Slot<Id>]) -> Option<Ring> {
    let nodes: Vec<Node> = slots
        .iter()
        .map(|s| Node::new(s.id.to_string(), ""))
        .collect();
    Nodes::new(nodes)
        .and_then(|nodes| Ring::new(nodes, DEFAULT_VNODES))
        .ok()
}

#[cfg(test)]
mod tests;

//! The balancer as a tower [`Service`] over a tower [`Discover`] stream of endpoints.
//!
//! [`Balance`] takes endpoints as the stream inserts and removes them (from a registry's
//! watch: [`crate::registry::WatchStream`], or any `Discover`), picks one per request with
//! a [`Balancer`], skips the ones the [`Outliers`] detector has ejected, prefers the local
//! zone as Envoy's zone-aware routing does ([`ZoneAware`]), and learns each endpoint's
//! latency and failures from its responses. Clones share everything (endpoints, estimates,
//! ejections, the stream), so it can sit under a retry layer, which needs a service it can
//! clone, and serve every connection of a proxy at once.
//!
//! The pick happens in `call`, where the request (and its session key, for consistent
//! hashing) is known; the endpoint's own readiness is awaited in the response future, so
//! an endpoint slow to become ready costs its estimate what it cost the caller. With no
//! endpoint admitted, a call fails at once with [`NoEndpoint`] (a proxy's 503), rather
//! than waiting for one to appear.
//!
//! Retries within a budget and timeouts come from dsys-resilience's layers, stacked over
//! this one: `RetryLayer` (a budget in its policy) over `TimeoutLayer` over `Balance`.

use super::{Balancer, Settings, SettingsError, splitmix};
use crate::outlier::{OutlierError, OutlierSettings, Outliers};
use dsys_resilience::Clock;
use dsys_resilience::layer::{BoxError, Classify, ErrorsFail};
use std::collections::BTreeMap;
use std::fmt::Display;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;
use tower::discover::{Change, Discover};
use tower_service::Service;

/// What a discovered endpoint's key says about where it runs.
pub trait Zoned {
    /// Its zone, if known.
    fn zone(&self) -> Option<&str> {
        None
    }
}

impl Zoned for usize {}
impl Zoned for String {}
impl Zoned for &'static str {}

/// Prefer endpoints in the caller's own zone, as Envoy's zone-aware routing does: all
/// traffic stays local while the local zone holds at least its share of the healthy
/// endpoints; when it holds less, only that fraction of its share stays local and the
/// rest spills to the other zones, so a depleted zone is not overrun.
#[derive(Clone, Debug, PartialEq)]
pub struct ZoneAware {
    /// The caller's zone.
    pub local: String,
    /// The fraction of all callers that run in the local zone (the traffic it sends):
    /// the local zone keeps all of it if it has at least this fraction of the healthy
    /// endpoints.
    pub local_share: f64,
    /// Below this many healthy endpoints in all, zones are ignored (Envoy's
    /// `min_cluster_size`, 6 by default).
    pub min_endpoints: usize,
}

impl ZoneAware {
    /// Callers spread evenly over `zones` zones, this one `local`; Envoy's minimum of 6.
    pub fn even(local: impl Into<String>, zones: usize) -> ZoneAware {
        ZoneAware {
            local: local.into(),
            local_share: 1.0 / zones.max(1) as f64,
            min_endpoints: 6,
        }
    }

    /// The probability a request stays in the local zone, given healthy endpoint counts.
    fn stay_local(&self, local: usize, all: usize) -> f64 {
        if all < self.min_endpoints || local == 0 {
            return 0.0;
        }
        let upstream = local as f64 / all as f64;
        if upstream >= self.local_share {
            1.0
        } else {
            upstream / self.local_share
        }
    }
}

/// No endpoint could take the request: none discovered, or every one ejected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("no endpoint available")]
pub struct NoEndpoint;

/// Settings a [`Balance`] was refused for.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum BalanceError {
    /// The balancer's settings.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The outlier detector's settings.
    #[error(transparent)]
    Outliers(#[from] OutlierError),
    /// A zone-aware share outside (0, 1].
    #[error("the local zone's share of callers must be in (0, 1], not {0}")]
    LocalShare(String),
}

/// How a request's session key is found, for consistent hashing.
pub trait KeyOf<Req> {
    /// The key, or `None` for a request with no session.
    fn key(&self, req: &Req) -> Option<Vec<u8>>;
}

/// No request has a key.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoKey;

impl<Req> KeyOf<Req> for NoKey {
    fn key(&self, _: &Req) -> Option<Vec<u8>> {
        None
    }
}

impl<Req, F: Fn(&Req) -> Option<Vec<u8>>> KeyOf<Req> for F {
    fn key(&self, req: &Req) -> Option<Vec<u8>> {
        self(req)
    }
}

/// What the picker knows, shared with the response futures that report back.
#[derive(Debug)]
struct Picker<K> {
    balancer: Balancer<K>,
    outliers: Outliers<K>,
    /// Endpoints active health checks found down.
    down: std::collections::BTreeSet<K>,
    zones: Option<ZoneAware>,
    /// SplitMix64's state: seeded, so a run replays.
    random: u64,
}

impl<K: Clone + Ord + Display + Zoned> Picker<K> {
    /// Pick an endpoint for a request with `key` (its session, if any).
    fn pick(&mut self, key: Option<&[u8]>, now: u64) -> Option<K> {
        let Picker {
            balancer,
            outliers,
            down,
            zones,
            random,
        } = self;
        let healthy = |id: &K| !outliers.is_ejected(id, now) && !down.contains(id);
        // Zone-aware: decide first whether this request stays in the local zone (`Some`)
        // or leaves it, then balance among the endpoints on that side.
        let stay: Option<(&str, bool)> = zones.as_ref().and_then(|z| {
            let local = z.local.as_str();
            let (mut all, mut here) = (0, 0);
            for id in balancer.ids().filter(|id| healthy(id)) {
                all += 1;
                here += usize::from(id.zone() == Some(local));
            }
            let p = z.stay_local(here, all);
            (p > 0.0).then(|| {
                let draw = (splitmix(random) >> 11) as f64 / (1u64 << 53) as f64;
                (local, draw < p)
            })
        });
        let eligible = |id: &K| {
            healthy(id)
                && match stay {
                    None => true,
                    Some((zone, true)) => id.zone() == Some(zone),
                    Some((zone, false)) => id.zone() != Some(zone),
                }
        };
        let mut draw = || splitmix(random);
        match key {
            Some(key) => balancer.pick_keyed(now, key, &mut draw, eligible),
            None => balancer.pick_where(now, &mut draw, eligible),
        }
    }
}

/// A load balancer over discovered endpoints, as a tower service.
pub struct Balance<D: Discover, C, K = NoKey, F = ErrorsFail> {
    shared: Arc<Mutex<Shared<D>>>,
    picker: Arc<Mutex<Picker<D::Key>>>,
    clock: C,
    key_of: K,
    classify: F,
}

impl<D: Discover, C, K, F> std::fmt::Debug for Balance<D, C, K, F>
where
    D::Key: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Balance")
            .field(
                "endpoints",
                &lock(&self.shared).endpoints.keys().collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

struct Shared<D: Discover> {
    discover: Option<Pin<Box<D>>>,
    /// The endpoints by key, in key order (deterministic).
    endpoints: BTreeMap<D::Key, D::Service>,
    /// Why the stream ended, if it failed.
    failed: Option<String>,
}

impl<D: Discover, C: Clone, K: Clone, F: Clone> Clone for Balance<D, C, K, F> {
    fn clone(&self) -> Self {
        Balance {
            shared: Arc::clone(&self.shared),
            picker: Arc::clone(&self.picker),
            clock: self.clock.clone(),
            key_of: self.key_of.clone(),
            classify: self.classify.clone(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding it leaves counts that are at worst off by one request.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl<D, C> Balance<D, C>
where
    D: Discover,
    D::Key: Clone + Ord + Display + Zoned,
    C: Clock + Clone,
{
    /// Balance over `discover`'s endpoints with `settings`, ejecting outliers by
    /// `outliers`, on `clock`, drawing from a generator seeded with `seed`.
    pub fn new(
        discover: D,
        settings: Settings,
        outliers: OutlierSettings,
        clock: C,
        seed: u64,
    ) -> Result<Self, BalanceError> {
        Ok(Balance {
            shared: Arc::new(Mutex::new(Shared {
                discover: Some(Box::pin(discover)),
                endpoints: BTreeMap::new(),
                failed: None,
            })),
            picker: Arc::new(Mutex::new(Picker {
                balancer: Balancer::new(settings)?,
                outliers: Outliers::new(outliers)?,
                down: std::collections::BTreeSet::new(),
                zones: None,
                random: seed,
            })),
            clock,
            key_of: NoKey,
            classify: ErrorsFail,
        })
    }
}

impl<D, C, K, F> Balance<D, C, K, F>
where
    D: Discover,
    D::Key: Clone + Ord + Display + Zoned,
    C: Clock + Clone,
{
    /// Prefer the local zone by `zones`.
    pub fn zone_aware(self, zones: ZoneAware) -> Result<Self, BalanceError> {
        if !(zones.local_share > 0.0 && zones.local_share <= 1.0) {
            return Err(BalanceError::LocalShare(zones.local_share.to_string()));
        }
        lock(&self.picker).zones = Some(zones);
        Ok(self)
    }

    /// Find each request's session key with `key_of` (for consistent hashing).
    pub fn keyed<K2>(self, key_of: K2) -> Balance<D, C, K2, F> {
        Balance {
            shared: self.shared,
            picker: self.picker,
            clock: self.clock,
            key_of,
            classify: self.classify,
        }
    }

    /// Count outcomes `classify` calls failures (a 5xx in an `Ok` response, say) toward
    /// ejection, instead of every `Err`.
    pub fn classify<F2>(self, classify: F2) -> Balance<D, C, K, F2> {
        Balance {
            shared: self.shared,
            picker: self.picker,
            clock: self.clock,
            key_of: self.key_of,
            classify,
        }
    }

    /// The endpoints now, in key order, after taking what the stream has ready (so a
    /// health checker sees endpoints before any request has come).
    pub fn endpoints(&self) -> Vec<D::Key>
    where
        D::Error: Into<BoxError>,
    {
        // No task waits on this: the next request drains again whatever the waker says.
        let _ = self.drain(&mut Context::from_waker(std::task::Waker::noop()));
        lock(&self.shared).endpoints.keys().cloned().collect()
    }

    /// Requests in flight to `key` (`None` if it is not an endpoint).
    pub fn pending(&self, key: &D::Key) -> Option<u32> {
        lock(&self.picker).balancer.pending(key)
    }

    /// Mark the endpoints `which` picks up or down, as an active health check found them:
    /// a down endpoint gets no requests until marked up (or removed and added again).
    pub fn set_up(&self, which: impl Fn(&D::Key) -> bool, up: bool) {
        let mut picker = lock(&self.picker);
        let keys: Vec<D::Key> = picker
            .balancer
            .ids()
            .filter(|k| which(k))
            .cloned()
            .collect();
        for key in keys {
            match up {
                true => picker.down.remove(&key),
                false => picker.down.insert(key),
            };
        }
    }

    /// Whether `key` is marked down by a health check.
    pub fn is_down(&self, key: &D::Key) -> bool {
        lock(&self.picker).down.contains(key)
    }

    /// Whether `key` is ejected now.
    pub fn is_ejected(&self, key: &D::Key) -> bool {
        let now = self.clock.now_nanos();
        lock(&self.picker).outliers.is_ejected(key, now)
    }

    /// Take every change the stream has ready. `Err` once the stream has failed.
    fn drain(&self, cx: &mut Context<'_>) -> Result<(), BoxError>
    where
        D::Error: Into<BoxError>,
    {
        let mut shared = lock(&self.shared);
        if let Some(why) = &shared.failed {
            return Err(format!("discovery failed: {why}").into());
        }
        let now = self.clock.now_nanos();
        while let Some(discover) = shared.discover.as_mut() {
            match discover.as_mut().poll_discover(cx) {
                Poll::Pending => break,
                Poll::Ready(None) => {
                    // The stream ended: keep the endpoints it gave.
                    shared.discover = None;
                }
                Poll::Ready(Some(Err(e))) => {
                    let why = e.into().to_string();
                    shared.failed = Some(why.clone());
                    shared.discover = None;
                    return Err(format!("discovery failed: {why}").into());
                }
                Poll::Ready(Some(Ok(change))) => {
                    let mut picker = lock(&self.picker);
                    match change {
                        Change::Insert(key, service) => {
                            // A changed endpoint replaces the old one (its estimate too).
                            picker.balancer.remove(&key);
                            picker.balancer.insert(key.clone(), now);
                            picker.outliers.insert(key.clone());
                            shared.endpoints.insert(key, service);
                        }
                        Change::Remove(key) => {
                            picker.balancer.remove(&key);
                            picker.outliers.remove(&key);
                            picker.down.remove(&key);
                            shared.endpoints.remove(&key);
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

impl<D, C, K, F, Req> Service<Req> for Balance<D, C, K, F>
where
    D: Discover,
    D::Key: Clone + Ord + Display + Zoned,
    D::Error: Into<BoxError>,
    D::Service: Service<Req> + Clone,
    <D::Service as Service<Req>>::Error: Into<BoxError>,
    C: Clock + Clone,
    K: KeyOf<Req>,
    F: Classify<<D::Service as Service<Req>>::Response, BoxError> + Clone,
{
    type Response = <D::Service as Service<Req>>::Response;
    type Error = BoxError;
    type Future = Routed<D::Service, Req, D::Key, C, F>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(self.drain(cx))
    }

    fn call(&mut self, req: Req) -> Self::Future {
        let key = self.key_of.key(&req);
        let shared = lock(&self.shared);
        let now = self.clock.now_nanos();
        let picked = lock(&self.picker).pick(key.as_deref(), now);
        let Some(id) = picked else {
            return Routed::failed(NoEndpoint.into(), self.classify.clone());
        };
        let service = shared.endpoints.get(&id).cloned();
        drop(shared);
        match service {
            Some(service) => Routed {
                state: State::Ready {
                    service,
                    req: Some(req),
                },
                report: Some(Report {
                    picker: Arc::clone(&self.picker),
                    id,
                    sent: now,
                    clock: self.clock.clone(),
                }),
                classify: self.classify.clone(),
            },
            None => Routed::failed(NoEndpoint.into(), self.classify.clone()),
        }
    }
}

/// Tells the picker how a request to one endpoint ended; dropped unreported (the caller
/// gave up), it counts the time waited against the endpoint's estimate, not as a failure.
struct Report<K: Clone + Ord + Display, C: Clock> {
    picker: Arc<Mutex<Picker<K>>>,
    id: K,
    sent: u64,
    clock: C,
}

impl<K: Clone + Ord + Display, C: Clock> Report<K, C> {
    fn finish(&self, failed: Option<bool>) {
        let now = self.clock.now_nanos();
        let rtt = Duration::from_nanos(now.saturating_sub(self.sent));
        let mut picker = lock(&self.picker);
        picker.balancer.finish(&self.id, rtt, now);
        if let Some(failed) = failed {
            picker.outliers.record(&self.id, !failed, now);
        }
    }
}

enum State<S: Service<Req>, Req> {
    /// Waiting for the endpoint to be ready.
    Ready { service: S, req: Option<Req> },
    /// The endpoint's call.
    Calling { future: Pin<Box<S::Future>> },
    /// Refused before any endpoint was called, or done.
    Failed { error: Option<BoxError> },
}

/// The response future of [`Balance`]: the picked endpoint's readiness, then its call,
/// then a report to the picker.
pub struct Routed<S: Service<Req>, Req, K: Clone + Ord + Display, C: Clock, F> {
    state: State<S, Req>,
    report: Option<Report<K, C>>,
    classify: F,
}

impl<S: Service<Req>, Req, K: Clone + Ord + Display, C: Clock, F> Routed<S, Req, K, C, F> {
    fn failed(error: BoxError, classify: F) -> Self {
        Routed {
            state: State::Failed { error: Some(error) },
            report: None,
            classify,
        }
    }
}

impl<S: Service<Req>, Req, K: Clone + Ord + Display, C: Clock, F> std::fmt::Debug
    for Routed<S, Req, K, C, F>
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let endpoint = self.report.as_ref().map(|r| r.id.to_string());
        f.debug_struct("Routed")
            .field("endpoint", &endpoint)
            .finish_non_exhaustive()
    }
}

impl<S: Service<Req>, Req, K: Clone + Ord + Display, C: Clock, F> Unpin
    for Routed<S, Req, K, C, F>
{
}

impl<S, Req, K, C, F> Future for Routed<S, Req, K, C, F>
where
    S: Service<Req>,
    S::Error: Into<BoxError>,
    K: Clone + Ord + Display,
    C: Clock,
    F: Classify<S::Response, BoxError>,
{
    type Output = Result<S::Response, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        loop {
            match &mut this.state {
                State::Ready { service, req } => match service.poll_ready(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Err(e)) => {
                        let result = Err(e.into());
                        this.complete(&result);
                        return Poll::Ready(result);
                    }
                    Poll::Ready(Ok(())) => {
                        let Some(req) = req.take() else {
                            return Poll::Ready(Err("polled after completion".into()));
                        };
                        let future = Box::pin(service.call(req));
                        this.state = State::Calling { future };
                    }
                },
                State::Calling { future } => {
                    let result = std::task::ready!(future.as_mut().poll(cx)).map_err(Into::into);
                    this.complete(&result);
                    this.state = State::Failed { error: None };
                    return Poll::Ready(result);
                }
                State::Failed { error } => {
                    return Poll::Ready(Err(error
                        .take()
                        .unwrap_or_else(|| "polled after completion".into())));
                }
            }
        }
    }
}

impl<S: Service<Req>, Req, K: Clone + Ord + Display, C: Clock, F> Routed<S, Req, K, C, F> {
    fn complete(&mut self, result: &Result<S::Response, BoxError>)
    where
        F: Classify<S::Response, BoxError>,
    {
        if let Some(report) = self.report.take() {
            report.finish(Some(self.classify.failed(result)));
        }
    }
}

impl<S: Service<Req>, Req, K: Clone + Ord + Display, C: Clock, F> Drop for Routed<S, Req, K, C, F> {
    fn drop(&mut self) {
        if let Some(report) = self.report.take() {
            report.finish(None);
        }
    }
}

#[cfg(test)]
#[path = "service_tests.rs"]
mod tests;

//! One route's way to its backends: the rate limit and circuit breaker in front, retries
//! within a budget and the time limit (dsys-resilience's retry layer), the balancer over
//! the service's discovered endpoints, and an HTTP/1.1 client per gateway.

use super::config::Route;
use super::connect::Connector;
use super::metrics::{Refusal, RouteMetrics};
use crate::balance::{Balance, NoEndpoint, Settings};
use crate::health::{CheckSettings, Checker};
use crate::outlier::OutlierSettings;
use crate::registry::{Endpoint, WatchStream};
use bytes::Bytes;
use dsys_resilience::SystemClock;
use dsys_resilience::breaker::{BreakerConfig, CircuitBreaker};
use dsys_resilience::layer::{BoxError, Layer, RetryLayer, RetryService, Service};
use dsys_resilience::rate::{Denied, Gcra, Limiter, Quota};
use dsys_resilience::retry::{Backoff, Jitter, Retry, RetryBudget, RetryDecision};
use dsys_resilience::timeout::Elapsed;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The client a route's endpoints share (one connection pool per backend address): plain
/// for a gateway's routes, mutual TLS for a sidecar's calls to another sidecar.
pub type HttpClient = Client<Connector, Full<Bytes>>;

/// A client connecting through `connector`, on the current runtime.
pub fn client(connector: Connector) -> HttpClient {
    Client::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .build(connector)
}

/// A request as the gateway forwards it: bought in full, so a retry can send it again.
#[derive(Clone, Debug)]
pub struct Outgoing {
    /// Its method.
    pub method: Method,
    /// Path and query, after any prefix was stripped.
    pub path: String,
    /// Headers, hop-by-hop ones removed, `traceparent` and `x-forwarded-for` set.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// The session key, for consistent hashing (the `x-session-id` header).
    pub session: Option<Vec<u8>>,
}

impl Outgoing {
    /// Whether sending it twice is as good as once (RFC 9110, 9.2.2).
    fn idempotent(&self) -> bool {
        matches!(
            self.method,
            Method::GET
                | Method::HEAD
                | Method::PUT
                | Method::DELETE
                | Method::OPTIONS
                | Method::TRACE
        )
    }
}

/// Marks a response to a request that may be sent again.
#[derive(Clone, Copy, Debug)]
struct Idempotent(bool);

/// The headers that belong to one connection, never forwarded (RFC 9110, 7.6.1).
pub const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::UPGRADE,
];

/// One endpoint: requests to it go through the shared client.
#[derive(Clone, Debug)]
pub struct Forward {
    client: HttpClient,
    address: SocketAddr,
    metrics: Arc<RouteMetrics>,
}

type Pending = Pin<Box<dyn Future<Output = Result<Response<Incoming>, BoxError>> + Send>>;

impl Service<Outgoing> for Forward {
    type Response = Response<Incoming>;
    type Error = BoxError;
    type Future = Pending;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Outgoing) -> Pending {
        self.metrics.attempted();
        let idempotent = req.idempotent();
        let mut out = Request::new(Full::new(req.body));
        *out.method_mut() = req.method;
        *out.headers_mut() = req.headers;
        let uri = format!("http://{}{}", self.address, req.path);
        let client = self.client.clone();
        Box::pin(async move {
            *out.uri_mut() = uri.parse().map_err(|e| format!("bad path: {e}"))?;
            let mut response = client.request(out).await?;
            response.extensions_mut().insert(Idempotent(idempotent));
            Ok(response)
        })
    }
}

fn is_5xx(r: &Result<Response<Incoming>, BoxError>) -> bool {
    !matches!(r, Ok(resp) if resp.status().as_u16() < 500)
}

/// Retry a request that was never sent (the connection failed), or an idempotent one
/// answered 502, 503 or 504 (honouring `Retry-After` in seconds). A request that timed
/// out may have been processed: not retried.
fn retry_when(r: &Result<Response<Incoming>, BoxError>) -> RetryDecision {
    match r {
        Ok(resp) => {
            let idempotent = resp.extensions().get::<Idempotent>().is_some_and(|i| i.0);
            let retryable = matches!(resp.status().as_u16(), 502..=504);
            if !(idempotent && retryable) {
                return RetryDecision::Done;
            }
            let after = resp
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
            match after {
                Some(secs) => RetryDecision::RetryAfter(Duration::from_secs(secs)),
                None => RetryDecision::Retry,
            }
        }
        Err(e) => {
            let unsent = e
                .downcast_ref::<hyper_util::client::legacy::Error>()
                .is_some_and(|e| e.is_connect());
            match unsent || e.is::<NoEndpoint>() {
                true => RetryDecision::Retry,
                false => RetryDecision::Done,
            }
        }
    }
}

type Sleep = fn(Duration) -> tokio::time::Sleep;
type Classify5xx = fn(&Result<Response<Incoming>, BoxError>) -> bool;
type SessionOf = fn(&Outgoing) -> Option<Vec<u8>>;
/// The balancer of a route.
type Balanced = Balance<WatchStream<Forward>, SystemClock, SessionOf, Classify5xx>;
type Retried = RetryService<
    Balanced,
    SystemClock,
    fn(&Result<Response<Incoming>, BoxError>) -> RetryDecision,
    Sleep,
>;

/// A route ready to serve.
pub struct RouteState {
    /// As configured.
    pub route: Route,
    /// Its name in metrics and logs.
    pub name: String,
    /// Its numbers.
    pub metrics: Arc<RouteMetrics>,
    balance: Balanced,
    service: Retried,
    limiter: Option<Gcra<SystemClock>>,
    breaker: Option<CircuitBreaker<SystemClock>>,
    /// Active health checks of the endpoints, if configured; stopped with the route.
    _checker: Option<Checker>,
}

impl std::fmt::Debug for RouteState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteState")
            .field("route", &self.route)
            .finish_non_exhaustive()
    }
}

fn session(req: &Outgoing) -> Option<Vec<u8>> {
    req.session.clone()
}

/// What a route answered with, or why the gateway answered for it.
pub type Answer = Result<Response<Incoming>, (StatusCode, Refusal, Option<Duration>)>;

impl RouteState {
    /// `route` over the endpoints `stream` discovers, sending through `client`.
    pub fn new(
        route: Route,
        make_stream: impl FnOnce(Arc<RouteMetrics>) -> Result<WatchStream<Forward>, String>,
    ) -> Result<RouteState, String> {
        let clock = SystemClock::new();
        let metrics = Arc::new(RouteMetrics::default());
        let stream = make_stream(Arc::clone(&metrics))?;
        let seed = u64::from(std::process::id()) ^ route.prefix.len() as u64;
        let balance = Balance::new(
            stream,
            Settings::new(route.policy),
            OutlierSettings::default(),
            clock.clone(),
            seed,
        )
        .map_err(|e| e.to_string())?
        .keyed(session as SessionOf)
        .classify(is_5xx as Classify5xx);
        let total = Duration::from_millis(route.timeout_ms);
        let backoff = Backoff::new(
            Duration::from_millis(5),
            Duration::from_millis(200),
            Jitter::Full,
        )
        .map_err(|e| e.to_string())?;
        let budget = RetryBudget::new(route.retry_budget, 100, 10).map_err(|e| e.to_string())?;
        let policy = Retry::new(backoff, route.retries.saturating_add(1), clock.clone())
            .map_err(|e| e.to_string())?
            .with_deadline(total)
            .with_budget(budget)
            .with_seed(seed);
        let service = RetryLayer::when(
            policy,
            retry_when as fn(&Result<Response<Incoming>, BoxError>) -> RetryDecision,
            tokio::time::sleep as Sleep,
        )
        .layer(balance.clone());
        let limiter = match route.rate_limit {
            Some((rate, burst)) => {
                let quota =
                    Quota::new(Duration::from_secs(1) / rate, burst).map_err(|e| e.to_string())?;
                Some(Gcra::new(quota, clock.clone()))
            }
            None => None,
        };
        let breaker = match route.breaker {
            true => Some(
                CircuitBreaker::new(BreakerConfig::new(), clock.clone())
                    .map_err(|e| e.to_string())?,
            ),
            false => None,
        };
        let checker = match &route.health {
            Some((probe, interval_ms)) => {
                let settings = CheckSettings {
                    interval: Duration::from_millis(*interval_ms),
                    ..CheckSettings::new(probe.clone())
                };
                let (targets, marks) = (balance.clone(), balance.clone());
                let addresses = move || targets.endpoints().iter().map(|e| e.address).collect();
                let mark = move |address, up| marks.set_up(|e| e.address == address, up);
                Some(Checker::spawn(settings, addresses, mark).map_err(|e| e.to_string())?)
            }
            None => None,
        };
        Ok(RouteState {
            _checker: checker,
            name: format!("{}{}", route.host.as_deref().unwrap_or(""), route.prefix),
            route,
            metrics,
            balance,
            service,
            limiter,
            breaker,
        })
    }

    /// Endpoints discovered, how many are ejected, and how many health checks found
    /// down.
    pub fn endpoints(&self) -> (Vec<Endpoint>, usize, usize) {
        let all = self.balance.endpoints();
        let ejected = all.iter().filter(|e| self.balance.is_ejected(e)).count();
        let down = all.iter().filter(|e| self.balance.is_down(e)).count();
        (all, ejected, down)
    }

    /// Whether the breaker is open now.
    pub fn breaker_open(&self) -> bool {
        self.breaker
            .as_ref()
            .is_some_and(|b| b.state() == dsys_resilience::breaker::State::Open)
    }

    /// Send `req` through the route.
    pub async fn send(&self, req: Outgoing) -> Answer {
        if let Some(limiter) = &self.limiter {
            if let Err(denied) = limiter.check() {
                let wait = match denied {
                    Denied::NotUntil { retry_after } => Some(retry_after),
                    _ => None,
                };
                return Err((StatusCode::TOO_MANY_REQUESTS, Refusal::RateLimited, wait));
            }
        }
        let permit = match &self.breaker {
            Some(b) => match b.try_acquire() {
                Ok(p) => Some(p),
                Err(_) => {
                    return Err((StatusCode::SERVICE_UNAVAILABLE, Refusal::BreakerOpen, None));
                }
            },
            None => None,
        };
        let mut service = self.service.clone();
        let result = match std::future::poll_fn(|cx| service.poll_ready(cx)).await {
            Ok(()) => service.call(req).await,
            Err(e) => Err(e),
        };
        if let Some(permit) = permit {
            permit.record(is_5xx(&result));
        }
        result.map_err(|e| {
            if e.is::<NoEndpoint>() {
                (StatusCode::SERVICE_UNAVAILABLE, Refusal::NoEndpoint, None)
            } else if e.is::<Elapsed>() {
                (StatusCode::GATEWAY_TIMEOUT, Refusal::Timeout, None)
            } else {
                (StatusCode::BAD_GATEWAY, Refusal::Upstream, None)
            }
        })
    }
}

/// A header value that is known to be valid.
pub fn value(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// The endpoint service for `address`, through `client`, counting into `metrics`.
pub fn forward(client: &HttpClient, address: SocketAddr, metrics: &Arc<RouteMetrics>) -> Forward {
    Forward {
        client: client.clone(),
        address,
        metrics: Arc::clone(metrics),
    }
}

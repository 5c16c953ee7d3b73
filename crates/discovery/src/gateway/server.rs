//! The listeners: client requests through the routes, and the admin endpoints.

use super::metrics::{self, Refusal, RouteGauges};
use super::proxy::{HOP_BY_HOP, HttpClient, Outgoing, value};
use super::trace::TraceParent;
use super::{Config, GatewayError, RegistryConfig, Shared};
use bytes::Bytes;
use dsys_resilience::Clock;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tracing::Instrument;

/// The largest request body the gateway buffers (retries send it again).
const MAX_BODY: usize = 8 << 20;

pub(super) type Body = BoxBody<Bytes, hyper::Error>;

pub(super) fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(
        Full::new(body.into())
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, value("text/plain; charset=utf-8"));
    r
}

/// Bind `address` (port 0: any free port); where it is bound.
async fn open(address: SocketAddr) -> Result<(TcpListener, SocketAddr), GatewayError> {
    let failed = |e: std::io::Error| GatewayError::Listen {
        address,
        error: e.to_string(),
    };
    let listener = TcpListener::bind(address).await.map_err(failed)?;
    let bound = listener.local_addr().map_err(failed)?;
    Ok((listener, bound))
}

/// Bind the listeners of `config` (clients, admin, the served registry) and start
/// serving them; where each is bound.
pub(super) async fn bind(
    shared: &Arc<Shared>,
    config: &Config,
) -> Result<(SocketAddr, Option<SocketAddr>, Option<SocketAddr>), GatewayError> {
    let (listener, listen) = open(config.listen).await?;
    let mut bound = Vec::new();
    for (address, role) in [
        (config.admin, Role::Admin),
        (
            match config.registry {
                RegistryConfig::Served { listen, .. } => Some(listen),
                _ => None,
            },
            Role::Registry,
        ),
    ] {
        bound.push(match address {
            Some(address) => {
                let (listener, at) = open(address).await?;
                tokio::spawn(accept(listener, Arc::clone(shared), role));
                Some(at)
            }
            None => None,
        });
    }
    tokio::spawn(accept(listener, Arc::clone(shared), Role::Proxy));
    Ok((listen, bound[0], bound[1]))
}

/// What a listener serves.
#[derive(Clone, Copy)]
enum Role {
    /// Clients, through the routes.
    Proxy,
    /// /metrics, /routes, /reload.
    Admin,
    /// The registry's HTTP protocol (`registry::wire`).
    Registry,
}

async fn accept(listener: TcpListener, shared: Arc<Shared>, role: Role) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(_) => {
                // Out of descriptors, say: wait rather than spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&shared);
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let shared = Arc::clone(&shared);
                async move {
                    Ok::<_, Infallible>(match role {
                        Role::Proxy => proxy(&shared, peer, req).await,
                        Role::Admin => admin(&shared, req).await,
                        Role::Registry => registry(&shared, req).await,
                    })
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(30))
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// The request's host: the Host header (or the URI's authority), without its port, in
/// lower case.
fn host_of(req: &Request<Incoming>) -> Option<String> {
    let raw = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))?;
    let host = match raw.strip_prefix('[') {
        // An IPv6 literal: [::1]:8080.
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None => raw.split(':').next().unwrap_or(raw),
    };
    Some(host.to_ascii_lowercase())
}

/// The headers to forward: hop-by-hop ones (and those `Connection` names) removed.
fn forwarded_headers(mut headers: HeaderMap, peer: SocketAddr) -> HeaderMap {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in HOP_BY_HOP.iter().chain(&named) {
        headers.remove(name);
    }
    let xff = HeaderName::from_static("x-forwarded-for");
    let chain = match headers.get(&xff).and_then(|v| v.to_str().ok()) {
        Some(before) => format!("{before}, {}", peer.ip()),
        None => peer.ip().to_string(),
    };
    headers.insert(xff, value(&chain));
    headers
}

fn next_span(shared: &Shared) -> u64 {
    let mut state = shared.spans.lock().unwrap_or_else(|p| p.into_inner());
    crate::balance::splitmix(&mut state)
}

/// The headers to send on, and the trace the request is part of: the caller's continued
/// (or a new one), the gateway's own span the parent now.
fn prepare(shared: &Shared, headers: HeaderMap, peer: SocketAddr) -> (HeaderMap, TraceParent, u64) {
    let mut headers = forwarded_headers(headers, peer);
    let span_id = next_span(shared);
    let trace = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(TraceParent::parse)
        .unwrap_or_else(|| TraceParent {
            trace_id: (u128::from(next_span(shared)) << 64) | u128::from(next_span(shared)),
            parent_id: 1,
            flags: 1,
        })
        .child(span_id);
    headers.insert("traceparent", value(&trace.to_string()));
    (headers, trace, span_id)
}

/// Send `req` to `target` alone (a sidecar's app), with `extra` headers: its response
/// with hop-by-hop headers removed, or the status to answer with.
pub(super) async fn forward_to(
    shared: &Shared,
    client: &HttpClient,
    target: SocketAddr,
    peer: SocketAddr,
    req: Request<Incoming>,
    extra: &[(&'static str, &'static str)],
) -> Result<Response<Body>, StatusCode> {
    let (parts, body) = req.into_parts();
    let body = Limited::new(body, MAX_BODY)
        .collect()
        .await
        .map_err(|_| StatusCode::PAYLOAD_TOO_LARGE)?
        .to_bytes();
    let (mut headers, _, _) = prepare(shared, parts.headers, peer);
    for (name, v) in extra {
        headers.insert(*name, value(v));
    }
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let uri = format!("http://{target}{path}")
        .parse()
        .map_err(|_| StatusCode::BAD_REQUEST)?;
    let mut out = Request::new(Full::new(body));
    *out.method_mut() = parts.method;
    *out.uri_mut() = uri;
    *out.headers_mut() = headers;
    let response = client
        .request(out)
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    Ok(passed_back(response))
}

/// A backend's response as the gateway sends it on: its own hop-by-hop headers removed.
fn passed_back(response: Response<Incoming>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    for name in &HOP_BY_HOP {
        parts.headers.remove(name);
    }
    Response::from_parts(parts, body.boxed())
}

async fn proxy(shared: &Shared, peer: SocketAddr, req: Request<Incoming>) -> Response<Body> {
    let start = shared.clock.now();
    let routes = shared.routes();
    let host = host_of(&req);
    let path = req.uri().path().to_string();
    let route = match routes.find(host.as_deref(), &path) {
        Some(route) => route,
        // A sidecar's app calling a service by name: its route, made on first use.
        None => {
            let found = match host {
                // Only a sidecar makes routes on demand; anyone else's miss is a 404
                // without a trip to the blocking pool.
                Some(host) if routes.serves_outbound() => {
                    let routes = Arc::clone(&routes);
                    tokio::task::spawn_blocking(move || routes.outbound(&host))
                        .await
                        .ok()
                        .flatten()
                }
                _ => None,
            };
            match found {
                Some(route) => route,
                None => return text(StatusCode::NOT_FOUND, "no route\n"),
            }
        }
    };
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            route.metrics.refused(Refusal::TooLarge);
            route.metrics.responded(413, shared.clock.now() - start);
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large or cut short\n",
            );
        }
    };
    let (headers, trace, span_id) = prepare(shared, parts.headers, peer);
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    let rest = match route.route.strip_prefix {
        true => path
            .strip_prefix(route.route.prefix.trim_end_matches('/'))
            .unwrap_or(&path),
        false => &path,
    };
    let rest = if rest.starts_with('/') {
        rest.to_string()
    } else {
        format!("/{rest}")
    };
    let session = headers.get("x-session-id").map(|v| v.as_bytes().to_vec());
    let outgoing = Outgoing {
        method: parts.method.clone(),
        path: format!("{rest}{query}"),
        headers,
        body,
        session,
    };
    let span = tracing::info_span!(
        "gateway.request",
        route = %route.name,
        method = %parts.method,
        path = %path,
        trace_id = %format_args!("{:032x}", trace.trace_id),
        span_id = %format_args!("{span_id:016x}"),
    );
    let answer = route.send(outgoing).instrument(span).await;
    let took = shared.clock.now() - start;
    match answer {
        Ok(response) => {
            route.metrics.responded(response.status().as_u16(), took);
            passed_back(response)
        }
        Err((status, why, wait)) => {
            route.metrics.refused(why);
            route.metrics.responded(status.as_u16(), took);
            let mut r = text(
                status,
                format!("{}\n", status.canonical_reason().unwrap_or("error")),
            );
            if let Some(wait) = wait {
                let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                r.headers_mut()
                    .insert(header::RETRY_AFTER, value(&secs.to_string()));
            }
            r
        }
    }
}

async fn admin(shared: &Arc<Shared>, req: Request<Incoming>) -> Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            let routes = shared.routes().all();
            let gauges: Vec<(Vec<_>, usize, usize, bool)> = routes
                .iter()
                .map(|r| {
                    let (all, ejected, down) = r.endpoints();
                    (all, ejected, down, r.breaker_open())
                })
                .collect();
            let views: Vec<RouteGauges<'_>> = routes
                .iter()
                .zip(&gauges)
                .map(|(r, (all, ejected, down, open))| RouteGauges {
                    route: &r.name,
                    metrics: &r.metrics,
                    endpoints: all.len(),
                    ejected: *ejected,
                    down: *down,
                    breaker_open: *open,
                })
                .collect();
            let mut r = text(StatusCode::OK, metrics::render(&views));
            r.headers_mut()
                .insert(header::CONTENT_TYPE, value("text/plain; version=0.0.4"));
            r
        }
        (&Method::GET, "/routes") => {
            let mut out = String::new();
            for r in &shared.routes().all() {
                let (all, _, _) = r.endpoints();
                let endpoints: Vec<String> = all
                    .iter()
                    .map(|e| format!("{}={}", e.id, e.address))
                    .collect();
                out.push_str(&format!(
                    "{} -> {} [{}] {}\n",
                    r.name,
                    r.route.service,
                    r.route.policy.name(),
                    endpoints.join(" ")
                ));
            }
            text(StatusCode::OK, out)
        }
        (&Method::POST, "/reload") => {
            let shared = Arc::clone(shared);
            match tokio::task::spawn_blocking(move || shared.reload()).await {
                Ok(Ok(n)) => text(StatusCode::OK, format!("reloaded: {}\n", routes_counted(n))),
                Ok(Err(e)) => text(StatusCode::BAD_REQUEST, format!("{e}\n")),
                Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, format!("{e}\n")),
            }
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "GET /metrics, GET /routes, POST /reload\n",
        ),
    }
}

/// The largest registry request (an instance is a few hundred bytes).
const MAX_REGISTRY_BODY: usize = 64 << 10;

async fn registry(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let Some(served) = &shared.served else {
        return text(StatusCode::NOT_FOUND, "no registry here\n");
    };
    let call = match (req.method(), req.uri().path().strip_prefix("/v1/")) {
        (&Method::POST, Some(call)) => call.to_string(),
        _ => {
            return text(
                StatusCode::NOT_FOUND,
                "POST /v1/{register,keep_alive,deregister,list,changes}\n",
            );
        }
    };
    let body = match Limited::new(req.into_body(), MAX_REGISTRY_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return text(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request body too large or cut short\n",
            );
        }
    };
    let (status, reply) = crate::registry::wire::answer(served, &call, &body);
    let mut r = text(
        StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        reply.to_string(),
    );
    r.headers_mut()
        .insert(header::CONTENT_TYPE, value("application/json"));
    r
}

/// "1 route", "2 routes".
fn routes_counted(n: usize) -> String {
    format!("{n} route{}", if n == 1 { "" } else { "s" })
}

/// Until SIGINT or SIGTERM; SIGHUP reloads the file meanwhile.
pub(super) async fn until_stopped(shared: &Arc<Shared>) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut hup), Ok(mut term)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hup.recv() => {
                let shared = Arc::clone(shared);
                match tokio::task::spawn_blocking(move || shared.reload()).await {
                    Ok(Ok(n)) => eprintln!("reloaded: {}", routes_counted(n)),
                    Ok(Err(e)) => eprintln!("reload refused, the running routes stay:\n{e}"),
                    Err(e) => eprintln!("reload failed: {e}"),
                }
            }
        }
    }
}

//! The gateway's configuration file: TOML, every problem reported at once with its file,
//! line, column and field (the advisor's diagnostics).
//!
//! ```toml
//! listen = "127.0.0.1:8080"     # where clients connect
//! admin = "127.0.0.1:9901"      # /metrics (Prometheus), /reload, /routes; optional
//!
//! [registry]                    # where services are found
//! kind = "static"               # "static": the [[services]] below
//!                               # "served": those, and instances that register over
//!                               #   HTTP at `listen` (the processes of this machine)
//!                               # "http": a registry another gateway serves, at `address`
//!                               # "etcd": etcd at `address`, keys under `prefix`
//!
//! [[services]]                  # kind = "static": each service's endpoints
//! name = "api"
//! endpoints = ["127.0.0.1:9001", "127.0.0.1:9002"]
//!
//! [[routes]]                    # the first route that matches a request takes it
//! host = "api.example.com"      # optional: the Host header, without its port
//! prefix = "/api/"              # the path must start with it
//! service = "api"
//! policy = "p2c-peak-ewma"      # round-robin | least-requests | p2c-peak-ewma | consistent-hash
//! timeout_ms = 1000             # the whole request, retries included
//! retries = 2                   # idempotent requests answered 502/503/504, or not sent
//! retry_budget = 0.2            # retries per request, at most
//! rate_limit = 1000             # requests per second (optional), with
//! burst = 100                   # this many at once
//! breaker = true                # open on half the last 100 failing (optional)
//! health_check = "/health"      # or "tcp": probed every health_interval_ms (1000),
//!                               # down after 2 failures in a row, up after 2 successes
//! ```

use crate::balance::Policy;
use crate::health::Probe;
use dsys_diagnostic::{Diagnostic, FileError};
use serde::Deserialize;
use std::net::SocketAddr;
use std::ops::Range;
use toml::Spanned;

/// Where the fields are documented (the hint of every diagnostic).
const REFERENCE: &str = "`dsys gateway --help`";

/// A configuration file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    listen: Spanned<String>,
    admin: Option<Spanned<String>>,
    #[serde(default)]
    registry: Option<RegistryFile>,
    #[serde(default)]
    services: Vec<ServiceFile>,
    #[serde(default)]
    routes: Vec<RouteFile>,
    sidecar: Option<sidecar::SidecarFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryFile {
    kind: Spanned<String>,
    address: Option<Spanned<String>>,
    listen: Option<Spanned<String>>,
    prefix: Option<String>,
    timeout_ms: Option<Spanned<u64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceFile {
    name: Spanned<String>,
    endpoints: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteFile {
    host: Option<String>,
    prefix: Spanned<String>,
    service: Spanned<String>,
    policy: Option<Spanned<String>>,
    timeout_ms: Option<Spanned<u64>>,
    retries: Option<Spanned<u32>>,
    retry_budget: Option<Spanned<f64>>,
    rate_limit: Option<Spanned<u32>>,
    burst: Option<Spanned<u32>>,
    #[serde(default)]
    breaker: bool,
    #[serde(default)]
    strip_prefix: bool,
    health_check: Option<Spanned<String>>,
    health_interval_ms: Option<Spanned<u64>>,
}

/// Where the gateway finds services.
#[derive(Clone, Debug, PartialEq)]
pub enum RegistryConfig {
    /// The endpoints listed in the file.
    Static(Vec<(String, Vec<SocketAddr>)>),
    /// A registry the gateway holds and serves over HTTP at `listen`, starting with the
    /// endpoints listed (registered for good).
    Served {
        /// Where instances register.
        listen: SocketAddr,
        /// The endpoints listed in the file.
        services: Vec<(String, Vec<SocketAddr>)>,
    },
    /// A registry another process serves over HTTP.
    Remote {
        /// Where.
        address: SocketAddr,
        /// How long a request to it may take.
        timeout_ms: u64,
    },
    /// Registrations in etcd.
    Etcd {
        /// etcd's client address.
        address: SocketAddr,
        /// The key prefix.
        prefix: String,
        /// How long a request to etcd may take.
        timeout_ms: u64,
    },
}

/// One route.
#[derive(Clone, Debug, PartialEq)]
pub struct Route {
    /// The Host it matches (lower case, no port), or any.
    pub host: Option<String>,
    /// The path prefix it matches.
    pub prefix: String,
    /// Remove the prefix before forwarding.
    pub strip_prefix: bool,
    /// The service it forwards to.
    pub service: String,
    /// How it balances.
    pub policy: Policy,
    /// The whole request's time limit, retries included (ms).
    pub timeout_ms: u64,
    /// Retries after the first try.
    pub retries: u32,
    /// Retries per request, at most.
    pub retry_budget: f64,
    /// Requests per second and burst, if limited.
    pub rate_limit: Option<(u32, u32)>,
    /// Whether a circuit breaker guards the service.
    pub breaker: bool,
    /// Active health checks of the endpoints, and how often (ms), if any.
    pub health: Option<(Probe, u64)>,
}

/// A checked configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Where clients connect.
    pub listen: SocketAddr,
    /// Where /metrics, /reload and /routes are served, if anywhere.
    pub admin: Option<SocketAddr>,
    /// Where services are found.
    pub registry: RegistryConfig,
    /// The routes, in the order they are tried.
    pub routes: Vec<Route>,
    /// The sidecar of one service instance, if this proxy is one.
    pub sidecar: Option<Sidecar>,
}

/// Problems found, in file order; empty when all is well.
struct Problems<'t> {
    text: &'t str,
    found: Vec<Diagnostic>,
}

impl Problems<'_> {
    fn at(&mut self, span: Range<usize>, message: String, hint: &str) {
        self.found
            .push(Diagnostic::at(self.text, span, &message, hint));
    }
}

/// Whether port 0 is allowed: to listen on (the system picks a free port), not to connect
/// to.
#[derive(Clone, Copy, PartialEq)]
enum Port {
    Any,
    Given,
}

fn address(
    p: &mut Problems<'_>,
    field: &str,
    value: &Spanned<String>,
    port: Port,
) -> Option<SocketAddr> {
    match value.get_ref().parse::<SocketAddr>() {
        Ok(a) if port == Port::Any && !a.ip().is_multicast() => Some(a),
        Ok(a) if a.port() != 0 && !a.ip().is_unspecified() && !a.ip().is_multicast() => Some(a),
        Ok(a) => {
            p.at(
                value.span(),
                format!("{field}: {a} cannot be connected to"),
                "use a specific IP and a port other than 0, such as 127.0.0.1:8080",
            );
            None
        }
        Err(_) => {
            p.at(
                value.span(),
                format!("{field}: {:?} is not IP:PORT", value.get_ref()),
                "write an address such as 127.0.0.1:8080 (names are not resolved)",
            );
            None
        }
    }
}

impl Config {
    /// Parse and check `text`, read from `path` (named in every diagnostic).
    pub fn parse(path: &str, text: &str) -> Result<Config, FileError> {
        let fail = |diagnostics| FileError {
            path: path.to_string(),
            diagnostics,
        };
        let file: File = toml::from_str(text)
            .map_err(|e| fail(vec![Diagnostic::from_toml_documented(text, &e, REFERENCE)]))?;
        let mut p = Problems {
            text,
            found: Vec::new(),
        };
        let config = check(&mut p, file);
        match (config, p.found.is_empty()) {
            (Some(config), true) => Ok(config),
            _ => Err(fail(p.found)),
        }
    }
}

fn check(p: &mut Problems<'_>, file: File) -> Option<Config> {
    let listen = address(p, "listen", &file.listen, Port::Any);
    let admin = match &file.admin {
        None => Some(None),
        Some(a) => address(p, "admin", a, Port::Any).map(Some),
    };
    let registry = registry(p, &file);
    let mut routes = Vec::new();
    let sidecar = file
        .sidecar
        .as_ref()
        .map(|s| sidecar::check(p, s, &file, registry.as_ref()));
    if file.routes.is_empty() && file.sidecar.is_none() {
        p.at(
            0..0,
            "routes: there are none; the gateway would answer every request 404".into(),
            "add a [[routes]] table with a prefix and a service",
        );
    }
    let known: Vec<&str> = match &registry {
        Some(RegistryConfig::Static(services)) => {
            services.iter().map(|(n, _)| n.as_str()).collect()
        }
        _ => Vec::new(),
    };
    let is_static = matches!(registry, Some(RegistryConfig::Static(_)));
    for (i, r) in file.routes.iter().enumerate() {
        let field = |name: &str| format!("routes[{i}].{name}");
        if !r.prefix.get_ref().starts_with('/') {
            p.at(
                r.prefix.span(),
                format!(
                    "{}: {:?} does not start with /",
                    field("prefix"),
                    r.prefix.get_ref()
                ),
                "a path prefix such as \"/\" or \"/api/\"",
            );
        }
        if is_static && !known.contains(&r.service.get_ref().as_str()) {
            p.at(
                r.service.span(),
                format!(
                    "{}: no service {:?} is listed",
                    field("service"),
                    r.service.get_ref()
                ),
                "add a [[services]] table with that name, or fix the name",
            );
        }
        let policy = match &r.policy {
            None => Some(Policy::PeakEwma),
            Some(s) => Policy::parse(s.get_ref()).or_else(|| {
                let names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
                p.at(
                    s.span(),
                    format!("{}: unknown policy {:?}", field("policy"), s.get_ref()),
                    &format!("one of {}", names.join(", ")),
                );
                None
            }),
        };
        let positive = |p: &mut Problems<'_>, name: &str, v: &Option<Spanned<u64>>| match v {
            Some(v) if *v.get_ref() == 0 => {
                p.at(
                    v.span(),
                    format!("{}: must be more than 0", field(name)),
                    "a number of milliseconds",
                );
                None
            }
            Some(v) => Some(*v.get_ref()),
            None => Some(1_000),
        };
        let timeout_ms = positive(p, "timeout_ms", &r.timeout_ms);
        let retry_budget = match &r.retry_budget {
            Some(b) if !(0.0..=1.0).contains(b.get_ref()) => {
                p.at(
                    b.span(),
                    format!(
                        "{}: {} is not between 0 and 1",
                        field("retry_budget"),
                        b.get_ref()
                    ),
                    "the share of requests that may be retried, such as 0.2",
                );
                None
            }
            Some(b) => Some(*b.get_ref()),
            None => Some(0.2),
        };
        let rate_limit = match (&r.rate_limit, &r.burst) {
            (Some(rate), _) if *rate.get_ref() == 0 => {
                p.at(
                    rate.span(),
                    format!("{}: must be more than 0", field("rate_limit")),
                    "requests per second; leave it out for no limit",
                );
                None
            }
            (Some(rate), Some(burst)) if *burst.get_ref() == 0 => {
                let _ = rate;
                p.at(
                    burst.span(),
                    format!("{}: must be more than 0", field("burst")),
                    "requests admitted at once",
                );
                None
            }
            (Some(rate), burst) => Some(Some((
                *rate.get_ref(),
                burst
                    .as_ref()
                    .map_or((*rate.get_ref() / 10).max(1), |b| *b.get_ref()),
            ))),
            (None, Some(burst)) => {
                p.at(
                    burst.span(),
                    format!("{}: a burst without a rate_limit", field("burst")),
                    "add rate_limit, or remove burst",
                );
                None
            }
            (None, None) => Some(None),
        };
        let health = health(p, r, i);
        if let (
            Some(policy),
            Some(timeout_ms),
            Some(retry_budget),
            Some(rate_limit),
            Some(health),
        ) = (policy, timeout_ms, retry_budget, rate_limit, health)
        {
            routes.push(Route {
                host: r.host.as_ref().map(|h| h.to_ascii_lowercase()),
                prefix: r.prefix.get_ref().clone(),
                strip_prefix: r.strip_prefix,
                service: r.service.get_ref().clone(),
                policy,
                timeout_ms,
                retries: r.retries.as_ref().map_or(2, |r| *r.get_ref()),
                retry_budget,
                rate_limit,
                breaker: r.breaker,
                health,
            });
        }
    }
    Some(Config {
        listen: listen?,
        admin: admin?,
        registry: registry?,
        routes,
        sidecar: match sidecar {
            Some(s) => Some(s?),
            None => None,
        },
    })
}

/// Route `i`'s active health check: `"tcp"`, or an HTTP path answered 2xx.
fn health(p: &mut Problems<'_>, r: &RouteFile, i: usize) -> Option<Option<(Probe, u64)>> {
    let interval = match &r.health_interval_ms {
        Some(ms) if *ms.get_ref() == 0 => {
            p.at(
                ms.span(),
                format!("routes[{i}].health_interval_ms: must be more than 0"),
                "a number of milliseconds, such as 1000",
            );
            return None;
        }
        Some(ms) => *ms.get_ref(),
        None => 1_000,
    };
    match &r.health_check {
        None => {
            if let Some(ms) = &r.health_interval_ms {
                p.at(
                    ms.span(),
                    format!("routes[{i}].health_interval_ms: without a health_check"),
                    "add health_check = \"/health\" (or \"tcp\"), or remove it",
                );
                return None;
            }
            Some(None)
        }
        Some(check) => match check.get_ref().as_str() {
            "tcp" => Some(Some((Probe::Tcp, interval))),
            path if path.starts_with('/') && path.chars().all(|c| c.is_ascii_graphic()) => {
                Some(Some((
                    Probe::Http {
                        path: path.to_string(),
                    },
                    interval,
                )))
            }
            other => {
                p.at(
                    check.span(),
                    format!("routes[{i}].health_check: {other:?} is neither \"tcp\" nor a path"),
                    "\"tcp\" to connect, or a path such as \"/health\" answered 2xx",
                );
                None
            }
        },
    }
}

fn listed(p: &mut Problems<'_>, file: &File) -> Vec<(String, Vec<SocketAddr>)> {
    let mut services: Vec<(String, Vec<SocketAddr>)> = Vec::new();
    for (i, s) in file.services.iter().enumerate() {
        let endpoints: Vec<SocketAddr> = s
            .endpoints
            .iter()
            .enumerate()
            .filter_map(|(j, e)| {
                address(p, &format!("services[{i}].endpoints[{j}]"), e, Port::Given)
            })
            .collect();
        if services.iter().any(|(n, _)| n == s.name.get_ref()) {
            p.at(
                s.name.span(),
                format!("services[{i}].name: {:?} is listed twice", s.name.get_ref()),
                "list each service once, with all its endpoints",
            );
        }
        services.push((s.name.get_ref().clone(), endpoints));
    }
    services
}

/// `registry.<field>`, required for this kind.
fn required<'f>(
    p: &mut Problems<'_>,
    r: &RegistryFile,
    field: &str,
    value: &'f Option<Spanned<String>>,
    example: &str,
) -> Option<&'f Spanned<String>> {
    if value.is_none() {
        p.at(
            r.kind.span(),
            format!(
                "registry.{field}: missing (kind = {:?} needs it)",
                r.kind.get_ref()
            ),
            &format!("add {field} = \"{example}\""),
        );
    }
    value.as_ref()
}

fn registry(p: &mut Problems<'_>, file: &File) -> Option<RegistryConfig> {
    let Some(r) = &file.registry else {
        return Some(RegistryConfig::Static(listed(p, file)));
    };
    let timeout_ms = match &r.timeout_ms {
        Some(t) if *t.get_ref() == 0 => {
            p.at(
                t.span(),
                "registry.timeout_ms: must be more than 0".into(),
                "a number of milliseconds",
            );
            None
        }
        Some(t) => Some(*t.get_ref()),
        None => Some(2_000),
    };
    let kind = r.kind.get_ref().as_str();
    if matches!(kind, "etcd" | "http") {
        if let Some(s) = file.services.first() {
            p.at(
                s.name.span(),
                format!("services: listed, but the registry is {kind}"),
                "remove [[services]], or use kind = \"static\" or \"served\"",
            );
        }
    }
    match kind {
        "static" => Some(RegistryConfig::Static(listed(p, file))),
        "served" => {
            let listen = required(p, r, "listen", &r.listen, "127.0.0.1:8500")?;
            let listen = address(p, "registry.listen", listen, Port::Any);
            Some(RegistryConfig::Served {
                services: listed(p, file),
                listen: listen?,
            })
        }
        "http" => {
            let at = required(p, r, "address", &r.address, "127.0.0.1:8500")?;
            Some(RegistryConfig::Remote {
                address: address(p, "registry.address", at, Port::Given)?,
                timeout_ms: timeout_ms?,
            })
        }
        "etcd" => {
            let at = required(p, r, "address", &r.address, "127.0.0.1:2379")?;
            Some(RegistryConfig::Etcd {
                address: address(p, "registry.address", at, Port::Given)?,
                prefix: r.prefix.clone().unwrap_or_else(|| "/dsys/services/".into()),
                timeout_ms: timeout_ms?,
            })
        }
        other => {
            p.at(
                r.kind.span(),
                format!("registry.kind: unknown kind {other:?}"),
                "one of static, served, http, etcd",
            );
            None
        }
    }
}

#[path = "config_sidecar.rs"]
mod sidecar;

pub use sidecar::Sidecar;

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;

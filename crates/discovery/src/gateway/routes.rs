//! The routes of one configuration, each a balancer over a registry watch; for a sidecar,
//! also a route per service the app calls, made on its first call.

use super::config::{Config, RegistryConfig, Route};
use super::connect::Connector;
use super::proxy::{self, HttpClient, RouteState};
use super::{CONNECT_TIMEOUT, GatewayError, tls};
use crate::balance::Policy;
use crate::registry::{
    EtcdRegistry, Instance, MemoryRegistry, Registry, RegistryError, RemoteRegistry, WatchSettings,
    WatchStream,
};
use dsys_resilience::SystemClock;
use rustls::ClientConfig;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A registry any thread may use.
pub(crate) type SharedRegistry = Arc<dyn Registry + Send + Sync>;

/// The registry a gateway holds and serves (`kind = "served"`): made once, at start, so
/// registrations outlive reloads.
pub(crate) type Served = Arc<MemoryRegistry<SystemClock>>;

/// The most services a sidecar keeps routes to (each has a watch thread): a Host header
/// naming ever new services cannot exhaust the machine.
const MAX_OUTBOUND: usize = 256;

/// The routes of one configuration.
pub(crate) struct Routes {
    pub(crate) routes: Vec<Arc<RouteState>>,
    registry: SharedRegistry,
    /// A sidecar's mutual-TLS client settings, if this proxy is one.
    sidecar: Option<Arc<ClientConfig>>,
    /// A sidecar's routes to the services its app calls, by service.
    outbound: Mutex<BTreeMap<String, Arc<RouteState>>>,
}

impl Routes {
    /// The configured route for a request to `host` (lower case, no port) and `path`.
    pub(crate) fn find(&self, host: Option<&str>, path: &str) -> Option<Arc<RouteState>> {
        self.routes
            .iter()
            .find(|r| {
                r.route.host.as_deref().is_none_or(|h| Some(h) == host)
                    && path.starts_with(&r.route.prefix)
            })
            .cloned()
    }

    /// Every route now, configured and outbound.
    pub(crate) fn all(&self) -> Vec<Arc<RouteState>> {
        let outbound = self.outbound.lock().unwrap_or_else(|p| p.into_inner());
        self.routes
            .iter()
            .chain(outbound.values())
            .cloned()
            .collect()
    }

    /// Whether this is a sidecar's, making routes to the services its app calls.
    pub(crate) fn serves_outbound(&self) -> bool {
        self.sidecar.is_some()
    }

    /// A sidecar's route to `service` (the Host of the app's request: `orders`, or
    /// `orders.dsys`), made on first use over mutual TLS; `None` if this is no sidecar,
    /// the name is no service name, or no instance of it is registered. Blocking (a first
    /// listing).
    pub(crate) fn outbound(&self, host: &str) -> Option<Arc<RouteState>> {
        let config = self.sidecar.as_ref()?;
        let service = host.strip_suffix(".dsys").unwrap_or(host);
        Instance::new(service, "x", "127.0.0.1:1").ok()?;
        if let Some(route) = self
            .outbound
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(service)
        {
            return Some(Arc::clone(route));
        }
        if self.registry.list(service).ok()?.instances.is_empty() {
            return None;
        }
        let name = tls::expected_name(service).ok()?;
        let client = proxy::client(Connector::tls(Arc::clone(config), name, CONNECT_TIMEOUT));
        let route = Route {
            host: Some(service.to_string()),
            prefix: "/".into(),
            strip_prefix: false,
            service: service.to_string(),
            policy: Policy::PeakEwma,
            timeout_ms: 1_000,
            retries: 2,
            retry_budget: 0.2,
            rate_limit: None,
            breaker: true,
            health: None,
        };
        let state = Arc::new(route_over(route, &self.registry, &client).ok()?);
        let mut outbound = self.outbound.lock().unwrap_or_else(|p| p.into_inner());
        if outbound.len() >= MAX_OUTBOUND && !outbound.contains_key(service) {
            return None;
        }
        Some(Arc::clone(
            outbound.entry(service.to_string()).or_insert(state),
        ))
    }
}

/// Register `services`' endpoints in `registry` for good (a century is for ever here).
pub(crate) fn register_listed(
    registry: &impl Registry,
    services: &[(String, Vec<SocketAddr>)],
) -> Result<(), GatewayError> {
    for (name, endpoints) in services {
        for (i, address) in endpoints.iter().enumerate() {
            let instance = Instance::new(name, &format!("{name}-{i}"), &address.to_string())
                .map_err(|e| GatewayError::Registry(e.to_string()))?;
            registry
                .register(instance, Duration::from_secs(100 * 365 * 86_400))
                .map_err(|e| GatewayError::Registry(e.to_string()))?;
        }
    }
    Ok(())
}

/// The registry `config` names (the served one, if it serves one). Blocking: a remote
/// registry is asked at once.
pub(crate) fn registry_of(
    config: &Config,
    served: Option<&Served>,
) -> Result<SharedRegistry, GatewayError> {
    let unavailable = |what: &str, e: RegistryError| GatewayError::Registry(format!("{what}: {e}"));
    Ok(match (&config.registry, served) {
        (RegistryConfig::Served { .. }, Some(served)) => Arc::clone(served) as _,
        (RegistryConfig::Served { .. }, None) => {
            return Err(GatewayError::Reload(
                "the served registry starts with the gateway".into(),
            ));
        }
        (RegistryConfig::Static(services), _) => {
            let memory = MemoryRegistry::new(SystemClock::new(), 16);
            register_listed(&memory, services)?;
            Arc::new(memory)
        }
        (
            RegistryConfig::Remote {
                address,
                timeout_ms,
            },
            _,
        ) => Arc::new(
            RemoteRegistry::connect(*address, Duration::from_millis(*timeout_ms))
                .map_err(|e| unavailable(&format!("registry at {address}"), e))?,
        ),
        (
            RegistryConfig::Etcd {
                address,
                prefix,
                timeout_ms,
            },
            _,
        ) => Arc::new(
            EtcdRegistry::connect(*address, prefix.clone(), Duration::from_millis(*timeout_ms))
                .map_err(|e| unavailable(&format!("etcd at {address}"), e))?,
        ),
    })
}

/// `route`, balancing over a watch of its service in `registry`, sending through
/// `client`. Blocking (the watch's first listing).
fn route_over(
    route: Route,
    registry: &SharedRegistry,
    client: &HttpClient,
) -> Result<RouteState, String> {
    let service = route.service.clone();
    let registry = Arc::clone(registry);
    let client = client.clone();
    RouteState::new(route, |metrics| {
        WatchStream::spawn(registry, &service, WatchSettings::default(), move |i| {
            proxy::forward(&client, i.address, &metrics)
        })
        .map_err(|e| format!("service {service}: {e}"))
    })
}

/// The routes of `config` over `registry`: a watch per configured route, and for a
/// sidecar (`sidecar`: its mutual-TLS client settings) routes made on first use.
/// Blocking.
pub(crate) fn build(
    config: &Config,
    client: &HttpClient,
    registry: SharedRegistry,
    sidecar: Option<Arc<ClientConfig>>,
) -> Result<Routes, GatewayError> {
    let routes = config
        .routes
        .iter()
        .map(|route| route_over(route.clone(), &registry, client).map(Arc::new))
        .collect::<Result<Vec<_>, _>>()
        .map_err(GatewayError::Registry)?;
    Ok(Routes {
        routes,
        registry,
        sidecar,
        outbound: Mutex::new(BTreeMap::new()),
    })
}

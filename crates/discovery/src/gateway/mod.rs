//! Server-side discovery: an HTTP/1.1 gateway (`dsys gateway --config FILE`).
//!
//! Each request is matched to the first route whose host and path prefix fit, then goes
//! through the route's rate limit and circuit breaker, retries within a budget and its
//! time limit, and the balancer over the service's endpoints as the registry (static, or
//! etcd) reports them. It carries a W3C `traceparent` on (continuing the caller's trace or
//! starting one) and a span per request (`tracing`); the admin listener serves Prometheus
//! metrics at `/metrics`, the routes and endpoints at `/routes`, and reloads the file on
//! `POST /reload` (or SIGHUP) without closing a connection: requests in flight finish on
//! the routes they started with, the next ones take the new routes. A file that does not
//! parse leaves the running routes as they are.

pub mod backend;
pub mod config;
pub mod load;
mod metrics;
mod proxy;
mod server;
mod trace;

pub use config::{Config, RegistryConfig, Route};
pub use metrics::Refusal;
pub use trace::TraceParent;

use crate::registry::{
    EtcdRegistry, Instance, MemoryRegistry, Registry, RegistryError, RemoteRegistry, WatchSettings,
    WatchStream,
};
use dsys_diagnostic::FileError;
use dsys_resilience::SystemClock;
use proxy::{HttpClient, RouteState};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// What can stop a gateway from starting or reloading.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration has problems (each with file, line and field).
    #[error("{0}")]
    Config(#[from] FileError),
    /// The file could not be read.
    #[error("cannot read {path}: {error}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        error: String,
    },
    /// A listener could not be opened.
    #[error("cannot listen on {address}: {error}")]
    Listen {
        /// Where.
        address: SocketAddr,
        /// Why.
        error: String,
    },
    /// The registry could not be reached or refused a service.
    #[error("registry: {0}")]
    Registry(String),
    /// A reload that would need a restart.
    #[error("{0}")]
    Reload(String),
    /// The runtime could not start.
    #[error("cannot start the runtime: {0}")]
    Runtime(String),
}

/// Read and check the configuration at `path`.
pub fn load(path: &Path) -> Result<Config, GatewayError> {
    let text = std::fs::read_to_string(path).map_err(|e| GatewayError::Read {
        path: path.display().to_string(),
        error: e.to_string(),
    })?;
    Ok(Config::parse(&path.display().to_string(), &text)?)
}

/// The routes of one configuration, each with its balancer over a registry watch.
pub(crate) struct Routes {
    pub(crate) routes: Vec<RouteState>,
}

impl Routes {
    /// The route for a request to `host` (lower case, no port) and `path`.
    pub(crate) fn find(&self, host: Option<&str>, path: &str) -> Option<&RouteState> {
        self.routes.iter().find(|r| {
            r.route.host.as_deref().is_none_or(|h| Some(h) == host)
                && path.starts_with(&r.route.prefix)
        })
    }
}

/// Register `services`' endpoints in `registry` for good (a century is for ever here).
fn register_listed(
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

/// The registry a gateway holds and serves (`kind = "served"`): made once, at start, so
/// registrations outlive reloads.
pub(crate) type Served = Arc<MemoryRegistry<SystemClock>>;

/// Build the routes of `config`: connect to its registry, start a watch per route.
/// Blocking (the first listing of each watch is made before this returns).
fn build(
    config: &Config,
    client: &HttpClient,
    served: Option<&Served>,
) -> Result<Routes, GatewayError> {
    let unavailable = |what: &str, e: RegistryError| GatewayError::Registry(format!("{what}: {e}"));
    let registry: Arc<dyn Registry + Send + Sync> = match (&config.registry, served) {
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
    };
    let mut routes = Vec::new();
    for route in &config.routes {
        let service = route.service.clone();
        let registry = Arc::clone(&registry);
        let state = RouteState::new(route.clone(), |metrics| {
            let client = client.clone();
            WatchStream::spawn(registry, &service, WatchSettings::default(), move |i| {
                proxy::forward(&client, i.address, &metrics)
            })
            .map_err(|e| format!("service {service}: {e}"))
        })
        .map_err(GatewayError::Registry)?;
        routes.push(state);
    }
    Ok(Routes { routes })
}

/// What the listeners share.
pub(crate) struct Shared {
    pub(crate) current: RwLock<Arc<Routes>>,
    pub(crate) config: Mutex<Config>,
    pub(crate) path: Option<PathBuf>,
    pub(crate) client: HttpClient,
    pub(crate) served: Option<Served>,
    pub(crate) clock: SystemClock,
    /// The span-id generator's state (SplitMix64, seeded from the process and the time).
    pub(crate) spans: Mutex<u64>,
}

impl Shared {
    pub(crate) fn routes(&self) -> Arc<Routes> {
        Arc::clone(&self.current.read().unwrap_or_else(|p| p.into_inner()))
    }

    /// Load the file again and swap the routes in; blocking.
    pub(crate) fn reload(&self) -> Result<usize, GatewayError> {
        let Some(path) = &self.path else {
            return Err(GatewayError::Reload(
                "no configuration file to reload from".into(),
            ));
        };
        let config = load(path)?;
        {
            let old = self.config.lock().unwrap_or_else(|p| p.into_inner());
            if old.listen != config.listen || old.admin != config.admin {
                return Err(GatewayError::Reload(format!(
                    "{}: listen and admin cannot change on reload; restart the gateway to move them",
                    path.display()
                )));
            }
            let serves = |c: &Config| matches!(c.registry, RegistryConfig::Served { .. });
            if (serves(&old) || serves(&config)) && old.registry != config.registry {
                return Err(GatewayError::Reload(format!(
                    "{}: the registry this gateway serves cannot change on reload (its registrations would be lost); restart the gateway to change it",
                    path.display()
                )));
            }
        }
        let routes = Arc::new(build(&config, &self.client, self.served.as_ref())?);
        let count = routes.routes.len();
        let old = std::mem::replace(
            &mut *self.current.write().unwrap_or_else(|p| p.into_inner()),
            routes,
        );
        *self.config.lock().unwrap_or_else(|p| p.into_inner()) = config;
        drop(old); // its watches stop once the last request on them is done
        Ok(count)
    }
}

/// A running gateway. Dropping it stops the listeners.
pub struct Gateway {
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
    listen: SocketAddr,
    admin: Option<SocketAddr>,
    registry: Option<SocketAddr>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("listen", &self.listen)
            .field("admin", &self.admin)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Start serving `config` (read from `path`, if it came from a file: reloads read it
    /// again) on `workers` threads. Returns once the listeners are bound.
    pub fn start(
        config: Config,
        path: Option<PathBuf>,
        workers: usize,
    ) -> Result<Gateway, GatewayError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers.max(1))
            .thread_name("dsys-gateway")
            .enable_all()
            .build()
            .map_err(|e| GatewayError::Runtime(e.to_string()))?;
        let client = {
            let _entered = runtime.enter();
            let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
            connector.set_nodelay(true);
            connector.set_connect_timeout(Some(Duration::from_secs(2)));
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .pool_idle_timeout(Duration::from_secs(60))
                .build(connector)
        };
        let served = match &config.registry {
            RegistryConfig::Served { services, .. } => {
                let registry = Arc::new(MemoryRegistry::new(SystemClock::new(), 1_024));
                register_listed(&registry, services)?;
                Some(registry)
            }
            _ => None,
        };
        let routes = build(&config, &client, served.as_ref())?;
        let clock = SystemClock::new();
        // Span and trace ids must differ between gateways and runs: seeded from the
        // process and the wall clock (the gateway is real, not simulated).
        #[allow(clippy::disallowed_methods)]
        let seed = u64::from(std::process::id()).rotate_left(32)
            ^ std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
        let shared = Arc::new(Shared {
            current: RwLock::new(Arc::new(routes)),
            config: Mutex::new(config.clone()),
            path,
            client,
            served,
            clock,
            spans: Mutex::new(seed),
        });
        let (listen, admin, registry) = runtime.block_on(server::bind(&shared, &config))?;
        Ok(Gateway {
            runtime: Some(runtime),
            shared,
            listen,
            admin,
            registry,
        })
    }

    /// Where clients connect.
    pub fn listen_address(&self) -> SocketAddr {
        self.listen
    }

    /// Where the admin endpoints are, if configured.
    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin
    }

    /// Where instances register, if this gateway serves the registry.
    pub fn registry_address(&self) -> Option<SocketAddr> {
        self.registry
    }

    /// Load the configuration file again and swap the routes in (what `POST /reload`
    /// and SIGHUP do). The number of routes now.
    pub fn reload(&self) -> Result<usize, GatewayError> {
        self.shared.reload()
    }

    /// Serve until SIGINT or SIGTERM.
    pub fn wait(&self) {
        if let Some(rt) = &self.runtime {
            rt.block_on(server::until_stopped(&self.shared));
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests;

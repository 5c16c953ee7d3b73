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
//!
//! With a `[sidecar]` table the same proxy is the sidecar of one service instance (the
//! mesh pattern): other sidecars call it over mutual TLS from a local certificate
//! authority, its app calls other services through it by name, and it registers the
//! instance; see `sidecar`.

pub mod backend;
pub mod config;
mod connect;
pub mod load;
mod metrics;
mod proxy;
mod routes;
mod server;
mod sidecar;
pub mod tls;
mod trace;

pub use config::{Config, RegistryConfig, Route, Sidecar};
pub use metrics::Refusal;
pub use trace::TraceParent;

use crate::registry::MemoryRegistry;
use dsys_diagnostic::FileError;
use dsys_resilience::SystemClock;
use proxy::HttpClient;
use routes::{Routes, Served, build, register_listed, registry_of};
use rustls::ClientConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// How long a connection to an endpoint may take to open (TLS handshake included).
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// What can stop a gateway from starting or reloading.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The configuration has problems (each with file, line and field).
    #[error("{0}")]
    Config(#[from] FileError),
    /// The file could not be read (or is too large, or not text).
    #[error(transparent)]
    Read(#[from] dsys_diagnostic::ReadFileError),
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
    let text = dsys_diagnostic::read_text_file(path, dsys_diagnostic::MAX_FILE_BYTES)?;
    Ok(Config::parse(&path.display().to_string(), &text)?)
}

/// What the listeners share.
pub(crate) struct Shared {
    pub(crate) current: RwLock<Arc<Routes>>,
    pub(crate) config: Mutex<Config>,
    pub(crate) path: Option<PathBuf>,
    pub(crate) client: HttpClient,
    pub(crate) served: Option<Served>,
    /// A sidecar's mutual-TLS client settings, for its outbound routes.
    pub(crate) sidecar: Option<Arc<ClientConfig>>,
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
            if old.sidecar != config.sidecar {
                return Err(GatewayError::Reload(format!(
                    "{}: the [sidecar] table cannot change on reload; restart the sidecar",
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
        let registry = registry_of(&config, self.served.as_ref())?;
        let routes = Arc::new(build(
            &config,
            &self.client,
            registry,
            self.sidecar.clone(),
        )?);
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
    /// A sidecar's registration: first to go when the gateway stops (deregistered
    /// before the listeners close).
    registration: Option<sidecar::Registration>,
    runtime: Option<tokio::runtime::Runtime>,
    shared: Arc<Shared>,
    listen: SocketAddr,
    admin: Option<SocketAddr>,
    registry: Option<SocketAddr>,
    inbound: Option<SocketAddr>,
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
            proxy::client(connect::Connector::plain(CONNECT_TIMEOUT))
        };
        let served = match &config.registry {
            RegistryConfig::Served { services, .. } => {
                let registry = Arc::new(MemoryRegistry::new(SystemClock::new(), 1_024));
                register_listed(&registry, services)?;
                Some(registry)
            }
            _ => None,
        };
        let registry = registry_of(&config, served.as_ref())?;
        let certificates = match &config.sidecar {
            Some(s) => Some(sidecar::certificates(s)?),
            None => None,
        };
        let client_tls = certificates.as_ref().map(|c| Arc::clone(&c.client));
        let routes = build(&config, &client, Arc::clone(&registry), client_tls.clone())?;
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
            sidecar: client_tls,
            clock,
            spans: Mutex::new(seed),
        });
        let (listen, admin, served_at) = runtime.block_on(server::bind(&shared, &config))?;
        // A sidecar: serve other sidecars over mutual TLS, then register where they can
        // reach it.
        let (inbound, registration) = match (&config.sidecar, certificates) {
            (Some(s), Some(certificates)) => {
                let listener = runtime
                    .block_on(tokio::net::TcpListener::bind(s.inbound))
                    .map_err(|e| GatewayError::Listen {
                        address: s.inbound,
                        error: e.to_string(),
                    })?;
                let at = listener.local_addr().map_err(|e| GatewayError::Listen {
                    address: s.inbound,
                    error: e.to_string(),
                })?;
                runtime.spawn(sidecar::inbound(
                    listener,
                    certificates.server,
                    s.app,
                    shared.client.clone(),
                    Arc::clone(&shared),
                ));
                let registration = sidecar::Registration::start(registry, s, at)?;
                (Some(at), Some(registration))
            }
            _ => (None, None),
        };
        Ok(Gateway {
            registration,
            runtime: Some(runtime),
            shared,
            listen,
            admin,
            registry: served_at,
            inbound,
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

    /// Where other sidecars call this one over mutual TLS, if it is a sidecar.
    pub fn inbound_address(&self) -> Option<SocketAddr> {
        self.inbound
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
        drop(self.registration.take());
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
    }
}

#[cfg(test)]
mod tests;

//! The mesh pattern: the same proxy as the sidecar of one service instance.
//!
//! - **Inbound**: other sidecars call on `inbound` over mutual TLS (only certificates the
//!   local authority signed get in); each request goes to the app as plain HTTP, with
//!   `x-dsys-mtls: verified`.
//! - **Outbound**: the app sends plain HTTP to the proxy's `listen` address, the Host
//!   header naming the service it calls (`payments`); the sidecar balances over that
//!   service's registered sidecars, with retries, a breaker and a time limit, and calls
//!   them over mutual TLS, expecting the certificate of `payments.dsys`.
//! - **Registration**: the instance is registered under a lease at its inbound address,
//!   kept alive, and deregistered when the sidecar stops.
//!
//! So an app that speaks plain HTTP and knows nothing of dsys gets discovery, balancing,
//! retries, breakers and mutual TLS.

use super::config::Sidecar;
use super::proxy::HttpClient;
use super::routes::SharedRegistry;
use super::server::{Body, forward_to, text};
use super::tls::LocalCa;
use super::{GatewayError, Shared};
use crate::registry::{Instance, RegistryError};
use crate::worker::Worker;
use hyper_util::rt::TokioIo;
use rustls::{ClientConfig, ServerConfig};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// How long a caller has to finish the TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// The sidecar's certificates: what it serves with and what it calls with.
pub(crate) struct Certificates {
    pub(crate) server: Arc<ServerConfig>,
    pub(crate) client: Arc<ClientConfig>,
}

/// Issue the sidecar's certificate from the authority in its `ca` directory.
pub(crate) fn certificates(sidecar: &Sidecar) -> Result<Certificates, GatewayError> {
    let tls = |e: super::tls::TlsError| GatewayError::Registry(e.to_string());
    let identity = LocalCa::open_or_create(&sidecar.ca)
        .and_then(|ca| ca.issue(&sidecar.service))
        .map_err(tls)?;
    Ok(Certificates {
        server: identity.server().map_err(tls)?,
        client: identity.client().map_err(tls)?,
    })
}

/// Serve other sidecars on `listener`: mutual TLS, then plain HTTP to the app.
pub(crate) async fn inbound(
    listener: TcpListener,
    server: Arc<ServerConfig>,
    app: SocketAddr,
    client: HttpClient,
    shared: Arc<Shared>,
) {
    let acceptor = TlsAcceptor::from(server);
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (acceptor, client, shared) = (acceptor.clone(), client.clone(), Arc::clone(&shared));
        tokio::spawn(async move {
            // A caller without a certificate the authority signed never gets past this.
            let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await else {
                return;
            };
            let service = hyper::service::service_fn(move |req| {
                let (client, shared) = (client.clone(), Arc::clone(&shared));
                async move {
                    Ok::<_, std::convert::Infallible>(
                        to_app(&shared, &client, app, peer, req).await,
                    )
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}

async fn to_app(
    shared: &Shared,
    client: &HttpClient,
    app: SocketAddr,
    peer: SocketAddr,
    req: hyper::Request<hyper::body::Incoming>,
) -> hyper::Response<Body> {
    match forward_to(
        shared,
        client,
        app,
        peer,
        req,
        &[("x-dsys-mtls", "verified")],
    )
    .await
    {
        Ok(response) => response,
        Err(status) => text(
            status,
            format!("{}\n", status.canonical_reason().unwrap_or("error")),
        ),
    }
}

/// The instance's registration, kept alive by a thread; dropped, it deregisters.
pub(crate) struct Registration {
    _worker: Worker,
}

impl Registration {
    /// Register `sidecar`'s instance at `inbound` in `registry` and keep it alive (every
    /// third of its lease; registered afresh if the registry lost it).
    pub(crate) fn start(
        registry: SharedRegistry,
        sidecar: &Sidecar,
        inbound: SocketAddr,
    ) -> Result<Registration, GatewayError> {
        let failed = |e: RegistryError| GatewayError::Registry(format!("registering: {e}"));
        let mut instance =
            Instance::new(&sidecar.service, &sidecar.id, &inbound.to_string()).map_err(failed)?;
        if let Some(zone) = &sidecar.zone {
            instance = instance.in_zone(zone.clone());
        }
        let ttl = Duration::from_millis(sidecar.ttl_ms);
        let mut lease = registry.register(instance.clone(), ttl).map_err(failed)?;
        let worker = Worker::spawn("dsys-sidecar-lease".into(), move |stop| {
            while !stop.sleep(ttl / 3) {
                lease = match registry.keep_alive(lease) {
                    Err(RegistryError::LeaseGone(_)) => {
                        registry.register(instance.clone(), ttl).unwrap_or(lease)
                    }
                    // Unreachable for now: the next beat tries again.
                    _ => lease,
                };
            }
            let _ = registry.deregister(lease);
        })
        .map_err(|e| GatewayError::Runtime(e.to_string()))?;
        Ok(Registration { _worker: worker })
    }
}

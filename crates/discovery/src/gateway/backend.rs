//! A backend with injected latency, for the gateway's tests, its benchmark and the
//! loopback comparison of the balancers: answers every request after a delay (its
//! latency can be changed while it runs) with a status, its name, and what it was sent
//! (path, `traceparent`, `x-forwarded-for`, `x-dsys-mtls`: what a sidecar says of the
//! caller), one line each.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Response;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;
use tokio::net::TcpListener;

/// What a backend does, changeable while it runs.
#[derive(Debug)]
struct Behaviour {
    delay_us: AtomicU64,
    status: AtomicU16,
    served: AtomicU64,
}

/// A running backend; dropping it stops it.
#[derive(Debug)]
pub struct Backend {
    address: SocketAddr,
    behaviour: Arc<Behaviour>,
    runtime: Option<tokio::runtime::Runtime>,
}

impl Backend {
    /// Serve on `address` (port 0: any free port) as `name`, answering after `delay`,
    /// on `threads` threads.
    pub fn start(
        address: SocketAddr,
        name: &str,
        delay: Duration,
        threads: usize,
    ) -> std::io::Result<Backend> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("dsys-backend")
            .enable_all()
            .build()?;
        let behaviour = Arc::new(Behaviour {
            delay_us: AtomicU64::new(u64::try_from(delay.as_micros()).unwrap_or(u64::MAX)),
            status: AtomicU16::new(200),
            served: AtomicU64::new(0),
        });
        let listener = runtime.block_on(TcpListener::bind(address))?;
        let address = listener.local_addr()?;
        let name: Arc<str> = name.into();
        runtime.spawn(serve(listener, name, Arc::clone(&behaviour)));
        Ok(Backend {
            address,
            behaviour,
            runtime: Some(runtime),
        })
    }

    /// Where it listens.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Answer after `delay` from now on.
    pub fn set_delay(&self, delay: Duration) {
        let us = u64::try_from(delay.as_micros()).unwrap_or(u64::MAX);
        self.behaviour.delay_us.store(us, Ordering::Relaxed);
    }

    /// Answer with `status` from now on.
    pub fn set_status(&self, status: u16) {
        self.behaviour.status.store(status, Ordering::Relaxed);
    }

    /// Requests answered so far.
    pub fn served(&self) -> u64 {
        self.behaviour.served.load(Ordering::Relaxed)
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn serve(listener: TcpListener, name: Arc<str>, behaviour: Arc<Behaviour>) {
    while let Ok((stream, _)) = listener.accept().await {
        let _ = stream.set_nodelay(true);
        let (name, behaviour) = (Arc::clone(&name), Arc::clone(&behaviour));
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    let (name, behaviour) = (Arc::clone(&name), Arc::clone(&behaviour));
                    async move {
                        let header = |h: &str| {
                            req.headers()
                                .get(h)
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or("-")
                                .to_string()
                        };
                        let text = format!(
                            "{name}\n{}\n{}\n{}\n{}\n",
                            req.uri(),
                            header("traceparent"),
                            header("x-forwarded-for"),
                            header("x-dsys-mtls")
                        );
                        // Read the body, so a keep-alive connection stays in step.
                        let _ = req.into_body().collect().await;
                        let delay = behaviour.delay_us.load(Ordering::Relaxed);
                        if delay > 0 {
                            tokio::time::sleep(Duration::from_micros(delay)).await;
                        }
                        behaviour.served.fetch_add(1, Ordering::Relaxed);
                        let mut response = Response::new(Full::new(Bytes::from(text)));
                        *response.status_mut() =
                            hyper::StatusCode::from_u16(behaviour.status.load(Ordering::Relaxed))
                                .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
                        Ok::<_, Infallible>(response)
                    }
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

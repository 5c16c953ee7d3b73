//! A closed-loop HTTP/1.1 load generator: so many connections, each sending its next
//! request when the last answer came, every latency recorded. The gateway benchmark
//! drives the gateway, nginx and the bare backend with it; the loopback comparison of
//! the balancers drives the gateway over backends with injected latency.

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Request;
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// What a run saw.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Load {
    /// Each request's latency, in the order they finished.
    pub latencies: Vec<Duration>,
    /// Requests answered other than 2xx, or not answered.
    pub failed: u64,
    /// The run's length.
    pub elapsed: Duration,
}

impl Load {
    /// The `q` quantile of the latencies (0 ≤ q ≤ 1), nearest rank.
    pub fn quantile(&self, q: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        match sorted.len() {
            0 => Duration::ZERO,
            n => sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1],
        }
    }

    /// Requests answered per second.
    pub fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// How long a run lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// After this many requests in all.
    After(u64),
    /// After this long.
    For(Duration),
}

/// Send GET `path` to `target` over `connections` connections until `stop`, on `threads`
/// threads of a runtime of its own. Every request carries the header `x-session-id`
/// (its connection's number), so consistent hashing has a key.
pub fn closed_loop(
    target: SocketAddr,
    path: &str,
    connections: usize,
    stop: Stop,
    threads: usize,
) -> std::io::Result<Load> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    runtime.block_on(async {
        #[allow(clippy::disallowed_methods)] // a load generator measures real time
        let start = std::time::Instant::now();
        let per = match stop {
            Stop::After(n) => Some(n.div_ceil(connections.max(1) as u64)),
            Stop::For(_) => None,
        };
        let deadline = match stop {
            Stop::For(d) => Some(start + d),
            Stop::After(_) => None,
        };
        let tasks: Vec<_> = (0..connections.max(1))
            .map(|c| tokio::spawn(connection(target, path.to_string(), c, per, deadline)))
            .collect();
        let mut load = Load::default();
        for task in tasks {
            let (latencies, failed) = task.await.map_err(std::io::Error::other)??;
            load.latencies.extend(latencies);
            load.failed += failed;
        }
        load.elapsed = start.elapsed();
        Ok(load)
    })
}

async fn connection(
    target: SocketAddr,
    path: String,
    number: usize,
    requests: Option<u64>,
    deadline: Option<std::time::Instant>,
) -> std::io::Result<(Vec<Duration>, u64)> {
    let stream = TcpStream::connect(target).await?;
    stream.set_nodelay(true)?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(conn);
    let (mut latencies, mut failed) = (Vec::new(), 0);
    let session = number.to_string();
    let mut sent = 0u64;
    loop {
        #[allow(clippy::disallowed_methods)] // a load generator measures real time
        let now = std::time::Instant::now();
        if requests.is_some_and(|n| sent >= n) || deadline.is_some_and(|d| now >= d) {
            break;
        }
        sent += 1;
        let request = Request::get(path.as_str())
            .header("host", "load")
            .header("x-session-id", session.as_str())
            .body(Empty::<Bytes>::new())
            .map_err(std::io::Error::other)?;
        if sender.ready().await.is_err() {
            failed += 1;
            break;
        }
        match sender.send_request(request).await {
            Ok(response) => {
                let ok = response.status().is_success();
                let body = response.into_body().collect().await;
                latencies.push(now.elapsed());
                failed += u64::from(!ok || body.is_err());
            }
            Err(_) => {
                failed += 1;
                break;
            }
        }
    }
    Ok((latencies, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank_and_rates_count_answers() {
        let load = Load {
            latencies: (1..=100).rev().map(Duration::from_millis).collect(),
            failed: 0,
            elapsed: Duration::from_secs(2),
        };
        let ms = |q| load.quantile(q).as_millis();
        assert_eq!(
            (ms(0.0), ms(0.5), ms(0.99), ms(0.999), ms(1.0)),
            (1, 50, 99, 100, 100)
        );
        assert_eq!(load.rate(), 50.0);
        assert_eq!(Load::default().quantile(0.5), Duration::ZERO);
    }
}

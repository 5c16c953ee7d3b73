//! The mesh pattern: two apps that speak plain HTTP and know nothing of dsys, each beside
//! a dsys sidecar, and what the sidecars add.
//!
//! ```text
//! cargo run -p dsys-discovery --features gateway --example service_mesh
//! ```
//!
//! The `orders` app places an order by calling `payments` at its own sidecar, naming the
//! service in the Host header, as it would call any HTTP proxy. The sidecars find
//! `payments` in a registry (served by a gateway), balance, retry, break, and call each
//! other over mutual TLS with certificates from a local authority; they register their
//! instances and deregister when they stop. Real sockets on loopback.

use dsys_discovery::gateway::{Config, Gateway, GatewayError};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

#[path = "../support/story.rs"]
mod story;

/// The apps: std only, nothing of dsys. Each answers every request on its own thread.
mod plain_app {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener, TcpStream};

    /// One HTTP/1.1 request: its first line and headers, the body skipped.
    fn read_request(reader: &mut BufReader<TcpStream>) -> Option<(String, Vec<String>)> {
        let mut first = String::new();
        reader.read_line(&mut first).ok().filter(|&n| n > 0)?;
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).ok()?;
            if line.trim_end().is_empty() {
                break;
            }
            headers.push(line.trim_end().to_ascii_lowercase());
        }
        Some((first.trim_end().to_string(), headers))
    }

    /// Serve on a free port: `answer(request line, headers)` is the body of each reply.
    pub fn serve(answer: fn(&str, &[String]) -> String) -> std::io::Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                std::thread::spawn(move || {
                    let Ok(writer) = stream.try_clone() else {
                        return;
                    };
                    let (mut reader, mut writer) = (BufReader::new(stream), writer);
                    while let Some((line, headers)) = read_request(&mut reader) {
                        let body = answer(&line, &headers);
                        let reply = format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        let close = headers.iter().any(|h| h == "connection: close");
                        if writer.write_all(reply.as_bytes()).is_err() || close {
                            return;
                        }
                    }
                });
            }
        });
        Ok(address)
    }

    /// GET `path` from `proxy` for service `host`: the status line and body.
    pub fn get(proxy: SocketAddr, host: &str, path: &str) -> std::io::Result<(String, String)> {
        let mut s = TcpStream::connect(proxy)?;
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )?;
        let mut out = String::new();
        s.read_to_string(&mut out)?;
        let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
        let status = head.lines().next().unwrap_or("").to_string();
        Ok((status, body.to_string()))
    }
}

/// Where the orders app's sidecar listens: the one address the app is told, as a mesh
/// app is told `localhost:15001`.
static ORDERS_SIDECAR: std::sync::OnceLock<SocketAddr> = std::sync::OnceLock::new();

fn payments(_line: &str, headers: &[String]) -> String {
    let mtls = headers.iter().any(|h| h == "x-dsys-mtls: verified");
    format!("charged 5 (mutual TLS: {mtls})")
}

fn orders(_line: &str, _headers: &[String]) -> String {
    let Some(&sidecar) = ORDERS_SIDECAR.get() else {
        return "no sidecar".into();
    };
    match plain_app::get(sidecar, "payments", "/charge?amount=5") {
        Ok((status, body)) if status.contains(" 200 ") => format!("order placed; {body}"),
        Ok((status, _)) => {
            let code = status.split_whitespace().nth(1).unwrap_or("no status");
            format!("order refused; payments answered {code}")
        }
        Err(e) => format!("order refused; {e}"),
    }
}

/// Why the story could not be told.
#[derive(Debug)]
enum StoryError {
    Gateway(GatewayError),
    Io(std::io::Error),
}

impl std::fmt::Display for StoryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoryError::Gateway(e) => write!(f, "{e}"),
            StoryError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<GatewayError> for StoryError {
    fn from(e: GatewayError) -> Self {
        StoryError::Gateway(e)
    }
}

impl From<std::io::Error> for StoryError {
    fn from(e: std::io::Error) -> Self {
        StoryError::Io(e)
    }
}

fn start(text: &str) -> Result<Gateway, StoryError> {
    let config = Config::parse("mesh.toml", text).map_err(GatewayError::from)?;
    Ok(Gateway::start(config, None, 1)?)
}

fn sidecar(
    registry: SocketAddr,
    service: &str,
    app: SocketAddr,
    ca: &str,
) -> Result<Gateway, StoryError> {
    start(&format!(
        "listen = \"127.0.0.1:0\"\n\
         [registry]\nkind = \"http\"\naddress = \"{registry}\"\n\
         [sidecar]\nservice = \"{service}\"\nid = \"{service}-1\"\napp = \"{app}\"\n\
         inbound = \"127.0.0.1:0\"\nca = \"{ca}\"\nttl_ms = 2000\n"
    ))
}

fn narrative(ca: &Path) -> Result<String, StoryError> {
    let mut out = String::new();
    let ca = ca.display().to_string();
    // The control plane: a gateway holding the registry the sidecars register in.
    let control = start(
        "listen = \"127.0.0.1:0\"\n[registry]\nkind = \"served\"\nlisten = \"127.0.0.1:0\"\n\
         [[routes]]\nprefix = \"/\"\nservice = \"orders\"\n",
    )?;
    let registry = control
        .registry_address()
        .ok_or_else(|| std::io::Error::other("no registry"))?;
    let (orders_app, payments_app) = (plain_app::serve(orders)?, plain_app::serve(payments)?);
    let orders_sidecar = sidecar(registry, "orders", orders_app, &ca)?;
    let payments_sidecar = sidecar(registry, "payments", payments_app, &ca)?;
    let _ = ORDERS_SIDECAR.set(orders_sidecar.listen_address());
    let _ = writeln!(
        out,
        "orders, payments: plain HTTP apps, each with a sidecar"
    );

    let (_, body) = plain_app::get(orders_app, "orders", "/order")?;
    let _ = writeln!(out, "GET /order -> {body}");

    // A sidecar whose certificate another authority signed cannot reach payments.
    let stranger_app = plain_app::serve(orders)?;
    let stranger = sidecar(registry, "stranger", stranger_app, &format!("{ca}-other"))?;
    let (status, _) = plain_app::get(stranger.listen_address(), "payments", "/charge")?;
    let _ = writeln!(
        out,
        "a sidecar of another authority calls payments -> {status}"
    );

    // The payments sidecar stops: deregistered at once; orders hears of it shortly.
    drop(payments_sidecar);
    let mut last = String::new();
    for _ in 0..100 {
        last = plain_app::get(orders_app, "orders", "/order")?.1;
        if last.contains("503") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = writeln!(out, "payments' sidecar stopped; GET /order -> {last}");
    drop(stranger);
    drop(orders_sidecar);
    Ok(out)
}

/// The authority's directory, removed when done.
fn with_ca(tell: impl FnOnce(&Path) -> Result<String, StoryError>) -> Result<String, StoryError> {
    let ca = std::env::temp_dir().join(format!("dsys-mesh-ca-{}", std::process::id()));
    let told = tell(&ca);
    let _ = std::fs::remove_dir_all(&ca);
    let _ = std::fs::remove_dir_all(format!("{}-other", ca.display()));
    told
}

fn main() {
    story::tell(with_ca(narrative));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_story_holds() {
        let text = with_ca(narrative).expect("the story");
        print!("{text}");
        assert!(
            text.contains("GET /order -> order placed; charged 5 (mutual TLS: true)"),
            "{text}"
        );
        assert!(
            text.contains("another authority calls payments -> HTTP/1.1 50"),
            "{text}"
        );
        assert!(
            text.contains("stopped; GET /order -> order refused; payments answered 503"),
            "{text}"
        );
        assert!(text.lines().all(|l| l.chars().count() <= 80), "{text}");
    }
}

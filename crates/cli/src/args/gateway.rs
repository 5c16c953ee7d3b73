//! `dsys gateway`: the discovery gateway's flags.

use clap::Args;
use std::path::PathBuf;

pub const GATEWAY_EXAMPLES: &str = "\
Examples:
  dsys gateway --config gateway.toml            serve until Ctrl-C or SIGTERM
  dsys gateway --config gateway.toml --check    check the file, print the routes, exit
  kill -HUP PID                                 reload the file (as POST /reload on admin)

The file (TOML):
  listen = \"127.0.0.1:8080\"        where clients connect
  admin = \"127.0.0.1:9901\"         GET /metrics (Prometheus), GET /routes, POST /reload
  [registry]                       optional; static by default
  kind = \"static\"                  the [[services]] below, and no others
                                   \"served\": those, and instances that register over
                                   HTTP at listen = \"127.0.0.1:8500\" (this machine's
                                   processes; POST /v1/register, keep_alive, deregister,
                                   list, changes: see dsys_discovery::registry::wire)
                                   \"http\": a registry another gateway serves, at
                                   address = \"127.0.0.1:8500\"
                                   \"etcd\": etcd at address = \"127.0.0.1:2379\", keys
                                   under prefix = \"/dsys/services/\"
                                   timeout_ms = 2000 for http and etcd
  [[services]]                     static and served: each service's endpoints
  name = \"api\"
  endpoints = [\"127.0.0.1:9001\", \"127.0.0.1:9002\"]
  [[routes]]                       the first that matches takes the request
  host = \"api.example.com\"         optional: the Host header, port ignored
  prefix = \"/api/\"                 the path must start with it
  strip_prefix = false             forward the path without the prefix
  service = \"api\"
  policy = \"p2c-peak-ewma\"         round-robin, least-requests, p2c-peak-ewma,
                                   consistent-hash (by the x-session-id header)
  timeout_ms = 1000                the whole request, retries included (504 past it)
  retries = 2                      idempotent requests answered 502/503/504, or
                                   requests never sent (connection refused)
  retry_budget = 0.2               retries per request, at most
  rate_limit = 1000                requests per second, optional (429 past it),
  burst = 100                      with this many at once
  breaker = false                  a circuit breaker (503 while open)
  health_check = \"/health\"         optional: each endpoint probed (\"tcp\": a connect;
                                   a path: GET answered 2xx) every health_interval_ms
                                   (1000); down after 2 failures in a row, up after 2

The sidecar (the mesh pattern: one per service instance, next to an app that speaks
plain HTTP and knows nothing of dsys); no [[routes]] needed:
  listen = \"127.0.0.1:15001\"       outbound: the app calls services here by name
                                   (Host: payments), balanced, retried, broken
  [registry]                       served, http or etcd: the sidecar registers in it
  [sidecar]
  service = \"orders\"               this instance's service and id
  id = \"orders-1\"
  app = \"127.0.0.1:9000\"           the app
  inbound = \"127.0.0.1:15443\"      other sidecars call here, over mutual TLS
  ca = \"ca\"                        the local certificate authority's directory (made
                                   there if absent: ca.pem, ca-key.pem)
  ttl_ms = 5000                    the registration's lease

Endpoints failing five times in a row are ejected for 30 s (longer each time, at most
10% at once). Requests carry a W3C traceparent: the caller's trace continued, or a new
one. A problem in the file is reported with its file, line, column and field; on
reload, the running routes stay.";

#[derive(Args, Debug)]
pub struct GatewayArgs {
    /// The configuration file (TOML; its fields are below).
    #[arg(long)]
    pub config: PathBuf,
    /// Check the file and print the routes, then exit (2 if the file has problems).
    #[arg(long)]
    pub check: bool,
    /// Worker threads serving requests.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: u16,
}

//! Service discovery and load balancing.
//!
//! - [`balance`]: which endpoint a request goes to. Round robin, least requests (the
//!   less loaded of two picked at random), and the power of two choices over peak-EWMA
//!   latency (Finagle's, as Linkerd and tower use it): each endpoint's cost is its latency
//!   estimate — the worst recent latency, decaying toward the average — times the
//!   requests it has in flight plus one. A new endpoint starts at the pool's typical
//!   estimate, not at a fixed second, so it gets traffic at once.
//! - [`registry`]: where each service's instances are: registrations under leases (no
//!   zombie outlives its lease), a revision per change, and watchers that catch up from
//!   the last revision they heard or list again when the changes were compacted.
//! - [`health`]: active checks (a TCP connect, an HTTP GET answered 2xx), with
//!   thresholds so one lost probe neither ejects nor readmits an endpoint.
//! - [`outlier`]: passive health: endpoints whose requests keep failing are ejected for
//!   a while, longer each time, never more than a fraction of them at once.
//! - `gateway` (feature `gateway`): server-side discovery, an HTTP gateway that routes
//!   by host and path to registered services through the balancers and the resilience
//!   layers (`dsys gateway --config FILE`).
//! - `replay` (feature `demo`): the balancers against simulated backends on virtual
//!   time, replaying published experiments; the table `dsys discovery` prints.

pub mod balance;
mod base64;
#[cfg(feature = "gateway")]
pub mod gateway;
pub mod health;
mod http;
pub mod outlier;
pub mod registry;
#[cfg(feature = "demo")]
pub mod replay;
mod worker;

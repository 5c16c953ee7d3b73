//! The deterministic simulated world of dsys.
//!
//! One [`SimConfig`] plus a seed reproduces a run bit for bit: virtual time only, every
//! random choice from a stream derived from the seed ([`dsys_node::DetRng::derive`]),
//! ordered collections only. A run drives sans-IO [`dsys_node::Node`]s through a
//! network with per-link latency, loss and duplication, a nemesis that partitions,
//! crashes, pauses and skews clocks, and closed-loop clients whose operations are
//! recorded as a [`History`]. Its [`RunOutcome`] carries a trace hash that a rerun must
//! match.
//!
//! ```
//! use dsys_sim::{SimConfig, World};
//! # use dsys_node::*;
//! # #[derive(Debug)] struct Echo;
//! # impl Node for Echo {
//! #     type Message = (); type Config = ();
//! #     fn boot(_: &(), _: NodeId, _: usize, _: &Storage) -> Self { Echo }
//! #     fn on_start(&mut self, _: &mut Context<'_, ()>) {}
//! #     fn on_message(&mut self, _: &mut Context<'_, ()>, _: NodeId, _: ()) {}
//! #     fn on_timer(&mut self, _: &mut Context<'_, ()>, _: TimerId) {}
//! #     fn on_request(&mut self, ctx: &mut Context<'_, ()>, r: Request) {
//! #         ctx.reply(r.id, Response::WriteOk)
//! #     }
//! # }
//! let config = SimConfig { seed: 7, nemesis: "halves+loss:0.05".parse().unwrap(), ..SimConfig::default() };
//! let a = World::<Echo>::new(config.clone(), ()).unwrap().run();
//! let b = World::<Echo>::new(config, ()).unwrap().run();
//! assert_eq!(a.trace_hash, b.trace_hash);
//! ```

/// Serialise a type as its spec string (`Display`) and deserialise it through `FromStr`,
/// so configs and artifacts spell values the way the CLI does: `"halves+loss:0.05"`.
/// The type also needs `#[serde(try_from = "String", into = "String")]`.
macro_rules! serde_as_spec_string {
    ($ty:ty, $err:ty) => {
        impl TryFrom<String> for $ty {
            type Error = $err;
            fn try_from(s: String) -> Result<Self, $err> {
                s.parse()
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.to_string()
            }
        }
    };
}

pub mod clock;
pub mod config;
pub mod dist;
pub mod history;
pub mod nemesis;
pub mod network;
pub mod outcome;
pub mod queue;
pub mod store;
pub mod trace;
pub mod workload;
mod world;
pub mod zipf;

pub use config::{ConfigError, ConvergenceConfig, MAX_NODES, MAX_OPS, SimConfig};
pub use dist::LatencyDist;
pub use history::{RunHistory, SimEvent};
pub use nemesis::{FaultAction, NemesisSpec, TimedFault};
pub use network::{ClientHome, LinkConfig, LinkOverride, NetworkConfig, Regions};
pub use outcome::{Availability, InvariantsOutcome, RunOutcome, RunStats};
pub use world::{PROGRESS_EVERY_EVENTS, Progress, World};

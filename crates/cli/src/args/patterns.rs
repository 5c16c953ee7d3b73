//! The pattern demos beside their libraries: `dsys partition`, `dsys resilience`,
//! `dsys cache` and `dsys discovery`.

use super::values::{Format, seed};
use clap::{Args, ValueEnum};

pub const PARTITION_EXAMPLES: &str = "\
Examples:
  dsys partition
  dsys partition --nodes 1000 --keys 10000000 --algorithm jump --algorithm maglev
  dsys partition --distribution zipf:0.99 --format json
  dsys partition --format svg > placement.svg
  dsys partition --plan --shards 1024 --shard-bytes 1073741824 --replicas 3

Algorithms: ring (--vnodes virtual nodes per node, 100 by default), jump, rendezvous, maglev, anchor
(AnchorHash), bounded (the ring with loads capped at 1.25 x the average). Key
distributions: uniform, sequential (0, 1, 2, ... hashed), zipf or zipf:S (requests
skewed toward a few hot keys). The node added is node-N; the node removed is the middle
one. Every figure but lookup ns comes out the same for the same flags. With --plan, a
second table: for node-N joining, the shards whose replicas change, the bytes copied
(each new replica once: the minimum), and the waves of transfers under --per-node.";

fn parse_algorithm(name: &str) -> Result<dsys_partition::evaluation::Algorithm, String> {
    use dsys_partition::evaluation::Algorithm;
    Algorithm::parse(name).ok_or_else(|| {
        let known: Vec<_> = Algorithm::ALL.iter().map(|a| a.name()).collect();
        format!("unknown algorithm '{name}' (known: {})", known.join(", "))
    })
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct PartitionArgs {
    /// Nodes (weight 1 each).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(2..=100_000))]
    pub nodes: u32,
    /// Zones the nodes are spread over, round-robin.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub zones: u32,
    /// Keys placed (for zipf, requests).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub keys: u64,
    /// Key distribution: uniform, sequential, zipf or zipf:S.
    #[arg(long, default_value = "uniform", value_parser = dsys_partition::evaluation::Keys::parse)]
    pub distribution: dsys_partition::evaluation::Keys,
    /// Algorithms to evaluate (repeat or separate with commas) [default: all].
    #[arg(long = "algorithm", value_parser = parse_algorithm, value_delimiter = ',')]
    pub algorithms: Vec<dsys_partition::evaluation::Algorithm>,
    /// Seed for the keys.
    #[arg(long, default_value = "1", value_parser = seed)]
    pub seed: u64,
    /// Virtual nodes per node on the ring (ring and bounded): few leave the ring badly
    /// unbalanced.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub vnodes: u32,
    /// Also plan the data movement for node-N's join (text and JSON).
    #[arg(long)]
    pub plan: bool,
    /// Shards (key groups) in the plan.
    #[arg(long, default_value_t = 4_096, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub shards: u64,
    /// Bytes per shard in the plan.
    #[arg(long, default_value_t = 64 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub shard_bytes: u64,
    /// Replicas per shard in the plan (at most the nodes).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub replicas: u32,
    /// Transfers one node may take part in at once, in the plan.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    pub per_node: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ChartFormat::Text)]
    pub format: ChartFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartFormat {
    /// A table for people.
    #[value(alias = "table")]
    Text,
    /// The rows as JSON.
    Json,
    /// A bar chart.
    Svg,
}

pub const RESILIENCE_EXAMPLES: &str = "\
Examples:
  dsys resilience
  dsys resilience --pattern timeout --pattern breaker --seed 7
  dsys resilience --rate 1000 --seconds 120 --format json

The service serves 40 calls at once (10 ms plus an exponential 10 ms each, slower beyond
40); 1% of its calls fail; from 20 s to 35 s half of them hang for a second and fail.
Every pattern but none times an attempt out after 200 ms. Patterns: none, timeout,
retry, breaker, bulkhead, rate-limit, adaptive, shed. The same seed gives the same table.
Columns: calls made; ok; failed (errors and timeouts, after retries); rejected by the
pattern before reaching the service; service = attempts that reached it; peak = most it
had in hand at once; p50/p99 = what callers waited, refusals included; ok p99 = over
successes only.";

fn parse_pattern(name: &str) -> Result<dsys_resilience::demo::Pattern, String> {
    dsys_resilience::demo::Pattern::parse(name).ok_or_else(|| {
        let known: Vec<_> = dsys_resilience::demo::Pattern::ALL
            .iter()
            .map(|p| p.name())
            .collect();
        format!("unknown pattern '{name}' (known: {})", known.join(", "))
    })
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ResilienceArgs {
    /// Patterns to run (repeat or separate with commas) [default: all].
    #[arg(long = "pattern", value_parser = parse_pattern, value_delimiter = ',')]
    pub patterns: Vec<dsys_resilience::demo::Pattern>,
    /// Seed for arrivals, latencies and failures.
    #[arg(long, default_value = "1", value_parser = seed)]
    pub seed: u64,
    /// Calls per second.
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub rate: u32,
    /// Seconds of traffic (the incident is at 20-35 s).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3_600))]
    pub seconds: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

pub const CACHE_EXAMPLES: &str = "\
Examples:
  dsys cache
  dsys cache --incidents stalls --strategy cache-aside,cache-aside-lease
  dsys cache --reads 5000 --writes 100 --ttl-ms 1000 --format json

Readers and writers arrive at random over Zipf keys; a cache operation takes 0.5 ms, a
database read or write 5 ms plus an exponential 5 ms. Incidents (--incidents, default
all): stalls (5% of loads pause 500 ms between the database read and the fill, 10-20 s),
restart (the cache node restarts empty at 30 s), lost-deletes (10% of invalidations lost,
40-50 s). Strategies: no-cache, ttl, cache-aside, cache-aside-lease, write-through,
refresh-ahead, xfetch, write-behind, write-behind-journal. Columns: reads; hits = share
answered by the cache; db reads per second; stale = reads dsys-check's no-stale-reads
finds stale; behind = the most newer writes one stale read missed; stale ms = the longest
a completed write stayed invisible; stampede = most loads of one key and version at
once; lost = writes acknowledged that never reached the database. The same seed gives
the same table.";

fn parse_strategy(name: &str) -> Result<dsys_cache::simulation::Strategy, String> {
    use dsys_cache::simulation::Strategy;
    Strategy::parse(name).ok_or_else(|| {
        let known: Vec<_> = Strategy::ALL.iter().map(|s| s.name()).collect();
        format!("unknown strategy '{name}' (known: {})", known.join(", "))
    })
}

#[derive(Args, Debug)]
pub struct CacheArgs {
    /// Strategies to run (repeat or separate with commas) [default: all].
    #[arg(long = "strategy", value_parser = parse_strategy, value_delimiter = ',')]
    pub strategies: Vec<dsys_cache::simulation::Strategy>,
    /// Seed for arrivals, keys, latencies and incidents.
    #[arg(long, default_value = "1", value_parser = seed)]
    pub seed: u64,
    /// Seconds of virtual time.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..=3_600))]
    pub seconds: u32,
    /// Keys (Zipf, skew 1).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub keys: u64,
    /// Reads per second.
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub reads: u32,
    /// Writes per second.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub writes: u32,
    /// Entries' time to live, in milliseconds.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub ttl_ms: u64,
    /// Incidents: stalls, restart, lost-deletes, all or none (comma-separated).
    #[arg(long, default_value = "all", value_parser = dsys_cache::simulation::Incidents::parse)]
    pub incidents: dsys_cache::simulation::Incidents,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ChartFormat::Text)]
    pub format: ChartFormat,
}

pub const DISCOVERY_EXAMPLES: &str = "\
Examples:
  dsys discovery
  dsys discovery --experiment tower --policy round-robin,p2c-peak-ewma --seed 7
  dsys discovery --format json
  dsys discovery --format svg > discovery.svg

tower: tower-balance's published demo (tower PR 76: round robin p999 988 ms, least
loaded 857 ms, the power of two choices over peak EWMA 105 ms). Ten endpoints answer in
a time drawn uniformly below 1, 10 (x4), 100 (x4) and 1000 ms; 50 callers each send
their next request when the last is answered; 50,000 requests.
linkerd: Linkerd's \"Beyond Round Robin\" on Finagle's simulation (published: about 95%,
99% and 99.9% of requests within 1 s). Eleven backends around 167 ms, 1,000 requests/s
for 60 s, one backend ten times slower from 15 s to 45 s.
registry: one of ten instances SIGKILLed at 60 s under 100 requests/s: how long it stays
in the client's view under a 10 s lease with a watch and under Eureka's default
heartbeats, sweeps and caches, and how many requests it takes, with and without passive
health (ejection after five failures in a row).
Policies: round-robin, least-requests (the less busy of two at random), p2c-peak-ewma
(the cheaper of two at random: latency estimate times requests in flight plus one),
consistent-hash (each of 1,000 sessions sticks to its endpoint on a ring). The
same seed gives the same tables. Columns: requests; success within the deadline;
latency percentiles; the share of traffic sent to the slowest backend.";

fn parse_experiment(name: &str) -> Result<String, String> {
    use dsys_discovery::replay::Experiment;
    match Experiment::ALL.contains(&name) {
        true => Ok(name.to_string()),
        false => Err(format!(
            "unknown experiment '{name}' (known: {})",
            Experiment::ALL.join(", ")
        )),
    }
}

fn parse_policy(name: &str) -> Result<dsys_discovery::balance::Policy, String> {
    use dsys_discovery::balance::Policy;
    Policy::parse(name).ok_or_else(|| {
        let known: Vec<_> = Policy::ALL.iter().map(|p| p.name()).collect();
        format!("unknown policy '{name}' (known: {})", known.join(", "))
    })
}

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct DiscoveryArgs {
    /// Experiments to replay (repeat or separate with commas) [default: all].
    #[arg(long = "experiment", value_parser = parse_experiment, value_delimiter = ',')]
    pub experiments: Vec<String>,
    /// Balancing policies to run (repeat or separate with commas) [default: all].
    #[arg(long = "policy", value_parser = parse_policy, value_delimiter = ',')]
    pub policies: Vec<dsys_discovery::balance::Policy>,
    /// Seed for arrivals, latencies and the balancers' choices.
    #[arg(long, default_value = "1", value_parser = seed)]
    pub seed: u64,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ChartFormat::Text)]
    pub format: ChartFormat,
}

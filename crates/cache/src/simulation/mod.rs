//! The caching strategies against a simulated database on virtual time: the same
//! readers, writers and incidents for each strategy, one row each of what the readers got
//! and what the database had to bear. `dsys cache` prints the table.
//!
//! Readers and writers arrive at random (Poisson) over Zipf-distributed keys. A cache
//! operation takes 0.5 ms; a database read or write 5 ms plus an exponential 5 ms. Three
//! incidents, the same for every strategy:
//! - from 10 s to 20 s, 5% of loads stall for 500 ms between reading the database and
//!   filling the cache (a pause, a slow network): the window cache-aside's race needs;
//! - at 30 s the cache node restarts, empty (write-behind's unflushed writes go with it
//!   unless they are journaled);
//! - from 40 s to 50 s, 10% of invalidations (deletes on write) are lost.
//!
//! Every read and write is recorded in dsys's history format and the stale reads are
//! judged by dsys-check's `no-stale-reads` check: a read is stale when a write of a newer
//! value had completed before the read began.

mod world;

use serde::Serialize;

/// A caching strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Every read goes to the database.
    NoCache,
    /// Entries expire after the TTL; writes leave the cache alone.
    Ttl,
    /// Read: miss, load, fill. Write: database, then delete. Every miss loads.
    CacheAside,
    /// Cache-aside with single-flight loads and fills under a lease.
    CacheAsideLease,
    /// Write: database, then set the cache (newer versions only). Reads as
    /// cache-aside-lease.
    WriteThrough,
    /// Cache-aside-lease, and an entry past 80% of its TTL is reloaded in the background
    /// while it is served.
    RefreshAhead,
    /// Cache-aside-lease, and readers recompute early by XFetch (beta 1).
    Xfetch,
    /// Writes go to the cache and are acknowledged; a flush every second writes them to
    /// the database, coalesced per key; the buffer is in memory.
    WriteBehind,
    /// Write-behind with the buffer journaled: it survives the restart.
    WriteBehindJournal,
}

impl Strategy {
    /// Every strategy, in table order.
    pub const ALL: [Strategy; 9] = [
        Strategy::NoCache,
        Strategy::Ttl,
        Strategy::CacheAside,
        Strategy::CacheAsideLease,
        Strategy::WriteThrough,
        Strategy::RefreshAhead,
        Strategy::Xfetch,
        Strategy::WriteBehind,
        Strategy::WriteBehindJournal,
    ];

    /// Its name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::NoCache => "no-cache",
            Strategy::Ttl => "ttl",
            Strategy::CacheAside => "cache-aside",
            Strategy::CacheAsideLease => "cache-aside-lease",
            Strategy::WriteThrough => "write-through",
            Strategy::RefreshAhead => "refresh-ahead",
            Strategy::Xfetch => "xfetch",
            Strategy::WriteBehind => "write-behind",
            Strategy::WriteBehindJournal => "write-behind-journal",
        }
    }

    /// The strategy called `name`.
    pub fn parse(name: &str) -> Option<Strategy> {
        Strategy::ALL.into_iter().find(|s| s.name() == name)
    }

    fn caches(self) -> bool {
        self != Strategy::NoCache
    }

    /// Loads share one flight per key and fill under a lease.
    fn guarded(self) -> bool {
        !matches!(
            self,
            Strategy::NoCache | Strategy::Ttl | Strategy::CacheAside
        )
    }

    /// Writes delete the key after the database write.
    fn deletes_on_write(self) -> bool {
        matches!(
            self,
            Strategy::CacheAside
                | Strategy::CacheAsideLease
                | Strategy::RefreshAhead
                | Strategy::Xfetch
        )
    }

    fn write_behind(self) -> bool {
        matches!(self, Strategy::WriteBehind | Strategy::WriteBehindJournal)
    }
}

/// Which incidents happen (see the module above).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Incidents {
    /// Loads stall between the database read and the fill, from 10 s to 20 s.
    pub stalls: bool,
    /// The cache node restarts at 30 s.
    pub restart: bool,
    /// Invalidations are lost, from 40 s to 50 s.
    pub lost_deletes: bool,
}

impl Incidents {
    /// All three.
    pub const ALL: Incidents = Incidents {
        stalls: true,
        restart: true,
        lost_deletes: true,
    };
    /// None.
    pub const NONE: Incidents = Incidents {
        stalls: false,
        restart: false,
        lost_deletes: false,
    };

    /// Incidents named in a comma-separated `list` (`stalls`, `restart`, `lost-deletes`,
    /// `all` or `none`).
    pub fn parse(list: &str) -> Result<Incidents, String> {
        let mut out = Incidents::NONE;
        for name in list.split(',').map(str::trim) {
            match name {
                "stalls" => out.stalls = true,
                "restart" => out.restart = true,
                "lost-deletes" => out.lost_deletes = true,
                "all" => out = Incidents::ALL,
                "none" => {}
                other => {
                    return Err(format!(
                        "unknown incident '{other}' (known: stalls, restart, lost-deletes, all, none)"
                    ));
                }
            }
        }
        Ok(out)
    }
}

/// The workload.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Setup {
    /// Seed of arrivals, keys, latencies and incidents.
    pub seed: u64,
    /// Seconds of virtual time.
    pub seconds: u32,
    /// Keys, drawn with Zipf skew 1.
    pub keys: u64,
    /// Reads per second.
    pub reads: u32,
    /// Writes per second.
    pub writes: u32,
    /// Entries' time to live, in milliseconds.
    pub ttl_ms: u64,
    /// The incidents.
    pub incidents: Incidents,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            seed: 1,
            seconds: 60,
            keys: 100,
            reads: 1_000,
            writes: 20,
            ttl_ms: 5_000,
            incidents: Incidents::ALL,
        }
    }
}

/// What one strategy did.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    /// The strategy.
    pub strategy: Strategy,
    /// Reads completed.
    pub reads: u64,
    /// Reads answered from the cache, as a share of reads.
    pub hit_ratio: f64,
    /// Database reads per second.
    pub database_reads_per_s: f64,
    /// Stale reads, as dsys-check's `no-stale-reads` counts them.
    pub stale_reads: u64,
    /// The most newer writes a stale read missed (k-staleness).
    pub max_versions_behind: u64,
    /// The longest a completed write stayed invisible to reads, in ms (t-visibility).
    pub max_stale_ms: u64,
    /// The most loads of one key in flight at once.
    pub largest_stampede: u64,
    /// Writes acknowledged that never reached the database.
    pub writes_lost: u64,
    /// The checker's account of the first stale read, if any.
    pub first_stale_read: Option<String>,
}

/// Run each of `strategies` on `setup`.
pub fn run_all(setup: &Setup, strategies: &[Strategy]) -> Vec<Row> {
    strategies.iter().map(|&s| world::run(setup, s)).collect()
}

/// The rows as a table.
pub fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<21} {:>7} {:>6} {:>9} {:>6} {:>7} {:>8} {:>9} {:>5}\n",
        "strategy", "reads", "hits", "db reads", "stale", "behind", "stale ms", "stampede", "lost"
    );
    for r in rows {
        out += &format!(
            "{:<21} {:>7} {:>5.1}% {:>7.0}/s {:>6} {:>7} {:>8} {:>9} {:>5}\n",
            r.strategy.name(),
            r.reads,
            r.hit_ratio * 100.0,
            r.database_reads_per_s,
            r.stale_reads,
            r.max_versions_behind,
            r.max_stale_ms,
            r.largest_stampede,
            r.writes_lost
        );
    }
    out
}

/// The setup, the table, and for each strategy with stale reads the checker's account of
/// the first one.
pub fn report(setup: &Setup, rows: &[Row]) -> String {
    let i = setup.incidents;
    // Only the incidents that start within the run.
    let named: Vec<&str> = [
        (i.stalls, 10, "loads stall 500 ms at 10-20 s"),
        (i.restart, 30, "the cache restarts at 30 s"),
        (i.lost_deletes, 40, "10% of deletes lost at 40-50 s"),
    ]
    .into_iter()
    .filter_map(|(on, from, text)| (on && from < setup.seconds).then_some(text))
    .collect();
    let about = format!(
        "{} reads/s and {} writes/s over {} Zipf keys for {} s, TTL {} ms, seed {}; {}.",
        setup.reads,
        setup.writes,
        setup.keys,
        setup.seconds,
        setup.ttl_ms,
        setup.seed,
        if named.is_empty() {
            "no incidents".to_string()
        } else {
            named.join("; ")
        },
    );
    let mut out = wrapped(&about, 88, "", "");
    out.push('\n');
    out += &table(rows);
    let stale: Vec<&Row> = rows
        .iter()
        .filter(|r| r.first_stale_read.is_some())
        .collect();
    if !stale.is_empty() {
        out += "\na stale read of each (dsys-check, no-stale-reads):\n";
        for r in stale {
            let why = r.first_stale_read.as_deref().unwrap_or_default();
            out += &wrapped(&format!("{}: {why}", r.strategy.name()), 88, "  ", "    ");
        }
    }
    out
}

/// The rows as an SVG bar chart: hit ratio, database reads, stale reads, how long a
/// write stayed invisible, and writes lost, one bar per strategy.
pub fn svg(setup: &Setup, rows: &[Row]) -> String {
    use dsys_diagram::chart::{Panel, bars};
    let panel = |title: &str, decimals: usize, value: fn(&Row) -> f64| Panel {
        title: title.to_string(),
        values: rows.iter().map(value).collect(),
        reference: None,
        decimals,
    };
    let names: Vec<&str> = rows.iter().map(|r| r.strategy.name()).collect();
    bars(
        &format!(
            "{} reads/s, {} writes/s over {} keys for {} s, TTL {} ms, seed {}",
            setup.reads, setup.writes, setup.keys, setup.seconds, setup.ttl_ms, setup.seed
        ),
        &names,
        &[
            panel("hits, %", 1, |r| r.hit_ratio * 100.0),
            panel("database reads / s", 0, |r| r.database_reads_per_s),
            panel("stale reads", 0, |r| r.stale_reads as f64),
            panel("longest stale, ms", 0, |r| r.max_stale_ms as f64),
            panel("writes lost", 0, |r| r.writes_lost as f64),
        ],
    )
}

/// `text` in lines of at most `width` columns (a longer word stands alone), the first
/// indented `first`, the rest `rest`.
fn wrapped(text: &str, width: usize, first: &str, rest: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > width {
            out += &line;
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line += word;
        empty = false;
    }
    out += &line;
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;

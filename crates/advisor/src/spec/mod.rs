//! The requirement spec: what the system must do, read from TOML.
//!
//! `specs/README.md` documents every field with a commented example; [`format`] holds the
//! same description as data, and [`json_schema`] publishes it for editors. Parsing is
//! strict and reports every problem in the file at once: an unknown key, a wrong type, a
//! missing field, a value outside its set, a name that refers to nothing ([`walk`]), and
//! then what only the whole spec shows, such as a cycle of dependencies ([`validate`]).
//! Each problem points at the file, line and column, with a hint.

pub mod format;
pub mod json_schema;
mod needs;
pub mod synthetic;
mod validate;
mod walk;

pub use needs::{Freshness, Merge, Needs};

use dsys_diagnostic::{Diagnostic, FileError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use toml::Spanned;

/// A name, with where it was written (for diagnostics).
pub type Name = Spanned<String>;

/// A whole requirement spec.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// System-wide requirements.
    pub system: System,
    /// Where the system runs.
    #[serde(rename = "region")]
    pub regions: Vec<Region>,
    /// Round trips between regions.
    #[serde(rename = "link", default)]
    pub links: Vec<Link>,
    /// The services and what they depend on.
    #[serde(rename = "service", default)]
    pub services: Vec<Service>,
    /// The data classes.
    #[serde(rename = "data", default)]
    pub data: Vec<DataClass>,
    /// Latency objectives per operation and region.
    #[serde(rename = "slo", default)]
    pub slos: Vec<Slo>,
    /// How often zones and regions fail, and for how long.
    #[serde(default)]
    pub failures: Failures,
    /// The text it was read from (fixes are edits of it).
    #[serde(skip)]
    pub source: String,
    /// Where each service and data class is in its list, by name: look-ups stay
    /// logarithmic on specs of thousands of services.
    #[serde(skip)]
    index: Index,
}

/// Positions by name, built when a spec is parsed.
#[derive(Clone, Debug, Default)]
struct Index {
    services: BTreeMap<String, usize>,
    data: BTreeMap<String, usize>,
}

/// System-wide requirements.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct System {
    /// The system's name.
    pub name: String,
    /// The availability target, in percent (for example 99.95).
    pub availability: Spanned<f64>,
    /// The failures the system must survive without losing availability.
    #[serde(default = "nothing_to_tolerate")]
    pub tolerate: Spanned<Vec<FailureDomain>>,
}

fn positions<'a>(names: impl Iterator<Item = &'a Name>) -> BTreeMap<String, usize> {
    names
        .enumerate()
        .map(|(i, n)| (n.get_ref().clone(), i))
        .collect()
}

/// `name` in `items` through `index`; a scan where the index does not hold it (a spec
/// changed after parsing, as tests do).
fn lookup<'a, T>(
    items: &'a [T],
    index: &BTreeMap<String, usize>,
    name: &str,
    name_of: impl Fn(&T) -> &Name,
) -> Option<&'a T> {
    index
        .get(name)
        .and_then(|&i| items.get(i))
        .filter(|item| name_of(item).get_ref() == name)
        .or_else(|| items.iter().find(|item| name_of(item).get_ref() == name))
}

fn nothing_to_tolerate() -> Spanned<Vec<FailureDomain>> {
    Spanned::new(0..0, Vec::new())
}

/// A failure the system must survive.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum FailureDomain {
    /// One availability zone (a data centre) goes down.
    Zone,
    /// A whole region goes down.
    Region,
    /// The network splits regions apart while they stay up.
    Partition,
}

/// How often zones and regions fail and for how long, and how available one store
/// replica is: planning figures to replace with a provider's record (the defaults are
/// round assumptions, not measurements).
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Failures {
    /// Outages of one zone per year.
    pub zone_outages_per_year: f64,
    /// Hours each lasts.
    pub zone_repair_hours: f64,
    /// Outages of one region per year.
    pub region_outages_per_year: f64,
    /// Hours each lasts.
    pub region_repair_hours: f64,
    /// Availability of one store replica, percent, its zone and region up.
    pub replica_availability: f64,
}

impl Default for Failures {
    fn default() -> Self {
        Failures {
            zone_outages_per_year: 1.0,
            zone_repair_hours: 4.0,
            region_outages_per_year: 0.5,
            region_repair_hours: 8.0,
            replica_availability: 99.9,
        }
    }
}

/// A region and its zones.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Its name, used by the other sections.
    pub name: Name,
    /// How many availability zones it has.
    pub zones: Spanned<u32>,
    /// A place for consensus witnesses only: replicas that vote and keep the log but
    /// serve no reads, and no services.
    #[serde(default)]
    pub witness: bool,
}

/// The round trip between two regions.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Link {
    /// The two regions.
    pub between: [Name; 2],
    /// Round-trip time, milliseconds.
    pub rtt_ms: Spanned<f64>,
}

/// A service.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Its name.
    pub name: Name,
    /// The regions it runs in.
    pub regions: Vec<Name>,
    /// Instances per region.
    #[serde(default = "default_instances")]
    pub instances: Spanned<u32>,
    /// Availability of one instance, in percent.
    #[serde(default = "default_instance_availability")]
    pub instance_availability: Spanned<f64>,
    /// Requests per second it serves at peak.
    #[serde(default)]
    pub requests_per_sec: f64,
    /// The services it calls on its request path.
    #[serde(default)]
    pub depends_on: Vec<Name>,
    /// The data classes it writes.
    #[serde(default)]
    pub writes: Vec<Name>,
    /// The data classes it reads.
    #[serde(default)]
    pub reads: Vec<Name>,
}

fn default_instances() -> Spanned<u32> {
    Spanned::new(0..0, 2)
}

fn default_instance_availability() -> Spanned<f64> {
    Spanned::new(0..0, 99.9)
}

/// What a data class is, which says much about what it needs.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum DataKind {
    /// Balances, payments, ledgers.
    Money,
    /// Stock levels.
    Inventory,
    /// Reservations of a scarce resource (seats, rooms, rides).
    Booking,
    /// Conversations.
    Chat,
    /// Timelines assembled from others' posts.
    Feed,
    /// A user's own settings and details.
    Profile,
    /// Product or content descriptions, read far more than written.
    Catalog,
    /// Time series and gauges (counters too, in specs written before `counter`).
    Metrics,
    /// Counts that go up and down (clicks, likes, stock reservations without a floor).
    Counter,
}

/// How a data class is looked up.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// By key.
    Point,
    /// By key range (scans, pagination in key order).
    Range,
    /// By location (near a point, inside an area).
    Geo,
    /// By series and time window.
    TimeSeries,
}

/// A data class: data with the same needs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataClass {
    /// Its name.
    pub name: Name,
    /// What it is.
    pub kind: DataKind,
    /// Rules concurrent writes must never break together, in words ("no double booking").
    #[serde(default)]
    pub invariants: Vec<String>,
    /// How concurrent writes to one item combine (absent: by invariants and kind).
    #[serde(default)]
    pub merge: Option<Spanned<Merge>>,
    /// How fresh reads must be (absent: by merge and kind).
    #[serde(default)]
    pub freshness: Option<Spanned<Freshness>>,
    /// Peak reads per second.
    #[serde(default)]
    pub reads_per_sec: f64,
    /// Peak writes per second.
    #[serde(default)]
    pub writes_per_sec: f64,
    /// Size today, gigabytes.
    #[serde(default)]
    pub size_gb: f64,
    /// Growth, gigabytes per month.
    #[serde(default)]
    pub growth_gb_per_month: f64,
    /// How it is looked up (default: by key).
    #[serde(default = "default_access")]
    pub access: Vec<Access>,
    /// The regions it must stay in (empty: anywhere).
    #[serde(default)]
    pub residency: Vec<Name>,
    /// Where a consensus group's leader goes (absent: where the strictest write
    /// objective is).
    #[serde(default)]
    pub leader: Option<Name>,
    /// The stale reads it tolerates, milliseconds (absent: the kind decides).
    #[serde(default)]
    pub max_staleness_ms: Option<Spanned<u64>>,
    /// Every change must be kept and attributable.
    #[serde(default)]
    pub audit: bool,
    /// Queries ask what the data was at a past time.
    #[serde(default)]
    pub temporal_queries: bool,
}

fn default_access() -> Vec<Access> {
    vec![Access::Point]
}

/// Read or write.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum OpKind {
    /// A read.
    Read,
    /// A write.
    Write,
}

/// A latency objective.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Slo {
    /// What the user does ("place order").
    pub operation: String,
    /// The data class it touches.
    pub data: Name,
    /// Whether it reads or writes it.
    pub op: OpKind,
    /// Where the user is.
    pub region: Name,
    /// The 99th-percentile latency it must meet, milliseconds.
    pub p99_ms: Spanned<f64>,
    /// For a read: how fresh this operation's reads must be, if not as the data says.
    #[serde(default)]
    pub freshness: Option<Spanned<Freshness>>,
}

impl Spec {
    /// Parse and validate a spec; `path` names the file in diagnostics.
    pub fn parse(path: &str, text: &str) -> Result<Spec, FileError> {
        let fail = |mut diagnostics: Vec<Diagnostic>| {
            diagnostics.sort_by_key(|d| (d.line, d.column));
            FileError {
                path: path.to_string(),
                diagnostics,
            }
        };
        let (doc, syntax) = toml::de::DeTable::parse_recoverable(text);
        if !syntax.is_empty() {
            // A broken document's structure is a guess: report the syntax alone.
            return Err(fail(
                syntax
                    .iter()
                    .map(|e| Diagnostic::from_toml(text, e))
                    .collect(),
            ));
        }
        let mut diagnostics = walk::walk(text, doc.get_ref());
        // References to nothing leave the types intact, so the whole-spec checks still
        // run beside them; a wrong type stops serde, and the walk has said why.
        match Spec::deserialize(toml::de::Deserializer::from(doc)) {
            Ok(mut spec) => {
                diagnostics.extend(validate::validate(&spec, text));
                if diagnostics.is_empty() {
                    spec.source = text.to_string();
                    spec.index = Index {
                        services: positions(spec.services.iter().map(|s| &s.name)),
                        data: positions(spec.data.iter().map(|d| &d.name)),
                    };
                    Ok(spec)
                } else {
                    Err(fail(diagnostics))
                }
            }
            Err(e) if diagnostics.is_empty() => Err(fail(vec![Diagnostic::from_toml(text, &e)])),
            Err(_) => Err(fail(diagnostics)),
        }
    }

    /// The round trip between two regions, milliseconds (0 within one region); `None`
    /// when the spec gives none.
    pub fn rtt_ms(&self, a: &str, b: &str) -> Option<f64> {
        if a == b {
            return Some(0.0);
        }
        self.links
            .iter()
            .find(|l| {
                let (x, y) = (l.between[0].get_ref(), l.between[1].get_ref());
                (x == a && y == b) || (x == b && y == a)
            })
            .map(|l| *l.rtt_ms.get_ref())
    }

    /// The region named `name`.
    pub fn region(&self, name: &str) -> Option<&Region> {
        self.regions.iter().find(|r| r.name.get_ref() == name)
    }

    /// The service named `name`.
    pub fn service(&self, name: &str) -> Option<&Service> {
        lookup(&self.services, &self.index.services, name, |s| &s.name)
    }

    /// The data class named `name`.
    pub fn data_class(&self, name: &str) -> Option<&DataClass> {
        lookup(&self.data, &self.index.data, name, |d| &d.name)
    }

    /// The regions a data class may live in: its residency, else every region; witness
    /// regions left out (they keep only consensus logs: see [`Spec::witness_regions`]).
    pub fn home_regions(&self, data: &DataClass) -> Vec<String> {
        self.allowed_regions(data)
            .filter(|r| !r.witness)
            .map(|r| r.name.get_ref().clone())
            .collect()
    }

    /// The witness regions a data class's consensus group may use: within its residency.
    pub fn witness_regions(&self, data: &DataClass) -> Vec<String> {
        self.allowed_regions(data)
            .filter(|r| r.witness)
            .map(|r| r.name.get_ref().clone())
            .collect()
    }

    fn allowed_regions<'a>(&'a self, data: &'a DataClass) -> impl Iterator<Item = &'a Region> {
        self.regions.iter().filter(|r| {
            data.residency.is_empty()
                || data
                    .residency
                    .iter()
                    .any(|x| x.get_ref() == r.name.get_ref())
        })
    }

    /// The services that write `data`.
    pub fn writers(&self, data: &str) -> Vec<&Service> {
        self.services
            .iter()
            .filter(|s| s.writes.iter().any(|w| w.get_ref() == data))
            .collect()
    }

    /// Whether the system must survive `failure`.
    pub fn tolerates(&self, failure: FailureDomain) -> bool {
        self.system.tolerate.get_ref().contains(&failure)
    }
}

#[cfg(test)]
mod tests;

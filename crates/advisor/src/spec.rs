//! The requirement spec: what the system must do, read from TOML.
//!
//! `specs/README.md` documents every field with a commented example. Parsing is strict:
//! an unknown key, a wrong type, a missing field or a name that refers to nothing is an
//! error pointing at the file, line and column, with a hint.

use dsys_diagnostic::{Diagnostic, FileError};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
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
    #[serde(default)]
    pub tolerate: Vec<FailureDomain>,
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

/// A region and its zones.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Region {
    /// Its name, used by the other sections.
    pub name: Name,
    /// How many availability zones it has.
    pub zones: Spanned<u32>,
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
    /// Counters, gauges and time series.
    Metrics,
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
    /// Rules the data must never break, in words ("no double booking").
    #[serde(default)]
    pub invariants: Vec<String>,
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
}

impl Spec {
    /// Parse and validate a spec; `path` names the file in diagnostics.
    pub fn parse(path: &str, text: &str) -> Result<Spec, FileError> {
        let spec: Spec = toml::from_str(text).map_err(|e| FileError {
            path: path.to_string(),
            diagnostics: vec![Diagnostic::from_toml(text, &e)],
        })?;
        let diagnostics = spec.validate(text);
        if diagnostics.is_empty() {
            Ok(spec)
        } else {
            Err(FileError {
                path: path.to_string(),
                diagnostics,
            })
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
        self.services.iter().find(|s| s.name.get_ref() == name)
    }

    /// The data class named `name`.
    pub fn data_class(&self, name: &str) -> Option<&DataClass> {
        self.data.iter().find(|d| d.name.get_ref() == name)
    }

    /// The regions a data class may live in: its residency, else every region.
    pub fn home_regions(&self, data: &DataClass) -> Vec<String> {
        if data.residency.is_empty() {
            self.regions
                .iter()
                .map(|r| r.name.get_ref().clone())
                .collect()
        } else {
            data.residency.iter().map(|r| r.get_ref().clone()).collect()
        }
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
        self.system.tolerate.contains(&failure)
    }

    fn validate(&self, text: &str) -> Vec<Diagnostic> {
        let mut v = Validator {
            text,
            out: Vec::new(),
        };
        v.percent(&self.system.availability, "the availability target");
        if self.regions.is_empty() {
            v.out.push(Diagnostic::at(
                text,
                0..0,
                "the spec names no region",
                "add one: [[region]] name = \"eu-west\" zones = 3",
            ));
        }
        let regions = v.unique("region", self.regions.iter().map(|r| &r.name));
        let services = v.unique("service", self.services.iter().map(|s| &s.name));
        let data = v.unique("data class", self.data.iter().map(|d| &d.name));
        for r in &self.regions {
            if *r.zones.get_ref() == 0 {
                v.error(
                    r.zones.span(),
                    "a region needs at least one zone",
                    "zones = 3",
                );
            }
        }
        let mut linked = BTreeSet::new();
        for l in &self.links {
            v.refers("region", &regions, &l.between);
            let (a, b) = (l.between[0].get_ref(), l.between[1].get_ref());
            if a == b {
                v.error(
                    l.between[1].span(),
                    "a link joins two different regions",
                    "name two regions",
                );
            } else if !linked.insert((a.min(b), a.max(b))) {
                v.error(
                    l.between[0].span(),
                    &format!("the link between {a} and {b} is given twice"),
                    "keep one",
                );
            }
            let rtt = *l.rtt_ms.get_ref();
            if !(rtt.is_finite() && rtt > 0.0) {
                v.error(
                    l.rtt_ms.span(),
                    &format!("rtt_ms must be a positive number of milliseconds, not {rtt}"),
                    "for example rtt_ms = 80",
                );
            }
        }
        for s in &self.services {
            v.refers("region", &regions, &s.regions);
            v.refers("service", &services, &s.depends_on);
            v.refers("data class", &data, &s.writes);
            v.refers("data class", &data, &s.reads);
            if s.regions.is_empty() {
                v.error(
                    s.name.span(),
                    &format!("service {} runs in no region", s.name.get_ref()),
                    "add regions = [\"...\"]",
                );
            }
            if *s.instances.get_ref() == 0 {
                v.error(
                    s.instances.span(),
                    "a service needs at least one instance",
                    "instances = 2",
                );
            }
            v.percent(&s.instance_availability, "instance_availability");
            if !(s.requests_per_sec.is_finite() && s.requests_per_sec >= 0.0) {
                v.error(
                    s.name.span(),
                    &format!(
                        "{} has requests_per_sec = {}: it must be zero or more",
                        s.name.get_ref(),
                        s.requests_per_sec
                    ),
                    "give a non-negative number",
                );
            }
        }
        if let Some(cycle) = self.dependency_cycle() {
            let at = self.service(&cycle[0]).map_or(0..0, |s| s.name.span());
            v.error(
                at,
                &format!(
                    "services depend on each other in a cycle: {}",
                    cycle.join(" -> ")
                ),
                "a request path must end: remove one of the dependencies",
            );
        }
        for d in &self.data {
            v.refers("region", &regions, &d.residency);
            for (value, what) in [
                (d.reads_per_sec, "reads_per_sec"),
                (d.writes_per_sec, "writes_per_sec"),
                (d.size_gb, "size_gb"),
                (d.growth_gb_per_month, "growth_gb_per_month"),
            ] {
                if !(value.is_finite() && value >= 0.0) {
                    v.error(
                        d.name.span(),
                        &format!(
                            "{} has {what} = {value}: it must be zero or more",
                            d.name.get_ref()
                        ),
                        "give a non-negative number",
                    );
                }
            }
        }
        for slo in &self.slos {
            v.refers("data class", &data, std::slice::from_ref(&slo.data));
            v.refers("region", &regions, std::slice::from_ref(&slo.region));
            let p99 = *slo.p99_ms.get_ref();
            if !(p99.is_finite() && p99 > 0.0) {
                v.error(
                    slo.p99_ms.span(),
                    &format!("p99_ms must be a positive number of milliseconds, not {p99}"),
                    "for example p99_ms = 200",
                );
            }
        }
        v.out
    }

    /// A cycle in `depends_on`, as the names along it (first repeated at the end).
    fn dependency_cycle(&self) -> Option<Vec<String>> {
        let edges: BTreeMap<&str, Vec<&str>> = self
            .services
            .iter()
            .map(|s| {
                (
                    s.name.get_ref().as_str(),
                    s.depends_on.iter().map(|d| d.get_ref().as_str()).collect(),
                )
            })
            .collect();
        // Depth-first search with an explicit path; colours: absent = unvisited.
        let mut done = BTreeSet::new();
        for &start in edges.keys() {
            let mut path: Vec<(&str, usize)> = vec![(start, 0)];
            while let Some(&mut (node, ref mut next)) = path.last_mut() {
                let children = edges.get(node).map_or(&[][..], Vec::as_slice);
                if let Some(&child) = children.get(*next) {
                    *next += 1;
                    if let Some(i) = path.iter().position(|(n, _)| *n == child) {
                        let mut cycle: Vec<String> =
                            path[i..].iter().map(|(n, _)| n.to_string()).collect();
                        cycle.push(child.to_string());
                        return Some(cycle);
                    }
                    if !done.contains(child) {
                        path.push((child, 0));
                    }
                } else {
                    done.insert(node);
                    path.pop();
                }
            }
        }
        None
    }
}

/// Collects validation diagnostics.
struct Validator<'a> {
    text: &'a str,
    out: Vec<Diagnostic>,
}

impl Validator<'_> {
    fn error(&mut self, span: std::ops::Range<usize>, message: &str, hint: &str) {
        self.out
            .push(Diagnostic::at(self.text, span, message, hint));
    }

    fn percent(&mut self, value: &Spanned<f64>, what: &str) {
        let p = *value.get_ref();
        if !(p > 0.0 && p < 100.0) {
            self.error(
                value.span(),
                &format!("{what} is a percentage above 0 and below 100, not {p}"),
                "for example 99.95",
            );
        }
    }

    /// The names, reporting duplicates.
    fn unique<'n>(
        &mut self,
        what: &str,
        names: impl Iterator<Item = &'n Name>,
    ) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        for name in names {
            if !seen.insert(name.get_ref().clone()) {
                self.error(
                    name.span(),
                    &format!("{what} {} is defined twice", name.get_ref()),
                    "names must be unique: rename or merge the two",
                );
            }
        }
        seen
    }

    /// Report each of `names` that is not one of `known`.
    fn refers(&mut self, what: &str, known: &BTreeSet<String>, names: &[Name]) {
        for name in names {
            if !known.contains(name.get_ref()) {
                let hint = if known.is_empty() {
                    format!("the spec defines no {what}")
                } else {
                    format!(
                        "known: {}",
                        known.iter().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
                self.error(
                    name.span(),
                    &format!("unknown {what} `{}`", name.get_ref()),
                    &hint,
                );
            }
        }
    }
}

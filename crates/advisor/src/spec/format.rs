//! The spec format as data: every section and field, its type, default and meaning.
//!
//! One description serves three readers: the validator that walks a parsed file and
//! reports every problem at once ([`super::walk`]), the JSON Schema that editors use to
//! complete and check specs ([`super::json_schema`]), and a test that holds
//! `specs/README.md`'s tables to it. The typed [`super::Spec`] is read with serde once
//! the walk finds nothing wrong.

/// The kinds of data the advisor knows, as written in a spec.
pub const KINDS: &[&str] = &[
    "money",
    "inventory",
    "booking",
    "chat",
    "feed",
    "profile",
    "catalog",
    "metrics",
    "counter",
];

/// How concurrent writes to one item combine, as written in a spec.
pub const MERGES: &[&str] = &["reject", "last-writer", "union", "sum", "max", "app"];

/// How fresh reads must be, as written in a spec (`bounded:<ms>` besides these words).
pub const FRESHNESS_WORDS: &[&str] = &["linearizable", "causal", "session", "eventual"];

/// The form of a `freshness` value, as a regular expression (for the JSON Schema).
pub const FRESHNESS_PATTERN: &str = "^(linearizable|causal|session|eventual|bounded:[0-9]+)$";

/// What a value must be.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Type {
    /// Any string.
    Text,
    /// A string that names an entry of the section it is in (unique there).
    Name,
    /// A string naming an entry of the section named here.
    Ref(&'static str),
    /// `true` or `false`.
    Bool,
    /// A number (integer or float) within bounds.
    Number {
        /// The least value, and whether it is excluded.
        min: (f64, bool),
        /// The greatest value, and whether it is excluded; `None`: no bound.
        max: Option<(f64, bool)>,
    },
    /// An integer within bounds (inclusive).
    Integer {
        /// The least value.
        min: i64,
        /// The greatest value.
        max: i64,
    },
    /// One of a closed set of strings.
    OneOf(&'static [&'static str]),
    /// A `freshness` value: one of [`FRESHNESS_WORDS`] or `bounded:<ms>`.
    Freshness,
    /// A list of values of one type, with at least `min` items.
    List {
        /// The items' type.
        item: &'static Type,
        /// The fewest items allowed.
        min: usize,
    },
    /// Exactly two values of one type.
    Pair(&'static Type),
}

/// What happens when a field is left out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Absent {
    /// It must be given.
    Required,
    /// This value, written as a TOML value.
    Value(&'static str),
    /// The advisor decides, as described.
    Decided(&'static str),
}

/// One field of a section.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Field {
    /// The key.
    pub name: &'static str,
    /// What its value must be.
    pub ty: Type,
    /// What leaving it out means.
    pub absent: Absent,
    /// What it means, in one line.
    pub doc: &'static str,
}

/// One section: a table (`[system]`) or an array of tables (`[[region]]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Section {
    /// The key.
    pub name: &'static str,
    /// An array of tables, written `[[name]]`.
    pub many: bool,
    /// The fewest entries (0: optional).
    pub min: usize,
    /// What it describes.
    pub doc: &'static str,
    /// Its fields.
    pub fields: &'static [Field],
}

impl Section {
    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// How the section's header is written.
    pub fn header(&self) -> String {
        if self.many {
            format!("[[{}]]", self.name)
        } else {
            format!("[{}]", self.name)
        }
    }
}

const fn field(name: &'static str, ty: Type, absent: Absent, doc: &'static str) -> Field {
    Field {
        name,
        ty,
        absent,
        doc,
    }
}

const fn at_least(min: f64) -> Type {
    Type::Number {
        min: (min, false),
        max: None,
    }
}

const POSITIVE: Type = Type::Number {
    min: (0.0, true),
    max: None,
};

const PERCENT: Type = Type::Number {
    min: (0.0, true),
    max: Some((100.0, true)),
};

const NAMES_OF_REGIONS: Type = Type::List {
    item: &Type::Ref("region"),
    min: 0,
};

const NAMES_OF_DATA: Type = Type::List {
    item: &Type::Ref("data"),
    min: 0,
};

const REQUIRED: Absent = Absent::Required;

/// Every section, in the order the README documents them.
pub const SECTIONS: &[Section] = &[
    Section {
        name: "system",
        many: false,
        min: 1,
        doc: "System-wide requirements.",
        fields: &[
            field("name", Type::Text, REQUIRED, "the system's name"),
            field(
                "availability",
                PERCENT,
                REQUIRED,
                "availability target, percent, above 0 and below 100 (99.95)",
            ),
            field(
                "tolerate",
                Type::List {
                    item: &Type::OneOf(&["zone", "region", "partition"]),
                    min: 0,
                },
                Absent::Value("[]"),
                "failures the system must survive without losing availability",
            ),
        ],
    },
    Section {
        name: "region",
        many: true,
        min: 1,
        doc: "A region where the system runs, and its availability zones.",
        fields: &[
            field(
                "name",
                Type::Name,
                REQUIRED,
                "referred to by the other sections",
            ),
            field(
                "zones",
                Type::Integer {
                    min: 1,
                    max: u32::MAX as i64,
                },
                REQUIRED,
                "availability zones in the region",
            ),
            field(
                "witness",
                Type::Bool,
                Absent::Value("false"),
                "a place for consensus witnesses only: replicas that vote and keep the log but serve no reads and run no services",
            ),
        ],
    },
    Section {
        name: "link",
        many: true,
        min: 0,
        doc: "The round trip between two regions.",
        fields: &[
            field(
                "between",
                Type::Pair(&Type::Ref("region")),
                REQUIRED,
                "the two regions",
            ),
            field(
                "rtt_ms",
                POSITIVE,
                REQUIRED,
                "round-trip time between them, milliseconds",
            ),
        ],
    },
    Section {
        name: "service",
        many: true,
        min: 0,
        doc: "A service: where it runs, what it calls and what data it touches.",
        fields: &[
            field("name", Type::Name, REQUIRED, "the service's name"),
            field(
                "regions",
                Type::List {
                    item: &Type::Ref("region"),
                    min: 1,
                },
                REQUIRED,
                "where it runs",
            ),
            field(
                "instances",
                Type::Integer {
                    min: 1,
                    max: u32::MAX as i64,
                },
                Absent::Value("2"),
                "instances per region",
            ),
            field(
                "instance_availability",
                PERCENT,
                Absent::Value("99.9"),
                "availability of one instance, percent",
            ),
            field(
                "requests_per_sec",
                at_least(0.0),
                Absent::Value("0"),
                "peak rate; sizes rate limits and bulkheads",
            ),
            field(
                "depends_on",
                Type::List {
                    item: &Type::Ref("service"),
                    min: 0,
                },
                Absent::Value("[]"),
                "services it calls on its request path (no cycles)",
            ),
            field(
                "writes",
                NAMES_OF_DATA,
                Absent::Value("[]"),
                "data it writes",
            ),
            field("reads", NAMES_OF_DATA, Absent::Value("[]"), "data it reads"),
        ],
    },
    Section {
        name: "data",
        many: true,
        min: 0,
        doc: "A data class: data with the same needs.",
        fields: &[
            field("name", Type::Name, REQUIRED, "the data class's name"),
            field("kind", Type::OneOf(KINDS), REQUIRED, "what the data is"),
            field(
                "invariants",
                Type::List {
                    item: &Type::Text,
                    min: 0,
                },
                Absent::Value("[]"),
                "rules concurrent writes must never break together (\"a short code is never issued twice\"); any invariant puts writes in one order (merge = \"reject\")",
            ),
            field(
                "merge",
                Type::OneOf(MERGES),
                Absent::Decided("by invariants and kind"),
                "how concurrent writes to one item combine: reject (one order, consensus), last-writer, union (OR-set), sum (PN-counter), max (max-register), app (siblings the application merges)",
            ),
            field(
                "freshness",
                Type::Freshness,
                Absent::Decided("by merge and kind"),
                "how fresh reads must be: linearizable, causal, session, eventual or bounded:<ms>",
            ),
            field(
                "max_staleness_ms",
                Type::Integer {
                    min: 0,
                    max: i64::MAX,
                },
                Absent::Decided("by kind"),
                "how stale a read may be, milliseconds (the same as freshness = \"bounded:<ms>\")",
            ),
            field(
                "reads_per_sec",
                at_least(0.0),
                Absent::Value("0"),
                "peak reads per second",
            ),
            field(
                "writes_per_sec",
                at_least(0.0),
                Absent::Value("0"),
                "peak writes per second",
            ),
            field(
                "size_gb",
                at_least(0.0),
                Absent::Value("0"),
                "size now, gigabytes",
            ),
            field(
                "growth_gb_per_month",
                at_least(0.0),
                Absent::Value("0"),
                "growth, gigabytes per month",
            ),
            field(
                "access",
                Type::List {
                    item: &Type::OneOf(&["point", "range", "geo", "time-series"]),
                    min: 0,
                },
                Absent::Value("[\"point\"]"),
                "how it is looked up",
            ),
            field(
                "residency",
                NAMES_OF_REGIONS,
                Absent::Decided("all regions"),
                "where it may be stored",
            ),
            field(
                "leader",
                Type::Ref("region"),
                Absent::Decided("where the strictest write objective is"),
                "where a consensus group's leader goes",
            ),
            field(
                "audit",
                Type::Bool,
                Absent::Value("false"),
                "every change kept and attributable",
            ),
            field(
                "temporal_queries",
                Type::Bool,
                Absent::Value("false"),
                "queries ask what the data was at a past time",
            ),
        ],
    },
    Section {
        name: "failures",
        many: false,
        min: 0,
        doc: "How often zones and regions fail and for how long: planning figures for the availability arithmetic (the defaults are round assumptions, not measurements).",
        fields: &[
            field(
                "zone_outages_per_year",
                at_least(0.0),
                Absent::Value("1"),
                "outages of one zone per year",
            ),
            field(
                "zone_repair_hours",
                at_least(0.0),
                Absent::Value("4"),
                "hours each lasts",
            ),
            field(
                "region_outages_per_year",
                at_least(0.0),
                Absent::Value("0.5"),
                "outages of one region per year",
            ),
            field(
                "region_repair_hours",
                at_least(0.0),
                Absent::Value("8"),
                "hours each lasts",
            ),
            field(
                "replica_availability",
                PERCENT,
                Absent::Value("99.9"),
                "availability of one store replica, percent, its zone and region up",
            ),
        ],
    },
    Section {
        name: "slo",
        many: true,
        min: 0,
        doc: "A latency objective for one operation from one region.",
        fields: &[
            field(
                "operation",
                Type::Text,
                REQUIRED,
                "what the user does (\"place order\")",
            ),
            field("data", Type::Ref("data"), REQUIRED, "the data it touches"),
            field(
                "op",
                Type::OneOf(&["read", "write"]),
                REQUIRED,
                "read or write",
            ),
            field("region", Type::Ref("region"), REQUIRED, "where the user is"),
            field(
                "p99_ms",
                POSITIVE,
                REQUIRED,
                "the 99th-percentile latency it must meet, milliseconds",
            ),
            field(
                "freshness",
                Type::Freshness,
                Absent::Decided("the data class's"),
                "for a read: how fresh this operation's reads must be, if not as the data class says",
            ),
        ],
    },
];

/// The section called `name`.
pub fn section(name: &str) -> Option<&'static Section> {
    SECTIONS.iter().find(|s| s.name == name)
}

/// Whether `text` is a valid `freshness` value.
pub fn is_freshness(text: &str) -> bool {
    FRESHNESS_WORDS.contains(&text)
        || text.strip_prefix("bounded:").is_some_and(|ms| {
            !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()) && ms.parse::<u64>().is_ok()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_sections_that_define_names() {
        fn refs(ty: &Type, out: &mut Vec<&'static str>) {
            match ty {
                Type::Ref(s) => out.push(s),
                Type::List { item, .. } | Type::Pair(item) => refs(item, out),
                _ => {}
            }
        }
        for s in SECTIONS {
            for f in s.fields {
                let mut targets = Vec::new();
                refs(&f.ty, &mut targets);
                for t in targets {
                    let target = section(t)
                        .unwrap_or_else(|| panic!("{}.{}: no section {t}", s.name, f.name));
                    assert!(
                        target.fields.iter().any(|f| f.ty == Type::Name),
                        "{t} defines no name"
                    );
                }
            }
        }
    }

    #[test]
    fn freshness_values() {
        for ok in [
            "linearizable",
            "causal",
            "session",
            "eventual",
            "bounded:0",
            "bounded:500",
        ] {
            assert!(is_freshness(ok), "{ok}");
        }
        for bad in [
            "",
            "bounded:",
            "bounded:-1",
            "bounded:1.5",
            "bounded:99999999999999999999999",
            "strong",
            "Eventual",
        ] {
            assert!(!is_freshness(bad), "{bad}");
        }
    }
}

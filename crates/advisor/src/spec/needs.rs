//! What a data class needs, said apart: how concurrent writes combine ([`Merge`]: one
//! order, or a merge) and how fresh reads must be ([`Freshness`]). A spec may say either;
//! what it leaves out follows from its invariants and kind, as documented in
//! `specs/README.md`, so specs written before these fields mean what they meant.

use super::{Access, DataClass, DataKind};
use serde::{Deserialize, Serialize};
use std::fmt;

/// How concurrent writes to one item combine.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Merge {
    /// They do not: writes go in one order and a conflicting one is refused (consensus).
    Reject,
    /// The later write by timestamp wins; the other is dropped (LWW register).
    LastWriter,
    /// Additions and removals both survive (OR-set).
    Union,
    /// Increments and decrements add up (PN-counter).
    Sum,
    /// The greatest value wins (max-register).
    Max,
    /// Both versions are kept and the application merges them (siblings, version vectors).
    App,
}

impl Merge {
    /// As written in a spec.
    pub fn word(self) -> &'static str {
        match self {
            Merge::Reject => "reject",
            Merge::LastWriter => "last-writer",
            Merge::Union => "union",
            Merge::Sum => "sum",
            Merge::Max => "max",
            Merge::App => "app",
        }
    }
}

/// How fresh reads must be.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(try_from = "String", into = "String")]
pub enum Freshness {
    /// Every read sees every write acknowledged before it began.
    Linearizable,
    /// Reads see effects after their causes.
    Causal,
    /// A session sees its own writes, and never goes back in time.
    Session,
    /// Reads may be stale by any amount; replicas converge.
    Eventual,
    /// Reads are at most this many milliseconds stale.
    Bounded(u64),
}

impl TryFrom<String> for Freshness {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        Ok(match text.as_str() {
            "linearizable" => Freshness::Linearizable,
            "causal" => Freshness::Causal,
            "session" => Freshness::Session,
            "eventual" => Freshness::Eventual,
            other => match other.strip_prefix("bounded:").map(str::parse) {
                Some(Ok(ms)) if super::format::is_freshness(other) => Freshness::Bounded(ms),
                _ => return Err(format!("unknown freshness `{}`", other.escape_debug())),
            },
        })
    }
}

impl From<Freshness> for String {
    fn from(f: Freshness) -> String {
        f.to_string()
    }
}

impl fmt::Display for Freshness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Freshness::Linearizable => f.write_str("linearizable"),
            Freshness::Causal => f.write_str("causal"),
            Freshness::Session => f.write_str("session"),
            Freshness::Eventual => f.write_str("eventual"),
            Freshness::Bounded(ms) => write!(f, "bounded:{ms}"),
        }
    }
}

/// What a data class needs of its writes and reads, each with the requirement it follows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Needs {
    /// How concurrent writes combine.
    pub merge: Merge,
    /// Why: the field, invariant or kind it follows.
    pub merge_because: String,
    /// How fresh reads must be.
    pub freshness: Freshness,
    /// Why.
    pub freshness_because: String,
}

impl Needs {
    /// What `d` needs: as its spec says, else as its invariants and kind imply.
    pub fn of(d: &DataClass) -> Needs {
        let (merge, merge_because) = merge_of(d);
        let (freshness, freshness_because) = freshness_of(d, merge);
        Needs {
            merge,
            merge_because,
            freshness,
            freshness_because,
        }
    }

    /// Whether writes go in one order (consensus).
    pub fn single_order(&self) -> bool {
        self.merge == Merge::Reject
    }
}

fn merge_of(d: &DataClass) -> (Merge, String) {
    if let Some(merge) = &d.merge {
        let merge = *merge.get_ref();
        return (merge, format!("merge = \"{}\"", merge.word()));
    }
    if let Some(invariant) = d.invariants.first() {
        return (Merge::Reject, format!("invariant \"{invariant}\""));
    }
    if d.freshness
        .as_ref()
        .is_some_and(|f| *f.get_ref() == Freshness::Linearizable)
    {
        return (
            Merge::Reject,
            "freshness = \"linearizable\" (one latest value to read needs writes in one order)"
                .into(),
        );
    }
    match d.kind {
        DataKind::Money => (
            Merge::Reject,
            "kind = money (balances must not go below what was spent)".into(),
        ),
        DataKind::Inventory => (
            Merge::Reject,
            "kind = inventory (stock must not be sold twice)".into(),
        ),
        DataKind::Booking => (
            Merge::Reject,
            "kind = booking (a slot must not be booked twice)".into(),
        ),
        DataKind::Counter => (Merge::Sum, "kind = counter".into()),
        DataKind::Metrics if !d.access.contains(&Access::TimeSeries) => (
            Merge::Sum,
            "kind = metrics without time-series access: counters".into(),
        ),
        DataKind::Feed => (
            Merge::Union,
            "kind = feed (items are added and removed from several places)".into(),
        ),
        kind => (
            Merge::LastWriter,
            format!(
                "kind = {} (one owner edits an item at a time)",
                crate::rules::kind_name(kind)
            ),
        ),
    }
}

fn freshness_of(d: &DataClass, merge: Merge) -> (Freshness, String) {
    if let Some(f) = &d.freshness {
        return (*f.get_ref(), format!("freshness = \"{}\"", f.get_ref()));
    }
    match &d.max_staleness_ms {
        Some(ms) if d.kind != DataKind::Chat => {
            return (
                Freshness::Bounded(*ms.get_ref()),
                format!("max_staleness_ms = {}", ms.get_ref()),
            );
        }
        _ => {}
    }
    // Writes in one order are checked by reading: unless the spec says reads may lag,
    // they see the latest write (what specs before `freshness` meant).
    if merge == Merge::Reject {
        return (
            Freshness::Linearizable,
            "writes go in one order and no freshness is given for reads".into(),
        );
    }
    match d.kind {
        // A reply must not be seen before what it answers, whatever the bound.
        DataKind::Chat => (Freshness::Causal, "kind = chat".into()),
        DataKind::Profile | DataKind::Catalog => (
            Freshness::Session,
            format!("kind = {}", crate::rules::kind_name(d.kind)),
        ),
        kind => (
            Freshness::Eventual,
            format!(
                "kind = {} and no invariant or bound",
                crate::rules::kind_name(kind)
            ),
        ),
    }
}

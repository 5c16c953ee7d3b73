//! What the advisor produces: decisions, each with the rule that made it, and the
//! arithmetic checks with their numbers.

use serde::Serialize;
use std::collections::BTreeMap;

/// A decision rule: an id, what it says, and where it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// Stable id, e.g. `CAP-INVARIANT`.
    pub id: &'static str,
    /// The rule in one sentence.
    pub statement: &'static str,
    /// The source it rests on.
    pub citation: &'static str,
    /// What in a spec makes it fire.
    pub triggers: &'static str,
    /// dsys commands that demonstrate it (a decision by the rule carries them).
    #[serde(skip)]
    pub evidence: &'static [Evidence],
}

/// A dsys command that demonstrates a rule, and what it shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The command line, starting with `dsys`.
    pub command: &'static str,
    /// The exit code it ends with (1: the check it expects fails, which is the point).
    pub exit_code: u8,
    /// What the run shows.
    pub shows: &'static str,
}

/// The design questions the advisor answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Topic {
    /// CAP stance and PACELC class.
    Cap,
    /// Consistency model and session guarantees.
    Consistency,
    /// Replication topology and its settings.
    Replication,
    /// Partitioning scheme and key.
    Partitioning,
    /// Transaction pattern.
    Transactions,
    /// Caching strategy.
    Caching,
    /// Timeouts, retries, breakers, bulkheads, rate limits.
    Resilience,
    /// Service discovery and load balancing.
    Discovery,
}

impl Topic {
    /// The heading used in reports.
    pub fn title(self) -> &'static str {
        match self {
            Topic::Cap => "CAP and PACELC",
            Topic::Consistency => "Consistency",
            Topic::Replication => "Replication",
            Topic::Partitioning => "Partitioning",
            Topic::Transactions => "Transactions",
            Topic::Caching => "Caching",
            Topic::Resilience => "Resilience",
            Topic::Discovery => "Discovery",
        }
    }
}

/// An alternative the rule turned down, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rejected {
    /// The alternative.
    pub alternative: String,
    /// Why not.
    pub why: String,
}

/// One decision.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Decision {
    /// Stable id: subject and topic, e.g. `orders/consistency`.
    pub id: String,
    /// The question answered.
    pub topic: Topic,
    /// What it is about: a data class, a service, a dependency or the system.
    pub subject: String,
    /// The answer.
    pub choice: String,
    /// Settings that go with the answer (replica counts, timeouts, ...).
    pub settings: BTreeMap<String, String>,
    /// The rule that fired.
    pub rule: Rule,
    /// The requirements that made it fire.
    pub because: Vec<String>,
    /// The alternatives turned down.
    pub rejected: Vec<Rejected>,
    /// dsys commands that demonstrate the rule, where there are some.
    pub evidence: Vec<Evidence>,
}

impl Decision {
    /// A decision on `subject` by `rule`.
    pub fn new(topic: Topic, subject: &str, rule: Rule, choice: impl Into<String>) -> Self {
        Decision {
            id: format!("{subject}/{}", topic_slug(topic)),
            topic,
            subject: subject.to_string(),
            choice: choice.into(),
            settings: BTreeMap::new(),
            rule,
            because: Vec::new(),
            rejected: Vec::new(),
            evidence: rule.evidence.to_vec(),
        }
    }

    /// Name it `id` instead of `subject/topic`: for a second decision of one topic on one
    /// subject.
    pub fn with_id(mut self, id: String) -> Self {
        self.id = id;
        self
    }

    /// Add a requirement that triggered the rule.
    pub fn because(mut self, why: impl Into<String>) -> Self {
        self.because.push(why.into());
        self
    }

    /// Add a rejected alternative.
    pub fn rejects(mut self, alternative: impl Into<String>, why: impl Into<String>) -> Self {
        self.rejected.push(Rejected {
            alternative: alternative.into(),
            why: why.into(),
        });
        self
    }

    /// Add a setting.
    pub fn set(mut self, key: &str, value: impl ToString) -> Self {
        self.settings.insert(key.to_string(), value.to_string());
        self
    }

    /// Leave out the rule's demonstrations: they show a case this decision is not.
    pub fn without_evidence(mut self) -> Self {
        self.evidence.clear();
        self
    }
}

fn topic_slug(topic: Topic) -> &'static str {
    match topic {
        Topic::Cap => "cap",
        Topic::Consistency => "consistency",
        Topic::Replication => "replication",
        Topic::Partitioning => "partitioning",
        Topic::Transactions => "transactions",
        Topic::Caching => "caching",
        Topic::Resilience => "resilience",
        Topic::Discovery => "discovery",
    }
}

/// The outcome of one arithmetic check.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// The numbers add up.
    Ok,
    /// The requirements contradict each other or the topology.
    Contradiction,
    /// The spec lacks a number the check needs.
    Unknown,
}

/// What a check is about, for the fixes that change it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum About {
    /// The system as a whole.
    #[default]
    System,
    /// The request path from this entry service.
    Service(String),
    /// This data class.
    Data(String),
    /// The objective at this index of the spec's `[[slo]]` list.
    Slo(usize),
}

/// One arithmetic check.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Check {
    /// Which check, e.g. `availability`.
    pub check: &'static str,
    /// What it was about.
    pub subject: String,
    /// The verdict.
    pub status: CheckStatus,
    /// The numbers, in words.
    pub detail: String,
    /// What it is about.
    #[serde(skip)]
    pub about: About,
}

/// A whole design.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Design {
    /// The system's name.
    pub system: String,
    /// The availability target, percent.
    pub availability_target_percent: f64,
    /// Minutes of unavailability the target allows in a 30-day month.
    pub error_budget_minutes_per_month: f64,
    /// The decisions, grouped by topic in report order.
    pub decisions: Vec<Decision>,
    /// The arithmetic checks.
    pub checks: Vec<Check>,
    /// Ways out of the contradictions, each re-checked on the spec it makes.
    pub fixes: Vec<crate::fixes::Fix>,
}

impl Design {
    /// The checks that found a contradiction.
    pub fn contradictions(&self) -> impl Iterator<Item = &Check> {
        self.checks
            .iter()
            .filter(|c| c.status == CheckStatus::Contradiction)
    }
}

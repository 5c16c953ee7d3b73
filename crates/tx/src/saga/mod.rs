//! Sagas: one business transaction across services, as a sequence of local steps, each
//! with a compensation that undoes it; orchestrated by a state machine kept in the
//! store's database, so it survives a crash and resumes where it stopped.
//!
//! A saga runs its steps in order. A step that fails is tried again (its [`RetryPolicy`]);
//! one that fails every try, or is still unfinished at its deadline, starts the
//! compensations: those of the steps done, newest first, each retried in turn. A
//! compensation that fails every try leaves the saga in
//! [`Status::NeedsIntervention`], where an operator can [`Orchestrator::retry`] it,
//! [`Orchestrator::skip`] that compensation, or [`Orchestrator::abort`] the saga. A saga
//! ends completed, compensated or aborted: never two of them.
//!
//! **Exactly one effect per step.** Each call to a participant carries an idempotency key
//! for (saga, step, attempt): the participant applies a key once and answers a repeat
//! with the first answer. The attempt number moves on only after the participant said
//! definitely no ([`Outcome::Failed`]: nothing applied); after an unclear answer
//! ([`Outcome::Unknown`], a timeout) or a crash, the step is tried again under the same
//! key, so a step's effect is applied at most once. A step whose effect may have applied
//! is compensated if the saga is undone: compensations must accept undoing what never
//! happened.
//!
//! **One write per transition.** The state is saved after each answer, in one
//! transaction with a line in the saga's history. It is not saved before a call: on
//! restart a step whose answer was not recorded is called again under the same key, and
//! is treated as possibly applied.
//!
//! **Durable time.** Each step's deadline and the time of the next try are saved with the
//! state: [`Orchestrator::due`] finds, after a restart, what is waiting and what has run
//! out of time. Times are milliseconds on a clock the caller passes in.

mod orchestrator;
mod store;

pub use orchestrator::Orchestrator;

use crate::StoreError;
use crate::retry::{RetryPolicy, after};
use crate::sql::{Database, Dialect, Row, Sql, Value, int};
use std::collections::BTreeMap;
use std::time::Duration;

pub(crate) fn schema(dialect: Dialect) -> String {
    let bytes = match dialect {
        Dialect::Sqlite => "BLOB",
        Dialect::Postgres => "BYTEA",
    };
    format!(
        "
CREATE TABLE IF NOT EXISTS sagas (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,
    status      TEXT    NOT NULL,
    step        BIGINT  NOT NULL,
    attempt     BIGINT  NOT NULL,
    tries       BIGINT  NOT NULL,
    in_doubt    BIGINT  NOT NULL,
    deadline_ms BIGINT,
    wake_ms     BIGINT  NOT NULL,
    data        {bytes} NOT NULL,
    input       {bytes} NOT NULL,
    error       TEXT,
    version     BIGINT  NOT NULL
);
CREATE INDEX IF NOT EXISTS sagas_due ON sagas (wake_ms)
    WHERE status IN ('running', 'compensating');
CREATE TABLE IF NOT EXISTS saga_history (
    saga    TEXT   NOT NULL,
    version BIGINT NOT NULL,
    status  TEXT   NOT NULL,
    step    BIGINT NOT NULL,
    attempt BIGINT NOT NULL,
    note    TEXT   NOT NULL,
    at_ms   BIGINT NOT NULL,
    PRIMARY KEY (saga, version)
);
"
    )
}

/// What can go wrong running sagas, as values.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SagaError {
    /// No definition for this kind of saga.
    #[error("no saga definition for kind {0:?}")]
    UnknownKind(String),
    /// No saga with this id.
    #[error("no saga {0:?}")]
    NotFound(String),
    /// A saga with this id exists, of another kind or with other data.
    #[error("saga {0:?} exists already, started otherwise")]
    Exists(String),
    /// An operator action on a saga that does not need one.
    #[error("saga {id:?} is {status}, not waiting for an operator")]
    NotInIntervention {
        /// The saga.
        id: String,
        /// Its status.
        status: Status,
    },
    /// A definition that cannot run (no steps, two steps of one name).
    #[error("bad saga definition: {0}")]
    BadDefinition(String),
    /// A stored saga that does not decode, or does not fit its definition.
    #[error("saga {id:?} is corrupt: {why}")]
    Corrupt {
        /// The saga.
        id: String,
        /// What is wrong.
        why: String,
    },
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a saga is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Status {
    /// Doing its steps.
    Running,
    /// Undoing them.
    Compensating,
    /// Every step done.
    Completed,
    /// Every step done undone.
    Compensated,
    /// A compensation failed every try: an operator must retry, skip or abort.
    NeedsIntervention,
    /// Ended by an operator, with what is left to undo in their hands.
    Aborted,
}

impl Status {
    const ALL: [Status; 6] = [
        Status::Running,
        Status::Compensating,
        Status::Completed,
        Status::Compensated,
        Status::NeedsIntervention,
        Status::Aborted,
    ];

    /// The name stored.
    pub fn name(self) -> &'static str {
        match self {
            Status::Running => "running",
            Status::Compensating => "compensating",
            Status::Completed => "completed",
            Status::Compensated => "compensated",
            Status::NeedsIntervention => "needs-intervention",
            Status::Aborted => "aborted",
        }
    }

    /// Whether the saga is over (completed, compensated or aborted).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Status::Completed | Status::Compensated | Status::Aborted
        )
    }

    fn parse(name: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One step of a saga.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// Its name, unique in the saga (part of each call's idempotency key).
    pub name: String,
    /// Tries of the step before the saga compensates.
    pub retry: RetryPolicy,
    /// How long the step may take, all its tries together.
    pub timeout: Duration,
    /// Tries of its compensation before an operator is needed; `None`: nothing to undo.
    pub compensation: Option<RetryPolicy>,
}

impl Step {
    /// A step with a compensation; the default retries, and 30 s to finish.
    pub fn new(name: impl Into<String>) -> Step {
        Step {
            name: name.into(),
            retry: RetryPolicy::default(),
            timeout: Duration::from_secs(30),
            compensation: Some(RetryPolicy::default()),
        }
    }

    /// Tries of the step.
    pub fn retry(mut self, retry: RetryPolicy) -> Step {
        self.retry = retry;
        self
    }

    /// How long it may take.
    pub fn timeout(mut self, timeout: Duration) -> Step {
        self.timeout = timeout;
        self
    }

    /// Tries of its compensation.
    pub fn compensation(mut self, tries: RetryPolicy) -> Step {
        self.compensation = Some(tries);
        self
    }

    /// A step with nothing to undo (a notification, or the last step).
    pub fn without_compensation(mut self) -> Step {
        self.compensation = None;
        self
    }
}

/// A kind of saga: its steps, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SagaDefinition {
    /// Its name.
    pub kind: String,
    /// Its steps.
    pub steps: Vec<Step>,
}

impl SagaDefinition {
    /// A saga of `kind` running `steps`.
    pub fn new(kind: impl Into<String>, steps: Vec<Step>) -> SagaDefinition {
        SagaDefinition {
            kind: kind.into(),
            steps,
        }
    }
}

/// Doing a step, or undoing it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    /// The step.
    Do,
    /// Its compensation.
    Undo,
}

/// A call to a participant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Call<'a> {
    /// The saga.
    pub saga: &'a str,
    /// Its kind.
    pub kind: &'a str,
    /// The step.
    pub step: &'a str,
    /// Do or undo.
    pub action: Action,
    /// Which attempt (from 1): it moves on only after a definite failure.
    pub attempt: u64,
    /// The idempotency key for (saga, step, attempt), undo marked: apply it once.
    pub key: String,
    /// The saga's data, as the last step left it.
    pub data: &'a [u8],
}

/// What a participant answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Done; with the saga's new data, if the step changes it.
    Done(Option<Vec<u8>>),
    /// Definitely not done: nothing was applied.
    Failed(String),
    /// Unclear (a timeout, a lost answer): it may have been applied.
    Unknown(String),
}

/// The services a saga's steps call.
pub trait Participants {
    /// Make `call` and say how it went. Answer a key seen before as the first time.
    fn call(&mut self, call: &Call<'_>) -> Outcome;
}

/// A saga as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Saga {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Where it is.
    pub status: Status,
    /// Running: the step being done. Compensating: the step being undone (-1: none
    /// left). Otherwise: where it stopped.
    pub step: i64,
    /// The attempt of the current call (its idempotency key).
    pub attempt: u64,
    /// Tries of the current step or compensation so far.
    pub tries: u64,
    /// Whether the current step may have been applied.
    pub in_doubt: bool,
    /// When the current step runs out of time.
    pub deadline_ms: Option<u64>,
    /// Not to be advanced before this time (a retry's wait).
    pub wake_ms: u64,
    /// The saga's data.
    pub data: Vec<u8>,
    /// The last failure.
    pub error: Option<String>,
    /// Transitions so far: each save checks it, so two orchestrators cannot both advance
    /// one saga.
    pub version: u64,
}

/// One line of a saga's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    /// The saga's version after it.
    pub version: u64,
    /// The status it moved to.
    pub status: Status,
    /// The step.
    pub step: i64,
    /// The attempt.
    pub attempt: u64,
    /// What happened.
    pub note: String,
    /// When.
    pub at_ms: u64,
}

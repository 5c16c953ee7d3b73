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

const SAGA_COLUMNS: &str =
    "id, kind, status, step, attempt, tries, in_doubt, deadline_ms, wake_ms, data, error, version";

impl Saga {
    fn from_row(row: &Row) -> Result<Saga, SagaError> {
        let id = row.text(0)?;
        let status = row.text(2)?;
        Ok(Saga {
            status: Status::parse(&status).ok_or_else(|| SagaError::Corrupt {
                id: id.clone(),
                why: format!("status {status:?}"),
            })?,
            kind: row.text(1)?,
            step: row.int(3)?,
            attempt: row.unsigned(4)?,
            tries: row.unsigned(5)?,
            in_doubt: row.int(6)? != 0,
            deadline_ms: row.opt_unsigned(7)?,
            wake_ms: row.unsigned(8)?,
            data: row.bytes(9)?,
            error: row.opt_text(10)?,
            version: row.unsigned(11)?,
            id,
        })
    }

    /// The idempotency key of the current call.
    fn key(&self, step: &str, action: Action) -> String {
        match action {
            Action::Do => format!("{}/{step}/{}", self.id, self.attempt),
            Action::Undo => format!("{}/{step}/undo/{}", self.id, self.attempt),
        }
    }
}

/// Load saga `id` within a transaction.
fn load_in(sql: &mut dyn Sql, id: &str) -> Result<Option<Saga>, SagaError> {
    sql.query_opt(
        &format!("SELECT {SAGA_COLUMNS} FROM sagas WHERE id = $1"),
        &[Value::Text(id)],
    )?
    .map(|r| Saga::from_row(&r))
    .transpose()
}

/// Save `next` if the stored saga is still at `next.version - 1`, with a line of history:
/// false (and nothing saved) if another orchestrator moved it first.
fn save_in(sql: &mut dyn Sql, next: &Saga, note: &str, now_ms: u64) -> Result<bool, SagaError> {
    let changed = sql.execute(
        "UPDATE sagas SET status = $2, step = $3, attempt = $4, tries = $5, in_doubt = $6,
                deadline_ms = $7, wake_ms = $8, data = $9, error = $10, version = $11
         WHERE id = $1 AND version = $12",
        &[
            Value::Text(&next.id),
            Value::Text(next.status.name()),
            Value::Int(next.step),
            int(next.attempt),
            int(next.tries),
            Value::Int(next.in_doubt.into()),
            next.deadline_ms.map(int).unwrap_or(Value::Null),
            int(next.wake_ms),
            Value::Bytes(&next.data),
            next.error.as_deref().map_or(Value::Null, Value::Text),
            int(next.version),
            int(next.version - 1),
        ],
    )?;
    if changed != 1 {
        return Ok(false);
    }
    history_in(sql, next, note, now_ms)?;
    Ok(true)
}

fn history_in(sql: &mut dyn Sql, saga: &Saga, note: &str, now_ms: u64) -> Result<(), SagaError> {
    sql.execute(
        "INSERT INTO saga_history (saga, version, status, step, attempt, note, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            Value::Text(&saga.id),
            int(saga.version),
            Value::Text(saga.status.name()),
            Value::Int(saga.step),
            int(saga.attempt),
            Value::Text(note),
            int(now_ms),
        ],
    )?;
    Ok(())
}

/// Runs sagas of the kinds it knows.
#[derive(Clone, Debug, Default)]
pub struct Orchestrator {
    definitions: BTreeMap<String, SagaDefinition>,
}

/// What happens next to a saga, decided from its state and its definition alone.
enum Next {
    /// Stop here: it is over, waits for an operator, or waits for a retry.
    Stop,
    /// Save this state without calling anyone.
    Save(Saga, String),
    /// Make this call.
    Call(Action, usize),
}

impl Orchestrator {
    /// An orchestrator that knows no kind of saga yet.
    pub fn new() -> Orchestrator {
        Orchestrator::default()
    }

    /// Know `definition`'s kind of saga.
    pub fn define(mut self, definition: SagaDefinition) -> Result<Orchestrator, SagaError> {
        if definition.steps.is_empty() {
            return Err(SagaError::BadDefinition(format!(
                "{:?} has no steps",
                definition.kind
            )));
        }
        let mut names = std::collections::BTreeSet::new();
        for s in &definition.steps {
            if s.name.is_empty() || s.name.contains('/') || !names.insert(s.name.as_str()) {
                return Err(SagaError::BadDefinition(format!(
                    "{:?}: step name {:?} is empty, has a '/', or comes twice",
                    definition.kind, s.name
                )));
            }
        }
        self.definitions.insert(definition.kind.clone(), definition);
        Ok(self)
    }

    fn definition(&self, kind: &str) -> Result<&SagaDefinition, SagaError> {
        self.definitions
            .get(kind)
            .ok_or_else(|| SagaError::UnknownKind(kind.to_string()))
    }

    /// Start saga `id` of `kind` with `data`, within the caller's transaction (the one
    /// that records why it starts: an order placed). Starting it again with the same kind
    /// and data does nothing: false.
    pub fn start(
        &self,
        sql: &mut dyn Sql,
        id: &str,
        kind: &str,
        data: &[u8],
        now_ms: u64,
    ) -> Result<bool, SagaError> {
        let definition = self.definition(kind)?;
        if id.is_empty() {
            return Err(SagaError::BadDefinition("an empty saga id".into()));
        }
        // Started before? The same saga again is no news; another under its id is.
        let before = sql.query_opt(
            "SELECT kind, input FROM sagas WHERE id = $1",
            &[Value::Text(id)],
        )?;
        if let Some(row) = before {
            return if row.text(0)? == kind && row.bytes(1)? == data {
                Ok(false)
            } else {
                Err(SagaError::Exists(id.to_string()))
            };
        }
        let saga = Saga {
            id: id.to_string(),
            kind: kind.to_string(),
            status: Status::Running,
            step: 0,
            attempt: 1,
            tries: 0,
            in_doubt: true,
            deadline_ms: Some(after(now_ms, definition.steps[0].timeout)),
            wake_ms: now_ms,
            data: data.to_vec(),
            error: None,
            version: 0,
        };
        sql.execute(
            &format!(
                "INSERT INTO sagas ({SAGA_COLUMNS}, input)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, NULL, 0, $10)"
            ),
            &[
                Value::Text(id),
                Value::Text(kind),
                Value::Text(saga.status.name()),
                Value::Int(0),
                int(saga.attempt),
                Value::Int(0),
                Value::Int(1),
                saga.deadline_ms.map(int).unwrap_or(Value::Null),
                int(now_ms),
                Value::Bytes(data),
            ],
        )?;
        history_in(sql, &saga, "started", now_ms)?;
        Ok(true)
    }

    /// Saga `id` as stored.
    pub fn load<D: Database>(db: &D, id: &str) -> Result<Saga, SagaError> {
        db.transact(|sql| load_in(sql, id))?
            .ok_or_else(|| SagaError::NotFound(id.to_string()))
    }

    /// Saga `id`'s history, oldest first.
    pub fn history<D: Database>(db: &D, id: &str) -> Result<Vec<Transition>, SagaError> {
        let rows = db.transact(|sql| {
            sql.query(
                "SELECT version, status, step, attempt, note, at_ms FROM saga_history
                 WHERE saga = $1 ORDER BY version",
                &[Value::Text(id)],
            )
        })?;
        rows.iter()
            .map(|r| {
                let status = r.text(1)?;
                Ok(Transition {
                    version: r.unsigned(0)?,
                    status: Status::parse(&status).ok_or_else(|| SagaError::Corrupt {
                        id: id.to_string(),
                        why: format!("status {status:?} in its history"),
                    })?,
                    step: r.int(2)?,
                    attempt: r.unsigned(3)?,
                    note: r.text(4)?,
                    at_ms: r.unsigned(5)?,
                })
            })
            .collect()
    }

    /// The ids of up to `max` sagas to advance at `now_ms` (running or compensating, and
    /// not waiting for a retry), the longest waiting first: after a restart, the sagas
    /// that were under way, and those whose time ran out.
    pub fn due<D: Database>(db: &D, now_ms: u64, max: usize) -> Result<Vec<String>, SagaError> {
        let rows = db.transact(|sql| {
            sql.query(
                "SELECT id FROM sagas
                 WHERE status IN ('running', 'compensating')
                   AND (wake_ms <= $1 OR deadline_ms <= $1)
                 ORDER BY wake_ms, id LIMIT $2",
                &[int(now_ms), int(max as u64)],
            )
        })?;
        Ok(rows.iter().map(|r| r.text(0)).collect::<Result<_, _>>()?)
    }

    /// Advance every due saga ([`Orchestrator::due`]) as far as it goes at `now_ms`; how
    /// many were advanced.
    pub fn run_due<D: Database>(
        &self,
        db: &D,
        participants: &mut dyn Participants,
        now_ms: u64,
    ) -> Result<usize, SagaError> {
        let due = Orchestrator::due(db, now_ms, usize::MAX >> 1)?;
        for id in &due {
            self.advance(db, participants, id, now_ms)?;
        }
        Ok(due.len())
    }

    /// Advance saga `id` as far as it goes at `now_ms`: until it is over, waits for an
    /// operator, or waits to retry. Returns it as it then stands.
    pub fn advance<D: Database>(
        &self,
        db: &D,
        participants: &mut dyn Participants,
        id: &str,
        now_ms: u64,
    ) -> Result<Saga, SagaError> {
        let mut saga = Orchestrator::load(db, id)?;
        loop {
            let definition = self.definition(&saga.kind)?;
            let (next, note) = match self.next(definition, &saga, now_ms)? {
                Next::Stop => return Ok(saga),
                Next::Save(next, note) => (next, note),
                Next::Call(action, index) => {
                    let step = &definition.steps[index];
                    let outcome = participants.call(&Call {
                        saga: &saga.id,
                        kind: &saga.kind,
                        step: &step.name,
                        action,
                        attempt: saga.attempt,
                        key: saga.key(&step.name, action),
                        data: &saga.data,
                    });
                    self.after_call(definition, &saga, action, index, outcome, now_ms)
                }
            };
            // Saved, it is what the database holds; if another orchestrator moved it
            // meanwhile, read it again.
            saga = if db.transact(|sql| save_in(sql, &next, &note, now_ms))? {
                next
            } else {
                Orchestrator::load(db, id)?
            };
        }
    }

    /// What to do with `saga` now, before any call.
    fn next(
        &self,
        definition: &SagaDefinition,
        saga: &Saga,
        now_ms: u64,
    ) -> Result<Next, SagaError> {
        let corrupt = |why: String| SagaError::Corrupt {
            id: saga.id.clone(),
            why,
        };
        let steps = definition.steps.len() as i64;
        match saga.status {
            Status::Completed
            | Status::Compensated
            | Status::Aborted
            | Status::NeedsIntervention => Ok(Next::Stop),
            Status::Running => {
                if !(0..steps).contains(&saga.step) {
                    return Err(corrupt(format!("running step {} of {steps}", saga.step)));
                }
                if saga.deadline_ms.is_some_and(|d| now_ms >= d) {
                    let step = &definition.steps[saga.step as usize];
                    let note = format!("{} ran out of time", step.name);
                    let mut next = saga.clone();
                    next.version += 1;
                    return Ok(Next::Save(
                        compensate_from(&next, now_ms, note.clone()),
                        note,
                    ));
                }
                if saga.wake_ms > now_ms {
                    return Ok(Next::Stop);
                }
                Ok(Next::Call(Action::Do, saga.step as usize))
            }
            Status::Compensating => {
                if !(-1..steps).contains(&saga.step) {
                    return Err(corrupt(format!(
                        "compensating step {} of {steps}",
                        saga.step
                    )));
                }
                if saga.step < 0 {
                    let mut done = saga.clone();
                    done.status = Status::Compensated;
                    done.version += 1;
                    done.wake_ms = now_ms;
                    return Ok(Next::Save(done, "compensated".into()));
                }
                if saga.wake_ms > now_ms {
                    return Ok(Next::Stop);
                }
                let index = saga.step as usize;
                if definition.steps[index].compensation.is_none() {
                    let note = format!("nothing to undo for {}", definition.steps[index].name);
                    let mut next = undone(saga, now_ms);
                    next.version += 1;
                    return Ok(Next::Save(next, note));
                }
                Ok(Next::Call(Action::Undo, index))
            }
        }
    }

    /// The state after a participant answered.
    fn after_call(
        &self,
        definition: &SagaDefinition,
        saga: &Saga,
        action: Action,
        index: usize,
        outcome: Outcome,
        now_ms: u64,
    ) -> (Saga, String) {
        let step = &definition.steps[index];
        let mut next = saga.clone();
        next.version += 1;
        next.tries += 1;
        let tries = u32::try_from(next.tries).unwrap_or(u32::MAX);
        // Done with new data or not; or why not, and whether definitely not.
        let answer = match outcome {
            Outcome::Done(data) => Ok(data),
            Outcome::Failed(why) => Err((why, true)),
            Outcome::Unknown(why) => Err((why, false)),
        };
        match (action, answer) {
            (Action::Do, Ok(data)) => {
                if let Some(data) = data {
                    next.data = data;
                }
                next.error = None;
                let following = index + 1;
                if following == definition.steps.len() {
                    next.status = Status::Completed;
                    next.step = following as i64;
                    next.in_doubt = false;
                    next.deadline_ms = None;
                    (next, format!("{} done; completed", step.name))
                } else {
                    next.step = following as i64;
                    next.attempt = 1;
                    next.tries = 0;
                    // Its call follows without another save: count it as possibly made.
                    next.in_doubt = true;
                    next.deadline_ms = Some(after(now_ms, definition.steps[following].timeout));
                    next.wake_ms = now_ms;
                    (next, format!("{} done", step.name))
                }
            }
            (Action::Do, Err((why, definite))) => {
                if step.retry.may_retry(tries) {
                    // A definite no applied nothing: the next try is a new attempt, under
                    // a new key. After an unclear answer, the same key again.
                    if definite {
                        next.attempt += 1;
                    }
                    next.in_doubt = true;
                    next.wake_ms = after(now_ms, step.retry.delay(tries));
                    next.error = Some(why.clone());
                    (next, format!("{} try {tries}: {why}", step.name))
                } else {
                    next.in_doubt = !definite;
                    let note = format!("{} failed {tries} tries: {why}", step.name);
                    (compensate_from(&next, now_ms, why), note)
                }
            }
            (Action::Undo, Ok(_)) => {
                let note = format!("{} undone", step.name);
                (undone(&next, now_ms), note)
            }
            (Action::Undo, Err((why, definite))) => {
                if definite {
                    next.attempt += 1;
                }
                let tries_allowed = step.compensation.unwrap_or_default();
                if tries_allowed.may_retry(tries) {
                    next.wake_ms = after(now_ms, tries_allowed.delay(tries));
                    next.error = Some(why.clone());
                    (next, format!("undo {} try {tries}: {why}", step.name))
                } else {
                    next.status = Status::NeedsIntervention;
                    next.error = Some(why.clone());
                    let note = format!("undo {} failed {tries} tries: {why}", step.name);
                    (next, note)
                }
            }
        }
    }

    /// An operator's answer to [`Status::NeedsIntervention`]: try the failed compensation
    /// again, with its tries counted afresh.
    pub fn retry<D: Database>(&self, db: &D, id: &str, now_ms: u64) -> Result<Saga, SagaError> {
        self.intervene(db, id, now_ms, "operator: retry", |s| {
            s.status = Status::Compensating;
            s.tries = 0;
            s.wake_ms = now_ms;
        })
    }

    /// An operator's answer to [`Status::NeedsIntervention`]: the failed compensation is
    /// done by hand; go on with the ones before it.
    pub fn skip<D: Database>(&self, db: &D, id: &str, now_ms: u64) -> Result<Saga, SagaError> {
        self.intervene(db, id, now_ms, "operator: skip", |s| *s = undone(s, now_ms))
    }

    /// An operator's answer to [`Status::NeedsIntervention`]: stop the saga here; what
    /// is left to undo is the operator's.
    pub fn abort<D: Database>(&self, db: &D, id: &str, now_ms: u64) -> Result<Saga, SagaError> {
        self.intervene(db, id, now_ms, "operator: abort", |s| {
            s.status = Status::Aborted;
        })
    }

    fn intervene<D: Database>(
        &self,
        db: &D,
        id: &str,
        now_ms: u64,
        note: &str,
        change: impl FnOnce(&mut Saga),
    ) -> Result<Saga, SagaError> {
        db.transact(|sql| {
            let saga = load_in(sql, id)?.ok_or_else(|| SagaError::NotFound(id.to_string()))?;
            if saga.status != Status::NeedsIntervention {
                return Err(SagaError::NotInIntervention {
                    id: id.to_string(),
                    status: saga.status,
                });
            }
            let mut next = saga;
            change(&mut next);
            next.version += 1;
            if !save_in(sql, &next, note, now_ms)? {
                return Err(SagaError::Store(StoreError::Storage(format!(
                    "saga {id:?} moved while an operator acted on it"
                ))));
            }
            Ok(next)
        })
    }
}

/// `saga` set to undo what it did (its version already moved on): from its current step
/// if that may have been applied, else from the one before.
fn compensate_from(saga: &Saga, now_ms: u64, error: String) -> Saga {
    let mut next = saga.clone();
    next.status = Status::Compensating;
    next.step = if saga.in_doubt {
        saga.step
    } else {
        saga.step - 1
    };
    next.attempt = 1;
    next.tries = 0;
    next.in_doubt = false;
    next.deadline_ms = None;
    next.wake_ms = now_ms;
    next.error = Some(error);
    next
}

/// `saga` with its current compensation done (its version not moved): on to the step
/// before.
fn undone(saga: &Saga, now_ms: u64) -> Saga {
    let mut next = saga.clone();
    next.status = Status::Compensating;
    next.step = saga.step - 1;
    next.attempt = 1;
    next.tries = 0;
    next.wake_ms = now_ms;
    next
}

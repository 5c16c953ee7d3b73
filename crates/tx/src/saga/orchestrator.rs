//! The orchestrator: starts sagas, moves each one step at a time — call, retry,
//! compensate — and takes an operator's retry, skip or abort.

use super::store::{SAGA_COLUMNS, history_in, load_in, save_in};
use super::*;

/// Runs sagas of the kinds it knows.
#[derive(Clone, Debug, Default)]
pub struct Orchestrator {
    definitions: BTreeMap<String, SagaDefinition>,
}

/// What happens next to a saga, decided from its state and its definition alone.
pub(super) enum Next {
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
pub(super) fn compensate_from(saga: &Saga, now_ms: u64, error: String) -> Saga {
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
pub(super) fn undone(saga: &Saga, now_ms: u64) -> Saga {
    let mut next = saga.clone();
    next.status = Status::Compensating;
    next.step = saga.step - 1;
    next.attempt = 1;
    next.tries = 0;
    next.wake_ms = now_ms;
    next
}

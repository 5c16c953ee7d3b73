//! Projections: read models kept from the global order of events (the query side of
//! CQRS), in the store's own database.
//!
//! Each event's effect on the read model commits in the same transaction as the
//! projection's checkpoint, so after a crash the model holds exactly the events before
//! the checkpoint: none lost, none applied twice. A page of events goes in one
//! transaction; if an event fails, the page is retried one event at a time, each event
//! up to [`RetryPolicy::attempts`] times, and one that still fails is *parked* (recorded, with
//! its error, and stepped over) so one bad event does not stop the model.
//! [`Projector::replay_parked`] tries the parked events again, once their cause is fixed;
//! they then apply after later events, so a projection that parks must tolerate that.
//!
//! A read model lives in generations. [`Projector::rebuild`] builds the next generation
//! from the first event, beside the one readers use, and when it has caught up, makes it
//! the one readers use in one transaction, then drops the old one. A rebuild cut short
//! resumes where it stopped.
//!
//! Two projectors of one projection may run at once: each moves the checkpoint only from
//! where it read it, so a page goes in once and the slower one starts over from where
//! the other left it.

use crate::retry::RetryPolicy;
use crate::sql::{Database, Dialect, Sql, Value, int};
use crate::{RecordedEvent, StoreError};
use std::time::Duration;

pub(crate) fn schema(_: Dialect) -> &'static str {
    "
CREATE TABLE IF NOT EXISTS projection_checkpoints (
    name       TEXT   NOT NULL,
    generation BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    PRIMARY KEY (name, generation)
);
CREATE TABLE IF NOT EXISTS projection_parked (
    name       TEXT   NOT NULL,
    generation BIGINT NOT NULL,
    position   BIGINT NOT NULL,
    attempts   BIGINT NOT NULL,
    error      TEXT   NOT NULL,
    PRIMARY KEY (name, generation, position)
);
CREATE TABLE IF NOT EXISTS read_models (
    name       TEXT   PRIMARY KEY,
    generation BIGINT NOT NULL
);
"
}

/// Why a projection could not apply an event.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProjectionError {
    /// The projection refused the event.
    #[error("{0}")]
    Apply(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Which generation of a read model to write or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The read model.
    pub name: String,
    /// Its generation: from 1, one more for each rebuild.
    pub generation: u64,
}

impl Target {
    /// The generation of read model `name` that readers use: 1 until its first rebuild.
    pub fn active<D: Database>(db: &D, name: &str) -> Result<Target, StoreError> {
        db.transact(|sql| active_in(sql, name))
    }

    /// The name of the table `base` in this generation (`orders` in generation 2:
    /// `orders_g2`).
    pub fn table(&self, base: &str) -> String {
        format!("{base}_g{}", self.generation)
    }
}

/// A read model: how it is created, and what each event does to it. Its state must live
/// in the database, written through the [`Sql`] it is handed: a transaction that rolls
/// back takes the event's effect with it.
pub trait Projection {
    /// The read model's name (unique in the database).
    fn name(&self) -> &str;

    /// Create a generation's tables (empty), in the transaction that starts it.
    fn create(&self, sql: &mut dyn Sql, target: &Target) -> Result<(), ProjectionError>;

    /// Apply one event to `target`.
    fn apply(
        &self,
        sql: &mut dyn Sql,
        target: &Target,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError>;

    /// Drop a generation's tables, once another has replaced it.
    fn drop(&self, sql: &mut dyn Sql, target: &Target) -> Result<(), ProjectionError>;
}

/// What one run of a projector did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// Events applied.
    pub applied: u64,
    /// Events parked.
    pub parked: u64,
    /// The checkpoint after the run: the next position to apply.
    pub checkpoint: u64,
}

/// An event a projection failed to apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parked {
    /// The event's global position.
    pub position: u64,
    /// How often it was tried.
    pub attempts: u64,
    /// The last error.
    pub error: String,
}

/// What a replay of parked events did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Replayed {
    /// Parked events that applied this time (and are no longer parked).
    pub applied: u64,
    /// Parked events that failed again.
    pub still_parked: u64,
}

/// Keeps one [`Projection`] up to date.
#[derive(Debug)]
pub struct Projector<'p, P> {
    projection: &'p P,
    backoff: RetryPolicy,
    page: usize,
}

/// The checkpoint update, conditional on where the projector read it.
const MOVE_CHECKPOINT: &str = "UPDATE projection_checkpoints SET position = $4
     WHERE name = $1 AND generation = $2 AND position = $3";

/// Move `target`'s checkpoint from `from` to `to`: false (and nothing moved) if another
/// projector has moved it.
fn move_checkpoint(
    sql: &mut dyn Sql,
    target: &Target,
    from: u64,
    to: u64,
) -> Result<bool, StoreError> {
    let moved = sql.execute(
        MOVE_CHECKPOINT,
        &[
            Value::Text(&target.name),
            int(target.generation),
            int(from),
            int(to),
        ],
    )?;
    Ok(moved == 1)
}

impl<'p, P: Projection> Projector<'p, P> {
    /// A projector for `projection`, trying each event up to `backoff.attempts` times.
    pub fn new(projection: &'p P, backoff: RetryPolicy) -> Self {
        Projector {
            projection,
            backoff,
            page: 256,
        }
    }

    /// Apply up to `page` events per transaction (at least 1).
    pub fn page(mut self, page: usize) -> Self {
        self.page = page.max(1);
        self
    }

    /// Apply every event after the checkpoint of the generation readers use, up to the
    /// end of the store; `sleep` waits between tries.
    pub fn run<D: Database>(
        &self,
        db: &D,
        sleep: &mut dyn FnMut(Duration),
    ) -> Result<Progress, StoreError> {
        let target = Target::active(db, self.projection.name())?;
        self.run_target(db, &target, sleep)
    }

    /// Where `target` stands: its checkpoint, creating the generation (its tables and a
    /// checkpoint at 0, in one transaction) if it has none.
    fn checkpoint<D: Database>(&self, db: &D, target: &Target) -> Result<u64, StoreError> {
        db.transact(|sql| {
            if let Some(at) = checkpoint_in(sql, target)? {
                return Ok(at);
            }
            // The checkpoint row first: a projector creating the same generation at once
            // waits on it until this one commits, then finds it, and creates nothing.
            let first = sql.execute(
                "INSERT INTO projection_checkpoints (name, generation, position)
                 VALUES ($1, $2, 0) ON CONFLICT DO NOTHING",
                &[Value::Text(&target.name), int(target.generation)],
            )?;
            if first == 1 {
                self.projection
                    .create(sql, target)
                    .map_err(|e| StoreError::Storage(format!("creating {}: {e}", target.name)))?;
            }
            Ok(checkpoint_in(sql, target)?.unwrap_or(0))
        })
    }

    fn run_target<D: Database>(
        &self,
        db: &D,
        target: &Target,
        sleep: &mut dyn FnMut(Duration),
    ) -> Result<Progress, StoreError> {
        let mut progress = Progress::default();
        let mut from = self.checkpoint(db, target)?;
        loop {
            progress.checkpoint = from;
            let events = db.read_all(from, self.page)?;
            let Some(last) = events.last() else {
                return Ok(progress);
            };
            let to = last.position + 1;
            let page = db.transact(|sql| {
                if !move_checkpoint(sql, target, from, to)? {
                    return Ok(false);
                }
                for e in &events {
                    self.projection.apply(sql, target, e)?;
                }
                Ok::<_, ProjectionError>(true)
            });
            match page {
                Ok(true) => {
                    progress.applied += events.len() as u64;
                    from = to;
                }
                // Another projector moved the checkpoint: start again from where it is.
                Ok(false) => from = self.checkpoint(db, target)?,
                Err(_) => {
                    // One event (or more) failed: go one at a time, so the good ones
                    // apply and only the bad ones park.
                    let mut at = from;
                    for e in &events {
                        match self.apply_one(db, target, at, e, sleep)? {
                            Some(Outcome::Applied) => progress.applied += 1,
                            Some(Outcome::Parked) => progress.parked += 1,
                            None => break,
                        }
                        at = e.position + 1;
                    }
                    // Where this projector left it, or another moved it.
                    from = self.checkpoint(db, target)?;
                }
            }
        }
    }

    /// Apply `event` with the checkpoint at `from`, retrying, then parking it; `None` if
    /// another projector moved the checkpoint meanwhile.
    fn apply_one<D: Database>(
        &self,
        db: &D,
        target: &Target,
        from: u64,
        event: &RecordedEvent,
        sleep: &mut dyn FnMut(Duration),
    ) -> Result<Option<Outcome>, StoreError> {
        let to = event.position + 1;
        let mut attempt = 1;
        let error = loop {
            let tried = db.transact(|sql| {
                if !move_checkpoint(sql, target, from, to)? {
                    return Ok(false);
                }
                self.projection.apply(sql, target, event)?;
                Ok::<_, ProjectionError>(true)
            });
            match tried {
                Ok(true) => return Ok(Some(Outcome::Applied)),
                Ok(false) => return Ok(None),
                Err(_) if self.backoff.may_retry(attempt) => {
                    sleep(self.backoff.delay(attempt));
                    attempt += 1;
                }
                Err(e) => break e,
            }
        };
        let parked = db.transact(|sql| {
            if !move_checkpoint(sql, target, from, to)? {
                return Ok(false);
            }
            sql.execute(
                "INSERT INTO projection_parked (name, generation, position, attempts, error)
                 VALUES ($1, $2, $3, $4, $5)",
                &[
                    Value::Text(&target.name),
                    int(target.generation),
                    int(event.position),
                    Value::Int(attempt.into()),
                    Value::Text(&error.to_string()),
                ],
            )?;
            Ok::<_, StoreError>(true)
        })?;
        Ok(parked.then_some(Outcome::Parked))
    }

    /// The events parked in the generation readers use, in position order.
    pub fn parked<D: Database>(&self, db: &D) -> Result<Vec<Parked>, StoreError> {
        let target = Target::active(db, self.projection.name())?;
        db.transact(|sql| parked_in(sql, &target))
    }

    /// Try each parked event of the generation readers use once more, in position order:
    /// one that applies is no longer parked; one that fails stays, its error updated.
    pub fn replay_parked<D: Database>(&self, db: &D) -> Result<Replayed, StoreError> {
        let target = Target::active(db, self.projection.name())?;
        let mut replayed = Replayed::default();
        for parked in db.transact(|sql| parked_in(sql, &target))? {
            let event = db
                .read_all(parked.position, 1)?
                .into_iter()
                .next()
                .filter(|e| e.position == parked.position)
                .ok_or_else(|| StoreError::Corrupt {
                    position: parked.position,
                    why: "a parked event that is not in the store".into(),
                })?;
            let key = [
                Value::Text(&target.name),
                int(target.generation),
                int(parked.position),
            ];
            let applied = db.transact(|sql| {
                // Only if it is still parked (another replay may have taken it).
                let taken = sql.execute(
                    "DELETE FROM projection_parked
                     WHERE name = $1 AND generation = $2 AND position = $3",
                    &key,
                )?;
                if taken == 1 {
                    self.projection.apply(sql, &target, &event)?;
                }
                Ok::<_, ProjectionError>(taken == 1)
            });
            match applied {
                Ok(true) => replayed.applied += 1,
                Ok(false) => {}
                Err(e) => {
                    db.transact(|sql| {
                        sql.execute(
                            "UPDATE projection_parked SET attempts = attempts + 1, error = $4
                             WHERE name = $1 AND generation = $2 AND position = $3",
                            &[key[0], key[1], key[2], Value::Text(&e.to_string())],
                        )
                    })?;
                    replayed.still_parked += 1;
                }
            }
        }
        Ok(replayed)
    }

    /// Build the next generation from the first event beside the one readers use; when
    /// it has caught up with the store, make it the one readers use and drop the old one.
    /// Returns the generation readers now use. A rebuild cut short resumes where it
    /// stopped.
    pub fn rebuild<D: Database>(
        &self,
        db: &D,
        sleep: &mut dyn FnMut(Duration),
    ) -> Result<Target, StoreError> {
        let name = self.projection.name();
        let old = Target::active(db, name)?;
        let new = Target {
            name: name.to_string(),
            generation: old.generation + 1,
        };
        loop {
            let at = self.run_target(db, &new, sleep)?.checkpoint;
            // Swap only if nothing was appended since: what readers switch to is current.
            let swapped = db.transact(|sql| {
                let end = sql
                    .query_opt("SELECT max(position) FROM events", &[])?
                    .map(|r| r.opt_int(0))
                    .transpose()?
                    .flatten()
                    .map_or(0, |p| p as u64 + 1);
                if at < end {
                    return Ok(false);
                }
                sql.execute(
                    "UPDATE read_models SET generation = $2 WHERE name = $1 AND generation = $3",
                    &[Value::Text(name), int(new.generation), int(old.generation)],
                )
                .map(|n| n == 1)
            })?;
            if swapped {
                break;
            }
            if Target::active(db, name)?.generation != old.generation {
                return Err(StoreError::Storage(format!(
                    "read model {name:?} was rebuilt by another projector meanwhile"
                )));
            }
        }
        db.transact(|sql| {
            self.projection
                .drop(sql, &old)
                .map_err(|e| StoreError::Storage(format!("dropping {name}: {e}")))?;
            for table in ["projection_checkpoints", "projection_parked"] {
                sql.execute(
                    &format!("DELETE FROM {table} WHERE name = $1 AND generation = $2"),
                    &[Value::Text(name), int(old.generation)],
                )?;
            }
            Ok::<_, StoreError>(())
        })?;
        Ok(new)
    }
}

enum Outcome {
    Applied,
    Parked,
}

fn active_in(sql: &mut dyn Sql, name: &str) -> Result<Target, StoreError> {
    sql.execute(
        "INSERT INTO read_models (name, generation) VALUES ($1, 1) ON CONFLICT DO NOTHING",
        &[Value::Text(name)],
    )?;
    let generation = sql
        .query_opt(
            "SELECT generation FROM read_models WHERE name = $1",
            &[Value::Text(name)],
        )?
        .map(|r| r.int(0))
        .transpose()?
        .unwrap_or(1);
    Ok(Target {
        name: name.to_string(),
        generation: generation.max(1) as u64,
    })
}

fn checkpoint_in(sql: &mut dyn Sql, target: &Target) -> Result<Option<u64>, StoreError> {
    let row = sql.query_opt(
        "SELECT position FROM projection_checkpoints WHERE name = $1 AND generation = $2",
        &[Value::Text(&target.name), int(target.generation)],
    )?;
    row.map(|r| r.unsigned(0)).transpose()
}

fn parked_in(sql: &mut dyn Sql, target: &Target) -> Result<Vec<Parked>, StoreError> {
    sql.query(
        "SELECT position, attempts, error FROM projection_parked
         WHERE name = $1 AND generation = $2 ORDER BY position",
        &[Value::Text(&target.name), int(target.generation)],
    )?
    .iter()
    .map(|r| {
        Ok(Parked {
            position: r.unsigned(0)?,
            attempts: r.unsigned(1)?,
            error: r.text(2)?,
        })
    })
    .collect()
}

//! A saga's row and history in the store's database: reading, saving (checked against
//! the version it was read at, so two orchestrators cannot both move one saga), and the
//! transitions kept for operators.

use super::*;

pub(super) const SAGA_COLUMNS: &str =
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
    pub(super) fn key(&self, step: &str, action: Action) -> String {
        match action {
            Action::Do => format!("{}/{step}/{}", self.id, self.attempt),
            Action::Undo => format!("{}/{step}/undo/{}", self.id, self.attempt),
        }
    }
}

/// Load saga `id` within a transaction.
pub(super) fn load_in(sql: &mut dyn Sql, id: &str) -> Result<Option<Saga>, SagaError> {
    sql.query_opt(
        &format!("SELECT {SAGA_COLUMNS} FROM sagas WHERE id = $1"),
        &[Value::Text(id)],
    )?
    .map(|r| Saga::from_row(&r))
    .transpose()
}

/// Save `next` if the stored saga is still at `next.version - 1`, with a line of history:
/// false (and nothing saved) if another orchestrator moved it first.
pub(super) fn save_in(
    sql: &mut dyn Sql,
    next: &Saga,
    note: &str,
    now_ms: u64,
) -> Result<bool, SagaError> {
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

pub(super) fn history_in(
    sql: &mut dyn Sql,
    saga: &Saga,
    note: &str,
    now_ms: u64,
) -> Result<(), SagaError> {
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

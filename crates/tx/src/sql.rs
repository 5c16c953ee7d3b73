//! One transaction in the store's database, whichever database it is.
//!
//! Projections, the outbox, the inbox and sagas keep their state in tables beside the
//! events, and each of their steps must commit together with the application's own
//! writes: a read model with its checkpoint, an outbox row with the state change it
//! announces, a saga's transition with the order it belongs to. [`Database::transact`]
//! opens that transaction; [`Sql`] is what runs inside it, on SQLite and on PostgreSQL
//! alike, so each pattern is written once.
//!
//! Statements use PostgreSQL's numbered parameters (`$1`, `$2`, ...) on both backends;
//! integers are `BIGINT` columns. Where the two dialects differ (`FOR UPDATE SKIP
//! LOCKED`, an identity column), [`Sql::dialect`] says which one runs.

use crate::store::{Columns, StreamAppend};
use crate::{Appended, EventStore, StoreError};

/// Which SQL a database speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite: one writer at a time, so a write transaction excludes every other.
    Sqlite,
    /// PostgreSQL: concurrent writers; row locks, `SKIP LOCKED`.
    Postgres,
}

/// A statement parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// SQL NULL.
    Null,
    /// A `BIGINT`.
    Int(i64),
    /// A `TEXT`.
    Text(&'a str),
    /// A `BLOB` (SQLite) or `BYTEA` (PostgreSQL).
    Bytes(&'a [u8]),
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(v: &'a str) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(v: &'a String) -> Self {
        Value::Text(v)
    }
}

impl<'a> From<&'a [u8]> for Value<'a> {
    fn from(v: &'a [u8]) -> Self {
        Value::Bytes(v)
    }
}

impl<'a> From<&'a Vec<u8>> for Value<'a> {
    fn from(v: &'a Vec<u8>) -> Self {
        Value::Bytes(v)
    }
}

impl<'a, T: Into<Value<'a>>> From<Option<T>> for Value<'a> {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A position, a version or a time in milliseconds as a `BIGINT` parameter (those stay
/// below 2^63; anything beyond saturates).
pub(crate) fn int(v: u64) -> Value<'static> {
    Value::Int(i64::try_from(v).unwrap_or(i64::MAX))
}

/// One column of a row read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// A row read back: its cells in the order the statement selected them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    cells: Vec<Cell>,
}

impl Row {
    /// A row of `cells`.
    pub fn new(cells: Vec<Cell>) -> Row {
        Row { cells }
    }

    fn cell(&self, column: usize) -> Result<&Cell, StoreError> {
        self.cells.get(column).ok_or_else(|| {
            StoreError::Storage(format!(
                "column {column} of a row of {} columns",
                self.cells.len()
            ))
        })
    }

    fn mismatch(&self, column: usize, want: &str) -> StoreError {
        StoreError::Storage(format!(
            "column {column}: expected {want}, found {:?}",
            self.cells.get(column)
        ))
    }

    /// Column `column` as an integer.
    pub fn int(&self, column: usize) -> Result<i64, StoreError> {
        match self.cell(column)? {
            Cell::Int(v) => Ok(*v),
            _ => Err(self.mismatch(column, "an integer")),
        }
    }

    /// Column `column` as an integer, or `None` if it is NULL.
    pub fn opt_int(&self, column: usize) -> Result<Option<i64>, StoreError> {
        match self.cell(column)? {
            Cell::Null => Ok(None),
            _ => self.int(column).map(Some),
        }
    }

    /// Column `column` as a count, a position or a time: an integer, negatives read as 0
    /// (the patterns' tables never hold one).
    pub fn unsigned(&self, column: usize) -> Result<u64, StoreError> {
        Ok(self.int(column)?.max(0) as u64)
    }

    /// Column `column` as [`Row::unsigned`], or `None` if it is NULL.
    pub fn opt_unsigned(&self, column: usize) -> Result<Option<u64>, StoreError> {
        Ok(self.opt_int(column)?.map(|v| v.max(0) as u64))
    }

    /// Column `column` as text.
    pub fn text(&self, column: usize) -> Result<String, StoreError> {
        match self.cell(column)? {
            Cell::Text(v) => Ok(v.clone()),
            _ => Err(self.mismatch(column, "text")),
        }
    }

    /// Column `column` as text, or `None` if it is NULL.
    pub fn opt_text(&self, column: usize) -> Result<Option<String>, StoreError> {
        match self.cell(column)? {
            Cell::Null => Ok(None),
            _ => self.text(column).map(Some),
        }
    }

    /// Column `column` as bytes.
    pub fn bytes(&self, column: usize) -> Result<Vec<u8>, StoreError> {
        match self.cell(column)? {
            Cell::Bytes(v) => Ok(v.clone()),
            _ => Err(self.mismatch(column, "bytes")),
        }
    }
}

impl Columns for Row {
    fn int(&self, column: usize) -> Result<i64, String> {
        Row::int(self, column).map_err(|e| e.to_string())
    }

    fn text(&self, column: usize) -> Result<String, String> {
        Row::text(self, column).map_err(|e| e.to_string())
    }

    fn bytes(&self, column: usize) -> Result<Vec<u8>, String> {
        Row::bytes(self, column).map_err(|e| e.to_string())
    }
}

/// Statements inside one open transaction of the store's database.
pub trait Sql {
    /// Which SQL this is.
    fn dialect(&self) -> Dialect;

    /// Run one statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError>;

    /// Run one query; its rows.
    fn query(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Vec<Row>, StoreError>;

    /// Run several statements without parameters (schema changes).
    fn batch(&mut self, sql: &str) -> Result<(), StoreError>;

    /// Append events within this transaction, as [`EventStore::append_all`] does: they
    /// commit with everything else it writes, or not at all.
    fn append_all(&mut self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError>;

    /// The first row of a query, if it returned any.
    fn query_opt(&mut self, sql: &str, params: &[Value<'_>]) -> Result<Option<Row>, StoreError> {
        Ok(self.query(sql, params)?.into_iter().next())
    }
}

/// A store whose database also holds the patterns' tables, and the application's.
pub trait Database: EventStore + Send + Sync {
    /// Which SQL it speaks.
    fn dialect(&self) -> Dialect;

    /// Run `work` in one transaction: committed if it returns `Ok` (a commit that fails is
    /// the error), rolled back if it returns `Err`.
    fn transact<T, E: From<StoreError>>(
        &self,
        work: impl FnOnce(&mut dyn Sql) -> Result<T, E>,
    ) -> Result<T, E>;
}

/// The tables of the patterns built on [`Sql`], created with the store.
pub(crate) fn pattern_schema(dialect: Dialect) -> String {
    [
        crate::projection::schema(dialect).to_string(),
        crate::outbox::schema(dialect),
        crate::saga::schema(dialect),
    ]
    .concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_says_which_column_did_not_hold_what_was_asked() {
        let row = Row::new(vec![Cell::Int(1), Cell::Null, Cell::Text("t".into())]);
        assert_eq!(row.int(0).unwrap(), 1);
        assert_eq!(row.opt_int(1).unwrap(), None);
        assert_eq!(row.opt_text(2).unwrap().as_deref(), Some("t"));
        assert!(matches!(row.int(2), Err(StoreError::Storage(m)) if m.contains("column 2")));
        assert!(matches!(row.bytes(9), Err(StoreError::Storage(m)) if m.contains("column 9")));
        assert!(row.text(1).is_err());
    }
}

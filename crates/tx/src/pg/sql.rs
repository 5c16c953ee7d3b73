//! The patterns' SQL layer on a PostgreSQL transaction: the same `$1` statements as on
//! SQLite, values and cells converted at the boundary.

use super::*;

/// [`Sql`] on an open PostgreSQL transaction of a pooled connection.
pub(super) struct PgSql<'a, 'c> {
    pub(super) tx: &'a mut postgres::Transaction<'c>,
    pub(super) prepared: &'a mut BTreeMap<String, Statement>,
    pub(super) append: &'a AppendStatements,
}

impl PgSql<'_, '_> {
    /// `sql` prepared on this connection, once.
    pub(super) fn statement(&mut self, sql: &str) -> Result<Statement, StoreError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.tx.prepare(sql).map_err(storage)?;
        self.prepared.insert(sql.to_string(), s.clone());
        Ok(s)
    }
}

impl ToSql for Value<'_> {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut bytes::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match *self {
            Value::Null => Ok(IsNull::Yes),
            // An integer goes into whichever integer column the statement names.
            Value::Int(v) if *ty == Type::INT4 => i32::try_from(v)?.to_sql(ty, out),
            Value::Int(v) if *ty == Type::INT2 => i16::try_from(v)?.to_sql(ty, out),
            Value::Int(v) => v.to_sql(ty, out),
            Value::Text(v) => v.to_sql(ty, out),
            Value::Bytes(v) => v.to_sql(ty, out),
        }
    }

    fn accepts(ty: &Type) -> bool {
        [Type::INT2, Type::INT4, Type::INT8].contains(ty)
            || <&str as ToSql>::accepts(ty)
            || <&[u8] as ToSql>::accepts(ty)
    }

    to_sql_checked!();
}

/// One column of a row, whichever of the types the patterns use it has.
pub(super) fn cell(row: &Row, column: usize) -> Result<Cell, StoreError> {
    let ty = row.columns()[column].type_();
    let wrong = |e: postgres::Error| StoreError::Storage(format!("column {column}: {e}"));
    let cell = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(column)
            .map_err(wrong)?
            .map(Cell::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(column)
            .map_err(wrong)?
            .map(|v| Cell::Int(v.into()))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(column)
            .map_err(wrong)?
            .map(|v| Cell::Int(v.into()))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(column)
            .map_err(wrong)?
            .map(|v| Cell::Int(v.into()))
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(column)
            .map_err(wrong)?
            .map(Cell::Bytes)
    } else {
        row.try_get::<_, Option<String>>(column)
            .map_err(wrong)?
            .map(Cell::Text)
    };
    Ok(cell.unwrap_or(Cell::Null))
}

impl Sql for PgSql<'_, '_> {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str, params: &[Value<'_>]) -> Result<u64, StoreError> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.tx.execute(&statement, &params).map_err(storage)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[Value<'_>],
    ) -> Result<Vec<crate::sql::Row>, StoreError> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        let rows = self.tx.query(&statement, &params).map_err(storage)?;
        rows.iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| cell(r, i))
                    .collect::<Result<Vec<_>, _>>()
                    .map(crate::sql::Row::new)
            })
            .collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        self.tx.batch_execute(sql).map_err(storage)
    }

    fn append_all(&mut self, appends: &[StreamAppend<'_>]) -> Result<Vec<Appended>, StoreError> {
        // No savepoint: a refused append writes nothing (the statements refuse rather
        // than fail: `ON CONFLICT DO NOTHING`, the function's exception block).
        append_with(self.tx, self.append, appends)
    }
}

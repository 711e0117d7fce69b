//! What writing and reading values needs to know of a table: each column's type (to cast
//! text to it, and to read it back as the right kind of [`Value`]) and the sequence behind
//! it (to move past explicit keys). Read once per table and kept by the backend.

use sqlx::{AssertSqlSafe, Row};

use super::PgBackend;
use crate::sqltext::{Dialect, quote_ident};
use crate::value::Value;

/// How a column's values travel back to dbenv.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Wire {
    Int,
    Float,
    /// `numeric`: read as text, turned into a float like the generator's decimals.
    Decimal,
    Bool,
    Bytes,
    Text,
}

#[derive(Debug, Clone)]
pub(super) struct ColumnInfo {
    pub name: String,
    /// The type without modifier (`character varying`, not `(80)`), so a cast never
    /// truncates silently and the column's own modifier still checks the value.
    pub cast: String,
    pub wire: Wire,
    pub collatable: bool,
    /// The sequence an identity or serial column draws from.
    pub sequence: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct TableInfo {
    pub columns: Vec<ColumnInfo>,
}

impl TableInfo {
    pub fn column(&self, table: &str, name: &str) -> Result<&ColumnInfo, sqlx::Error> {
        self.columns
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| sqlx::Error::Protocol(format!("table {table} has no column {name}")))
    }
}

/// Columns in order, domains resolved to their base type (`WITH RECURSIVE` walks domains
/// over domains).
const TABLE_INFO: &str = r#"
WITH RECURSIVE chain(attnum, typ, depth) AS (
    SELECT a.attnum, a.atttypid, 0 FROM pg_attribute a
    WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
    SELECT c.attnum, t.typbasetype, c.depth + 1 FROM chain c JOIN pg_type t ON t.oid = c.typ
    WHERE t.typtype = 'd'
)
SELECT a.attname::text, format_type(a.atttypid, NULL), b.typname::text, b.typcollation <> 0,
       pg_get_serial_sequence($1, a.attname)
FROM pg_attribute a
JOIN LATERAL (SELECT typ FROM chain c WHERE c.attnum = a.attnum ORDER BY depth DESC LIMIT 1) base ON true
JOIN pg_type b ON b.oid = base.typ
WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum
"#;

fn wire(base: &str) -> Wire {
    match base {
        "int2" | "int4" | "int8" => Wire::Int,
        "float4" | "float8" => Wire::Float,
        "numeric" => Wire::Decimal,
        "bool" => Wire::Bool,
        "bytea" => Wire::Bytes,
        _ => Wire::Text,
    }
}

impl PgBackend {
    /// The columns of `table`, read on first use.
    pub(super) async fn table_info(&mut self, table: &str) -> Result<TableInfo, sqlx::Error> {
        if let Some(info) = self.tables.get(table) {
            return Ok(info.clone());
        }
        let rows = sqlx::query(TABLE_INFO)
            .bind(quote_ident(table, Dialect::Postgres))
            .fetch_all(&mut self.conn)
            .await?;
        let columns = rows
            .iter()
            .map(|r| {
                Ok(ColumnInfo {
                    name: r.try_get(0)?,
                    cast: r.try_get(1)?,
                    wire: wire(r.try_get::<&str, _>(2)?),
                    collatable: r.try_get(3)?,
                    sequence: r.try_get(4)?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        let info = TableInfo { columns };
        self.tables.insert(table.to_string(), info.clone());
        Ok(info)
    }

    /// Remember the largest explicit value written to each sequence-backed column.
    pub(super) fn note_sequences(
        &mut self,
        info: &TableInfo,
        columns: &[String],
        rows: &[Vec<Value>],
    ) {
        for (i, name) in columns.iter().enumerate() {
            let Some(sequence) = info
                .columns
                .iter()
                .find(|c| &c.name == name)
                .and_then(|c| c.sequence.as_ref())
            else {
                continue;
            };
            let max = rows
                .iter()
                .filter_map(|r| match r.get(i) {
                    Some(Value::Int(v)) => Some(*v),
                    _ => None,
                })
                .max();
            if let Some(max) = max {
                let entry = self.sequences.entry(sequence.clone()).or_insert(max);
                *entry = (*entry).max(max);
            }
        }
    }
}

/// One `UPDATE … FROM unnest(…)` per call: every key and value travels as a text array and
/// is cast to its column's type on the server.
pub(super) async fn update_column(
    db: &mut PgBackend,
    table: &str,
    key_columns: &[String],
    set_column: &str,
    rows: &[(Vec<Value>, Value)],
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let info = db.table_info(table).await?;
    let sql = update_sql(&info, table, key_columns, set_column)?;
    let mut query = sqlx::query(AssertSqlSafe(sql));
    for k in 0..key_columns.len() {
        let keys: Vec<Option<String>> = rows.iter().map(|(key, _)| as_text(&key[k])).collect();
        query = query.bind(keys);
    }
    let values: Vec<Option<String>> = rows.iter().map(|(_, v)| as_text(v)).collect();
    query
        .bind(values)
        .execute(&mut db.conn)
        .await
        .map_err(super::with_details)?;
    Ok(())
}

fn update_sql(
    info: &TableInfo,
    table: &str,
    key_columns: &[String],
    set_column: &str,
) -> Result<String, sqlx::Error> {
    let q = |c: &str| quote_ident(c, Dialect::Postgres);
    let mut arrays = Vec::new();
    let mut filter = Vec::new();
    for (i, key) in key_columns.iter().enumerate() {
        let cast = &info.column(table, key)?.cast;
        arrays.push(format!("${}::text[]", i + 1));
        filter.push(format!("_dbenv_t.{} = _dbenv_v.k{i}::{cast}", q(key)));
    }
    let cast = &info.column(table, set_column)?.cast;
    arrays.push(format!("${}::text[]", key_columns.len() + 1));
    let names: Vec<String> = (0..key_columns.len()).map(|i| format!("k{i}")).collect();
    Ok(format!(
        "UPDATE {} AS _dbenv_t SET {} = _dbenv_v.val::{cast} FROM unnest({}) AS _dbenv_v({}, val) WHERE {}",
        q(table),
        q(set_column),
        arrays.join(", "),
        names.join(", "),
        filter.join(" AND ")
    ))
}

/// A value in PostgreSQL's text input form (what `'…'::type` accepts).
fn as_text(value: &Value) -> Option<String> {
    let mut out = Vec::new();
    match value {
        Value::Null => return None,
        Value::Text(s) => return Some(s.clone()),
        Value::Bytes(b) => {
            out.extend_from_slice(b"\\x");
            super::copy::push_hex(&mut out, b);
        }
        other => super::copy::push_plain(&mut out, other),
    }
    Some(String::from_utf8(out).expect("ASCII"))
}

/// Every value of `columns`, ordered by them (byte order for text, as on SQLite).
pub(super) async fn select_values(
    db: &mut PgBackend,
    table: &str,
    columns: &[String],
) -> Result<Vec<Vec<Value>>, sqlx::Error> {
    let info = db.table_info(table).await?;
    let q = |c: &str| quote_ident(c, Dialect::Postgres);
    let mut list = Vec::new();
    let mut order = Vec::new();
    let mut wires = Vec::new();
    for name in columns {
        let column = info.column(table, name)?;
        let read_as = match column.wire {
            Wire::Int => "int8",
            Wire::Float => "float8",
            Wire::Bool => "bool",
            Wire::Bytes => "bytea",
            Wire::Decimal | Wire::Text => "text",
        };
        list.push(format!("{}::{read_as}", q(name)));
        let collate = if column.collatable {
            " COLLATE \"C\""
        } else {
            ""
        };
        order.push(format!("{}{collate}", q(name)));
        wires.push(column.wire);
    }
    let sql = format!(
        "SELECT {} FROM {} ORDER BY {}",
        list.join(", "),
        q(table),
        order.join(", ")
    );
    let rows = sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&mut db.conn)
        .await?;
    rows.iter()
        .map(|r| {
            wires
                .iter()
                .enumerate()
                .map(|(i, w)| decode(r, i, *w))
                .collect()
        })
        .collect()
}

fn decode(row: &sqlx::postgres::PgRow, i: usize, wire: Wire) -> Result<Value, sqlx::Error> {
    fn or_null<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
        v.map_or(Value::Null, f)
    }
    Ok(match wire {
        Wire::Int => or_null(row.try_get(i)?, Value::Int),
        Wire::Float => or_null(row.try_get(i)?, Value::Float),
        Wire::Bool => or_null(row.try_get(i)?, Value::Bool),
        Wire::Bytes => or_null(row.try_get(i)?, Value::Bytes),
        Wire::Text => or_null(row.try_get(i)?, Value::Text),
        Wire::Decimal => or_null(row.try_get::<Option<String>, _>(i)?, |s| {
            s.parse().map_or(Value::Text(s), Value::Float)
        }),
    })
}

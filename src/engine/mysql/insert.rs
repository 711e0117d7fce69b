//! Bulk writes: literal multi-row INSERTs, and set-based updates through a temporary table.
//!
//! Measured on MariaDB 10.11 with `seeds/load.toml` (1.16 M rows, 2 cores), the server is
//! the bottleneck whatever the client does: literal multi-row INSERTs of ~1 MiB wrote the
//! rows in ~22 s, prepared multi-row INSERTs (up to 65,535 parameters) in ~22 s, and the
//! `mariadb` client replaying mariadb-dump's INSERTs of the same rows in 20–24 s. Literals
//! win on simplicity: no statement to prepare per batch size, no parameter limit. Switching
//! `foreign_key_checks` and `unique_checks` off made INSERTs *slower* (~30 s: MariaDB's
//! bulk-load path for empty tables does not pay off across many statements), so seeding
//! keeps the server's checks on. sqlx does not implement `LOAD DATA LOCAL INFILE` (it
//! cannot answer the server's file request), which loads the same rows in ~15 s.

use sqlx::{AssertSqlSafe, Executor, MySqlConnection};

use super::literal::push_literal;
use crate::sqltext::{Dialect, quote_ident};
use crate::value::Value;

/// Statements aim at this size: big enough that per-statement costs vanish, small enough
/// to keep the server's parse buffers in cache.
const TARGET_STATEMENT_BYTES: usize = 1 << 20;

/// The temporary table that carries the new values of an `update_column` call.
const UPDATE_TABLE: &str = "_dbenv_update";

fn q(name: &str) -> String {
    quote_ident(name, Dialect::Mysql)
}

/// Insert `rows` with as few statements as fit under `max_statement` bytes each.
pub(crate) async fn insert_rows(
    conn: &mut MySqlConnection,
    table: &str,
    columns: &[String],
    rows: &[Vec<Value>],
    max_statement: usize,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = columns.iter().map(|c| q(c)).collect();
    let head = format!("INSERT INTO {} ({}) VALUES ", q(table), list.join(","));
    let limit = max_statement.min(TARGET_STATEMENT_BYTES);
    let mut sql = String::new();
    let mut tuple = String::new();
    sql.push_str(&head);
    let mut pending = 0usize;
    for row in rows {
        tuple.clear();
        push_tuple(&mut tuple, table, columns, row)?;
        if head.len() + tuple.len() > max_statement {
            return Err(too_big(table, head.len() + tuple.len(), max_statement));
        }
        if pending > 0 && sql.len() + tuple.len() + 1 > limit {
            conn.execute(AssertSqlSafe(std::mem::take(&mut sql)))
                .await?;
            sql.reserve(limit);
            sql.push_str(&head);
            pending = 0;
        }
        if pending > 0 {
            sql.push(',');
        }
        sql.push_str(&tuple);
        pending += 1;
    }
    conn.execute(AssertSqlSafe(sql)).await?;
    Ok(())
}

fn too_big(table: &str, needed: usize, max_statement: usize) -> sqlx::Error {
    sqlx::Error::Protocol(format!(
        "a row of {table} needs {needed} bytes of SQL, more than the server accepts in one statement (max_allowed_packet allows {max_statement}): raise max_allowed_packet on the server (SET GLOBAL max_allowed_packet = 1073741824, then reconnect) or shorten the value"
    ))
}

fn push_tuple(
    out: &mut String,
    table: &str,
    columns: &[String],
    row: &[Value],
) -> Result<(), sqlx::Error> {
    out.push('(');
    for (i, value) in row.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_literal(out, value).map_err(|message| {
            let column = columns.get(i).map_or("?", String::as_str);
            sqlx::Error::Encode(format!("{table}.{column}: {message}").into())
        })?;
    }
    out.push(')');
    Ok(())
}

/// `UPDATE table SET set_column = value WHERE key = …` for every pair, as one set-based
/// UPDATE: the pairs are bulk-inserted into a temporary table whose columns copy the
/// table's own types and collations (so text keys compare exactly as the table does),
/// then joined. Temporary-table DDL does not end the surrounding transaction.
pub(crate) async fn update_column(
    conn: &mut MySqlConnection,
    table: &str,
    key_columns: &[String],
    set_column: &str,
    rows: &[(Vec<Value>, Value)],
    max_statement: usize,
) -> Result<(), sqlx::Error> {
    if rows.is_empty() {
        return Ok(());
    }
    let tmp = q(UPDATE_TABLE);
    let names: Vec<String> = (0..key_columns.len())
        .map(|i| format!("k{i}"))
        .chain(["v".to_string()])
        .collect();
    let select: Vec<String> = key_columns
        .iter()
        .chain([&set_column.to_string()])
        .zip(&names)
        .map(|(c, alias)| format!("s.{} AS {}", q(c), q(alias)))
        .collect();
    conn.execute(AssertSqlSafe(format!(
        "DROP TEMPORARY TABLE IF EXISTS {tmp}"
    )))
    .await?;
    // The outer join makes every copied column nullable; `WHERE FALSE` keeps it empty.
    conn.execute(AssertSqlSafe(format!(
        "CREATE TEMPORARY TABLE {tmp} AS SELECT {} FROM (SELECT 1) AS one LEFT JOIN {} AS s ON FALSE WHERE FALSE",
        select.join(", "),
        q(table)
    )))
    .await?;
    let on: Vec<String> = key_columns
        .iter()
        .zip(&names)
        .map(|(c, n)| format!("t.{} = u.{}", q(c), q(n)))
        .collect();
    let update = format!(
        "UPDATE {} AS t JOIN {tmp} AS u ON {} SET t.{} = u.`v`",
        q(table),
        on.join(" AND "),
        q(set_column)
    );
    let result = fill_and_join(conn, rows, &names, update, max_statement).await;
    let dropped = conn
        .execute(AssertSqlSafe(format!(
            "DROP TEMPORARY TABLE IF EXISTS {tmp}"
        )))
        .await;
    result.and(dropped.map(drop))
}

async fn fill_and_join(
    conn: &mut MySqlConnection,
    rows: &[(Vec<Value>, Value)],
    names: &[String],
    update: String,
    max_statement: usize,
) -> Result<(), sqlx::Error> {
    let tuples: Vec<Vec<Value>> = rows
        .iter()
        .map(|(key, value)| key.iter().cloned().chain([value.clone()]).collect())
        .collect();
    insert_rows(conn, UPDATE_TABLE, names, &tuples, max_statement).await?;
    conn.execute(AssertSqlSafe(update)).await?;
    Ok(())
}

//! Soundness checks on data: foreign keys that point nowhere and keys that repeat. Used by
//! tests, and after bulk loads written with the server's own checks switched off.

use sqlx::MySqlConnection;

use super::introspect::text_rows;
use crate::schema::{Schema, Table};
use crate::sqltext::{Dialect, quote_ident};

fn q(name: &str) -> String {
    quote_ident(name, Dialect::Mysql)
}

fn list(columns: &[String]) -> String {
    columns.iter().map(|c| q(c)).collect::<Vec<_>>().join(", ")
}

async fn count(conn: &mut MySqlConnection, sql: String) -> Result<u64, sqlx::Error> {
    let rows = text_rows(conn, sql).await?;
    let n = rows
        .first()
        .and_then(|r| r.first().cloned().flatten())
        .and_then(|n| n.parse().ok());
    Ok(n.unwrap_or(0))
}

/// One line per foreign key with rows whose (complete) key has no parent row:
/// `tasks(parent_id) → tasks(id): 3 rows`. Rows with a NULL in the key are fine.
pub(crate) async fn foreign_key_violations(
    conn: &mut MySqlConnection,
    schema: &Schema,
) -> Result<Vec<String>, sqlx::Error> {
    let mut out = Vec::new();
    for table in &schema.tables {
        for fk in &table.foreign_keys {
            let join: Vec<String> = fk
                .columns
                .iter()
                .zip(&fk.ref_columns)
                .map(|(c, r)| format!("p.{} = c.{}", q(r), q(c)))
                .collect();
            let present: Vec<String> = fk
                .columns
                .iter()
                .map(|c| format!("c.{} IS NOT NULL", q(c)))
                .collect();
            let sql = format!(
                "SELECT COUNT(*) FROM {} AS c LEFT JOIN {} AS p ON {} WHERE {} AND p.{} IS NULL",
                q(&table.name),
                q(&fk.ref_table),
                join.join(" AND "),
                present.join(" AND "),
                q(&fk.ref_columns[0])
            );
            let n = count(conn, sql).await?;
            if n > 0 {
                out.push(format!(
                    "{}({}) → {}({}): {n} rows",
                    table.name,
                    fk.columns.join(", "),
                    fk.ref_table,
                    fk.ref_columns.join(", ")
                ));
            }
        }
    }
    Ok(out)
}

/// One line per primary or unique key holding repeated values: `users(email): 2 values
/// repeat`. Rows with a NULL in the key are not compared (NULLs never collide).
pub(crate) async fn duplicate_keys(
    conn: &mut MySqlConnection,
    schema: &Schema,
) -> Result<Vec<String>, sqlx::Error> {
    let mut out = Vec::new();
    for table in &schema.tables {
        for key in table.unique_keys() {
            let n = count(conn, duplicates_sql(table, key)).await?;
            if n > 0 {
                out.push(format!(
                    "{}({}): {n} values repeat",
                    table.name,
                    key.join(", ")
                ));
            }
        }
    }
    Ok(out)
}

fn duplicates_sql(table: &Table, key: &[String]) -> String {
    let present: Vec<String> = key
        .iter()
        .map(|c| format!("{} IS NOT NULL", q(c)))
        .collect();
    format!(
        "SELECT COUNT(*) FROM (SELECT 1 FROM {} WHERE {} GROUP BY {} HAVING COUNT(*) > 1) AS d",
        q(&table.name),
        present.join(" AND "),
        list(key)
    )
}

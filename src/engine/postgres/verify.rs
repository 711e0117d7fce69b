//! Soundness checks of the data in a database: every foreign key points at a row, and no
//! key that must be unique repeats. Tests run them after seeding; they also tell whether a
//! database loaded with constraints disabled can be trusted.

use sqlx::AssertSqlSafe;

use super::PgBackend;
use super::introspect::read_schema;
use crate::schema::{ForeignKey, Table};
use crate::sqltext::{Dialect, quote_ident};

fn q(name: &str) -> String {
    quote_ident(name, Dialect::Postgres)
}

impl PgBackend {
    /// Foreign keys whose values point at no row, as `table(cols) → ref_table: N rows`; one
    /// anti-join per foreign key (a row with a NULL in the key references nothing, as the
    /// default MATCH SIMPLE says). Empty when the data is sound.
    pub async fn foreign_key_violations(&mut self) -> Result<Vec<String>, sqlx::Error> {
        self.settle().await?;
        let schema = read_schema(&mut self.conn).await?;
        let mut found = Vec::new();
        for table in &schema.tables {
            for fk in &table.foreign_keys {
                // A parent in another schema comes qualified (`schema.table`) from introspection.
                let parent = match fk.ref_table.split_once('.') {
                    Some((ns, name)) if schema.table(&fk.ref_table).is_none() => {
                        format!("{}.{}", q(ns), q(name))
                    }
                    _ => q(&fk.ref_table),
                };
                let sql = orphans_sql(table, fk, &parent);
                let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
                    .fetch_one(&mut self.conn)
                    .await?;
                if n > 0 {
                    found.push(format!(
                        "{}({}) → {}: {n} rows",
                        table.name,
                        fk.columns.join(", "),
                        fk.ref_table
                    ));
                }
            }
        }
        Ok(found)
    }

    /// Primary keys and unique keys whose values repeat, as `table(cols): N values repeated`
    /// (rows with a NULL in a unique key never collide). Empty when the data is sound.
    pub async fn duplicate_keys(&mut self) -> Result<Vec<String>, sqlx::Error> {
        self.settle().await?;
        let schema = read_schema(&mut self.conn).await?;
        let mut found = Vec::new();
        for table in &schema.tables {
            for key in table.unique_keys() {
                let n: i64 = sqlx::query_scalar(AssertSqlSafe(duplicates_sql(&table.name, key)))
                    .fetch_one(&mut self.conn)
                    .await?;
                if n > 0 {
                    found.push(format!(
                        "{}({}): {n} values repeated",
                        table.name,
                        key.join(", ")
                    ));
                }
            }
        }
        Ok(found)
    }
}

fn orphans_sql(table: &Table, fk: &ForeignKey, parent: &str) -> String {
    let not_null: Vec<String> = fk
        .columns
        .iter()
        .map(|c| format!("c.{} IS NOT NULL", q(c)))
        .collect();
    let matches: Vec<String> = fk
        .columns
        .iter()
        .zip(&fk.ref_columns)
        .map(|(c, p)| format!("p.{} = c.{}", q(p), q(c)))
        .collect();
    format!(
        "SELECT count(*) FROM {} AS c WHERE {} AND NOT EXISTS (SELECT 1 FROM {parent} AS p WHERE {})",
        q(&table.name),
        not_null.join(" AND "),
        matches.join(" AND ")
    )
}

fn duplicates_sql(table: &str, key: &[String]) -> String {
    let cols: Vec<String> = key.iter().map(|c| q(c)).collect();
    let not_null: Vec<String> = cols.iter().map(|c| format!("{c} IS NOT NULL")).collect();
    format!(
        "SELECT count(*) FROM (SELECT 1 FROM {} WHERE {} GROUP BY {} HAVING count(*) > 1) AS d",
        q(table),
        not_null.join(" AND "),
        cols.join(", ")
    )
}

//! Foreign keys checked once per key instead of once per row, for bulk loads into a database
//! nothing else uses yet (a template being built).
//!
//! PostgreSQL checks a foreign key with a trigger per inserted row, which costs more than the
//! COPY itself (two thirds of the time of the `load` scenario). With the checks off, the
//! transaction that writes the rows starts by dropping the schema's foreign keys and ends by
//! adding them back, which validates each one with a single join before the commit. DDL is
//! transactional: a violation, an error or a rollback leaves the constraints as they were.

use sqlx::{AssertSqlSafe, Executor, Row};

use super::PgBackend;
use crate::sqltext::{Dialect, quote_ident};

/// A foreign key dropped for the current transaction, to be added back before it commits.
#[derive(Debug, Clone)]
pub(super) struct SetAside {
    /// `"schema"."table"`, quoted.
    table: String,
    name: String,
    definition: String,
}

/// The foreign keys of the current schema's tables (partitions inherit their parent's).
const FOREIGN_KEYS: &str = r#"
SELECT format('%I.%I', n.nspname, c.relname), con.conname::text, pg_get_constraintdef(con.oid)
FROM pg_constraint con
JOIN pg_class c ON c.oid = con.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE con.contype = 'f' AND con.conparentid = 0 AND n.nspname = current_schema()
ORDER BY con.oid
"#;

impl PgBackend {
    /// Check foreign keys row by row (`true`, the default) or once per foreign key just
    /// before [`commit`] (`false`), like `SqliteBackend::set_foreign_keys` for scratch
    /// files. Takes effect at the next [`begin`], or at once inside a transaction. Meant for
    /// loading rows into a database no one else uses (the tables stay locked until the
    /// commit), after migrating: a migration that changes a foreign key's columns while it
    /// is set aside would fail when it is added back.
    ///
    /// [`begin`]: crate::engine::Backend::begin
    /// [`commit`]: crate::engine::Backend::commit
    pub async fn set_foreign_keys(&mut self, on: bool) -> Result<(), sqlx::Error> {
        self.check_fks_per_row = on;
        if !self.in_transaction {
            return Ok(());
        }
        if on {
            self.settle().await?;
            self.restore_foreign_keys().await
        } else if self.set_aside.is_empty() {
            self.set_aside_foreign_keys().await
        } else {
            Ok(())
        }
    }

    /// At `begin`: drop the foreign keys when row-by-row checks are off.
    pub(super) async fn set_aside_foreign_keys(&mut self) -> Result<(), sqlx::Error> {
        if self.check_fks_per_row {
            return Ok(());
        }
        let rows = sqlx::query(FOREIGN_KEYS).fetch_all(&mut self.conn).await?;
        let mut set_aside = Vec::new();
        for row in rows {
            set_aside.push(SetAside {
                table: row.try_get(0)?,
                name: row.try_get(1)?,
                definition: row.try_get(2)?,
            });
        }
        let drops: Vec<String> = set_aside
            .iter()
            .map(|fk| format!("ALTER TABLE {} DROP CONSTRAINT {}", fk.table, q(&fk.name)))
            .collect();
        if !drops.is_empty() {
            self.conn.execute(AssertSqlSafe(drops.join(";\n"))).await?;
        }
        self.set_aside = set_aside;
        Ok(())
    }

    /// Before `COMMIT`: add the foreign keys back, one `ALTER TABLE` per table, each
    /// validated against the rows now in place.
    pub(super) async fn restore_foreign_keys(&mut self) -> Result<(), sqlx::Error> {
        let set_aside = std::mem::take(&mut self.set_aside);
        let mut tables: Vec<(&str, Vec<String>)> = Vec::new();
        for fk in &set_aside {
            let add = format!("ADD CONSTRAINT {} {}", q(&fk.name), fk.definition);
            match tables.iter_mut().find(|(t, _)| *t == fk.table) {
                Some((_, adds)) => adds.push(add),
                None => tables.push((&fk.table, vec![add])),
            }
        }
        for (table, adds) in tables {
            let sql = format!("ALTER TABLE {table} {}", adds.join(", "));
            self.conn
                .execute(AssertSqlSafe(sql))
                .await
                .map_err(super::with_details)?;
        }
        Ok(())
    }
}

fn q(name: &str) -> String {
    quote_ident(name, Dialect::Postgres)
}

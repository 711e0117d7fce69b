//! Server-level administration: databases (schemas) created, dropped, cloned from a
//! template and renamed. A MySQL/MariaDB template is a schema; cloning replays its DDL
//! (`SHOW CREATE …`) in the new schema and copies the rows server-side.

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Connection, Executor};

use super::ddl::{retarget, strip_definer};
use super::introspect::text_rows;
use super::literal::str_literal;
use super::{ServerInfo, describe, open, parse_url, q};
use crate::error::Error;

/// A connection to a server as an account that may create and drop databases.
///
/// ```no_run
/// # async fn demo() -> Result<(), dbenv::Error> {
/// use dbenv::engine::mysql::MySqlAdmin;
/// let mut admin = MySqlAdmin::connect("mysql://root:pw@127.0.0.1:3306/mysql").await?;
/// admin.clone_database("dbenv_tpl_1a2b", "app_test_7").await?;
/// admin.drop_database("app_test_7").await?;
/// # Ok(()) }
/// ```
pub struct MySqlAdmin {
    conn: MySqlConnection,
    server: ServerInfo,
    options: MySqlConnectOptions,
    /// `user@host:port/`, for messages (never the password).
    target: String,
}

/// The objects of a schema other than base tables, as statements to replay elsewhere.
pub(super) struct Extras {
    pub(super) views: Vec<String>,
    pub(super) triggers: Vec<String>,
}

impl MySqlAdmin {
    /// Connect to the server of `url` (its database, if any, only becomes the connection's
    /// current database).
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = parse_url(url)?;
        let target = describe(&options);
        let (conn, server) = open(&options, &target).await?;
        Ok(MySqlAdmin {
            conn,
            server,
            options,
            target,
        })
    }

    /// `MariaDB 10.11.19` or `MySQL 8.0.36`.
    pub fn server_version(&self) -> String {
        self.server.label()
    }

    /// Close the connection cleanly.
    pub async fn close(self) -> Result<(), Error> {
        let target = self.target;
        self.conn
            .close()
            .await
            .map_err(|e| Error::db(format!("closing the connection to {target}"), e))
    }

    /// Whether a database (schema) called `name` exists.
    pub async fn database_exists(&mut self, name: &str) -> Result<bool, Error> {
        Ok(self.charset(name).await?.is_some())
    }

    /// Create an empty database in utf8mb4 (the server's default utf8mb4 collation).
    pub async fn create_database(&mut self, name: &str) -> Result<(), Error> {
        check_name(name)?;
        let sql = format!("CREATE DATABASE {} CHARACTER SET utf8mb4", q(name));
        self.run(sql, || format!("creating database {name}")).await
    }

    /// Drop a database and everything in it; nothing happens when it does not exist.
    pub async fn drop_database(&mut self, name: &str) -> Result<(), Error> {
        check_name(name)?;
        let sql = format!("DROP DATABASE IF EXISTS {}", q(name));
        self.run(sql, || format!("dropping database {name}")).await
    }

    /// Nothing to wait for: `CREATE DATABASE` is immediate here, and dbenv fills a new
    /// database statement by statement (see [`PgAdmin::wait_statements_naming`]).
    ///
    /// [`PgAdmin::wait_statements_naming`]: crate::engine::postgres::PgAdmin::wait_statements_naming
    pub async fn wait_statements_naming(
        &mut self,
        _prefix: &str,
        _limit: std::time::Duration,
    ) -> Result<(), Error> {
        Ok(())
    }

    /// The databases whose names start with `prefix`, sorted.
    pub async fn list_databases(&mut self, prefix: &str) -> Result<Vec<String>, Error> {
        let rows = text_rows(
            &mut self.conn,
            "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA".into(),
        )
        .await
        .map_err(|e| Error::db(format!("listing the databases of {}", self.target), e))?;
        let mut names: Vec<String> = rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .filter(|n| n.starts_with(prefix))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Create `target` as a copy of the `template` database: tables with their indexes,
    /// foreign keys, CHECKs and AUTO_INCREMENT counters (replayed from `SHOW CREATE
    /// TABLE`; `CREATE TABLE … LIKE` would lose the foreign keys), their rows (copied
    /// server-side), then views and triggers. `target` must not exist; on failure it is
    /// dropped again.
    pub async fn clone_database(&mut self, template: &str, target: &str) -> Result<(), Error> {
        check_name(target)?;
        let charset = self.existing_charset(template).await?;
        let sql = format!("CREATE DATABASE {} {charset}", q(target));
        self.run(sql, || format!("creating database {target}"))
            .await?;
        let start = std::time::Instant::now();
        let result = super::clone::copy_schema(self, template, target).await;
        let reset = self.reset_session().await;
        if result.is_err() || reset.is_err() {
            let _ = self.drop_database(target).await;
        }
        let ms = start.elapsed().as_millis() as u64;
        tracing::info!(template, target, ms, ok = result.is_ok(), "cloned database");
        result.and(reset)
    }

    /// Rename database `from` to `to`. MySQL has no RENAME DATABASE: `to` is created,
    /// every table moves in one atomic `RENAME TABLE`, views and triggers are recreated in
    /// `to`, and `from` is dropped. Stored routines and events of `from` are not moved.
    pub async fn rename_database(&mut self, from: &str, to: &str) -> Result<(), Error> {
        check_name(to)?;
        let charset = self.existing_charset(from).await?;
        let tables = self.tables(from).await?;
        let extras = self.extras(from, to).await?;
        let sql = format!("CREATE DATABASE {} {charset}", q(to));
        self.run(sql, || format!("creating database {to}")).await?;
        if let Err(e) = self.move_tables(from, to, &tables).await {
            // Nothing moved: `to` is still empty.
            let _ = self.replay(from, &extras.triggers).await;
            let _ = self.drop_database(to).await;
            return Err(e);
        }
        // The tables live in `to` now: from here on, nothing is dropped on failure.
        let recreated = match self.replay(to, &extras.views).await {
            Ok(()) => self.replay(to, &extras.triggers).await,
            Err(e) => Err(e),
        };
        recreated.map_err(|e| kept_after_move(e, from, to))?;
        tracing::info!(from, to, tables = tables.len(), "renamed database");
        self.drop_database(from).await
    }

    /// Drop the triggers of `from` (they cannot change schema with their table), then move
    /// every table in one atomic `RENAME TABLE`.
    async fn move_tables(&mut self, from: &str, to: &str, tables: &[String]) -> Result<(), Error> {
        self.drop_triggers(from).await?;
        if tables.is_empty() {
            return Ok(());
        }
        let pairs: Vec<String> = tables
            .iter()
            .map(|t| format!("{}.{} TO {}.{}", q(from), q(t), q(to), q(t)))
            .collect();
        let sql = format!("RENAME TABLE {}", pairs.join(", "));
        self.run(sql, || format!("moving the tables of {from} to {to}"))
            .await
    }

    async fn drop_triggers(&mut self, schema: &str) -> Result<(), Error> {
        for name in self.names(schema, TRIGGERS).await? {
            let sql = format!("DROP TRIGGER {}.{}", q(schema), q(&name));
            self.run(sql, || format!("dropping trigger {schema}.{name}"))
                .await?;
        }
        Ok(())
    }

    /// Run one statement, naming what failed.
    pub(super) async fn run(
        &mut self,
        sql: String,
        what: impl FnOnce() -> String,
    ) -> Result<(), Error> {
        match self.conn.execute(AssertSqlSafe(sql)).await {
            Ok(_) => Ok(()),
            Err(e) => Err(Error::db(format!("{} on {}", what(), self.target), e)),
        }
    }

    pub(super) fn conn(&mut self) -> &mut MySqlConnection {
        &mut self.conn
    }

    pub(super) fn options(&self) -> &MySqlConnectOptions {
        &self.options
    }

    pub(super) fn target(&self) -> &str {
        &self.target
    }

    /// Checks back on, and no current database.
    async fn reset_session(&mut self) -> Result<(), Error> {
        self.run(
            "SET SESSION foreign_key_checks = 1, unique_checks = 1".into(),
            || "restoring the session's checks".into(),
        )
        .await
    }

    /// `CHARACTER SET … COLLATE …` of `name`, or None when it does not exist.
    async fn charset(&mut self, name: &str) -> Result<Option<String>, Error> {
        let rows = text_rows(
            &mut self.conn,
            format!(
                "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {}",
                str_literal(name)
            ),
        )
        .await
        .map_err(|e| Error::db(format!("looking for database {name} on {}", self.target), e))?;
        Ok(rows.first().map(|r| {
            let cell = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
            format!("CHARACTER SET {} COLLATE {}", cell(0), cell(1))
        }))
    }

    async fn existing_charset(&mut self, name: &str) -> Result<String, Error> {
        self.charset(name).await?.ok_or_else(|| {
            Error::State(format!(
                "database {name} does not exist on {}: create it (or rebuild the template) first",
                self.target
            ))
        })
    }

    /// Base tables (and MariaDB sequences) of `schema`, by name.
    pub(super) async fn tables(&mut self, schema: &str) -> Result<Vec<String>, Error> {
        self.names(schema, TABLES).await
    }

    /// Names from one of the listing queries below, for `schema`, sorted.
    pub(super) async fn names(&mut self, schema: &str, query: &str) -> Result<Vec<String>, Error> {
        let sql = query.replace("{schema}", &str_literal(schema));
        let rows = text_rows(&mut self.conn, sql).await.map_err(|e| {
            Error::db(
                format!("listing the objects of {schema} on {}", self.target),
                e,
            )
        })?;
        Ok(rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().flatten())
            .collect())
    }

    /// The views and triggers of `from`, as statements creating them in `to`.
    pub(super) async fn extras(&mut self, from: &str, to: &str) -> Result<Extras, Error> {
        let mut views = Vec::new();
        for view in self.names(from, VIEWS).await? {
            let sql = self.show_create("VIEW", from, &view, 1).await?;
            views.push(retarget(&strip_definer(&sql), from, to));
        }
        let mut triggers = Vec::new();
        for trigger in self.names(from, TRIGGERS).await? {
            triggers.push(strip_definer(
                &self.show_create("TRIGGER", from, &trigger, 2).await?,
            ));
        }
        Ok(Extras { views, triggers })
    }

    /// One cell of `SHOW CREATE <kind> schema.name`.
    pub(super) async fn show_create(
        &mut self,
        kind: &str,
        schema: &str,
        name: &str,
        column: usize,
    ) -> Result<String, Error> {
        let sql = format!("SHOW CREATE {kind} {}.{}", q(schema), q(name));
        let rows = text_rows(&mut self.conn, sql).await.map_err(|e| {
            Error::db(
                format!(
                    "reading the definition of {schema}.{name} on {}",
                    self.target
                ),
                e,
            )
        })?;
        Ok(rows
            .first()
            .and_then(|r| r.get(column).cloned().flatten())
            .unwrap_or_default())
    }

    /// Run `statements` with `schema` as the current database. Views may depend on each
    /// other: a failing one is retried after the others, until no progress is made.
    pub(super) async fn replay(
        &mut self,
        schema: &str,
        statements: &[String],
    ) -> Result<(), Error> {
        if statements.is_empty() {
            return Ok(());
        }
        self.run(format!("USE {}", q(schema)), || format!("using {schema}"))
            .await?;
        let mut pending: Vec<&String> = statements.iter().collect();
        loop {
            let mut failed = Vec::new();
            let mut last_error = None;
            for sql in &pending {
                if let Err(e) = self
                    .run((*sql).clone(), || format!("recreating objects in {schema}"))
                    .await
                {
                    failed.push(*sql);
                    last_error = Some(e);
                }
            }
            match last_error {
                None => return Ok(()),
                Some(e) if failed.len() == pending.len() => return Err(e),
                Some(_) => pending = failed,
            }
        }
    }
}

/// Base tables and sequences of `{schema}`.
pub(super) const TABLES: &str = "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = {schema} AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE') ORDER BY TABLE_NAME";
/// Views of `{schema}`.
pub(super) const VIEWS: &str = "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {schema} ORDER BY TABLE_NAME";
/// Triggers of `{schema}`, in firing order per table.
pub(super) const TRIGGERS: &str = "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {schema} ORDER BY EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER";

/// A failure after the tables of `from` moved to `to`: say where everything is.
fn kept_after_move(e: Error, from: &str, to: &str) -> Error {
    let note = format!(
        "the tables of {from} were moved to {to}, but its views or triggers could not be recreated there; {from} was kept with their definitions (SHOW CREATE VIEW / SHOW CREATE TRIGGER)"
    );
    match e {
        Error::Database { message, source } => Error::db(format!("{message} ({note})"), source),
        other => Error::State(format!("{other} ({note})")),
    }
}

/// Refuse names MySQL would reject anyway, with a clearer message.
fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty() || name.chars().count() > 64 || name.ends_with(' ') {
        return Err(Error::State(format!(
            "{name:?} is not a valid MySQL/MariaDB database name: use 1 to 64 characters, not ending with a space"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_names_are_checked() {
        assert!(check_name("").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
        assert!(check_name("dbenv_test_1").is_ok());
    }
}

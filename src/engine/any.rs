//! One enum over every compiled-in engine, so the operations above the engines are written
//! once: [`AnyBackend`] for a connected database, [`ServerAdmin`] for the server around it.

use std::time::Duration;

use super::{AppliedMigration, Backend, EngineKind, SessionTimeouts, StatementProgress};
use crate::error::Error;
use crate::schema::Schema;
use crate::sqltext::Dialect;
use crate::value::Value;

/// A connected database of any engine.
pub enum AnyBackend {
    #[cfg(feature = "sqlite")]
    Sqlite(super::sqlite::SqliteBackend),
    #[cfg(feature = "postgres")]
    Postgres(super::postgres::PgBackend),
    #[cfg(feature = "mysql")]
    Mysql(super::mysql::MySqlBackend),
}

/// Run `$body` with `$db` bound to the engine's backend, whatever the variant.
macro_rules! dispatch {
    ($self:expr, $db:ident => $body:expr) => {
        match $self {
            #[cfg(feature = "sqlite")]
            AnyBackend::Sqlite($db) => $body,
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres($db) => $body,
            #[cfg(feature = "mysql")]
            AnyBackend::Mysql($db) => $body,
        }
    };
}

impl AnyBackend {
    /// Connect to `url` (a server database; SQLite files are opened by path instead).
    pub async fn connect(engine: EngineKind, url: &str) -> Result<AnyBackend, Error> {
        match engine {
            #[cfg(feature = "postgres")]
            EngineKind::Postgres => Ok(AnyBackend::Postgres(
                super::postgres::PgBackend::connect(url).await?,
            )),
            #[cfg(feature = "mysql")]
            EngineKind::Mysql | EngineKind::Mariadb => Ok(AnyBackend::Mysql(
                super::mysql::MySqlBackend::connect(url, engine).await?,
            )),
            other => Err(not_compiled(other, url)),
        }
    }

    pub async fn close(self) -> Result<(), Error> {
        dispatch!(self, db => db.close().await)
    }

    /// For a database nobody else uses yet (a template, a rebuild): on PostgreSQL, check
    /// each foreign key once, before the seed commits, instead of once per row.
    pub async fn check_foreign_keys_at_commit(&mut self) -> Result<(), sqlx::Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(db) => db.set_foreign_keys(false).await?,
            // MySQL/MariaDB never check keys again once checks are back on, and bulk
            // inserts measured slower without them: they stay on.
            #[cfg(feature = "mysql")]
            AnyBackend::Mysql(_) => {}
            // SQLite templates are proven with `PRAGMA foreign_key_check` by their builder.
            #[cfg(feature = "sqlite")]
            AnyBackend::Sqlite(_) => {}
        }
        Ok(())
    }

    /// Primary or unique keys whose values repeat (engines that may skip unique checks
    /// during bulk loads); SQLite always enforces them.
    pub async fn duplicate_keys(&mut self) -> Result<Vec<String>, sqlx::Error> {
        match self {
            #[cfg(feature = "postgres")]
            AnyBackend::Postgres(db) => db.duplicate_keys().await,
            #[cfg(feature = "mysql")]
            AnyBackend::Mysql(db) => db.duplicate_keys().await,
            #[cfg(feature = "sqlite")]
            AnyBackend::Sqlite(_) => Ok(Vec::new()),
        }
    }

    /// Rows whose foreign key points nowhere, as `table(cols) → parent` lines.
    pub async fn foreign_key_violations(&mut self) -> Result<Vec<String>, sqlx::Error> {
        dispatch!(self, db => db.foreign_key_violations().await)
    }
}

#[allow(unused_variables)]
fn not_compiled(engine: EngineKind, _url: &str) -> Error {
    Error::Unsupported(format!(
        "this build of dbenv was compiled without the {engine} engine; rebuild with `--features {engine}`"
    ))
}

impl Backend for AnyBackend {
    fn engine(&self) -> EngineKind {
        dispatch!(self, db => db.engine())
    }
    fn dialect(&self) -> Dialect {
        dispatch!(self, db => db.dialect())
    }
    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        dispatch!(self, db => db.execute(sql).await)
    }
    async fn begin(&mut self) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.begin().await)
    }
    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.commit().await)
    }
    async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.rollback().await)
    }
    async fn introspect(&mut self) -> Result<Schema, Error> {
        dispatch!(self, db => db.introspect().await)
    }
    async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.insert_rows(table, columns, rows).await)
    }
    async fn update_column(
        &mut self,
        table: &str,
        key_columns: &[String],
        set_column: &str,
        rows: &[(Vec<Value>, Value)],
    ) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.update_column(table, key_columns, set_column, rows).await)
    }
    async fn select_values(
        &mut self,
        table: &str,
        columns: &[String],
    ) -> Result<Vec<Vec<Value>>, sqlx::Error> {
        dispatch!(self, db => db.select_values(table, columns).await)
    }
    async fn count_rows(&mut self, table: &str) -> Result<u64, sqlx::Error> {
        dispatch!(self, db => db.count_rows(table).await)
    }
    async fn ensure_migrations_table(&mut self) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.ensure_migrations_table().await)
    }
    async fn applied_migrations(&mut self) -> Result<Vec<AppliedMigration>, sqlx::Error> {
        dispatch!(self, db => db.applied_migrations().await)
    }
    async fn record_migration(
        &mut self,
        version: i64,
        description: &str,
        checksum: &[u8],
        elapsed: Duration,
    ) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.record_migration(version, description, checksum, elapsed).await)
    }
    async fn forget_migration(&mut self, version: i64) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.forget_migration(version).await)
    }
    async fn server_version(&mut self) -> Result<String, sqlx::Error> {
        dispatch!(self, db => db.server_version().await)
    }
    fn ddl_is_transactional(&self) -> bool {
        dispatch!(self, db => db.ddl_is_transactional())
    }
    fn records_statement_progress(&self) -> bool {
        dispatch!(self, db => db.records_statement_progress())
    }
    async fn statement_progress(&mut self) -> Result<Vec<StatementProgress>, sqlx::Error> {
        dispatch!(self, db => db.statement_progress().await)
    }
    async fn record_statement(
        &mut self,
        description: &str,
        checksum: &[u8],
        statement: &StatementProgress,
    ) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.record_statement(description, checksum, statement).await)
    }
    async fn set_session_timeouts(
        &mut self,
        timeouts: &SessionTimeouts,
    ) -> Result<(), sqlx::Error> {
        dispatch!(self, db => db.set_session_timeouts(timeouts).await)
    }
}

/// Server-level operations (databases, templates), on the server's maintenance database.
pub enum ServerAdmin {
    #[cfg(feature = "postgres")]
    Postgres(super::postgres::PgAdmin),
    #[cfg(feature = "mysql")]
    Mysql(super::mysql::MySqlAdmin),
    /// A build with no server engine (`features = ["sqlite"]`) has no admin to hold.
    #[cfg(not(any(feature = "postgres", feature = "mysql")))]
    NoServerEngine(std::convert::Infallible),
}

macro_rules! admin {
    ($self:expr, $a:ident => $body:expr) => {
        match $self {
            #[cfg(feature = "postgres")]
            ServerAdmin::Postgres($a) => $body,
            #[cfg(feature = "mysql")]
            ServerAdmin::Mysql($a) => $body,
            #[cfg(not(any(feature = "postgres", feature = "mysql")))]
            ServerAdmin::NoServerEngine(never) => match *never {},
        }
    };
}

#[cfg_attr(
    not(any(feature = "postgres", feature = "mysql")),
    allow(unused_variables)
)]
impl ServerAdmin {
    pub async fn connect(engine: EngineKind, url: &str) -> Result<ServerAdmin, Error> {
        match engine {
            #[cfg(feature = "postgres")]
            EngineKind::Postgres => Ok(ServerAdmin::Postgres(
                super::postgres::PgAdmin::connect(url).await?,
            )),
            #[cfg(feature = "mysql")]
            EngineKind::Mysql | EngineKind::Mariadb => Ok(ServerAdmin::Mysql(
                super::mysql::MySqlAdmin::connect(url).await?,
            )),
            other => Err(not_compiled(other, url)),
        }
    }
    pub async fn database_exists(&mut self, name: &str) -> Result<bool, Error> {
        admin!(self, a => a.database_exists(name).await)
    }
    pub async fn create_database(&mut self, name: &str) -> Result<(), Error> {
        admin!(self, a => a.create_database(name).await)
    }
    /// Drop `name` if it exists, disconnecting its sessions.
    pub async fn drop_database(&mut self, name: &str) -> Result<(), Error> {
        admin!(self, a => a.drop_database(name).await)
    }
    /// Create `target` as a copy of `template` (which nobody may be using).
    pub async fn clone_database(&mut self, template: &str, target: &str) -> Result<(), Error> {
        admin!(self, a => a.clone_database(template, target).await)
    }
    pub async fn rename_database(&mut self, from: &str, to: &str) -> Result<(), Error> {
        admin!(self, a => a.rename_database(from, to).await)
    }
    /// Wait (up to `limit`) while another session runs a statement naming a database that
    /// starts with `prefix` (PostgreSQL: a killed client's `CREATE DATABASE` still running).
    pub async fn wait_statements_naming(
        &mut self,
        prefix: &str,
        limit: std::time::Duration,
    ) -> Result<(), Error> {
        admin!(self, a => a.wait_statements_naming(prefix, limit).await)
    }
    /// Databases whose name starts with `prefix`.
    pub async fn list_databases(&mut self, prefix: &str) -> Result<Vec<String>, Error> {
        admin!(self, a => a.list_databases(prefix).await)
    }
}

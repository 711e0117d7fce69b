//! Engines: what dbenv needs from a connected database, behind one small trait.
//!
//! The shared algorithms (migrations, seeding, templates) are written once, generic over
//! [`Backend`]; each engine module implements the trait with its own SQL and fast paths.

mod any;
#[cfg(feature = "mysql")]
pub mod mysql;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use any::{AnyBackend, ServerAdmin};

use std::time::Duration;

pub use crate::config::EngineKind;
use crate::schema::Schema;
use crate::sqltext::Dialect;
use crate::value::Value;

/// One row of `_sqlx_migrations`, as sqlx itself writes it.
#[derive(Debug, Clone)]
pub struct AppliedMigration {
    pub version: i64,
    pub description: String,
    pub success: bool,
    pub checksum: Vec<u8>,
    pub installed_on: String,
}

/// The name of sqlx's migration table, shared with sqlx-cli and `sqlx::migrate!`.
pub const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

/// dbenv's table of the statements applied by migrations not yet complete, on engines whose
/// DDL is not transactional (MySQL/MariaDB). Kept out of introspection like every `_dbenv*`
/// table.
pub const PROGRESS_TABLE: &str = "_dbenv_migration_progress";

/// One statement of a migration not yet complete, applied and recorded in
/// [`PROGRESS_TABLE`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatementProgress {
    pub version: i64,
    /// 1-based, in the order of the migration's file.
    pub statement_no: usize,
    /// SHA-256 (hex) of the statement's text, whitespace collapsed.
    pub sha256: String,
    /// Its first line in the file when it was applied.
    pub line: usize,
    pub applied_at: String,
}

/// Limits on the migrating session, from the env's `statement_timeout` and `lock_timeout`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub statement: Option<Duration>,
    pub lock: Option<Duration>,
}

/// What dbenv needs from a connected database. Deliberately small: everything that can be
/// expressed once in terms of these operations lives above the trait.
#[allow(async_fn_in_trait)] // used generically inside the crate, never as `dyn`
pub trait Backend {
    fn engine(&self) -> EngineKind;
    fn dialect(&self) -> Dialect;

    /// Run one statement (or a script the engine accepts in one call); returns rows affected.
    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error>;
    async fn begin(&mut self) -> Result<(), sqlx::Error>;
    async fn commit(&mut self) -> Result<(), sqlx::Error>;
    async fn rollback(&mut self) -> Result<(), sqlx::Error>;

    /// The user tables after migrations (dbenv's and sqlx's bookkeeping tables excluded).
    async fn introspect(&mut self) -> Result<Schema, crate::Error>;

    /// Insert rows, at the engine's fastest safe path; `rows` may be large.
    async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<(), sqlx::Error>;

    /// `UPDATE table SET set_column = value WHERE key = …` for each (key, value) pair.
    async fn update_column(
        &mut self,
        table: &str,
        key_columns: &[String],
        set_column: &str,
        rows: &[(Vec<Value>, Value)],
    ) -> Result<(), sqlx::Error>;

    /// Every value of `columns` in `table`, in primary-key order when there is one.
    async fn select_values(
        &mut self,
        table: &str,
        columns: &[String],
    ) -> Result<Vec<Vec<Value>>, sqlx::Error>;

    async fn count_rows(&mut self, table: &str) -> Result<u64, sqlx::Error>;

    /// Create sqlx's `_sqlx_migrations` table, exactly as sqlx does, when it is missing.
    async fn ensure_migrations_table(&mut self) -> Result<(), sqlx::Error>;
    /// The rows of `_sqlx_migrations` ordered by version; empty when the table is missing.
    async fn applied_migrations(&mut self) -> Result<Vec<AppliedMigration>, sqlx::Error>;
    /// Record an applied migration the way sqlx does (so sqlx-cli agrees with us).
    async fn record_migration(
        &mut self,
        version: i64,
        description: &str,
        checksum: &[u8],
        elapsed: Duration,
    ) -> Result<(), sqlx::Error>;
    async fn forget_migration(&mut self, version: i64) -> Result<(), sqlx::Error>;

    /// False where DDL commits implicitly (MySQL/MariaDB): there a migration cannot be rolled
    /// back as a whole, and its progress is recorded statement by statement instead.
    fn ddl_is_transactional(&self) -> bool {
        true
    }
    /// Whether migrations whose statements are not in one transaction get their progress
    /// recorded statement by statement ([`Backend::record_statement`]): every migration
    /// where DDL is not transactional, `-- no-transaction` ones on PostgreSQL.
    fn records_statement_progress(&self) -> bool {
        !self.ddl_is_transactional()
    }
    /// The rows of [`PROGRESS_TABLE`] ordered by version and statement; empty where the
    /// engine records none.
    async fn statement_progress(&mut self) -> Result<Vec<StatementProgress>, sqlx::Error> {
        Ok(Vec::new())
    }
    /// Record one applied statement of a migration not yet complete (and mark the
    /// migration half-applied in `_sqlx_migrations`, `success = FALSE`, as sqlx does).
    async fn record_statement(
        &mut self,
        description: &str,
        checksum: &[u8],
        statement: &StatementProgress,
    ) -> Result<(), sqlx::Error> {
        let _ = (description, checksum, statement);
        Err(sqlx::Error::Configuration(
            "this engine records no per-statement migration progress".into(),
        ))
    }
    /// Apply the env's statement and lock timeouts to this session (nothing on SQLite).
    async fn set_session_timeouts(
        &mut self,
        timeouts: &SessionTimeouts,
    ) -> Result<(), sqlx::Error> {
        let _ = timeouts;
        Ok(())
    }

    /// The server's version string, for status output and backup manifests.
    async fn server_version(&mut self) -> Result<String, sqlx::Error>;
}

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

    /// The server's version string, for status output and backup manifests.
    async fn server_version(&mut self) -> Result<String, sqlx::Error>;
}

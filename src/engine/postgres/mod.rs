//! PostgreSQL: a database on a server. Rows go in through `COPY … FROM STDIN`, a template is
//! a database cloned with `CREATE DATABASE … TEMPLATE` (see [`PgAdmin`]).
//!
//! ```no_run
//! # async fn demo() -> Result<(), dbenv::Error> {
//! use dbenv::engine::Backend;
//! use dbenv::engine::postgres::{PgAdmin, PgBackend};
//!
//! let admin = &mut PgAdmin::connect("postgres://postgres@127.0.0.1:5432/postgres").await?;
//! admin.create_database("app_dev").await?;
//! let mut db: PgBackend = admin.backend("app_dev").await?;
//! let schema = db.introspect().await?;
//! println!("{} tables", schema.tables.len());
//! db.close().await?;
//! # Ok(()) }
//! ```

mod admin;
mod copy;
mod fkeys;
mod introspect;
pub mod migrate_lock;
mod progress;
mod tables;
mod verify;

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection, PgDatabaseError, PgRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, Row};

pub use admin::PgAdmin;

use super::{
    AppliedMigration, Backend, EngineKind, MIGRATIONS_TABLE, SessionTimeouts, StatementProgress,
};
use crate::error::Error;
use crate::schema::Schema;
use crate::sqltext::{Dialect, quote_ident};
use crate::value::Value;
use tables::TableInfo;

/// A connection to one PostgreSQL database, implementing [`Backend`].
///
/// Rows go in with `COPY`; inside a transaction, batches for the same table are gathered
/// and sent together (before any other statement runs, so this connection always reads what
/// it wrote). Identity and serial sequences are moved past explicit keys before the next
/// statement or commit.
pub struct PgBackend {
    conn: PgConnection,
    /// `database on host:port as user`, for messages; never holds a password.
    target: String,
    /// The COPY payload, reused from one batch to the next, and what it is for.
    copy_buf: Vec<u8>,
    pending_copy: Option<copy::PendingCopy>,
    /// Between `begin` and `commit`/`rollback`: COPYs may gather several batches.
    in_transaction: bool,
    /// Column types and sequences of the tables written to, read once per table (cleared
    /// whenever DDL may have run).
    tables: HashMap<String, TableInfo>,
    /// Highest explicit value written to each sequence-backed column (by sequence name),
    /// applied with `setval` before the next statement or commit.
    sequences: BTreeMap<String, i64>,
    /// Foreign keys checked per row (the default), or set aside for the transaction and
    /// validated once before it commits (see [`PgBackend::set_foreign_keys`]).
    check_fks_per_row: bool,
    set_aside: Vec<fkeys::SetAside>,
}

impl PgBackend {
    /// Connect to the database a `postgres://` URL names. Errors name the database, host
    /// and user, never the password.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = PgConnectOptions::from_str(url).map_err(|e| {
            Error::db(
                "invalid PostgreSQL URL (expected postgres://user:password@host:port/database)",
                e,
            )
        })?;
        Self::connect_with(&options).await
    }

    /// Connect with options built elsewhere (by [`PgAdmin::backend`], for instance).
    pub async fn connect_with(options: &PgConnectOptions) -> Result<Self, Error> {
        let target = describe(options);
        let conn = options
            .clone()
            .application_name("dbenv")
            .connect()
            .await
            .map_err(|e| {
                Error::db(
                    format!("cannot connect to PostgreSQL database {target}; is the server running and the URL right?"),
                    e,
                )
            })?;
        Ok(PgBackend {
            conn,
            target,
            copy_buf: Vec::new(),
            pending_copy: None,
            in_transaction: false,
            tables: HashMap::new(),
            sequences: BTreeMap::new(),
            check_fks_per_row: true,
            set_aside: Vec::new(),
        })
    }

    /// `database on host:port as user`, the way messages name this connection.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Close the connection cleanly (the server sees a normal disconnect), after sending
    /// the rows still gathered for a COPY.
    pub async fn close(mut self) -> Result<(), Error> {
        let target = self.target.clone();
        self.settle()
            .await
            .map_err(|e| Error::db(format!("writing the last rows to {target}"), e))?;
        self.conn
            .close()
            .await
            .map_err(|e| Error::db(format!("closing the connection to {target}"), e))
    }

    /// Send what is gathered: pending COPY rows, then sequence positions. Every statement
    /// runs after this, so it sees every row given to [`Backend::insert_rows`].
    async fn settle(&mut self) -> Result<(), sqlx::Error> {
        self.flush_copy().await?;
        self.flush_sequences().await
    }

    /// Bring every sequence written past by explicit keys up to the largest key, so rows
    /// the application inserts later do not collide with seeded ones.
    async fn flush_sequences(&mut self) -> Result<(), sqlx::Error> {
        for (sequence, max) in std::mem::take(&mut self.sequences) {
            sqlx::query(
                "SELECT setval(s.seqrelid, $2) FROM pg_sequence s \
                 WHERE s.seqrelid = $1::regclass AND s.seqincrement > 0 AND $2 <= s.seqmax \
                 AND $2 >= COALESCE(pg_sequence_last_value(s.seqrelid), s.seqstart)",
            )
            .bind(&sequence)
            .bind(max)
            .execute(&mut self.conn)
            .await?;
        }
        Ok(())
    }

    /// What DDL may have changed is read again on next use.
    fn forget_tables(&mut self) {
        self.tables.clear();
    }
}

impl std::fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgBackend")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

/// `app_dev on 127.0.0.1:5432 as app`: a connection named without its password.
pub(crate) fn describe(options: &PgConnectOptions) -> String {
    let database = options
        .get_database()
        .unwrap_or(options.get_username())
        .to_string();
    let place = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    format!("{database} on {place} as {}", options.get_username())
}

/// The database's own words, with the detail and position PostgreSQL adds (`Key (email)=(x)
/// already exists`, `COPY users, line 3, column email`), as one message.
pub(crate) fn with_details(e: sqlx::Error) -> sqlx::Error {
    let Some(pg) = e
        .as_database_error()
        .and_then(|d| d.try_downcast_ref::<PgDatabaseError>())
    else {
        return e;
    };
    let mut message = pg.message().to_string();
    for extra in [pg.detail(), pg.r#where()].into_iter().flatten() {
        message.push_str(&format!(" ({extra})"));
    }
    sqlx::Error::Protocol(message)
}

impl Backend for PgBackend {
    fn engine(&self) -> EngineKind {
        EngineKind::Postgres
    }

    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        self.settle().await?;
        self.forget_tables();
        // No arguments: the simple query protocol, so a script of several statements runs.
        let done = self.conn.execute(AssertSqlSafe(sql.to_string())).await?;
        Ok(done.rows_affected())
    }

    async fn begin(&mut self) -> Result<(), sqlx::Error> {
        self.settle().await?;
        self.conn.execute("BEGIN").await?;
        self.in_transaction = true;
        self.set_aside_foreign_keys().await
    }

    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        let before = async {
            self.settle().await?;
            self.restore_foreign_keys().await
        };
        if let Err(e) = before.await {
            // Leave no failed transaction behind: the caller sees the error, not a dead session.
            let _ = self.rollback().await;
            return Err(e);
        }
        self.in_transaction = false;
        self.conn.execute("COMMIT").await.map(drop)
    }

    async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        self.in_transaction = false;
        self.discard_copy();
        self.sequences.clear();
        self.set_aside.clear(); // the rollback brings them back
        self.forget_tables();
        self.conn.execute("ROLLBACK").await.map(drop)
    }

    async fn introspect(&mut self) -> Result<Schema, Error> {
        self.settle()
            .await
            .map_err(|e| Error::db(format!("writing rows to {}", self.target), e))?;
        self.forget_tables();
        introspect::read_schema(&mut self.conn)
            .await
            .map_err(|e| Error::db(format!("reading the schema of {}", self.target), e))
    }

    async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<(), sqlx::Error> {
        if rows.is_empty() {
            return Ok(());
        }
        if columns.is_empty() {
            self.settle().await?;
            return self.insert_defaults(table, rows.len()).await;
        }
        self.copy_rows(table, columns, rows).await
    }

    async fn update_column(
        &mut self,
        table: &str,
        key_columns: &[String],
        set_column: &str,
        rows: &[(Vec<Value>, Value)],
    ) -> Result<(), sqlx::Error> {
        self.settle().await?;
        tables::update_column(self, table, key_columns, set_column, rows).await
    }

    async fn select_values(
        &mut self,
        table: &str,
        columns: &[String],
    ) -> Result<Vec<Vec<Value>>, sqlx::Error> {
        self.settle().await?;
        tables::select_values(self, table, columns).await
    }

    async fn count_rows(&mut self, table: &str) -> Result<u64, sqlx::Error> {
        self.settle().await?;
        let sql = format!(
            "SELECT count(*) FROM {}",
            quote_ident(table, Dialect::Postgres)
        );
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await?;
        Ok(n as u64)
    }

    async fn ensure_migrations_table(&mut self) -> Result<(), sqlx::Error> {
        self.settle().await?;
        use sqlx::migrate::Migrate;
        // sqlx's own statement, so the table is exactly the one sqlx-cli creates.
        self.conn
            .ensure_migrations_table(MIGRATIONS_TABLE)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => e,
                other => sqlx::Error::Migrate(Box::new(other)),
            })
    }

    async fn applied_migrations(&mut self) -> Result<Vec<AppliedMigration>, sqlx::Error> {
        self.settle().await?;
        // Resolved through search_path, as sqlx resolves its unqualified table name.
        let exists: bool = sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
            .bind(MIGRATIONS_TABLE)
            .fetch_one(&mut self.conn)
            .await?;
        if !exists {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(
            "SELECT version, description, success, checksum, \
             to_char(installed_on AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') \
             FROM _sqlx_migrations ORDER BY version",
        )
        .fetch_all(&mut self.conn)
        .await?;
        rows.iter().map(applied_from_row).collect()
    }

    async fn record_migration(
        &mut self,
        version: i64,
        description: &str,
        checksum: &[u8],
        elapsed: Duration,
    ) -> Result<(), sqlx::Error> {
        self.settle().await?;
        // sqlx inserts -1 then updates execution_time after its commit; one statement inside
        // the migration's transaction leaves the same row. A no-transaction migration
        // completed after a resume turns its half-applied marker into that row, then its
        // progress rows go (stale ones of an applied migration are ignored if this stops
        // in between).
        sqlx::query(
            "INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time ) \
             VALUES ( $1, $2, TRUE, $3, $4 ) ON CONFLICT (version) DO UPDATE SET \
             description = EXCLUDED.description, success = TRUE, checksum = EXCLUDED.checksum, \
             execution_time = EXCLUDED.execution_time",
        )
        .bind(version)
        .bind(description)
        .bind(checksum)
        .bind(elapsed.as_nanos() as i64)
        .execute(&mut self.conn)
        .await?;
        progress::forget(&mut self.conn, version).await
    }

    fn records_statement_progress(&self) -> bool {
        true
    }

    async fn statement_progress(&mut self) -> Result<Vec<StatementProgress>, sqlx::Error> {
        self.settle().await?;
        progress::read(&mut self.conn).await
    }

    async fn record_statement(
        &mut self,
        description: &str,
        checksum: &[u8],
        statement: &StatementProgress,
    ) -> Result<(), sqlx::Error> {
        self.settle().await?;
        progress::record_statement(&mut self.conn, description, checksum, statement).await
    }

    async fn forget_migration(&mut self, version: i64) -> Result<(), sqlx::Error> {
        self.settle().await?;
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = $1")
            .bind(version)
            .execute(&mut self.conn)
            .await
            .map(drop)
    }

    async fn set_session_timeouts(
        &mut self,
        timeouts: &SessionTimeouts,
    ) -> Result<(), sqlx::Error> {
        self.settle().await?;
        for (setting, value) in [
            ("statement_timeout", timeouts.statement),
            ("lock_timeout", timeouts.lock),
        ] {
            if let Some(t) = value {
                let sql = format!("SET {setting} = '{}ms'", t.as_millis().max(1));
                self.conn.execute(AssertSqlSafe(sql)).await?;
            }
        }
        Ok(())
    }

    async fn server_version(&mut self) -> Result<String, sqlx::Error> {
        let v: String = sqlx::query_scalar("SELECT current_setting('server_version')")
            .fetch_one(&mut self.conn)
            .await?;
        Ok(format!("PostgreSQL {v}"))
    }
}

fn applied_from_row(row: &PgRow) -> Result<AppliedMigration, sqlx::Error> {
    Ok(AppliedMigration {
        version: row.try_get(0)?,
        description: row.try_get(1)?,
        success: row.try_get(2)?,
        checksum: row.try_get(3)?,
        installed_on: row.try_get::<Option<String>, _>(4)?.unwrap_or_default(),
    })
}

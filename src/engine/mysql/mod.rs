//! MySQL and MariaDB: one backend for both (`engine = "mysql"` or `"mariadb"`).
//!
//! - Session: strict `sql_mode` (added to the server's own modes, as sqlx adds its own),
//!   `time_zone = '+00:00'`, `NAMES utf8mb4`, so values are stored as generated.
//! - Introspection: information_schema, one query per kind of object (`introspect.rs`).
//! - Bulk writes: literal multi-row INSERTs under `max_allowed_packet`, set-based updates
//!   through a temporary table (`insert.rs`).
//! - Migrations: sqlx's own `_sqlx_migrations` table and rows, so sqlx-cli agrees.
//! - Server administration (create, drop, clone, rename databases): [`MySqlAdmin`].
//!
//! ```no_run
//! # async fn demo() -> Result<(), dbenv::Error> {
//! use dbenv::engine::{Backend, EngineKind, mysql::MySqlBackend};
//! let mut db = MySqlBackend::connect("mysql://app:pw@127.0.0.1:3306/app_dev", EngineKind::Mariadb).await?;
//! let schema = db.introspect().await?;
//! println!("{} tables", schema.tables.len());
//! db.close().await
//! # }
//! ```

mod admin;
mod clone;
mod ddl;
mod insert;
mod introspect;
mod literal;
pub mod migrate_lock;
mod progress;
mod verify;

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, Executor, Row};

pub use admin::MySqlAdmin;

use super::{
    AppliedMigration, Backend, EngineKind, MIGRATIONS_TABLE, SessionTimeouts, StatementProgress,
};
use crate::error::Error;
use crate::schema::Schema;
use crate::sqltext::{Dialect, quote_ident};
use crate::value::Value;
use introspect::text_rows;
use literal::{Decoded, str_literal};

/// Modes added to the server's `sql_mode`: refuse bad values instead of mangling them.
const STRICT_MODES: &str =
    "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO";

/// Room left in `max_allowed_packet` for the packet header and the statement's head.
const PACKET_MARGIN: usize = 4096;

/// A connection to one MySQL or MariaDB database.
pub struct MySqlBackend {
    conn: MySqlConnection,
    engine: EngineKind,
    server: ServerInfo,
    /// `user@host:port/database`, for messages (never the password).
    target: String,
}

/// What the server told us once at connect time.
#[derive(Debug, Clone)]
pub(crate) struct ServerInfo {
    pub(crate) mariadb: bool,
    pub(crate) version: String,
    /// Largest statement we send: `max_allowed_packet` minus a margin.
    pub(crate) max_statement: usize,
}

/// Parse a `mysql://` URL; the error never repeats the URL (it may hold a password).
pub(crate) fn parse_url(url: &str) -> Result<MySqlConnectOptions, Error> {
    MySqlConnectOptions::from_str(url).map_err(|e| {
        Error::db(
            "invalid MySQL/MariaDB URL (expected mysql://USER:PASSWORD@HOST:PORT/DATABASE; the URL is not shown because it may contain a password)",
            e,
        )
    })
}

/// `user@host:port/database`: where a connection goes, without its password.
pub(crate) fn describe(options: &MySqlConnectOptions) -> String {
    let place = match options.get_socket() {
        Some(socket) => socket.display().to_string(),
        None => format!("{}:{}", options.get_host(), options.get_port()),
    };
    let database = options.get_database().unwrap_or("");
    format!("{}@{place}/{database}", options.get_username())
}

/// Connect with dbenv's session settings (see the module documentation).
pub(crate) async fn open(
    options: &MySqlConnectOptions,
    target: &str,
) -> Result<(MySqlConnection, ServerInfo), Error> {
    let options = options
        .clone()
        .charset("utf8mb4")
        .timezone(Some("+00:00".to_string()));
    let mut conn = options.connect().await.map_err(|e| {
        Error::db(
            format!("cannot connect to MySQL/MariaDB as {target}: check that the server runs there and that the user, password and database in the URL are right"),
            e,
        )
    })?;
    let server = session(&mut conn)
        .await
        .map_err(|e| Error::db(format!("setting up the session on {target}"), e))?;
    Ok((conn, server))
}

async fn session(conn: &mut MySqlConnection) -> Result<ServerInfo, sqlx::Error> {
    conn.execute(AssertSqlSafe(format!(
        "SET SESSION sql_mode = TRIM(BOTH ',' FROM CONCAT(@@SESSION.sql_mode, ',{STRICT_MODES}'))"
    )))
    .await?;
    let rows = text_rows(conn, "SELECT VERSION(), @@max_allowed_packet".into()).await?;
    let row = rows.first().cloned().unwrap_or_default();
    let version = row.first().cloned().flatten().unwrap_or_default();
    let packet: usize = row
        .get(1)
        .cloned()
        .flatten()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1 << 20);
    Ok(ServerInfo {
        mariadb: version.contains("MariaDB"),
        version,
        max_statement: packet.saturating_sub(PACKET_MARGIN).max(PACKET_MARGIN),
    })
}

impl ServerInfo {
    /// `MariaDB 10.11.19` or `MySQL 8.0.36`.
    pub(crate) fn label(&self) -> String {
        match self.version.split_once("-MariaDB") {
            Some((number, _)) => format!("MariaDB {number}"),
            None if self.mariadb => format!("MariaDB {}", self.version),
            None => format!("MySQL {}", self.version),
        }
    }
}

fn q(name: &str) -> String {
    quote_ident(name, Dialect::Mysql)
}

impl MySqlBackend {
    /// Connect to the database named in `url`. `engine` says which of the two engines the
    /// configuration asked for; the server's own flavour is detected (and used for the few
    /// queries that differ).
    pub async fn connect(url: &str, engine: EngineKind) -> Result<Self, Error> {
        let options = parse_url(url)?;
        let target = describe(&options);
        if options.get_database().is_none() {
            return Err(Error::State(format!(
                "the MySQL/MariaDB URL for {target} names no database: add /DATABASE at its end"
            )));
        }
        let (conn, server) = open(&options, &target).await?;
        Ok(MySqlBackend {
            conn,
            engine,
            server,
            target,
        })
    }

    /// `user@host:port/database`, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// True when the server is MariaDB (whatever the configuration called it).
    pub fn is_mariadb(&self) -> bool {
        self.server.mariadb
    }

    /// Close the connection cleanly.
    pub async fn close(self) -> Result<(), Error> {
        let target = self.target;
        self.conn
            .close()
            .await
            .map_err(|e| Error::db(format!("closing the connection to {target}"), e))
    }

    /// Switch the session's `foreign_key_checks` and `unique_checks` (both on by default).
    /// Off, InnoDB skips parent lookups and may defer unique-index checks, and MariaDB
    /// 10.6+ builds the indexes of an empty table in bulk at commit. The server then no
    /// longer guards the data: callers must check it ([`Self::foreign_key_violations`],
    /// [`Self::duplicate_keys`]) before trusting it.
    pub async fn set_checks(&mut self, on: bool) -> Result<(), sqlx::Error> {
        let v = u8::from(on);
        self.conn
            .execute(AssertSqlSafe(format!(
                "SET SESSION foreign_key_checks = {v}, unique_checks = {v}"
            )))
            .await
            .map(drop)
    }

    /// Foreign keys with rows pointing at no parent row, one line each
    /// (`tasks(parent_id) → tasks(id): 3 rows`); empty when the data is sound.
    pub async fn foreign_key_violations(&mut self) -> Result<Vec<String>, sqlx::Error> {
        let schema = introspect::schema(&mut self.conn, self.server.mariadb).await?;
        verify::foreign_key_violations(&mut self.conn, &schema).await
    }

    /// Primary and unique keys whose values repeat, one line each
    /// (`users(email): 2 values repeat`); empty when the data is sound.
    pub async fn duplicate_keys(&mut self) -> Result<Vec<String>, sqlx::Error> {
        let schema = introspect::schema(&mut self.conn, self.server.mariadb).await?;
        verify::duplicate_keys(&mut self.conn, &schema).await
    }

    /// How the cells of `columns` decode, from their declared types.
    async fn decoders(
        &mut self,
        table: &str,
        columns: &[String],
    ) -> Result<Vec<Decoded>, sqlx::Error> {
        let rows = text_rows(
            &mut self.conn,
            format!(
                "SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {}",
                str_literal(table)
            ),
        )
        .await?;
        Ok(columns
            .iter()
            .map(|c| {
                rows.iter()
                    .find(|r| r.first().cloned().flatten().as_deref() == Some(c))
                    .map_or(Decoded::Text, |r| {
                        let text = |i: usize| r.get(i).cloned().flatten().unwrap_or_default();
                        Decoded::of(&text(1), &text(2))
                    })
            })
            .collect())
    }
}

impl Backend for MySqlBackend {
    fn engine(&self) -> EngineKind {
        self.engine
    }

    fn dialect(&self) -> Dialect {
        Dialect::Mysql
    }

    async fn execute(&mut self, sql: &str) -> Result<u64, sqlx::Error> {
        let done = self.conn.execute(AssertSqlSafe(sql.to_string())).await?;
        Ok(done.rows_affected())
    }

    async fn begin(&mut self) -> Result<(), sqlx::Error> {
        self.conn.execute("START TRANSACTION").await.map(drop)
    }

    async fn commit(&mut self) -> Result<(), sqlx::Error> {
        self.conn.execute("COMMIT").await.map(drop)
    }

    async fn rollback(&mut self) -> Result<(), sqlx::Error> {
        self.conn.execute("ROLLBACK").await.map(drop)
    }

    async fn introspect(&mut self) -> Result<Schema, Error> {
        introspect::schema(&mut self.conn, self.server.mariadb)
            .await
            .map_err(|e| Error::db(format!("reading the schema of {}", self.target), e))
    }

    async fn insert_rows(
        &mut self,
        table: &str,
        columns: &[String],
        rows: &[Vec<Value>],
    ) -> Result<(), sqlx::Error> {
        insert::insert_rows(
            &mut self.conn,
            table,
            columns,
            rows,
            self.server.max_statement,
        )
        .await
    }

    async fn update_column(
        &mut self,
        table: &str,
        key_columns: &[String],
        set_column: &str,
        rows: &[(Vec<Value>, Value)],
    ) -> Result<(), sqlx::Error> {
        let max = self.server.max_statement;
        insert::update_column(&mut self.conn, table, key_columns, set_column, rows, max).await
    }

    async fn select_values(
        &mut self,
        table: &str,
        columns: &[String],
    ) -> Result<Vec<Vec<Value>>, sqlx::Error> {
        let decoders = self.decoders(table, columns).await?;
        let list: Vec<String> = columns.iter().map(|c| q(c)).collect();
        let sql = format!(
            "SELECT {} FROM {} ORDER BY {}",
            list.join(", "),
            q(table),
            list.join(", ")
        );
        // No arguments: the text protocol, where every cell arrives as text.
        let rows = self.conn.fetch_all(AssertSqlSafe(sql)).await?;
        rows.iter()
            .map(|row| {
                decoders
                    .iter()
                    .enumerate()
                    .map(|(i, d)| Ok(d.decode(row.try_get_unchecked(i)?)))
                    .collect()
            })
            .collect()
    }

    async fn count_rows(&mut self, table: &str) -> Result<u64, sqlx::Error> {
        let sql = format!("SELECT COUNT(*) FROM {}", q(table));
        let n: i64 = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_one(&mut self.conn)
            .await?;
        Ok(n as u64)
    }

    async fn ensure_migrations_table(&mut self) -> Result<(), sqlx::Error> {
        use sqlx::migrate::Migrate;
        self.conn
            .ensure_migrations_table(MIGRATIONS_TABLE)
            .await
            .map_err(|e| match e {
                sqlx::migrate::MigrateError::Execute(e) => e,
                other => sqlx::Error::Migrate(Box::new(other)),
            })?;
        progress::ensure_table(&mut self.conn).await
    }

    async fn applied_migrations(&mut self) -> Result<Vec<AppliedMigration>, sqlx::Error> {
        let exists = text_rows(
            &mut self.conn,
            format!(
                "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {}",
                str_literal(MIGRATIONS_TABLE)
            ),
        )
        .await?;
        if exists.is_empty() {
            return Ok(Vec::new());
        }
        let rows = self
            .conn
            .fetch_all("SELECT version, description, success, checksum, CAST(installed_on AS CHAR) FROM _sqlx_migrations ORDER BY version")
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
        // sqlx inserts `success = FALSE, execution_time = -1` first and sets both after
        // the script; the row it leaves is this one (a half-applied marker becomes it).
        progress::record_complete(&mut self.conn, version, description, checksum, elapsed).await
    }

    async fn forget_migration(&mut self, version: i64) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM _sqlx_migrations WHERE version = ?")
            .bind(version)
            .execute(&mut self.conn)
            .await
            .map(drop)
    }

    fn ddl_is_transactional(&self) -> bool {
        false
    }

    async fn statement_progress(&mut self) -> Result<Vec<StatementProgress>, sqlx::Error> {
        progress::read(&mut self.conn).await
    }

    async fn record_statement(
        &mut self,
        description: &str,
        checksum: &[u8],
        statement: &StatementProgress,
    ) -> Result<(), sqlx::Error> {
        progress::record_statement(&mut self.conn, description, checksum, statement).await
    }

    async fn set_session_timeouts(
        &mut self,
        timeouts: &SessionTimeouts,
    ) -> Result<(), sqlx::Error> {
        progress::set_timeouts(&mut self.conn, self.server.mariadb, timeouts).await
    }

    /// `MariaDB 10.11.19` or `MySQL 8.0.36`, as `SELECT VERSION()` said at connect time.
    async fn server_version(&mut self) -> Result<String, sqlx::Error> {
        Ok(self.server.label())
    }
}

/// Decode a text-protocol `_sqlx_migrations` row.
fn applied_from_row(row: &MySqlRow) -> Result<AppliedMigration, sqlx::Error> {
    let raw = |i: usize| -> Result<Vec<u8>, sqlx::Error> {
        let cell: Option<&[u8]> = row.try_get_unchecked(i)?;
        Ok(cell.unwrap_or_default().to_vec())
    };
    let text = |i: usize| raw(i).map(|b| String::from_utf8_lossy(&b).into_owned());
    let version = text(0)?;
    Ok(AppliedMigration {
        version: version.parse().map_err(|_| {
            sqlx::Error::Protocol(format!(
                "_sqlx_migrations.version {version:?} is not a number"
            ))
        })?,
        description: text(1)?,
        success: text(2)? != "0",
        checksum: raw(3)?,
        installed_on: text(4)?,
    })
}

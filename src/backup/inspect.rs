//! What a database holds, as a backup records it and `verify` checks it: rows per table,
//! the migration version, the server's version. On PostgreSQL the counts are read inside
//! the very snapshot `pg_dump` dumps (an exported snapshot), so they match the backup
//! exactly even while the application writes.

use std::collections::BTreeMap;
use std::path::Path;

use crate::engine::MIGRATIONS_TABLE;
use crate::error::Error;

/// Rows per table, migration version and server version of one database.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Contents {
    pub tables: BTreeMap<String, u64>,
    pub migration_version: Option<i64>,
    pub server_version: Option<String>,
}

fn quote(name: &str, q: char) -> String {
    let doubled = format!("{q}{q}");
    format!("{q}{}{q}", name.replace(q, &doubled))
}

// ---------------------------------------------------------------------------------------
// SQLite (rusqlite, blocking: call from a blocking thread).

#[cfg(feature = "sqlite")]
fn sqlite_error(path: &Path, what: &str, e: rusqlite::Error) -> Error {
    Error::State(format!("{}: {what}: {e}", path.display()))
}

/// Copy the SQLite database `source` into the new file `target` with SQLite's online backup
/// API: a consistent copy while other connections keep reading and writing.
#[cfg(feature = "sqlite")]
pub fn sqlite_copy(source: &Path, target: &Path) -> Result<(), Error> {
    use rusqlite::{Connection, OpenFlags};
    let from = Connection::open_with_flags(source, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sqlite_error(source, "opening", e))?;
    let mut to = Connection::open(target).map_err(|e| sqlite_error(target, "creating", e))?;
    {
        let backup = rusqlite::backup::Backup::new(&from, &mut to)
            .map_err(|e| sqlite_error(source, "starting the online backup", e))?;
        // All pages in one step: the copy is taken under one read lock, consistent, and
        // as fast as SQLite copies (a step restarts when a writer changes the source).
        backup
            .run_to_completion(i32::MAX, std::time::Duration::from_millis(10), None)
            .map_err(|e| sqlite_error(source, "copying with the online backup API", e))?;
    }
    to.close()
        .map_err(|(_, e)| sqlite_error(target, "closing", e))?;
    Ok(())
}

/// A read transaction on a rollback-journal database: while it is open no writer can
/// commit, so the file can be read as is. `None` for WAL databases, whose committed pages
/// may still sit in the `-wal` file.
#[cfg(feature = "sqlite")]
pub fn sqlite_read_lock(
    path: &Path,
    timeout: std::time::Duration,
) -> Result<Option<rusqlite::Connection>, Error> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sqlite_error(path, "opening", e))?;
    conn.busy_timeout(timeout)
        .map_err(|e| sqlite_error(path, "setting the busy timeout", e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(|e| sqlite_error(path, "reading the journal mode", e))?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(None);
    }
    // The first read takes the shared lock (rolling back a crashed writer's journal first).
    conn.execute_batch("BEGIN; SELECT count(*) FROM sqlite_master;")
        .map_err(|e| sqlite_error(path, "starting a read transaction", e))?;
    Ok(Some(conn))
}

#[cfg(feature = "sqlite")]
pub fn sqlite_contents(path: &Path) -> Result<Contents, Error> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sqlite_error(path, "opening", e))?;
    sqlite_contents_in(&conn, path)
}

/// What the database `path` holds, read through `conn` (within its transaction, if any).
#[cfg(feature = "sqlite")]
pub fn sqlite_contents_in(conn: &rusqlite::Connection, path: &Path) -> Result<Contents, Error> {
    let err = |what: &'static str| move |e| sqlite_error(path, what, e);
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .map_err(err("listing tables"))?;
    let names: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(err("listing tables"))?;
    let mut contents = Contents::default();
    for name in names {
        let n: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM {}", quote(&name, '"')),
                [],
                |r| r.get(0),
            )
            .map_err(err("counting rows"))?;
        if name == MIGRATIONS_TABLE {
            contents.migration_version = conn
                .query_row(
                    "SELECT max(version) FROM _sqlx_migrations WHERE success",
                    [],
                    |r| r.get(0),
                )
                .map_err(err("reading _sqlx_migrations"))?;
        }
        contents.tables.insert(name, n as u64);
    }
    contents.server_version = conn
        .query_row("SELECT sqlite_version()", [], |r| r.get(0))
        .ok();
    Ok(contents)
}

/// How thoroughly [`sqlite_problems`] looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thoroughness {
    /// `PRAGMA integrity_check` and `PRAGMA foreign_key_check` (`verify`).
    Full,
    /// `PRAGMA quick_check` only (`restore`, whose bytes the checksum already proved): it
    /// skips matching indexes against tables, many times faster on large files.
    Quick,
}

/// The problems SQLite finds in the file at `path` (none: sound).
#[cfg(feature = "sqlite")]
pub fn sqlite_problems(path: &Path, how: Thoroughness) -> Result<Vec<String>, Error> {
    use rusqlite::{Connection, OpenFlags};
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| sqlite_error(path, "opening", e))?;
    let mut problems = Vec::new();
    let pragma = match how {
        Thoroughness::Full => "PRAGMA integrity_check",
        Thoroughness::Quick => "PRAGMA quick_check",
    };
    let mut stmt = conn
        .prepare(pragma)
        .map_err(|e| sqlite_error(path, "integrity check", e))?;
    let lines: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| sqlite_error(path, "integrity check", e))?;
    problems.extend(lines.into_iter().filter(|l| l != "ok"));
    if how == Thoroughness::Quick {
        return Ok(problems);
    }
    let mut stmt = conn
        .prepare("SELECT \"table\" || ' rowid ' || ifnull(rowid, 'null') || ' -> ' || parent FROM pragma_foreign_key_check")
        .map_err(|e| sqlite_error(path, "foreign key check", e))?;
    let fks: Vec<String> = stmt
        .query_map([], |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| sqlite_error(path, "foreign key check", e))?;
    problems.extend(fks.into_iter().map(|f| format!("foreign key broken: {f}")));
    Ok(problems)
}

// ---------------------------------------------------------------------------------------
// PostgreSQL.

#[cfg(feature = "postgres")]
mod pg {
    use sqlx::postgres::PgConnection;
    use sqlx::{AssertSqlSafe, Connection, Executor};

    use super::*;

    /// A read-only repeatable-read transaction whose snapshot `pg_dump --snapshot` shares;
    /// keep it open until the dump has started (we keep it until the dump ends).
    pub struct PgSnapshot {
        conn: PgConnection,
        pub id: String,
    }

    fn err(database: &str, what: &str, e: sqlx::Error) -> Error {
        Error::db(format!("{what} (database {database})"), e)
    }

    /// Export a snapshot for `pg_dump --snapshot`; count its rows with
    /// [`PgSnapshot::contents`] (while the dump runs: both see the same data).
    pub async fn pg_snapshot(url: &str, database: &str) -> Result<PgSnapshot, Error> {
        let mut conn = PgConnection::connect(url)
            .await
            .map_err(|e| err(database, "connecting to take a snapshot", e))?;
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .await
            .map_err(|e| err(database, "starting the snapshot", e))?;
        let id: String = sqlx::query_scalar("SELECT pg_export_snapshot()")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| err(database, "exporting the snapshot", e))?;
        Ok(PgSnapshot { conn, id })
    }

    impl PgSnapshot {
        /// What the snapshot holds.
        pub async fn contents(&mut self, database: &str) -> Result<Contents, Error> {
            read(&mut self.conn, database).await
        }

        pub async fn end(mut self) {
            let _ = self.conn.execute("COMMIT").await;
            let _ = self.conn.close().await;
        }
    }

    pub async fn pg_contents(url: &str, database: &str) -> Result<Contents, Error> {
        let mut conn = PgConnection::connect(url)
            .await
            .map_err(|e| err(database, "connecting", e))?;
        let contents = read(&mut conn, database).await;
        let _ = conn.close().await;
        contents
    }

    async fn read(conn: &mut PgConnection, database: &str) -> Result<Contents, Error> {
        let tables: Vec<(String, String)> = sqlx::query_as(
            "SELECT n.nspname::text, c.relname::text FROM pg_class c \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition \
             AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%' \
             ORDER BY 1, 2",
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(|e| err(database, "listing tables", e))?;
        let mut contents = Contents::default();
        for (schema, table) in tables {
            let qualified = format!("{}.{}", quote(&schema, '"'), quote(&table, '"'));
            let n: i64 =
                sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {qualified}")))
                    .fetch_one(&mut *conn)
                    .await
                    .map_err(|e| err(database, &format!("counting rows of {schema}.{table}"), e))?;
            if table == MIGRATIONS_TABLE && contents.migration_version.is_none() {
                contents.migration_version = sqlx::query_scalar(AssertSqlSafe(format!(
                    "SELECT max(version) FROM {qualified} WHERE success"
                )))
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| err(database, "reading _sqlx_migrations", e))?;
            }
            let key = if schema == "public" {
                table
            } else {
                format!("{schema}.{table}")
            };
            contents.tables.insert(key, n as u64);
        }
        contents.server_version = sqlx::query_scalar("SHOW server_version")
            .fetch_one(&mut *conn)
            .await
            .ok();
        Ok(contents)
    }
}

#[cfg(feature = "postgres")]
pub use pg::{PgSnapshot, pg_contents, pg_snapshot};

// ---------------------------------------------------------------------------------------
// MySQL / MariaDB.

/// Rows per table, counted in one consistent snapshot, with the migration and server
/// versions (a restored copy, in `verify`).
#[cfg(feature = "mysql")]
pub async fn mysql_contents(url: &str, database: &str) -> Result<Contents, Error> {
    mysql_read(url, database, true).await
}

/// The migration and server versions only: a backup counts the rows in the dump itself.
#[cfg(feature = "mysql")]
pub async fn mysql_versions(url: &str, database: &str) -> Result<Contents, Error> {
    mysql_read(url, database, false).await
}

#[cfg(feature = "mysql")]
async fn mysql_read(url: &str, database: &str, count: bool) -> Result<Contents, Error> {
    use sqlx::mysql::MySqlConnection;
    use sqlx::{AssertSqlSafe, Connection, Executor};
    let err = |what: &str, e: sqlx::Error| Error::db(format!("{what} (database {database})"), e);
    let mut conn = MySqlConnection::connect(url)
        .await
        .map_err(|e| err("connecting", e))?;
    conn.execute("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .await
        .map_err(|e| err("starting a snapshot", e))?;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE' ORDER BY 1",
    )
    .fetch_all(&mut conn)
    .await
    .map_err(|e| err("listing tables", e))?;
    let mut contents = Contents::default();
    for table in tables {
        let q = quote(&table, '`');
        if table == MIGRATIONS_TABLE {
            contents.migration_version = sqlx::query_scalar::<_, Option<i64>>(AssertSqlSafe(
                format!("SELECT CAST(max(version) AS SIGNED) FROM {q} WHERE success"),
            ))
            .fetch_one(&mut conn)
            .await
            .map_err(|e| err("reading _sqlx_migrations", e))?;
        }
        if count {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {q}")))
                .fetch_one(&mut conn)
                .await
                .map_err(|e| err(&format!("counting rows of {table}"), e))?;
            contents.tables.insert(table, n as u64);
        }
    }
    contents.server_version = sqlx::query_scalar("SELECT CAST(version() AS CHAR)")
        .fetch_one(&mut conn)
        .await
        .ok();
    let _ = conn.execute("COMMIT").await;
    let _ = conn.close().await;
    Ok(contents)
}

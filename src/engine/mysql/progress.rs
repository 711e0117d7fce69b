//! Per-statement progress of migrations on MySQL/MariaDB, whose DDL commits implicitly: a
//! migration that fails half-way leaves its first statements applied, and
//! `_dbenv_migration_progress` says exactly which, so the next run can resume after them.
//!
//! Progress rows are written on the migrating connection right after each statement, in the
//! migration's transaction when there still is one: a rollback takes them away together
//! with the statements they describe. A half-applied migration also has sqlx's own marker,
//! a `_sqlx_migrations` row with `success = FALSE` (what sqlx itself leaves on MySQL), so
//! sqlx-cli refuses to run it again from the top; the row becomes `success = TRUE`, with the
//! final checksum, only when the last statement has run.

use std::time::Duration;

use sqlx::Executor;
use sqlx::mysql::MySqlConnection;

use super::introspect::text_rows;
use super::literal::str_literal;

use crate::engine::{PROGRESS_TABLE, SessionTimeouts, StatementProgress};

pub(super) async fn ensure_table(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _dbenv_migration_progress ( \
         version BIGINT NOT NULL, \
         statement_no INT NOT NULL, \
         statement_sha256 CHAR(64) NOT NULL, \
         line INT NOT NULL, \
         applied_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         PRIMARY KEY (version, statement_no) ) ENGINE = InnoDB",
    )
    .await
    .map(drop)
}

pub(super) async fn read(
    conn: &mut MySqlConnection,
) -> Result<Vec<StatementProgress>, sqlx::Error> {
    if !table_exists(conn).await? {
        return Ok(Vec::new());
    }
    let rows = text_rows(
        conn,
        "SELECT version, statement_no, statement_sha256, line, CAST(applied_at AS CHAR) \
         FROM _dbenv_migration_progress ORDER BY version, statement_no"
            .into(),
    )
    .await?;
    rows.iter().map(|r| progress_from_text(r)).collect()
}

fn progress_from_text(row: &[Option<String>]) -> Result<StatementProgress, sqlx::Error> {
    let cell = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
    let number = |i: usize| {
        cell(i).parse::<i64>().map_err(|_| {
            sqlx::Error::Protocol(format!("{PROGRESS_TABLE} holds a bad number {:?}", cell(i)))
        })
    };
    Ok(StatementProgress {
        version: number(0)?,
        statement_no: number(1)? as usize,
        sha256: cell(2),
        line: number(3)? as usize,
        applied_at: cell(4),
    })
}

/// After a statement: its progress row, and sqlx's `success = FALSE` marker for the
/// migration (once).
pub(super) async fn record_statement(
    conn: &mut MySqlConnection,
    description: &str,
    checksum: &[u8],
    statement: &StatementProgress,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time ) \
         VALUES ( ?, ?, FALSE, ?, -1 ) ON DUPLICATE KEY UPDATE version = version",
    )
    .bind(statement.version)
    .bind(description)
    .bind(checksum)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO _dbenv_migration_progress ( version, statement_no, statement_sha256, line ) \
         VALUES ( ?, ?, ?, ? ) ON DUPLICATE KEY UPDATE statement_sha256 = VALUES(statement_sha256), \
         line = VALUES(line), applied_at = CURRENT_TIMESTAMP",
    )
    .bind(statement.version)
    .bind(statement.statement_no as i64)
    .bind(&statement.sha256)
    .bind(statement.line as i64)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// The migration is complete: its `_sqlx_migrations` row as sqlx leaves it (inserted, or
/// the half-applied marker turned into it), then its progress rows go. In this order, a
/// crash in between leaves only stale progress rows of an applied migration, which are
/// ignored and cleaned up on the next run.
pub(super) async fn record_complete(
    conn: &mut MySqlConnection,
    version: i64,
    description: &str,
    checksum: &[u8],
    elapsed: Duration,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time ) \
         VALUES ( ?, ?, TRUE, ?, ? ) ON DUPLICATE KEY UPDATE description = VALUES(description), \
         success = TRUE, checksum = VALUES(checksum), execution_time = VALUES(execution_time)",
    )
    .bind(version)
    .bind(description)
    .bind(checksum)
    .bind(elapsed.as_nanos() as i64)
    .execute(&mut *conn)
    .await?;
    forget(conn, version).await
}

/// Drop the progress rows of `version` (when the table exists).
pub(super) async fn forget(conn: &mut MySqlConnection, version: i64) -> Result<(), sqlx::Error> {
    if table_exists(conn).await? {
        sqlx::query("DELETE FROM _dbenv_migration_progress WHERE version = ?")
            .bind(version)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn table_exists(conn: &mut MySqlConnection) -> Result<bool, sqlx::Error> {
    let sql = format!(
        "SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = {}",
        str_literal(PROGRESS_TABLE)
    );
    Ok(!text_rows(conn, sql).await?.is_empty())
}

/// The env's `statement_timeout` and `lock_timeout` on this session. MariaDB stops any
/// statement after `max_statement_time`; MySQL's `max_execution_time` only stops SELECTs
/// (DDL cannot be timed out there). Both wait `lock_wait_timeout` for metadata locks and
/// `innodb_lock_wait_timeout` for row locks, in whole seconds.
pub(super) async fn set_timeouts(
    conn: &mut MySqlConnection,
    mariadb: bool,
    timeouts: &SessionTimeouts,
) -> Result<(), sqlx::Error> {
    if let Some(t) = timeouts.statement {
        let sql = if mariadb {
            format!("SET SESSION max_statement_time = {:.3}", t.as_secs_f64())
        } else {
            format!("SET SESSION max_execution_time = {}", t.as_millis().max(1))
        };
        conn.execute(sqlx::AssertSqlSafe(sql)).await?;
    }
    if let Some(t) = timeouts.lock {
        let secs = t.as_secs() + u64::from(t.subsec_nanos() > 0);
        let secs = secs.max(1);
        conn.execute(sqlx::AssertSqlSafe(format!(
            "SET SESSION lock_wait_timeout = {secs}, innodb_lock_wait_timeout = {secs}"
        )))
        .await?;
    }
    Ok(())
}

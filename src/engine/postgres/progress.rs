//! Per-statement progress of PostgreSQL migrations that run outside a transaction
//! (`-- no-transaction`, for `CREATE INDEX CONCURRENTLY` and the like): one that fails
//! half-way leaves its first statements applied, and `_dbenv_migration_progress` says
//! exactly which, so the next run resumes after them instead of failing on the first one.
//! The model is MySQL's (src/engine/mysql/progress.rs): a `_sqlx_migrations` row with
//! `success = FALSE` marks the migration half-applied for sqlx-cli too, and becomes
//! `success = TRUE` only when the last statement has run. The table is created by the first
//! such statement: databases without no-transaction migrations never get it.

use sqlx::Executor;
use sqlx::postgres::PgConnection;

use crate::engine::{PROGRESS_TABLE, StatementProgress};

pub(super) async fn read(conn: &mut PgConnection) -> Result<Vec<StatementProgress>, sqlx::Error> {
    if !table_exists(conn).await? {
        return Ok(Vec::new());
    }
    let rows: Vec<(i64, i32, String, i32, String)> = sqlx::query_as(
        "SELECT version, statement_no, statement_sha256, line, \
         to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') \
         FROM _dbenv_migration_progress ORDER BY version, statement_no",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(version, no, sha256, line, applied_at)| StatementProgress {
                version,
                statement_no: no as usize,
                sha256,
                line: line as usize,
                applied_at,
            },
        )
        .collect())
}

/// After a statement: its progress row, and sqlx's `success = FALSE` marker for the
/// migration (once).
pub(super) async fn record_statement(
    conn: &mut PgConnection,
    description: &str,
    checksum: &[u8],
    statement: &StatementProgress,
) -> Result<(), sqlx::Error> {
    // Checked first: `IF NOT EXISTS` alone would send a notice after every statement.
    if !table_exists(conn).await? {
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _dbenv_migration_progress ( \
             version BIGINT NOT NULL, \
             statement_no INT NOT NULL, \
             statement_sha256 CHAR(64) NOT NULL, \
             line INT NOT NULL, \
             applied_at TIMESTAMPTZ NOT NULL DEFAULT now(), \
             PRIMARY KEY (version, statement_no) )",
        )
        .await?;
    }
    sqlx::query(
        "INSERT INTO _sqlx_migrations ( version, description, success, checksum, execution_time ) \
         VALUES ( $1, $2, FALSE, $3, -1 ) ON CONFLICT (version) DO NOTHING",
    )
    .bind(statement.version)
    .bind(description)
    .bind(checksum)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO _dbenv_migration_progress ( version, statement_no, statement_sha256, line ) \
         VALUES ( $1, $2, $3, $4 ) ON CONFLICT (version, statement_no) DO UPDATE SET \
         statement_sha256 = EXCLUDED.statement_sha256, line = EXCLUDED.line, applied_at = now()",
    )
    .bind(statement.version)
    .bind(statement.statement_no as i32)
    .bind(&statement.sha256)
    .bind(statement.line as i32)
    .execute(&mut *conn)
    .await
    .map(drop)
}

/// Drop the progress rows of `version` (when the table exists).
pub(super) async fn forget(conn: &mut PgConnection, version: i64) -> Result<(), sqlx::Error> {
    if table_exists(conn).await? {
        sqlx::query("DELETE FROM _dbenv_migration_progress WHERE version = $1")
            .bind(version)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

async fn table_exists(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    // Resolved through search_path, as the unqualified statements above are.
    sqlx::query_scalar("SELECT to_regclass($1) IS NOT NULL")
        .bind(PROGRESS_TABLE)
        .fetch_one(&mut *conn)
        .await
}

//! Applying and reverting migrations, one statement at a time, one transaction per migration.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::migrate::Migration;
use tracing::info;

use super::status::{MigrationState, check_drift, status};
use super::{LocalMigration, MigrateError, MigrationSet, file_name};
use crate::engine::Backend;
use crate::sqltext;
use crate::state::FileLock;

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Stop after this version (inclusive).
    pub target: Option<i64>,
}

/// One migration applied (or reverted).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub version: i64,
    pub file: String,
    #[serde(with = "crate::util::duration_ms")]
    pub elapsed: Duration,
}

/// Keep two migrators of the same SQLite file apart (sqlx takes no lock on SQLite). The lock
/// file sits beside the database, so it holds across projects and processes.
pub fn lock_sqlite(db_path: &Path, timeout: Duration) -> Result<FileLock, MigrateError> {
    let mut lock_path = db_path.as_os_str().to_owned();
    lock_path.push(".migrate-lock");
    FileLock::acquire(Path::new(&lock_path), timeout, "migrations")
        .map_err(|_| MigrateError::LockTimeout(db_path.display().to_string(), timeout))
}

/// Apply every pending migration up to `options.target`, after checking for drift.
pub async fn apply<B: Backend>(
    db: &mut B,
    set: &MigrationSet,
    env: &str,
    options: &ApplyOptions,
) -> Result<Vec<Applied>, MigrateError> {
    db.ensure_migrations_table()
        .await
        .map_err(|e| MigrateError::db("creating _sqlx_migrations", e))?;
    let pending = pending(db, set, env, options.target).await?;
    let mut done = Vec::new();
    let mut last_good = last_applied_label(db).await?;
    for migration in pending {
        let elapsed = run_up(db, migration, &last_good).await?;
        info!(version = migration.version, file = %migration.file_name(), ms = elapsed.as_millis() as u64, "applied migration");
        last_good = format!("version {} ({})", migration.version, migration.file_name());
        done.push(Applied {
            version: migration.version,
            file: migration.file_name(),
            elapsed,
        });
    }
    Ok(done)
}

/// The migrations `apply` would run, in order, after the drift check.
pub async fn pending<'s, B: Backend>(
    db: &mut B,
    set: &'s MigrationSet,
    env: &str,
    target: Option<i64>,
) -> Result<Vec<&'s LocalMigration>, MigrateError> {
    let applied = db
        .applied_migrations()
        .await
        .map_err(|e| MigrateError::db("reading _sqlx_migrations", e))?;
    let lines = status(set, &applied);
    check_drift(&lines, env)?;
    if let Some(target) = target
        && set.get(target).is_none()
    {
        return Err(MigrateError::UnknownVersion(target));
    }
    Ok(lines
        .iter()
        .filter(|l| l.state == MigrationState::Pending)
        .filter(|l| target.is_none_or(|t| l.version <= t))
        .filter_map(|l| set.get(l.version))
        .collect())
}

async fn last_applied_label<B: Backend>(db: &mut B) -> Result<String, MigrateError> {
    let applied = db
        .applied_migrations()
        .await
        .map_err(|e| MigrateError::db("reading _sqlx_migrations", e))?;
    Ok(match applied.last() {
        Some(a) => format!("version {} ({})", a.version, a.description),
        None => "no migration applied".to_string(),
    })
}

async fn run_up<B: Backend>(
    db: &mut B,
    migration: &LocalMigration,
    last_good: &str,
) -> Result<Duration, MigrateError> {
    let start = Instant::now();
    let file = migration.file_name();
    let in_tx = !migration.up.no_tx;
    if in_tx {
        db.begin()
            .await
            .map_err(|e| MigrateError::db(format!("starting {file}"), e))?;
    }
    let result = async {
        run_script(db, &migration.up, &file, last_good).await?;
        let elapsed = start.elapsed();
        db.record_migration(
            migration.version,
            &migration.description,
            &migration.up.checksum,
            elapsed,
        )
        .await
        .map_err(|e| MigrateError::db(format!("recording {file} in _sqlx_migrations"), e))
    }
    .await;
    finish(db, in_tx, result, &file).await?;
    Ok(start.elapsed())
}

/// Commit on success, roll back on failure (keeping the original error).
async fn finish<B: Backend>(
    db: &mut B,
    in_tx: bool,
    result: Result<(), MigrateError>,
    file: &str,
) -> Result<(), MigrateError> {
    match (result, in_tx) {
        (Ok(()), true) => db
            .commit()
            .await
            .map_err(|e| MigrateError::db(format!("committing {file}"), e)),
        (Ok(()), false) => Ok(()),
        (Err(e), true) => {
            let _ = db.rollback().await;
            Err(e)
        }
        (Err(e), false) => Err(e),
    }
}

/// Run a script statement by statement so a failure can name its statement and line.
async fn run_script<B: Backend>(
    db: &mut B,
    script: &Migration,
    file: &str,
    last_good: &str,
) -> Result<(), MigrateError> {
    let statements = sqltext::split_statements(script.sql.as_str(), db.dialect()).map_err(|e| {
        MigrateError::Parse {
            file: file.to_string(),
            message: e.to_string(),
        }
    })?;
    for statement in statements {
        if let Err(e) = db.execute(&statement.sql).await {
            let left_at = if script.no_tx {
                format!(
                    "a partly applied state: {file} is marked `-- no-transaction`, so the statements before line {} were kept",
                    statement.line
                )
            } else {
                last_good.to_string()
            };
            return Err(MigrateError::Failed {
                file: file.to_string(),
                line: statement.line,
                statement: excerpt(&statement.sql),
                message: database_message(&e),
                left_at,
            });
        }
    }
    Ok(())
}

/// The database's own words, without sqlx's wrapping.
pub fn database_message(e: &sqlx::Error) -> String {
    match e {
        sqlx::Error::Database(db) => db.message().to_string(),
        // Bulk writers report the database's own words through `Protocol`.
        sqlx::Error::Protocol(message) => message.clone(),
        other => other.to_string(),
    }
}

fn excerpt(sql: &str) -> String {
    let one_line: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    match one_line.char_indices().nth(120) {
        Some((cut, _)) => format!("{}…", &one_line[..cut]),
        None => one_line,
    }
}

/// Revert applied migrations newer than `to` (default: the latest one only), newest first.
/// Every down script is checked before anything runs.
pub async fn revert<B: Backend>(
    db: &mut B,
    set: &MigrationSet,
    env: &str,
    to: Option<i64>,
) -> Result<Vec<Applied>, MigrateError> {
    let applied = db
        .applied_migrations()
        .await
        .map_err(|e| MigrateError::db("reading _sqlx_migrations", e))?;
    check_drift(&status(set, &applied), env)?;
    let mut targets: Vec<&LocalMigration> = match to {
        Some(to) => applied
            .iter()
            .filter(|a| a.version > to)
            .filter_map(|a| set.get(a.version))
            .collect(),
        None => applied
            .last()
            .and_then(|a| set.get(a.version))
            .into_iter()
            .collect(),
    };
    targets.reverse();
    for m in &targets {
        if m.down.is_none() {
            let expected = m
                .file_name()
                .replace(".up.sql", ".down.sql")
                .replace(".sql", ".down.sql");
            return Err(MigrateError::NotReversible {
                version: m.version,
                file: m.file_name(),
                expected,
            });
        }
    }
    let mut done = Vec::new();
    for m in targets {
        let (down, path) = m.down.as_ref().expect("checked above");
        let file = file_name(path);
        let start = Instant::now();
        let in_tx = !down.no_tx;
        if in_tx {
            db.begin()
                .await
                .map_err(|e| MigrateError::db(format!("starting {file}"), e))?;
        }
        let result = async {
            run_script(db, down, &file, &format!("version {}", m.version)).await?;
            db.forget_migration(m.version).await.map_err(|e| {
                MigrateError::db(
                    format!("removing version {} from _sqlx_migrations", m.version),
                    e,
                )
            })
        }
        .await;
        finish(db, in_tx, result, &file).await?;
        info!(version = m.version, file = %file, "reverted migration");
        done.push(Applied {
            version: m.version,
            file,
            elapsed: start.elapsed(),
        });
    }
    Ok(done)
}

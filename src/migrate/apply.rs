//! Applying and reverting migrations, one statement at a time, one transaction per migration.

use std::path::Path;
use std::time::{Duration, Instant};

use sqlx::migrate::Migration;
use tracing::info;

use super::progress::{self, Resume};
use super::status::{MigrationState, check_drift, mark_partial, status};
use super::{LocalMigration, MigrateError, MigrationSet, file_name};
use crate::engine::{Backend, SessionTimeouts, StatementProgress};
use crate::sqltext::{self, Statement};
use crate::state::FileLock;

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Stop after this version (inclusive).
    pub target: Option<i64>,
    /// Refuse to resume a half-applied migration (a production env without `--resume`);
    /// otherwise it is resumed after its applied statements, saying so.
    pub hold_partial: bool,
    /// The limits set on the session, named in the error when one stops a statement.
    pub timeouts: SessionTimeouts,
    /// Apply only these versions (the plan the user confirmed): anything else pending is
    /// refused; a planned version another migrator applied meanwhile is skipped.
    pub approved: Option<Vec<i64>>,
}

/// One migration applied (or reverted).
#[derive(Debug, Clone, serde::Serialize)]
pub struct Applied {
    pub version: i64,
    pub file: String,
    #[serde(with = "crate::util::duration_ms")]
    pub elapsed: Duration,
    /// A half-applied migration resumed at this statement.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resumed_at_statement: Option<usize>,
}

/// One migration `apply` would run: the plan shown before a production migration.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlannedMigration {
    pub version: i64,
    pub file: String,
    pub statements: usize,
    pub no_transaction: bool,
    /// A half-applied migration: where it resumes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume: Option<Resume>,
    #[serde(skip)]
    pub migration: LocalMigration,
}

/// Keep two migrators of the same SQLite file apart (sqlx takes no lock on SQLite). The lock
/// file sits beside the database, so it holds across projects and processes.
pub fn lock_sqlite(db_path: &Path, timeout: Duration) -> Result<FileLock, MigrateError> {
    let mut lock_path = db_path.as_os_str().to_owned();
    lock_path.push(".migrate-lock");
    FileLock::acquire(Path::new(&lock_path), timeout, "migrations").map_err(|e| {
        MigrateError::LockTimeout {
            place: db_path.display().to_string(),
            waited: timeout,
            holder: e.holder.map(|pid| format!("process {pid}")),
        }
    })
}

/// Apply every pending migration up to `options.target`, after checking for drift;
/// a half-applied migration is resumed after its applied statements.
pub async fn apply<B: Backend>(
    db: &mut B,
    set: &MigrationSet,
    env: &str,
    options: &ApplyOptions,
) -> Result<Vec<Applied>, MigrateError> {
    db.ensure_migrations_table()
        .await
        .map_err(|e| MigrateError::db("creating _sqlx_migrations", e))?;
    let steps = plan(db, set, env, options.target).await?;
    let steps = keep_approved(steps, options.approved.as_deref(), env)?;
    if options.hold_partial {
        hold_partial(db, &steps, env).await?;
    }
    let mut done = Vec::new();
    let mut last_good = last_applied_label(db).await?;
    for step in &steps {
        let elapsed = run_up(db, step, &last_good, env, &options.timeouts).await?;
        let migration = &step.migration;
        info!(version = migration.version, file = %step.file, ms = elapsed.as_millis() as u64, "applied migration");
        last_good = format!("version {} ({})", migration.version, step.file);
        done.push(Applied {
            version: migration.version,
            file: step.file.clone(),
            elapsed,
            resumed_at_statement: step.resume.as_ref().map(|r| r.next_statement),
        });
    }
    Ok(done)
}

/// The migrations `apply` would run, in order, after the drift check (and, for a
/// half-applied migration, after checking that its applied statements are unchanged).
pub async fn plan<B: Backend>(
    db: &mut B,
    set: &MigrationSet,
    env: &str,
    target: Option<i64>,
) -> Result<Vec<PlannedMigration>, MigrateError> {
    let progress = db
        .statement_progress()
        .await
        .map_err(|e| MigrateError::db("reading _dbenv_migration_progress", e))?;
    let mut steps = Vec::new();
    for migration in pending(db, set, env, target).await? {
        let statements = split(&migration.up, &migration.file_name(), db.dialect())?;
        let recorded: Vec<&StatementProgress> = progress
            .iter()
            .filter(|p| p.version == migration.version)
            .collect();
        let resume = match recorded.is_empty() {
            true => None,
            false => Some(progress::resume_point(
                migration,
                &statements,
                &recorded,
                env,
            )?),
        };
        steps.push(PlannedMigration {
            version: migration.version,
            file: migration.file_name(),
            statements: statements.len(),
            no_transaction: migration.up.no_tx,
            resume,
            migration: migration.clone(),
        });
    }
    Ok(steps)
}

/// The migrations not applied yet (half-applied ones included), after the drift check.
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
    let progress = db
        .statement_progress()
        .await
        .map_err(|e| MigrateError::db("reading _dbenv_migration_progress", e))?;
    let mut lines = status(set, &applied);
    mark_partial(&mut lines, &progress);
    check_drift(&lines, env)?;
    if let Some(target) = target
        && set.get(target).is_none()
    {
        return Err(MigrateError::UnknownVersion(target));
    }
    Ok(lines
        .iter()
        .filter(|l| matches!(l.state, MigrationState::Pending | MigrationState::Partial))
        .filter(|l| target.is_none_or(|t| l.version <= t))
        .filter_map(|l| set.get(l.version))
        .collect())
}

/// Only what the user confirmed: a planned version applied meanwhile is dropped, anything
/// new is refused.
fn keep_approved(
    steps: Vec<PlannedMigration>,
    approved: Option<&[i64]>,
    env: &str,
) -> Result<Vec<PlannedMigration>, MigrateError> {
    let Some(approved) = approved else {
        return Ok(steps);
    };
    let unexpected: Vec<String> = steps
        .iter()
        .filter(|s| !approved.contains(&s.version))
        .map(|s| s.file.clone())
        .collect();
    if !unexpected.is_empty() {
        return Err(MigrateError::PlanChanged {
            env: env.to_string(),
            what: format!("not in the plan: {}", unexpected.join(", ")),
        });
    }
    let skipped = approved.len() - steps.len();
    if skipped > 0 {
        info!("{skipped} planned migration(s) were applied meanwhile by another migrator");
    }
    Ok(steps)
}

/// Refuse a plan that would resume a half-applied migration (a production env without
/// `--resume`), saying precisely what is applied and what is not.
pub async fn hold_partial<B: Backend>(
    db: &mut B,
    steps: &[PlannedMigration],
    env: &str,
) -> Result<(), MigrateError> {
    let Some(step) = steps.iter().find(|s| s.resume.is_some()) else {
        return Ok(());
    };
    let progress = db.statement_progress().await.unwrap_or_default();
    let recorded: Vec<&StatementProgress> = progress
        .iter()
        .filter(|p| p.version == step.version)
        .collect();
    let resume = step.resume.as_ref().expect("a step to resume");
    Err(progress::resume_needed(
        &step.migration,
        resume,
        step.statements,
        &recorded,
        env,
    ))
}

/// The plan for a database that does not exist yet: every migration up to `target`.
pub fn plan_fresh(
    set: &MigrationSet,
    target: Option<i64>,
    dialect: crate::sqltext::Dialect,
) -> Result<Vec<PlannedMigration>, MigrateError> {
    if let Some(target) = target
        && set.get(target).is_none()
    {
        return Err(MigrateError::UnknownVersion(target));
    }
    set.migrations
        .iter()
        .filter(|m| target.is_none_or(|t| m.version <= t))
        .map(|m| {
            Ok(PlannedMigration {
                version: m.version,
                file: m.file_name(),
                statements: split(&m.up, &m.file_name(), dialect)?.len(),
                no_transaction: m.up.no_tx,
                resume: None,
                migration: m.clone(),
            })
        })
        .collect()
}

async fn last_applied_label<B: Backend>(db: &mut B) -> Result<String, MigrateError> {
    let applied = db
        .applied_migrations()
        .await
        .map_err(|e| MigrateError::db("reading _sqlx_migrations", e))?;
    Ok(match applied.iter().rev().find(|a| a.success) {
        Some(a) => format!("version {} ({})", a.version, a.description),
        None => "no migration applied".to_string(),
    })
}

fn split(
    script: &Migration,
    file: &str,
    dialect: crate::sqltext::Dialect,
) -> Result<Vec<Statement>, MigrateError> {
    sqltext::split_statements(script.sql.as_str(), dialect).map_err(|e| MigrateError::Parse {
        file: file.to_string(),
        message: e.to_string(),
    })
}

async fn run_up<B: Backend>(
    db: &mut B,
    step: &PlannedMigration,
    last_good: &str,
    env: &str,
    timeouts: &SessionTimeouts,
) -> Result<Duration, MigrateError> {
    let start = Instant::now();
    let migration = &step.migration;
    let file = &step.file;
    if let Some(r) = &step.resume {
        info!(
            "resuming {file} at statement {} of {}: statements 1-{} were applied by an earlier run (the last at {} UTC)",
            r.next_statement, step.statements, r.applied, r.applied_at
        );
    }
    let statements = split(&migration.up, file, db.dialect())?;
    let from = step.resume.as_ref().map_or(0, |r| r.applied);
    let in_tx = !migration.up.no_tx;
    // Statements not inside one transaction are recorded one by one, so that a failure
    // half-way can be resumed after them.
    let record_progress = db.records_statement_progress() && (!db.ddl_is_transactional() || !in_tx);
    if in_tx {
        db.begin()
            .await
            .map_err(|e| MigrateError::db(format!("starting {file}"), e))?;
    }
    let result = async {
        for (i, statement) in statements.iter().enumerate().skip(from) {
            if let Err(e) = db.execute(&statement.sql).await {
                return Err(Failure::Statement(i, e));
            }
            if record_progress {
                let p = StatementProgress {
                    version: migration.version,
                    statement_no: i + 1,
                    sha256: progress::statement_sha(&statement.sql),
                    line: statement.line,
                    applied_at: String::new(),
                };
                db.record_statement(&migration.description, &migration.up.checksum, &p)
                    .await
                    .map_err(|e| {
                        Failure::Other(MigrateError::db(
                            format!(
                                "recording statement {} of {file} in _dbenv_migration_progress",
                                i + 1
                            ),
                            e,
                        ))
                    })?;
            }
        }
        db.record_migration(
            migration.version,
            &migration.description,
            &migration.up.checksum,
            start.elapsed(),
        )
        .await
        .map_err(|e| {
            Failure::Other(MigrateError::db(
                format!("recording {file} in _sqlx_migrations"),
                e,
            ))
        })
    }
    .await;
    let failure = match result {
        Ok(()) => {
            finish(db, in_tx, Ok(()), file).await?;
            return Ok(start.elapsed());
        }
        Err(failure) => failure,
    };
    if in_tx {
        let _ = db.rollback().await;
    }
    let (i, e) = match failure {
        Failure::Other(e) => return Err(e),
        Failure::Statement(i, e) => (i, e),
    };
    let statement = &statements[i];
    let left_at = left_at(db, step, i, last_good, env).await;
    Err(MigrateError::Failed {
        file: file.clone(),
        statement_no: i + 1,
        statements: statements.len(),
        line: statement.line,
        statement: excerpt(&statement.sql),
        message: format!(
            "{}{}",
            database_message(&e),
            timeout_hint(&database_message(&e), timeouts, env)
        ),
        left_at,
    })
}

enum Failure {
    /// The statement at this index failed.
    Statement(usize, sqlx::Error),
    Other(MigrateError),
}

/// Where a failed migration leaves the database, from what the database itself says.
async fn left_at<B: Backend>(
    db: &mut B,
    step: &PlannedMigration,
    failed: usize,
    last_good: &str,
    env: &str,
) -> String {
    let file = &step.file;
    if db.records_statement_progress() && (!db.ddl_is_transactional() || step.no_transaction) {
        let progress = db.statement_progress().await.unwrap_or_default();
        let recorded: Vec<&StatementProgress> = progress
            .iter()
            .filter(|p| p.version == step.version)
            .collect();
        let applied = recorded.iter().map(|p| p.statement_no).max().unwrap_or(0);
        if applied == 0 {
            return format!("{last_good} (this migration was rolled back)");
        }
        let why = match db.ddl_is_transactional() {
            true => "it is marked `-- no-transaction`",
            false => "MySQL/MariaDB cannot roll DDL back",
        };
        return format!(
            "a half-applied state: {} of {file}, recorded in _dbenv_migration_progress ({why}).\n  Fix statement {} and run `dbenv migrate {env}` again (add --resume on a production env): it resumes at statement {}, without running the applied ones again",
            progress::applied_summary(applied, step.statements, &recorded),
            failed + 1,
            applied + 1
        );
    }
    if step.no_transaction {
        let line = split(&step.migration.up, file, db.dialect())
            .ok()
            .and_then(|s| s.get(failed).map(|s| s.line))
            .unwrap_or(0);
        return format!(
            "a partly applied state: {file} is marked `-- no-transaction`, so the statements before line {line} were kept"
        );
    }
    format!("{last_good} (this migration was rolled back)")
}

/// When a configured timeout stopped the statement, say which setting did it.
fn timeout_hint(message: &str, timeouts: &SessionTimeouts, env: &str) -> String {
    let m = message.to_ascii_lowercase();
    let (setting, value) = if m.contains("statement timeout") || m.contains("max_statement_time") {
        ("statement_timeout", timeouts.statement)
    } else if m.contains("lock timeout") || m.contains("lock wait timeout") {
        ("lock_timeout", timeouts.lock)
    } else {
        return String::new();
    };
    let Some(value) = value else {
        return String::new();
    };
    format!(
        "\n  stopped by statement limits: {setting} = \"{}\" in [env.{env}] of dbenv.toml; raise it there (or move the slow statement to a migration of its own) and run again",
        crate::util::format_duration(value)
    )
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

/// Run a down script statement by statement so a failure can name its statement and line.
async fn run_script<B: Backend>(
    db: &mut B,
    script: &Migration,
    file: &str,
    last_good: &str,
) -> Result<(), MigrateError> {
    let statements = split(script, file, db.dialect())?;
    for (i, statement) in statements.iter().enumerate() {
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
                statement_no: i + 1,
                statements: statements.len(),
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
            resumed_at_statement: None,
        });
    }
    Ok(done)
}

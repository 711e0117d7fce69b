//! `dbenv migrate` and its subcommands, for an env.

use serde::Serialize;

use super::guard::{Confirmation, guard};
use super::{Project, open_existing};
use crate::engine::Backend;
use crate::engine::sqlite::{OpenMode, SqliteBackend};
use crate::error::Error;
use crate::migrate::{self, Applied, ApplyOptions, LocalMigration, StatusLine};

#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    pub env: String,
    pub applied: Vec<Applied>,
}

/// The migrations `migrate` would apply (after the drift check), without applying them.
pub async fn migrate_plan(
    project: &Project,
    env: Option<&str>,
    target: Option<i64>,
) -> Result<Vec<LocalMigration>, Error> {
    let env = project.env(env)?;
    let set = project.migrations()?;
    let path = project.sqlite_file(env)?;
    if !path.exists() {
        return Ok(set
            .migrations
            .into_iter()
            .filter(|m| target.is_none_or(|t| m.version <= t))
            .collect());
    }
    let mut db = SqliteBackend::open(&path, OpenMode::Existing).await?;
    let pending = migrate::apply::pending(&mut db, &set, &env.name, target)
        .await?
        .into_iter()
        .cloned()
        .collect();
    db.close().await?;
    Ok(pending)
}

/// Apply pending migrations to an env (creating its database file if needed).
pub async fn migrate(
    project: &Project,
    env: Option<&str>,
    target: Option<i64>,
) -> Result<MigrateReport, Error> {
    let env = project.env(env)?;
    let set = project.migrations()?;
    let path = project.sqlite_file(env)?;
    let _lock = project.lock(env)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mode = if path.exists() {
        OpenMode::Existing
    } else {
        OpenMode::Scratch
    };
    let mut db = SqliteBackend::open(&path, mode).await?;
    let _migrate_lock = migrate::lock_sqlite(&path, project.lock_timeout)?;
    let applied = migrate::apply(&mut db, &set, &env.name, &ApplyOptions { target }).await;
    db.close().await?;
    Ok(MigrateReport {
        env: env.name.clone(),
        applied: applied?,
    })
}

/// Where every migration stands on an env (no database yet: everything pending).
pub async fn migrate_status(
    project: &Project,
    env: Option<&str>,
) -> Result<Vec<StatusLine>, Error> {
    let env = project.env(env)?;
    let set = project.migrations()?;
    let path = project.sqlite_file(env)?;
    let applied = if path.exists() {
        let mut db = SqliteBackend::open(&path, OpenMode::Existing).await?;
        let applied = db
            .applied_migrations()
            .await
            .map_err(|e| Error::db("reading _sqlx_migrations", e))?;
        db.close().await?;
        applied
    } else {
        Vec::new()
    };
    Ok(migrate::status(&set, &applied))
}

/// Revert the latest migration, or every migration above `to`.
pub async fn migrate_down(
    project: &Project,
    env: Option<&str>,
    to: Option<i64>,
    confirmation: &Confirmation,
) -> Result<MigrateReport, Error> {
    let env = project.env(env)?;
    guard(env, "revert migrations", confirmation)?;
    let set = project.migrations()?;
    let _lock = project.lock(env)?;
    let mut db = open_existing(project, env).await?;
    let _migrate_lock = migrate::lock_sqlite(db.path(), project.lock_timeout)?;
    let reverted = migrate::revert(&mut db, &set, &env.name, to).await;
    db.close().await?;
    Ok(MigrateReport {
        env: env.name.clone(),
        applied: reverted?,
    })
}

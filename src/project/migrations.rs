//! `dbenv migrate` and its subcommands, for an env of any engine.

use serde::Serialize;

use super::guard::{Confirmation, guard};
use super::{Project, open_existing};
use crate::config::EnvConfig;
use crate::engine::sqlite::{OpenMode, SqliteBackend};
use crate::engine::{AnyBackend, Backend};
use crate::error::Error;
use crate::migrate::{self, Applied, ApplyOptions, LocalMigration, StatusLine};
use crate::state::FileLock;

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
    let set = project.migrations(env)?;
    let Some(mut db) = open_if_exists(project, env).await? else {
        return Ok(set
            .migrations
            .into_iter()
            .filter(|m| target.is_none_or(|t| m.version <= t))
            .collect());
    };
    let pending = migrate::apply::pending(&mut db, &set, &env.name, target)
        .await?
        .into_iter()
        .cloned()
        .collect();
    db.close().await?;
    Ok(pending)
}

/// Apply pending migrations to an env (creating its database if needed).
pub async fn migrate(
    project: &Project,
    env: Option<&str>,
    target: Option<i64>,
) -> Result<MigrateReport, Error> {
    let env = project.env(env)?;
    let set = project.migrations(env)?;
    let _lock = project.lock(env)?;
    let (mut db, _migrate_lock) = open_or_create(project, env).await?;
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
    let set = project.migrations(env)?;
    let applied = match open_if_exists(project, env).await? {
        Some(mut db) => {
            let applied = db
                .applied_migrations()
                .await
                .map_err(|e| Error::db("reading _sqlx_migrations", e))?;
            db.close().await?;
            applied
        }
        None => Vec::new(),
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
    let set = project.migrations(env)?;
    let _lock = project.lock(env)?;
    let mut db = open_existing(project, env).await?;
    let _migrate_lock = sqlite_migrate_lock(project, env)?;
    let reverted = migrate::revert(&mut db, &set, &env.name, to).await;
    db.close().await?;
    Ok(MigrateReport {
        env: env.name.clone(),
        applied: reverted?,
    })
}

/// The env's database when it exists (a server env's server is started when stopped).
async fn open_if_exists(project: &Project, env: &EnvConfig) -> Result<Option<AnyBackend>, Error> {
    if env.engine.is_server() {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        {
            let (server, _) = super::server::ensure_up(project, env).await?;
            if !server
                .admin()
                .await?
                .database_exists(&server.database)
                .await?
            {
                return Ok(None);
            }
            return Ok(Some(AnyBackend::connect(env.engine, &server.url()).await?));
        }
    }
    let path = project.sqlite_file(env)?;
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(AnyBackend::Sqlite(
        SqliteBackend::open(&path, OpenMode::Existing).await?,
    )))
}

/// The env's database, created empty when missing, and (SQLite) the migration file lock.
async fn open_or_create(
    project: &Project,
    env: &EnvConfig,
) -> Result<(AnyBackend, Option<FileLock>), Error> {
    if env.engine.is_server() {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        {
            let (server, mut state) = super::server::ensure_up(project, env).await?;
            let mut admin = server.admin().await?;
            if !admin.database_exists(&server.database).await? {
                admin.create_database(&server.database).await?;
                state.owns_database = true;
                project.state.write_env(&env.name, &state)?;
            }
            let db = AnyBackend::connect(env.engine, &server.url()).await?;
            return Ok((db, None));
        }
    }
    let path = project.sqlite_file(env)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    }
    let mode = if path.exists() {
        OpenMode::Existing
    } else {
        OpenMode::Scratch
    };
    let db = SqliteBackend::open(&path, mode).await?;
    let lock = migrate::lock_sqlite(&path, project.lock_timeout)?;
    Ok((AnyBackend::Sqlite(db), Some(lock)))
}

/// SQLite takes no lock of its own: keep two migrators of one file apart.
fn sqlite_migrate_lock(project: &Project, env: &EnvConfig) -> Result<Option<FileLock>, Error> {
    if env.engine.is_server() {
        return Ok(None);
    }
    let path = project.sqlite_file(env)?;
    Ok(Some(migrate::lock_sqlite(&path, project.lock_timeout)?))
}

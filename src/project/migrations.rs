//! `dbenv migrate` and its subcommands, for an env of any engine.

use serde::Serialize;

use std::path::PathBuf;

use super::guard::{Confirmation, guard};
use super::{Project, open_existing};
use crate::config::{EngineKind, EnvConfig, EnvKind, MigrateGuard};
use crate::engine::sqlite::{OpenMode, SqliteBackend};
use crate::engine::{AnyBackend, Backend, SessionTimeouts};
use crate::error::Error;
use crate::migrate::{
    self, Applied, ApplyOptions, LockTarget, MigrationLock, MigrationSet, PlannedMigration,
    StatusLine,
};
use crate::replication::{self, Severity};
use crate::sqltext::Dialect;

#[derive(Debug, Clone, Serialize)]
pub struct MigrateReport {
    pub env: String,
    pub applied: Vec<Applied>,
}

/// What `migrate` would do on an env: shown (and confirmed) before a production env is
/// migrated, printed by `--dry-run`.
#[derive(Debug, Clone, Serialize)]
pub struct MigratePlan {
    pub env: String,
    pub production: bool,
    pub migrations: Vec<PlannedMigration>,
}

/// Asked with the plan before a production env is migrated; `Ok` goes on, an error (a
/// refusal) stops before anything is applied.
pub type Approve<'a> = &'a mut dyn FnMut(&MigratePlan) -> Result<(), Error>;

/// How `migrate` runs.
#[derive(Default)]
pub struct MigrateOptions<'a> {
    /// Apply up to this version (inclusive).
    pub target: Option<i64>,
    /// Resume a half-applied migration (MySQL/MariaDB) on a production env; development
    /// envs resume without being asked.
    pub resume: bool,
    /// Shown the plan of a production env before anything is applied. Without it, a
    /// production env with pending migrations is refused.
    pub approve: Option<Approve<'a>>,
}

/// The migrations `migrate` would apply (after the drift check), without applying them.
pub async fn migrate_plan(
    project: &Project,
    env: Option<&str>,
    target: Option<i64>,
) -> Result<MigratePlan, Error> {
    let env = project.env(env)?;
    let set = project.migrations(env)?;
    let migrations = match open_if_exists(project, env).await? {
        None => migrate::apply::plan_fresh(&set, target, dialect_of(env))?,
        Some(mut db) => {
            let plan = migrate::plan(&mut db, &set, &env.name, target).await;
            db.close().await?;
            plan?
        }
    };
    Ok(plan_of(env, migrations))
}

/// Apply pending migrations to an env (creating its database if needed), under the
/// migration lock. A production env's plan is given to `options.approve` first.
pub async fn migrate(
    project: &Project,
    env: Option<&str>,
    options: MigrateOptions<'_>,
) -> Result<MigrateReport, Error> {
    let env = project.env(env)?;
    let set = project.migrations(env)?;
    let _lock = project.lock(env)?;
    let (mut db, place) = open_or_create(project, env).await?;
    let applied = migrate_open(&mut db, &place, project, env, &set, options).await;
    db.close().await?;
    Ok(MigrateReport {
        env: env.name.clone(),
        applied: applied?,
    })
}

async fn migrate_open(
    db: &mut AnyBackend,
    place: &Place,
    project: &Project,
    env: &EnvConfig,
    set: &MigrationSet,
    options: MigrateOptions<'_>,
) -> Result<Vec<Applied>, Error> {
    let production = env.kind == EnvKind::Production;
    let approved = match production {
        true => match approve(
            db,
            env,
            set,
            options.target,
            options.resume,
            options.approve,
        )
        .await?
        {
            Some(versions) => Some(versions),
            None => return Ok(Vec::new()),
        },
        false => None,
    };
    before_apply(project, env).await?;
    let lock = MigrationLock::acquire(place.lock_target(), project.lock_timeout).await?;
    let timeouts = SessionTimeouts {
        statement: env.statement_timeout,
        lock: env.lock_timeout,
    };
    let applied = async {
        db.set_session_timeouts(&timeouts)
            .await
            .map_err(|e| Error::db("setting statement_timeout and lock_timeout", e))?;
        let options = ApplyOptions {
            target: options.target,
            hold_partial: production && !options.resume,
            timeouts,
            approved,
        };
        Ok::<_, Error>(migrate::apply(db, set, &env.name, &options).await?)
    }
    .await;
    let released = lock.release().await;
    let applied = applied?;
    released?;
    Ok(applied)
}

/// `up` on an env whose database exists: its pending migrations are applied the way
/// `migrate` applies them (drift check, migration lock, replica guard, timeouts). A
/// production env gets nothing applied by `up`: its pending migrations are refused and left
/// to `dbenv migrate`, which shows the plan and asks. `server_url`: the database of a
/// server env, which `up` has already brought up and found (`None` on SQLite).
pub(crate) async fn migrate_on_up(
    project: &Project,
    env: &EnvConfig,
    server_url: Option<String>,
) -> Result<Vec<Applied>, Error> {
    let set = project.migrations(env)?;
    let (mut db, place) = match server_url {
        Some(url) => (
            AnyBackend::connect(env.engine, &url).await?,
            Place::Server {
                engine: env.engine,
                url,
            },
        ),
        None => (
            open_existing(project, env).await?,
            Place::Sqlite(project.sqlite_file(env)?),
        ),
    };
    let mut refuse = |plan: &MigratePlan| -> Result<(), Error> {
        let files: Vec<&str> = plan.migrations.iter().map(|m| m.file.as_str()).collect();
        Err(Error::Refused(format!(
            "env {name} is a production env with {n} pending migration(s) ({files}); `up` does \
             not apply migrations to a production env: review them with `dbenv migrate {name} \
             --dry-run`, then apply them with `dbenv migrate {name}`",
            name = env.name,
            n = files.len(),
            files = files.join(", "),
        )))
    };
    let options = MigrateOptions {
        approve: Some(&mut refuse),
        ..MigrateOptions::default()
    };
    let applied = migrate_open(&mut db, &place, project, env, &set, options).await;
    db.close().await?;
    applied
}

/// A production env: plan, refuse a resume not asked for, show the plan and ask. `None`
/// when there is nothing to do; otherwise the versions confirmed.
async fn approve(
    db: &mut AnyBackend,
    env: &EnvConfig,
    set: &MigrationSet,
    target: Option<i64>,
    resume: bool,
    approve: Option<Approve<'_>>,
) -> Result<Option<Vec<i64>>, Error> {
    let steps = migrate::plan(db, set, &env.name, target).await?;
    if steps.is_empty() {
        return Ok(None);
    }
    if !resume {
        migrate::apply::hold_partial(db, &steps, &env.name).await?;
    }
    let versions = steps.iter().map(|s| s.version).collect();
    let plan = plan_of(env, steps);
    match approve {
        Some(approve) => approve(&plan)?,
        None => {
            return Err(Error::Refused(format!(
                "refusing to migrate {}: it is a production env and the plan was not confirmed",
                env.name
            )));
        }
    }
    Ok(Some(versions))
}

/// The replica guard (`migrate_guard` in `[env.<name>.replication]`): before the lock is
/// taken and anything is applied, the env's replicas must pass `dbenv check replication`
/// (no lag beyond the warning thresholds, every replica reachable and replaying). `refuse`
/// stops at once (exit 3); `wait` checks again every 2 s for as long as `--lock-timeout`.
async fn before_apply(project: &Project, env: &EnvConfig) -> Result<(), Error> {
    let guard = env
        .replication
        .as_ref()
        .map_or(MigrateGuard::Off, |r| r.migrate_guard);
    if guard == MigrateGuard::Off || env.replicas.is_empty() {
        return Ok(());
    }
    let deadline = std::time::Instant::now() + project.lock_timeout;
    loop {
        let report = replication::check(project, Some(&env.name)).await?;
        if report.status == Severity::Ok {
            return Ok(());
        }
        if guard == MigrateGuard::Refuse || std::time::Instant::now() >= deadline {
            let waited = match guard {
                MigrateGuard::Wait => format!(" after waiting {}s", project.lock_timeout.as_secs()),
                _ => String::new(),
            };
            return Err(Error::Refused(format!(
                "migrations of env {name} refused{waited}: its replicas are not healthy ({summary}); \
                 see `dbenv check replication {name}`, or set migrate_guard = \"off\" in \
                 [env.{name}.replication]",
                name = env.name,
                summary = report.summary,
            )));
        }
        tracing::info!(env = %env.name, status = %report.summary, "waiting for the replicas before migrating");
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
}

fn plan_of(env: &EnvConfig, migrations: Vec<PlannedMigration>) -> MigratePlan {
    MigratePlan {
        env: env.name.clone(),
        production: env.kind == EnvKind::Production,
        migrations,
    }
}

fn dialect_of(env: &EnvConfig) -> Dialect {
    match env.engine {
        EngineKind::Sqlite => Dialect::Sqlite,
        EngineKind::Postgres => Dialect::Postgres,
        EngineKind::Mysql | EngineKind::Mariadb => Dialect::Mysql,
    }
}

/// Where an env's database is, for its migration lock.
enum Place {
    Sqlite(PathBuf),
    #[allow(dead_code)] // with no server engine compiled in
    Server {
        engine: EngineKind,
        url: String,
    },
}

impl Place {
    fn lock_target(&self) -> LockTarget<'_> {
        match self {
            Place::Sqlite(path) => LockTarget::Sqlite(path),
            Place::Server { engine, url } => LockTarget::Server {
                engine: *engine,
                url,
            },
        }
    }
}

/// Where every migration stands on an env (no database yet: everything pending).
pub async fn migrate_status(
    project: &Project,
    env: Option<&str>,
) -> Result<Vec<StatusLine>, Error> {
    let env = project.env(env)?;
    let set = project.migrations(env)?;
    let (applied, progress) = match open_if_exists(project, env).await? {
        Some(mut db) => {
            let applied = db
                .applied_migrations()
                .await
                .map_err(|e| Error::db("reading _sqlx_migrations", e))?;
            let progress = db
                .statement_progress()
                .await
                .map_err(|e| Error::db("reading _dbenv_migration_progress", e))?;
            db.close().await?;
            (applied, progress)
        }
        None => (Vec::new(), Vec::new()),
    };
    let mut lines = migrate::status(&set, &applied);
    migrate::mark_partial(&mut lines, &progress);
    Ok(lines)
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
    let place = place_of(project, env).await?;
    let lock = MigrationLock::acquire(place.lock_target(), project.lock_timeout).await?;
    let reverted = migrate::revert(&mut db, &set, &env.name, to).await;
    let released = lock.release().await;
    db.close().await?;
    let reverted = reverted?;
    released?;
    Ok(MigrateReport {
        env: env.name.clone(),
        applied: reverted,
    })
}

/// Where an env's existing database is, for its migration lock.
async fn place_of(project: &Project, env: &EnvConfig) -> Result<Place, Error> {
    if env.engine.is_server() {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        {
            let (server, _) = super::server::ensure_up(project, env).await?;
            return Ok(Place::Server {
                engine: env.engine,
                url: server.url(),
            });
        }
    }
    Ok(Place::Sqlite(project.sqlite_file(env)?))
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

/// The env's database, created empty when missing, and where it is.
async fn open_or_create(project: &Project, env: &EnvConfig) -> Result<(AnyBackend, Place), Error> {
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
            let url = server.url();
            let db = AnyBackend::connect(env.engine, &url).await?;
            let place = Place::Server {
                engine: env.engine,
                url,
            };
            return Ok((db, place));
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
    Ok((AnyBackend::Sqlite(db), Place::Sqlite(path)))
}

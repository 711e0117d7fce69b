//! `dbenv status`: what runs where, at which migration, with how much data, how healthy.

use serde::Serialize;

use super::{Project, url};
use crate::config::EnvConfig;
use crate::engine::sqlite::{OpenMode, SqliteBackend};
use crate::engine::{AnyBackend, Backend};
use crate::error::Error;
use crate::migrate::{self, MigrationState};
use crate::state::EnvState;

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    pub env: String,
    pub kind: String,
    pub engine: String,
    pub provider: String,
    pub location: String,
    pub url: String,
    pub exists: bool,
    pub size_bytes: Option<u64>,
    pub server_version: Option<String>,
    /// "ok", or what is wrong.
    pub health: String,
    pub migrations: MigrationSummary,
    pub tables: Vec<TableCount>,
    pub state: Option<EnvState>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct MigrationSummary {
    pub latest_applied: Option<i64>,
    pub applied: usize,
    pub pending: usize,
    /// Changed, missing, out-of-order or dirty migrations.
    pub drift: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TableCount {
    pub table: String,
    pub rows: u64,
}

pub async fn status(project: &Project, env: Option<&str>) -> Result<Status, Error> {
    let env = project.env(env)?;
    let set = project.migrations(env)?;
    let mut status = Status {
        env: env.name.clone(),
        kind: env.kind.to_string(),
        engine: env.engine.to_string(),
        provider: env.provider.to_string(),
        location: String::new(),
        url: String::new(),
        exists: false,
        size_bytes: None,
        server_version: None,
        health: "not created: run `dbenv up`".into(),
        migrations: MigrationSummary {
            pending: set.migrations.len(),
            ..Default::default()
        },
        tables: Vec::new(),
        state: project.state.read_env(&env.name),
    };
    let db = if env.engine.is_server() {
        server_database(project, env, &mut status).await?
    } else {
        sqlite_database(project, env, &mut status).await?
    };
    let Some(mut db) = db else {
        return Ok(status);
    };
    status.server_version = db.server_version().await.ok();
    describe(&mut db, &set, &mut status).await?;
    db.close().await?;
    Ok(status)
}

/// The SQLite file, when it exists and is sound (`PRAGMA quick_check`).
async fn sqlite_database(
    project: &Project,
    env: &EnvConfig,
    status: &mut Status,
) -> Result<Option<AnyBackend>, Error> {
    let path = project.sqlite_file(env)?;
    status.location = path.display().to_string();
    status.url = url(project, env)?;
    status.exists = path.exists();
    status.size_bytes = std::fs::metadata(&path).ok().map(|m| m.len());
    if !status.exists {
        return Ok(None);
    }
    let mut db = match SqliteBackend::open(&path, OpenMode::Existing).await {
        Ok(db) => db,
        Err(e) => {
            status.health = format!("unusable: {e}");
            return Ok(None);
        }
    };
    status.health = match db.quick_check().await {
        Ok(r) if r == "ok" => "ok".into(),
        Ok(r) => format!("corrupt: {r}"),
        Err(e) => format!("unusable: {}", migrate::database_message(&e)),
    };
    Ok((status.health == "ok").then_some(AnyBackend::Sqlite(db)))
}

/// The env's database on its server, when the server runs (never started by `status`).
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn server_database(
    project: &Project,
    env: &EnvConfig,
    status: &mut Status,
) -> Result<Option<AnyBackend>, Error> {
    let Some(server) = super::server::known(project, env)? else {
        return Ok(None);
    };
    status.location = super::server::location(project, env);
    status.url = if env.kind == crate::config::EnvKind::Production {
        server.endpoint.redacted_url(&server.database)
    } else {
        server.url()
    };
    let (running, health) = super::server::health(project, env).await;
    status.health = health;
    if !running {
        return Ok(None);
    }
    let mut admin = match server.admin().await {
        Ok(admin) => admin,
        Err(e) => {
            status.health = format!("not answering: {e}");
            return Ok(None);
        }
    };
    status.exists = admin.database_exists(&server.database).await?;
    if !status.exists {
        status.health = format!(
            "server running, but database {} does not exist: run `dbenv up {}`",
            server.database, env.name
        );
        return Ok(None);
    }
    status.health = "ok".into();
    Ok(Some(AnyBackend::connect(env.engine, &server.url()).await?))
}

#[cfg(not(any(feature = "postgres", feature = "mysql")))]
async fn server_database(
    _: &Project,
    env: &EnvConfig,
    status: &mut Status,
) -> Result<Option<AnyBackend>, Error> {
    status.health = format!("this build of dbenv has no {} engine", env.engine);
    Ok(None)
}

/// Migration summary and row counts of a sound database.
async fn describe(
    db: &mut AnyBackend,
    set: &crate::migrate::MigrationSet,
    status: &mut Status,
) -> Result<(), Error> {
    let applied = db
        .applied_migrations()
        .await
        .map_err(|e| Error::db("reading _sqlx_migrations", e))?;
    let lines = migrate::status(set, &applied);
    let count = |s: MigrationState| lines.iter().filter(|l| l.state == s).count();
    status.migrations = MigrationSummary {
        latest_applied: applied.iter().map(|a| a.version).max(),
        applied: count(MigrationState::Applied),
        pending: count(MigrationState::Pending),
        drift: lines.len() - count(MigrationState::Applied) - count(MigrationState::Pending),
    };
    let schema = db.introspect().await?;
    for t in &schema.tables {
        let rows = db
            .count_rows(&t.name)
            .await
            .map_err(|e| Error::db(format!("counting {}", t.name), e))?;
        status.tables.push(TableCount {
            table: t.name.clone(),
            rows,
        });
    }
    Ok(())
}

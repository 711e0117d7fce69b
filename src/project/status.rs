//! `dbenv status`: what runs where, at which migration, with how much data, how healthy.

use serde::Serialize;

use super::{Project, url};
use crate::engine::Backend;
use crate::engine::sqlite::{OpenMode, SqliteBackend};
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
    let path = project.sqlite_file(env)?;
    let set = project.migrations()?;
    let mut status = Status {
        env: env.name.clone(),
        kind: env.kind.to_string(),
        engine: env.engine.to_string(),
        provider: env.provider.to_string(),
        location: path.display().to_string(),
        url: url(project, env)?,
        exists: path.exists(),
        size_bytes: std::fs::metadata(&path).ok().map(|m| m.len()),
        server_version: None,
        health: "not created: run `dbenv up`".into(),
        migrations: MigrationSummary {
            pending: set.migrations.len(),
            ..Default::default()
        },
        tables: Vec::new(),
        state: project.state.read_env(&env.name),
    };
    if !status.exists {
        return Ok(status);
    }
    let mut db = match SqliteBackend::open(&path, OpenMode::Existing).await {
        Ok(db) => db,
        Err(e) => {
            status.health = format!("unusable: {e}");
            return Ok(status);
        }
    };
    status.server_version = db.server_version().await.ok();
    status.health = match db.quick_check().await {
        Ok(r) if r == "ok" => "ok".into(),
        Ok(r) => format!("corrupt: {r}"),
        Err(e) => format!("unusable: {}", migrate::database_message(&e)),
    };
    if status.health != "ok" {
        return Ok(status);
    }
    let applied = db
        .applied_migrations()
        .await
        .map_err(|e| Error::db("reading _sqlx_migrations", e))?;
    let lines = migrate::status(&set, &applied);
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
    db.close().await?;
    Ok(status)
}

//! Templates on a database server: a database (PostgreSQL) or schema (MySQL/MariaDB) named
//! `dbenv_tpl_<hash>`, migrated and seeded once, then cloned by `up`, `reset` and fixtures.

use std::time::Instant;

use tracing::info;

use super::{TemplateInfo, TemplateKey, write_info};
use crate::engine::{AnyBackend, Backend, EngineKind, ServerAdmin};
use crate::error::Error;
use crate::migrate::{self, ApplyOptions, MigrationSet};
use crate::project::gc_server::drop_dead_runs;
use crate::provider::Endpoint;
use crate::seed::{self, Scenario, SeedOptions, SeedReport};
use crate::state::StateDir;

/// Prefix of every template database dbenv creates on a server.
pub const TEMPLATE_PREFIX: &str = "dbenv_tpl_";

/// The template database of `key` on a server.
pub fn server_database(key: &TemplateKey) -> String {
    format!("{TEMPLATE_PREFIX}{}", &key.hash[..16])
}

/// The template database for `key` on the server, built first when missing. Builders of
/// the same template wait for each other (a lock in `.dbenv/locks/`); the database appears
/// under its real name only once complete (built under a temporary name, then renamed).
/// Returns the database name, whether it was built now, and its row count when known.
pub async fn ensure_server(
    state: &StateDir,
    endpoint: &Endpoint,
    admin: &mut ServerAdmin,
    key: &TemplateKey,
    migrations: &MigrationSet,
    scenario: &Scenario,
    options: &SeedOptions,
) -> Result<(String, bool, u64), Error> {
    let name = server_database(key);
    let info_file = state
        .templates(&key.engine)
        .join(format!("{}.json", key.file_stem()));
    let known_rows = || {
        std::fs::read(&info_file)
            .ok()
            .and_then(|b| serde_json::from_slice::<TemplateInfo>(&b).ok())
            .map_or(0, |i| i.rows)
    };
    if admin.database_exists(&name).await? {
        return Ok((name, false, known_rows()));
    }
    let _lock = super::lock(state, key)?;
    if admin.database_exists(&name).await? {
        return Ok((name, false, known_rows()));
    }
    // Builds of this template by runs that were killed: nobody else will drop them.
    drop_dead_runs(admin, &format!("{name}_b")).await?;
    let start = Instant::now();
    let building = format!("{name}_b{}", std::process::id());
    let report = build_server(endpoint, admin, &building, migrations, scenario, options).await?;
    // The info first: a run killed between the two leaves an info without its template
    // (harmless: the next run builds it), never a template without its row count.
    let info = TemplateInfo::new(key, &report, start);
    write_info(&info_file, &info)?;
    admin.rename_database(&building, &name).await?;
    info!(template = %name, scenario = %key.scenario, rows = info.rows, ms = info.build_ms, "built template");
    Ok((name, true, info.rows))
}

/// Create `database` afresh (dropping a leftover of that name), migrate and seed it, and
/// prove its foreign keys. On failure the half-built database is dropped.
pub async fn build_server(
    endpoint: &Endpoint,
    admin: &mut ServerAdmin,
    database: &str,
    migrations: &MigrationSet,
    scenario: &Scenario,
    options: &SeedOptions,
) -> Result<SeedReport, Error> {
    admin.drop_database(database).await?;
    admin.create_database(database).await?;
    let result = migrate_and_seed(endpoint, database, migrations, scenario, options).await;
    if result.is_err() {
        let _ = admin.drop_database(database).await;
    }
    result
}

async fn migrate_and_seed(
    endpoint: &Endpoint,
    database: &str,
    migrations: &MigrationSet,
    scenario: &Scenario,
    options: &SeedOptions,
) -> Result<SeedReport, Error> {
    let mut db = AnyBackend::connect(endpoint.engine, &endpoint.url(database)).await?;
    migrate::apply(&mut db, migrations, "template", &ApplyOptions::default()).await?;
    db.check_foreign_keys_at_commit()
        .await
        .map_err(|e| Error::db("deferring foreign key checks", e))?;
    let report = seed::seed(&mut db, scenario, options).await?;
    // No proof pass afterwards: PostgreSQL validates each foreign key when it is added back
    // before the commit, and MySQL/MariaDB keep their checks on (switching them off made
    // bulk inserts slower there). Tests prove the data with the engines' own checks.
    if endpoint.engine == EngineKind::Postgres {
        // Every copy inherits this: without it, the first read of each copy sets hint bits
        // on every page it touches (dirtying pages the next copy's checkpoint must write)
        // and plans without statistics.
        db.execute("VACUUM (FREEZE, ANALYZE)")
            .await
            .map_err(|e| Error::db(format!("vacuuming the template {database}"), e))?;
    }
    db.close().await?;
    Ok(report)
}

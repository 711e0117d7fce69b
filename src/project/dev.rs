//! The development loop: `up`, `reset`, `seed`, `down`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;
use tracing::info;

use super::guard::{Confirmation, guard};
use super::{Project, open_existing, url};
use crate::config::EnvConfig;
use crate::engine::Backend;
use crate::engine::sqlite::ensure_sqlite_file;
use crate::error::Error;
use crate::migrate::Applied;
use crate::seed::{self, Progress, SeedOptions};
use crate::state::{EnvState, copy_atomic, remove_stale_temps, rename_synced, temp_beside};
use crate::template::{self, TemplateKey};

#[derive(Clone, Default)]
pub struct ResetOptions {
    /// The scenario; default: the env's `scenario`, else `empty`.
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    /// Rebuild from scratch instead of copying a template (and keep no template).
    pub no_template: bool,
    pub progress: Option<Arc<dyn Progress>>,
    pub confirmation: Confirmation,
}

/// What `up` or `reset` did.
#[derive(Debug, Clone, Serialize)]
pub struct ResetReport {
    pub env: String,
    pub url: String,
    /// `up` created the database (false: it existed and was only migrated).
    pub created: bool,
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    pub rows: u64,
    /// The template file used, when one was.
    pub template: Option<PathBuf>,
    pub template_built: bool,
    pub migrations_applied: Vec<Applied>,
    pub elapsed_ms: u64,
}

/// Provision an env: create its database from the template of its scenario, or, when it
/// exists, apply pending migrations only (data is never replaced by `up`).
pub async fn up(
    project: &Project,
    env: Option<&str>,
    options: &ResetOptions,
) -> Result<ResetReport, Error> {
    let start = Instant::now();
    let env = project.env(env)?;
    let _lock = project.lock(env)?;
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    if env.engine.is_server() {
        return super::server_dev::up(project, env, options, start).await;
    }
    let path = project.sqlite_file(env)?;
    if !path.exists() {
        return materialize(project, env, &path, options, start).await;
    }
    let applied = super::migrations::migrate_on_up(project, env, None).await?;
    let state = project.state.read_env(&env.name).unwrap_or_default();
    Ok(ResetReport {
        env: env.name.clone(),
        url: url(project, env)?,
        created: false,
        scenario: state.scenario,
        seed: state.seed,
        rows: 0,
        template: None,
        template_built: false,
        migrations_applied: applied,
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}

/// Replace an env's data with migrations + a scenario, from its template.
pub async fn reset(
    project: &Project,
    env: Option<&str>,
    options: &ResetOptions,
) -> Result<ResetReport, Error> {
    let start = Instant::now();
    let env = project.env(env)?;
    guard(env, "reset", &options.confirmation)?;
    let _lock = project.lock(env)?;
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    if env.engine.is_server() {
        return super::server_dev::reset(project, env, options, start).await;
    }
    let path = project.sqlite_file(env)?;
    if path.exists() {
        // Never replace something that is not a database we made: a mistyped `path` must
        // not cost anyone a file.
        ensure_sqlite_file(&path)?;
    }
    materialize(project, env, &path, options, start).await
}

async fn materialize(
    project: &Project,
    env: &EnvConfig,
    path: &Path,
    options: &ResetOptions,
    start: Instant,
) -> Result<ResetReport, Error> {
    let BuildInputs {
        migrations,
        name,
        scenario,
        seed,
        seed_options,
    } = BuildInputs::resolve(project, env, options)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        remove_stale_temps(dir);
    }
    let (template, built, rows, applied) = if options.no_template {
        let temp = temp_beside(path);
        let report = template::build_sqlite(&temp, &migrations, &scenario, &seed_options).await;
        let report = report.map_err(|e| {
            let _ = std::fs::remove_file(&temp);
            let dir = path.parent().unwrap_or(path);
            e.naming_full_disk(dir, &format!("building {}", path.display()))
        })?;
        remove_sidecars(path);
        rename_synced(&temp, path)?;
        (None, false, report.total_rows(), Vec::new())
    } else {
        let key = TemplateKey::new("sqlite", &migrations, &scenario, seed);
        let (template, built) =
            template::ensure_sqlite(&project.state, &key, &migrations, &scenario, &seed_options)
                .await?;
        remove_sidecars(path);
        copy_atomic(&template, path, false)?;
        let rows = std::fs::read(template::info_path(&template))
            .ok()
            .and_then(|b| serde_json::from_slice::<template::TemplateInfo>(&b).ok())
            .map_or(0, |i| i.rows);
        (Some(template), built, rows, Vec::new())
    };
    let state = EnvState {
        engine: "sqlite".into(),
        scenario: Some(name.clone()),
        seed: Some(seed),
        seeded_on_top: Vec::new(),
        template: template.as_ref().map(|t| t.display().to_string()),
        updated_at: chrono::Utc::now().to_rfc3339(),
        ..Default::default()
    };
    project.state.write_env(&env.name, &state)?;
    info!(env = %env.name, scenario = %name, seed, rows, "database ready");
    Ok(ResetReport {
        env: env.name.clone(),
        url: url(project, env)?,
        created: true,
        scenario: Some(name),
        seed: Some(seed),
        rows,
        template,
        template_built: built,
        migrations_applied: applied,
        elapsed_ms: start.elapsed().as_millis() as u64,
    })
}

/// What a database is built from: the env's migrations, the scenario and seed asked for
/// (else the env's), shared by every engine's `up` and `reset`.
pub struct BuildInputs {
    pub migrations: crate::migrate::MigrationSet,
    pub name: String,
    pub scenario: seed::Scenario,
    pub seed: u64,
    pub seed_options: SeedOptions,
}

impl BuildInputs {
    pub fn resolve(
        project: &Project,
        env: &EnvConfig,
        options: &ResetOptions,
    ) -> Result<BuildInputs, Error> {
        let name = options
            .scenario
            .clone()
            .unwrap_or_else(|| project.default_scenario(env));
        let scenario = project.scenario(&name)?;
        let seed = options.seed.or(env.seed).unwrap_or(scenario.seed);
        Ok(BuildInputs {
            migrations: project.migrations(env)?,
            name,
            scenario,
            seed,
            seed_options: SeedOptions {
                seed: Some(seed),
                progress: options.progress.clone(),
            },
        })
    }
}

/// A journal or WAL left by the previous file would be replayed into the new one.
fn remove_sidecars(path: &Path) {
    for suffix in ["-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

#[derive(Clone, Default)]
pub struct SeedOnTopOptions {
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    pub progress: Option<Arc<dyn Progress>>,
    pub confirmation: Confirmation,
}

/// Add a scenario's data to an env's current data, in one transaction.
pub async fn seed_on_top(
    project: &Project,
    env: Option<&str>,
    options: &SeedOnTopOptions,
) -> Result<seed::SeedReport, Error> {
    let env = project.env(env)?;
    guard(env, "seed", &options.confirmation)?;
    let _lock = project.lock(env)?;
    let mut db = open_existing(project, env).await?;
    let name = options
        .scenario
        .clone()
        .unwrap_or_else(|| project.default_scenario(env));
    let scenario = project.scenario(&name)?;
    // Drawing the same values as the rows already there would only produce collisions:
    // move to another (still reproducible) stream per amount of existing data.
    let existing = total_rows(&mut db).await?;
    let seed = options.seed.unwrap_or(scenario.seed.wrapping_add(existing));
    let report = seed::seed(
        &mut db,
        &scenario,
        &SeedOptions {
            seed: Some(seed),
            progress: options.progress.clone(),
        },
    )
    .await?;
    db.close().await?;
    let mut state = project.state.read_env(&env.name).unwrap_or_default();
    state.engine = env.engine.to_string();
    state.seeded_on_top.push(name);
    state.updated_at = chrono::Utc::now().to_rfc3339();
    project.state.write_env(&env.name, &state)?;
    Ok(report)
}

async fn total_rows<B: Backend>(db: &mut B) -> Result<u64, Error> {
    let schema = db.introspect().await?;
    let mut total = 0;
    for t in &schema.tables {
        total += db
            .count_rows(&t.name)
            .await
            .map_err(|e| Error::db(format!("counting {}", t.name), e))?;
    }
    Ok(total)
}

#[derive(Debug, Clone, Serialize)]
pub struct DownReport {
    pub env: String,
    pub purged: bool,
    pub removed: Vec<PathBuf>,
    pub message: String,
}

/// Stop what `up` started; with `purge`, delete its data too.
pub async fn down(
    project: &Project,
    env: Option<&str>,
    purge: bool,
    confirmation: &Confirmation,
) -> Result<DownReport, Error> {
    let env = project.env(env)?;
    if purge {
        guard(env, "purge the data", confirmation)?;
    }
    let _lock = project.lock(env)?;
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    if env.engine.is_server() {
        return down_server(project, env, purge).await;
    }
    let path = project.sqlite_file(env)?;
    if !purge {
        return Ok(DownReport {
            env: env.name.clone(),
            purged: false,
            removed: Vec::new(),
            message: format!(
                "SQLite runs in-process: nothing to stop; the data stays in {} (use --purge to delete it)",
                path.display()
            ),
        });
    }
    if path.exists() {
        // `up` and `reset` refuse such a file; deleting it would be worse.
        ensure_sqlite_file(&path)?;
    }
    let mut removed = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal", ".migrate-lock"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let p = PathBuf::from(p);
        if std::fs::remove_file(&p).is_ok() {
            removed.push(p);
        }
    }
    project.state.remove_env(&env.name)?;
    let message = if removed.is_empty() {
        "nothing to delete".to_string()
    } else {
        format!("deleted {}", path.display())
    };
    Ok(DownReport {
        env: env.name.clone(),
        purged: true,
        removed,
        message,
    })
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn down_server(project: &Project, env: &EnvConfig, purge: bool) -> Result<DownReport, Error> {
    let mut message = super::server::stop(project, env, purge).await?;
    if purge {
        if env.provider == crate::config::ProviderKind::External
            && let Some(db) = super::server_dev::drop_external_database(project, env).await?
        {
            message =
                format!("dropped database {db} on the external server (the server keeps running)");
        }
        project.state.remove_env(&env.name)?;
    }
    Ok(DownReport {
        env: env.name.clone(),
        purged: purge,
        removed: Vec::new(),
        message,
    })
}

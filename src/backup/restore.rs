//! `dbenv backup restore ID [--to ENV]`: put a backup back, into its env or another one.
//!
//! Nothing is replaced until the restored copy is complete: SQLite restores into a
//! temporary file beside the database, checked, then renamed over it; servers restore into
//! a new database, then swap names (the old database is dropped last). A restore that fails
//! leaves the env's database as it was. Restoring into a production env needs `--force`
//! and `--confirm ENV` (DESIGN.md §6).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;
use tracing::info;

use super::manifest::Manifest;
use super::pipe;
use super::store::Fetched;
use super::take::{blocking, temp_path};
use super::tools::{Job, Running, Tool};
use super::{BackupId, Target, catalog};
use crate::config::{EngineKind, EnvConfig};
use crate::error::{Error, IoContext};
use crate::project::{Confirmation, Project, guard};
use crate::provider::Endpoint;

#[derive(Debug, Clone, Default)]
pub struct RestoreOptions {
    /// Restore into this env instead of the backup's own.
    pub to: Option<String>,
    pub confirmation: Confirmation,
}

#[derive(Debug, Clone, Serialize)]
pub struct RestoreReport {
    pub id: String,
    pub from_env: String,
    pub env: String,
    /// The database (server) or file (SQLite) that now holds the backup's data.
    pub database: String,
    pub duration_ms: u64,
}

/// Restore backup `id` of `env` (see the module docs).
pub async fn restore(
    project: &Project,
    env: Option<&str>,
    id: &str,
    options: &RestoreOptions,
) -> Result<RestoreReport, Error> {
    let id = BackupId::parse(id)?;
    let source = Target::for_id(project, env)?;
    let into = target_env(project, env, options.to.as_deref())?;
    guard(into, "restore a backup", &options.confirmation)?;
    let clock = Instant::now();
    let manifest = catalog::load(&source, &id).await?;
    compatible(&manifest, into)?;
    let _lock = project.state.lock_env(&into.name, project.lock_timeout)?;
    let fetched = checked_data(&source, &manifest).await?;
    info!(id = %id, env = %into.name, "restoring");
    let database = match into.engine {
        EngineKind::Sqlite => sqlite(project, into, &manifest, &fetched).await?,
        _ => server(project, into, &manifest, &fetched).await?,
    };
    Ok(RestoreReport {
        id: id.to_string(),
        from_env: source.env.name.clone(),
        env: into.name.clone(),
        database,
        duration_ms: clock.elapsed().as_millis() as u64,
    })
}

/// The env a restore writes into: `to`, else the env holding the backups (`env`, else the
/// only env with backups configured).
pub fn target_env<'a>(
    project: &'a Project,
    env: Option<&str>,
    to: Option<&str>,
) -> Result<&'a EnvConfig, Error> {
    match to {
        Some(to) => project.env(Some(to)),
        None => Ok(Target::for_id(project, env)?.env),
    }
}

/// A backup restores into an env of the same engine (MySQL and MariaDB share a format).
fn compatible(manifest: &Manifest, into: &EnvConfig) -> Result<(), Error> {
    let family = |e: EngineKind| match e {
        EngineKind::Mariadb => EngineKind::Mysql,
        e => e,
    };
    if family(manifest.engine) != family(into.engine) {
        return Err(Error::Unsupported(format!(
            "backup {} is a {} backup; env {} uses {}: restore it into a {} env",
            manifest.id, manifest.engine, into.name, into.engine, manifest.engine
        )));
    }
    Ok(())
}

/// The backup's data on this machine, its checksum proven.
pub(crate) async fn checked_data(
    target: &Target<'_>,
    manifest: &Manifest,
) -> Result<Fetched, Error> {
    let fetched = target.store.fetch(&manifest.file).await?;
    let path = fetched.path.clone();
    let (sha, size) = blocking(move || pipe::hash_file(&path).at(&path)).await?;
    if sha != manifest.sha256 || size != manifest.stored_bytes {
        return Err(Error::State(checksum_mismatch(manifest, &sha, size)));
    }
    Ok(fetched)
}

pub(crate) fn checksum_mismatch(manifest: &Manifest, sha: &str, size: u64) -> String {
    format!(
        "checksum failed: the stored data of backup {} has SHA-256 {sha} ({size} bytes), its manifest says {} ({} bytes); the file is damaged: use another backup",
        manifest.id, manifest.sha256, manifest.stored_bytes
    )
}

async fn sqlite(
    project: &Project,
    into: &EnvConfig,
    manifest: &Manifest,
    fetched: &Fetched,
) -> Result<String, Error> {
    let target = project.sqlite_file(into)?;
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).at(dir)?;
        crate::state::remove_stale_temps(dir);
    }
    let temp = temp_path(crate::state::temp_beside(&target))?;
    let _ = std::fs::remove_file(&temp);
    let (from, compression, to) = (
        fetched.path.clone(),
        manifest.compression,
        temp.to_path_buf(),
    );
    blocking(move || {
        pipe::decompress_to(&from, compression, &to).at(&to)?;
        let problems = super::inspect::sqlite_problems(&to, super::inspect::Thoroughness::Quick)?;
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::State(format!(
                "the restored copy is not sound: {}",
                problems.join("; ")
            )))
        }
    })
    .await?;
    settle_wal(&target).await;
    crate::state::rename_synced(&temp, &target)?;
    // Renamed: the temporary path is the database now, not something to delete.
    let _ = temp.keep();
    info!(path = %target.display(), "restored");
    Ok(target.display().to_string())
}

/// Before a file replaces the database, fold the old database's WAL into it, so no stale
/// `-wal` file is ever replayed onto the restored one.
async fn settle_wal(target: &Path) {
    let wal = PathBuf::from(format!("{}-wal", target.display()));
    if !wal.exists() {
        return;
    }
    let target = target.to_path_buf();
    let _ = blocking(move || {
        #[cfg(feature = "sqlite")]
        if let Ok(conn) = rusqlite::Connection::open(&target) {
            let _ = conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE); PRAGMA journal_mode = DELETE;");
        }
        Ok(())
    })
    .await;
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn server(
    project: &Project,
    into: &EnvConfig,
    manifest: &Manifest,
    fetched: &Fetched,
) -> Result<String, Error> {
    let (server, _) = crate::project::server::ensure_up(project, into).await?;
    let mut admin = server.admin().await?;
    let db = server.database.clone();
    clean_killed_restores(&mut admin, &db).await?;
    let fresh = short_name(&format!("{db}_restore_{}", std::process::id()));
    admin.drop_database(&fresh).await?;
    admin.create_database(&fresh).await?;
    let restored = restore_database(
        &server.endpoint,
        into.bin_dir.as_deref(),
        &fresh,
        manifest,
        &fetched.path,
    )
    .await;
    if let Err(e) = restored {
        let _ = admin.drop_database(&fresh).await;
        return Err(e);
    }
    swap(&server, &mut admin, &fresh, &db).await?;
    info!(database = %db, "restored");
    Ok(db)
}

/// What restores killed half-way left (the env's lock is held, so none is running): a
/// database that had stepped aside for the restored copy takes its name back when that
/// copy never got it, or goes when it did; half-restored copies go.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn clean_killed_restores(
    admin: &mut crate::engine::ServerAdmin,
    db: &str,
) -> Result<(), Error> {
    use crate::project::gc_server::{dead_run, drop_dead_runs};
    let stepped_aside = format!("{db}_old_");
    for old in admin.list_databases(&stepped_aside).await? {
        if !dead_run(&old, &stepped_aside) {
            continue;
        }
        if admin.database_exists(db).await? {
            admin.drop_database(&old).await?;
        } else {
            admin.rename_database(&old, db).await?;
            info!(database = %db, "put back the database a killed restore had moved aside");
        }
    }
    drop_dead_runs(admin, &format!("{db}_restore_")).await?;
    Ok(())
}

/// The old database steps aside, the restored one takes its name, the old one goes; on
/// failure the old one comes back.
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn swap(
    server: &crate::project::server::ServerEnv,
    admin: &mut crate::engine::ServerAdmin,
    fresh: &str,
    db: &str,
) -> Result<(), Error> {
    #[cfg(feature = "mysql")]
    let carried = match server.endpoint.engine {
        EngineKind::Postgres => None,
        _ => {
            let url = server.url_of(server.endpoint.admin_database());
            Some((
                super::routines::read(&url, fresh).await?,
                super::routines::read(&url, db).await?,
                url,
            ))
        }
    };
    #[cfg(not(feature = "mysql"))]
    let _ = server;
    if !admin.database_exists(db).await? {
        admin.rename_database(fresh, db).await?;
    } else {
        let old = short_name(&format!("{db}_old_{}", std::process::id()));
        admin.drop_database(&old).await?;
        admin.rename_database(db, &old).await?;
        if let Err(e) = admin.rename_database(fresh, db).await {
            let _ = admin.rename_database(&old, db).await;
            #[cfg(feature = "mysql")]
            if let Some((_, old_routines, url)) = &carried {
                let _ = old_routines.create_in(url, db).await;
            }
            return Err(e);
        }
        admin.drop_database(&old).await?;
    }
    #[cfg(feature = "mysql")]
    if let Some((routines, _, url)) = &carried
        && !routines.is_empty()
    {
        routines.create_in(url, db).await?;
    }
    Ok(())
}

#[cfg(not(any(feature = "postgres", feature = "mysql")))]
async fn server(_: &Project, into: &EnvConfig, _: &Manifest, _: &Fetched) -> Result<String, Error> {
    Err(Error::Unsupported(format!(
        "this build of dbenv has no {} engine",
        into.engine
    )))
}

/// Identifiers stay within PostgreSQL's 63 bytes and MySQL's 64.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
fn short_name(name: &str) -> String {
    name.chars().take(63).collect()
}

/// Stream the backup at `data` through the engine's restore tool into the existing empty
/// `database`.
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) async fn restore_database(
    endpoint: &Endpoint,
    bin_dir: Option<&Path>,
    database: &str,
    manifest: &Manifest,
    data: &Path,
) -> Result<(), Error> {
    let tool = Tool::find(Job::Restore, endpoint, bin_dir)?;
    let command = tool.restore(database);
    let what = format!("{} into database {database}", tool.name());
    let (data, compression) = (data.to_path_buf(), manifest.compression);
    blocking(move || {
        let mut running = Running::spawn(command, &what, true, false)?;
        let mut stdin = running.child.stdin.take().expect("piped stdin");
        let fed = pipe::open_decompressed(&data, compression)
            .map(|reader| pipe::Progress::new(reader, "restoring"))
            .and_then(|mut reader| {
                let mut buf = vec![0u8; 1 << 20];
                pipe::copy(&mut reader, &mut stdin, &mut buf).map(drop)
            })
            .and_then(|()| stdin.flush());
        drop(stdin);
        // The tool's own error says more than a broken pipe: report it first.
        running.finish()?;
        drop(tool);
        fed.map_err(|e| Error::State(format!("feeding the backup to {what}: {e}")))
    })
    .await
}

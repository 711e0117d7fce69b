//! `dbenv backup ENV`: take a backup now.
//!
//! The order is what makes a backup trustworthy: leftovers of killed backups are removed
//! (under the storage lock), the data streams to a temporary name (or an unfinished
//! multipart upload), is synced and renamed (or the upload completed), and only then is
//! the manifest written. A backup without its manifest does not exist.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use chrono::{SecondsFormat, Utc};
use tracing::info;

use super::inspect::{self, Contents};
use super::manifest::{self, Manifest};
use super::pipe::{self, Codec, Totals};
use super::store::{Sink, Store};
use super::tools::Running;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use super::tools::{Job, Tool};
use super::{BackupId, Target, catalog};
use crate::config::{EngineKind, EnvConfig};
use crate::error::Error;
use crate::project::Project;

/// Where the bytes of a backup come from.
enum Source {
    /// A consistent copy of a SQLite file (removed by the caller when done).
    File(PathBuf),
    /// A SQLite file that cannot change while the caller's read transaction is open.
    #[cfg(feature = "sqlite")]
    Locked(PathBuf),
    /// A dump tool's stdout.
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    Tool(Command, String),
    /// A `mariadb-dump`/`mysqldump` stdout, its rows counted as they pass.
    #[cfg(feature = "mysql")]
    SqlDump(Command, String),
}

/// Rows per table counted in the stream itself (SQL dumps).
type Counted = Option<std::collections::BTreeMap<String, u64>>;

/// Take a backup of `env` now; returns its manifest once it is complete.
pub async fn backup(project: &Project, env: Option<&str>) -> Result<Manifest, Error> {
    let target = Target::open(project, env)?;
    let _lock = target.lock(project)?;
    catalog::clean_leftovers(&target.store).await?;
    let clock = Instant::now();
    let started = Utc::now();
    let id = BackupId::new(started);
    let env = target.env;
    let compression = target.config.compression;
    let codec = Codec {
        compression,
        level: target.config.compression_level,
    };
    let file = manifest::data_name(&id, env.engine, compression);
    info!(env = %env.name, id = %id, to = %target.store.describe(), "backup started");
    let (totals, contents, database) = match env.engine {
        EngineKind::Sqlite => sqlite(project, env, &target.store, &file, codec).await?,
        _ => server(project, env, &target.store, &file, codec).await?,
    };
    let finished = Utc::now();
    let manifest = Manifest {
        id: id.to_string(),
        env: env.name.clone(),
        engine: env.engine,
        format: manifest::format_of(env.engine).to_string(),
        server_version: contents.server_version,
        migration_version: contents.migration_version,
        database,
        file,
        compression,
        raw_bytes: totals.raw_bytes,
        stored_bytes: totals.stored_bytes,
        sha256: totals.sha256,
        started_at: started.to_rfc3339_opts(SecondsFormat::Millis, true),
        finished_at: finished.to_rfc3339_opts(SecondsFormat::Millis, true),
        duration_ms: clock.elapsed().as_millis() as u64,
        dbenv_version: env!("CARGO_PKG_VERSION").to_string(),
        tables: contents.tables,
        counts_exact: true,
    };
    // Last: from here on the backup exists.
    target
        .store
        .put(&manifest::manifest_name(&id), &manifest.to_bytes())
        .await?;
    info!(id = %id, stored_bytes = manifest.stored_bytes, ms = manifest.duration_ms, "backup complete");
    Ok(manifest)
}

async fn sqlite(
    project: &Project,
    env: &EnvConfig,
    store: &Store,
    file: &str,
    codec: Codec,
) -> Result<(Totals, Contents, String), Error> {
    let path = project.sqlite_file(env)?;
    if !path.exists() {
        return Err(Error::State(format!(
            "env {} has no database to back up ({} does not exist); run `dbenv up {}` first",
            env.name,
            path.display(),
            env.name
        )));
    }
    // Rollback-journal databases (dbenv's own): under a read transaction no writer can
    // commit, so the file itself is streamed, consistent, in one pass, while its rows are
    // counted in that same transaction (held until both are done).
    let (source, timeout) = (path.clone(), project.lock_timeout);
    let locked = blocking(move || inspect::sqlite_read_lock(&source, timeout)).await?;
    if let Some(lock) = locked {
        let source = path.clone();
        let counting = blocking(move || {
            let contents = inspect::sqlite_contents_in(&lock, &source)?;
            Ok((lock, contents))
        });
        let streaming = stream(Source::Locked(path.clone()), store, file, codec);
        let (totals, counted) = tokio::join!(streaming, counting);
        let (totals, (lock, contents)) = both(store, file, totals, counted).await?;
        drop(lock);
        return Ok((totals, contents, path.display().to_string()));
    }
    // WAL databases: a copy with the online backup API, beside the database (same file
    // system, same privacy); a killed backup's copy carries the temporary marker and is
    // removed by the next run. The copy is streamed and counted at the same time.
    let dir = path.parent().map(PathBuf::from).unwrap_or_default();
    crate::state::remove_stale_temps(&dir);
    let copy = temp_path(crate::state::temp_beside(&path.with_extension("backup")))?;
    let _ = std::fs::remove_file(&copy);
    let (source, copy_path) = (path.clone(), copy.to_path_buf());
    blocking(move || inspect::sqlite_copy(&source, &copy_path)).await?;
    let copy_path = copy.to_path_buf();
    let counting = blocking(move || inspect::sqlite_contents(&copy_path));
    let streaming = stream(Source::File(copy.to_path_buf()), store, file, codec);
    let (totals, contents) = tokio::join!(streaming, counting);
    let (totals, contents) = both(store, file, totals, contents).await?;
    drop(copy);
    Ok((totals, contents, path.display().to_string()))
}

/// The results of a backup's two concurrent halves: the stored data and its row counts.
/// Data stored for counts that failed is deleted (it has no manifest, so it was never a
/// backup).
async fn both<T>(
    store: &Store,
    file: &str,
    totals: Result<Totals, Error>,
    contents: Result<T, Error>,
) -> Result<(Totals, T), Error> {
    let totals = totals?;
    match contents {
        Ok(contents) => Ok((totals, contents)),
        Err(e) => {
            let _ = store.delete(file).await;
            Err(e)
        }
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn server(
    project: &Project,
    env: &EnvConfig,
    store: &Store,
    file: &str,
    codec: Codec,
) -> Result<(Totals, Contents, String), Error> {
    let (server, _) = crate::project::server::ensure_up(project, env).await?;
    let tool = Tool::find(Job::Dump, &server.endpoint, env.bin_dir.as_deref())?;
    let url = server.url();
    let db = server.database.clone();
    let what = format!("{} of database {db}", tool.name());
    let (totals, contents) = match env.engine {
        // The rows are counted while the tool dumps: in the very snapshot pg_dump dumps on
        // PostgreSQL, in one taken just before the dump's own on MySQL.
        #[cfg(feature = "postgres")]
        EngineKind::Postgres => {
            let mut snapshot = inspect::pg_snapshot(&url, &db).await?;
            let command = tool.dump(&db, Some(&snapshot.id));
            let streaming = stream(Source::Tool(command, what), store, file, codec);
            let (totals, contents) = tokio::join!(streaming, snapshot.contents(&db));
            snapshot.end().await;
            both(store, file, totals, contents).await?
        }
        #[cfg(feature = "mysql")]
        EngineKind::Mysql | EngineKind::Mariadb => {
            // The rows are counted in the dump as it streams: exactly what a restore will
            // hold. The versions come from a snapshot taken just before the dump's own.
            let mut contents = inspect::mysql_versions(&url, &db).await?;
            let command = tool.dump(&db, None);
            let source = Source::SqlDump(command, what);
            let (totals, tables) = stream_counted(source, store, file, codec).await?;
            contents.tables = tables.unwrap_or_default();
            (totals, contents)
        }
        other => {
            return Err(Error::Unsupported(format!(
                "no backups for {other} in this build"
            )));
        }
    };
    drop(tool);
    Ok((totals, contents, db))
}

#[cfg(not(any(feature = "postgres", feature = "mysql")))]
async fn server(
    _: &Project,
    env: &EnvConfig,
    _: &Store,
    _: &str,
    _: Codec,
) -> Result<(Totals, Contents, String), Error> {
    Err(Error::Unsupported(format!(
        "env {} uses {}, but this build of dbenv has no server engines",
        env.name, env.engine
    )))
}

/// Stream `source` into the data file `name` of `store`, committed on success and removed
/// on failure.
async fn stream(source: Source, store: &Store, name: &str, codec: Codec) -> Result<Totals, Error> {
    Ok(stream_counted(source, store, name, codec).await?.0)
}

/// [`stream`], with the rows counted in the stream when the source is a SQL dump.
async fn stream_counted(
    source: Source,
    store: &Store,
    name: &str,
    codec: Codec,
) -> Result<(Totals, Counted), Error> {
    let sink = store.sink(name).await?;
    let result = blocking(move || pump(source, sink, codec)).await;
    if result.is_err() {
        store.discard_partial(name);
        if pipe::cancelled() {
            return Err(Error::Interrupted(
                "the backup was cancelled; its partial file was removed".into(),
            ));
        }
    }
    result
}

fn pump(source: Source, sink: Sink, codec: Codec) -> Result<(Totals, Counted), Error> {
    let io_error =
        |what: &str, e: std::io::Error| Error::State(format!("writing the backup ({what}): {e}"));
    match source {
        Source::File(path) => {
            let file = std::fs::File::open(&path).map_err(|e| Error::io(path, e))?;
            let (sink, totals) = pipe::store(file, sink, codec).map_err(|e| io_error("copy", e))?;
            sink.commit()?;
            Ok((totals, None))
        }
        #[cfg(feature = "sqlite")]
        Source::Locked(path) => {
            let file = std::fs::File::open(&path).map_err(|e| Error::io(path.clone(), e))?;
            let file = pipe::Progress::new(file, "compressing the database");
            let (sink, totals) = pipe::store(file, sink, codec).map_err(|e| io_error("copy", e))?;
            sink.commit()?;
            Ok((totals, None))
        }
        Source::Tool(command, what) => {
            let totals = pump_tool(command, &what, sink, codec, |r| r)?;
            Ok((totals, None))
        }
        #[cfg(feature = "mysql")]
        Source::SqlDump(command, what) => {
            let mut rows = None;
            let totals = pump_tool(command, &what, sink, codec, |r| {
                rows.insert(super::dump_rows::DumpRows::new(r))
            })?;
            Ok((totals, rows.map(|r| r.tables().clone())))
        }
    }
}

/// Run a dump tool and store its stdout, read through `wrap`.
fn pump_tool<R: std::io::Read>(
    command: Command,
    what: &str,
    sink: Sink,
    codec: Codec,
    wrap: impl FnOnce(pipe::Progress<std::process::ChildStdout>) -> R,
) -> Result<Totals, Error> {
    let mut running = Running::spawn(command, what, false, true)?;
    let stdout = running.child.stdout.take().expect("piped stdout");
    let source = wrap(pipe::Progress::new(stdout, "dumping"));
    match pipe::store(source, sink, codec) {
        Ok((sink, totals)) => match running.finish() {
            Ok(()) => {
                sink.commit()?;
                Ok(totals)
            }
            Err(e) => {
                sink.abort();
                Err(e)
            }
        },
        Err(e) => {
            running.kill();
            Err(Error::State(format!("writing the backup ({what}): {e}")))
        }
    }
}

/// Run blocking work (files, child processes, compression) off the async threads.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Error> + Send + 'static,
) -> Result<T, Error> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::State(format!("a backup task failed: {e}")))?
}

/// A temporary path (removed on drop) for a file dbenv is about to create.
pub(crate) fn temp_path(path: PathBuf) -> Result<tempfile::TempPath, Error> {
    tempfile::TempPath::try_from_path(&path).map_err(|e| Error::io(path, e))
}

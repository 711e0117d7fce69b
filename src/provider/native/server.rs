//! The engine-independent algorithm: find binaries, prepare the folder, initialise, start,
//! wait until a query succeeds; stop and purge.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::Path;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use tracing::{debug, info, warn};

use super::process;
use super::user::RunAs;
use super::{Binaries, Ctx, Family, Health, Layout, NativeServer, NativeSpec, locate, mariadb};
use super::{postgres, start};
use crate::error::{Error, IoContext};
use crate::state::{FileLock, rename_synced};

/// Make sure the env's server runs and answers queries: initialise the data folder when it
/// is missing (or left half-made by a failed attempt), start the server when it is stopped
/// (clearing what a killed one left), or only check a running one. `previous` is what the
/// last call returned, for its port and binaries.
#[tracing::instrument(skip_all, fields(dir = %spec.dir.display()), err)]
pub async fn ensure_running(
    spec: &NativeSpec<'_>,
    previous: Option<&NativeServer>,
) -> Result<NativeServer, Error> {
    let family = Family::of(spec.engine)?;
    std::fs::create_dir_all(spec.dir).at(spec.dir)?;
    let layout = Layout::new(spec.dir, family);
    let _lock = lock(&layout).await?;
    let bins = binaries_for(spec, previous)?;
    let run_as = RunAs::for_server(bins.flavor)?;
    prepare(&layout, run_as.as_ref(), &bins).await?;
    let env = layout.env();
    let ctx = Ctx {
        spec,
        layout: &layout,
        bins: &bins,
        run_as: run_as.as_ref(),
        env: &env,
    };
    let (pid, port) = match layout.health() {
        Health::Running { pid } => start::adopt(&ctx, pid, previous).await?,
        health => {
            // Before a slow init: a port conflict is found in a millisecond.
            let port = start::port_to_start_on(spec, previous, &env)?;
            if health == Health::DataMissing {
                init(&ctx).await?;
            } else if family == Family::Postgres {
                postgres::check_version(&ctx)?;
            }
            clear_stale(&layout).await;
            start::start(&ctx, port).await?
        }
    };
    Ok(ctx.server(port, Some(pid)))
}

/// Whether the server of `server.dir` runs, from its pid file and the process table (a pid
/// recycled by another process does not count).
pub fn health(server: &NativeServer) -> Health {
    match Family::of(server.engine) {
        Ok(family) => Layout::new(&server.dir, family).health(),
        Err(_) => Health::DataMissing,
    }
}

/// Shut the server down cleanly and wait for it to exit. Stopping a stopped server is fine.
#[tracing::instrument(skip_all, fields(dir = %server.dir.display()), err)]
pub async fn stop(server: &NativeServer) -> Result<(), Error> {
    let layout = Layout::new(&server.dir, Family::of(server.engine)?);
    if !layout.dir.is_dir() {
        return Ok(());
    }
    let _lock = lock(&layout).await?;
    stop_locked(server, &layout).await
}

/// Stop the server, then delete its data folder, log, pid file and socket; the env's folder
/// goes too when nothing else is left in it.
#[tracing::instrument(skip_all, fields(dir = %server.dir.display()), err)]
pub async fn purge(server: &NativeServer) -> Result<(), Error> {
    let layout = Layout::new(&server.dir, Family::of(server.engine)?);
    if !layout.dir.is_dir() {
        return Ok(());
    }
    let lock = lock(&layout).await?;
    stop_locked(server, &layout).await?;
    for dir in [&layout.data, &layout.init_tmp] {
        remove_dir_all(dir)?;
    }
    clear_files(&layout);
    let _ = std::fs::remove_file(&layout.log);
    if layout.socket_dir != layout.dir {
        remove_dir_all(&layout.socket_dir)?;
    }
    let lock_path = lock.path().to_path_buf();
    drop(lock);
    let _ = std::fs::remove_file(lock_path);
    if std::fs::remove_dir(&layout.dir).is_err() {
        debug!("kept {}: it holds other files", layout.dir.display());
    }
    info!(
        "purged the {} server in {}",
        server.engine,
        layout.dir.display()
    );
    Ok(())
}

pub(super) async fn stop_locked(server: &NativeServer, layout: &Layout) -> Result<(), Error> {
    let Health::Running { pid } = layout.health() else {
        return Ok(());
    };
    let run_as = RunAs::recorded(server.run_as.as_deref())?;
    let started = Instant::now();
    match layout.family {
        Family::Postgres => postgres::stop(server, layout, run_as.as_ref(), pid).await?,
        Family::Mysql => mariadb::stop(layout, pid).await?,
    }
    info!(
        "stopped the {} server (pid {pid}) in {} ms",
        server.engine,
        started.elapsed().as_millis()
    );
    Ok(())
}

/// One dbenv at a time per env folder (test binaries may share an env).
async fn lock(layout: &Layout) -> Result<FileLock, Error> {
    let path = layout.dir.join("native.lock");
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        FileLock::acquire(&path, Duration::from_secs(120), "native server")
    })
    .await
    .map_err(|e| Error::Locked(format!("waiting for {shown}: {e}")))?
    .map_err(|t| {
        let by = t.holder.map(|p| format!(" (pid {p})")).unwrap_or_default();
        Error::Locked(format!(
            "another dbenv{by} holds {shown} and did not finish within 120 s; wait for it"
        ))
    })
}

/// The configured folder; else the one the server was started with last time; else search.
fn binaries_for(spec: &NativeSpec<'_>, previous: Option<&NativeServer>) -> Result<Binaries, Error> {
    if spec.bin_dir.is_none()
        && let Some(prev) = previous.filter(|p| p.engine == spec.engine)
        && let Ok(bins) = locate(spec.engine, Some(&prev.bin_dir))
    {
        return Ok(bins);
    }
    locate(spec.engine, spec.bin_dir)
}

/// Create the log and the socket folder; when the server runs as another account, give it
/// the env's folder and check it can reach it.
async fn prepare(layout: &Layout, run_as: Option<&RunAs>, bins: &Binaries) -> Result<(), Error> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&layout.log)
        .at(&layout.log)?;
    if layout.socket_dir != layout.dir {
        private_socket_dir(&layout.socket_dir, run_as)?;
    }
    if let Some(user) = run_as {
        user.own_tree(&layout.dir)?;
        user.check_reaches(&layout.dir, bins.flavor).await?;
    }
    Ok(())
}

/// The short socket folder under the temporary directory: a real folder, ours, 0700.
fn private_socket_dir(dir: &Path, run_as: Option<&RunAs>) -> Result<(), Error> {
    let _ = std::fs::DirBuilder::new().mode(0o700).create(dir);
    let meta = std::fs::symlink_metadata(dir).at(dir)?;
    let me = rustix::process::geteuid().as_raw();
    let owner = run_as.map_or(me, |u| u.uid);
    if !meta.is_dir() || (meta.uid() != owner && meta.uid() != me) {
        return Err(Error::Server(format!(
            "{} (the server's socket folder: the env's own path is too long for a socket) is \
             not a folder of yours; remove it and try again",
            dir.display()
        )));
    }
    if let Some(user) = run_as {
        user.own_tree(dir)?;
    }
    Ok(())
}

/// Initialise into `init_tmp`, then rename it to `data`: `data` only ever holds a complete
/// data folder, and a half-made `init_tmp` (dbenv's own name) is wiped before the next try.
async fn init(ctx: &Ctx<'_>) -> Result<(), Error> {
    let l = ctx.layout;
    if l.data.exists() {
        if std::fs::read_dir(&l.data).at(&l.data)?.next().is_some() {
            return Err(Error::State(format!(
                "{} exists but holds no {} data; dbenv does not touch folders it did not \
                 create: move it away, then run again",
                l.data.display(),
                ctx.bins.flavor
            )));
        }
        std::fs::remove_dir(&l.data).at(&l.data)?;
    }
    if l.init_tmp.exists() {
        warn!(
            "removing {}, left by an initialisation that did not finish",
            l.init_tmp.display()
        );
        remove_dir_all(&l.init_tmp)?;
    }
    info!(
        "initialising {} {} in {}",
        ctx.bins.flavor,
        ctx.bins.version,
        l.data.display()
    );
    let started = Instant::now();
    let made = match l.family {
        Family::Postgres => postgres::init(ctx).await,
        Family::Mysql => mariadb::init(ctx).await,
    };
    if let Err(e) = made {
        let _ = std::fs::remove_dir_all(&l.init_tmp);
        return Err(e);
    }
    rename_synced(&l.init_tmp, &l.data)?;
    debug!("initialised in {} ms", started.elapsed().as_millis());
    Ok(())
}

/// Clear what a killed server left: processes still working in the data folder (children
/// of a killed postmaster, which exit on their own within moments), its pid file, socket.
async fn clear_stale(layout: &Layout) {
    let leftovers = process::working_in(&layout.data);
    if !leftovers.is_empty() {
        warn!(
            "waiting for leftover server processes {leftovers:?} in {}",
            layout.data.display()
        );
    }
    for pid in leftovers {
        if process::wait_exit(pid, Duration::from_secs(5)).await {
            continue;
        }
        let _ = process::signal(pid, Signal::TERM);
        if !process::wait_exit(pid, Duration::from_secs(30)).await {
            let _ = process::signal(pid, Signal::KILL);
            process::wait_exit(pid, Duration::from_secs(5)).await;
        }
    }
    clear_files(layout);
}

/// Remove the pid file and socket a server that no longer runs left behind.
fn clear_files(layout: &Layout) {
    match layout.family {
        Family::Postgres => postgres::clear_stale(layout),
        Family::Mysql => mariadb::clear_stale(layout),
    }
}

fn remove_dir_all(dir: &Path) -> Result<(), Error> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(dir, e)),
        _ => Ok(()),
    }
}

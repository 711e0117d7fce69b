//! PostgreSQL: `initdb` a cluster, start and stop it with `pg_ctl`.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use rustix::process::Signal;
use tokio::process::Command;

use super::process::{self, SecretFile};
use super::user::RunAs;
use super::{Ctx, Layout, NativeServer, Started};
use crate::error::Error;
use crate::state::TEMP_MARKER;

/// Create the cluster in `layout.init_tmp`, owned by the admin account `spec.user` with a
/// SCRAM password read from a private file (never from the command line).
pub(super) async fn init(ctx: &Ctx<'_>) -> Result<(), Error> {
    if ctx.spec.password.is_empty() {
        return Err(Error::Server(format!(
            "PostgreSQL needs a password for user `{}` (connections use scram-sha-256): set \
             `password` in [env.{}] of dbenv.toml",
            ctx.spec.user, ctx.env
        )));
    }
    let pw_path = ctx
        .layout
        .dir
        .join(format!(".initdb-pw{TEMP_MARKER}{}", std::process::id()));
    let pw = SecretFile::create(pw_path, ctx.spec.password, ctx.run_as)?;
    let mut pwfile = OsString::from("--pwfile=");
    pwfile.push(pw.path());
    let mut cmd = Command::new(&ctx.bins.init);
    cmd.arg("-D")
        .arg(&ctx.layout.init_tmp)
        .arg("-U")
        .arg(ctx.spec.user)
        .arg(pwfile)
        .args(["--auth=scram-sha-256", "-E", "UTF8", "--locale=C"])
        .current_dir(&ctx.layout.dir);
    as_user(&mut cmd, ctx.run_as);
    process::run(&mut cmd, "initdb").await?;
    Ok(())
}

/// `pg_ctl start -w`: listening on 127.0.0.1:`port` only, its socket in the env's folder.
/// The server gets its own process group, so a Ctrl-C meant for dbenv does not reach it.
pub(super) async fn start(ctx: &Ctx<'_>, port: u16) -> Result<Started, Error> {
    let ctl = ctx.bins.ctl.as_deref().unwrap_or(Path::new("pg_ctl"));
    let mut options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -k {}",
        shell_quote(&ctx.layout.socket_dir.to_string_lossy())
    );
    if !ctx.spec.durable {
        // Throwaway data. No autovacuum either: its workers visit every database, the
        // template included, and `CREATE DATABASE … TEMPLATE` refuses a template with a
        // session on it (a test would wait in 100 ms retries).
        options.push_str(
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c autovacuum=off",
        );
    }
    let mut cmd = Command::new(ctl);
    cmd.args(["start", "-w", "-t", "60", "-s", "-D"])
        .arg(&ctx.layout.data)
        .arg("-l")
        .arg(&ctx.layout.log)
        .arg("-o")
        .arg(options)
        .current_dir(&ctx.layout.dir)
        .process_group(0);
    as_user(&mut cmd, ctx.run_as);
    process::run(&mut cmd, "pg_ctl start").await?;
    let pid = pid(ctx.layout).ok_or_else(|| {
        Error::Server(format!(
            "pg_ctl reported PostgreSQL started but {} names no server process",
            ctx.layout.pid_file.display()
        ))
    })?;
    Ok(Started { pid, child: None })
}

/// `pg_ctl stop -m fast -w` (a SIGINT when pg_ctl has gone), then wait for the postmaster.
pub(super) async fn stop(
    server: &NativeServer,
    layout: &Layout,
    run_as: Option<&RunAs>,
    pid: u32,
) -> Result<(), Error> {
    let ctl = server.bin_dir.join("pg_ctl");
    let stopped = if ctl.exists() {
        let mut cmd = Command::new(&ctl);
        cmd.args(["stop", "-m", "fast", "-w", "-t", "60", "-s", "-D"])
            .arg(&layout.data)
            .current_dir(&layout.dir);
        as_user(&mut cmd, run_as);
        process::run(&mut cmd, "pg_ctl stop").await.map(drop)
    } else {
        process::signal(pid, Signal::INT)
    };
    if process::wait_exit(pid, Duration::from_secs(60)).await {
        return Ok(());
    }
    stopped?;
    Err(Error::Server(format!(
        "the PostgreSQL server in {} (pid {pid}) did not stop within 60 s; see {}, or end it \
         with `kill -9 {pid}`",
        layout.data.display(),
        layout.log.display()
    )))
}

/// The postmaster's pid: the first line of `postmaster.pid`.
pub(super) fn pid(layout: &Layout) -> Option<u32> {
    let text = std::fs::read_to_string(&layout.pid_file).ok()?;
    text.lines().next()?.trim().parse().ok()
}

/// The port a running postmaster listens on: the fourth line of `postmaster.pid`.
pub(super) fn port(layout: &Layout) -> Option<u16> {
    let text = std::fs::read_to_string(&layout.pid_file).ok()?;
    text.lines().nth(3)?.trim().parse().ok()
}

/// The cluster's major version (`PG_VERSION`), when the data folder holds one.
pub(super) fn data_version(layout: &Layout) -> Option<String> {
    let text = std::fs::read_to_string(layout.data.join("PG_VERSION")).ok()?;
    Some(text.trim().to_string())
}

/// Refuse to start a cluster with binaries of another major version.
pub(super) fn check_version(ctx: &Ctx<'_>) -> Result<(), Error> {
    let Some(data) = data_version(ctx.layout) else {
        return Ok(());
    };
    if data == ctx.bins.major() {
        return Ok(());
    }
    Err(Error::Server(format!(
        "the data in {} was created by PostgreSQL {data}, but the binaries found are \
         PostgreSQL {} ({}): set `bin_dir` in [env.{}] of dbenv.toml to PostgreSQL {data}'s \
         (e.g. /usr/lib/postgresql/{data}/bin), or start over with `dbenv down --purge {}`",
        ctx.layout.data.display(),
        ctx.bins.version,
        ctx.bins.bin_dir().display(),
        ctx.env,
        ctx.env
    )))
}

/// Remove what a killed server leaves: `postmaster.pid` and the socket and its lock file.
pub(super) fn clear_stale(layout: &Layout) {
    let _ = std::fs::remove_file(&layout.pid_file);
    if let Ok(entries) = std::fs::read_dir(&layout.socket_dir) {
        for entry in entries.flatten() {
            if entry.file_name().to_string_lossy().starts_with(".s.PGSQL.") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }
}

fn as_user(cmd: &mut Command, run_as: Option<&RunAs>) {
    if let Some(user) = run_as {
        user.apply(cmd);
    }
}

/// Quote for the shell pg_ctl hands `-o` to.
fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_folders_are_quoted_for_pg_ctls_shell() {
        assert_eq!(shell_quote("/a b/c"), "'/a b/c'");
        assert_eq!(shell_quote("/it's"), r"'/it'\''s'");
    }
}

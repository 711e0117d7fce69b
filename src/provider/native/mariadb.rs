//! MariaDB (and MySQL): `mariadb-install-db` or `mysqld --initialize-insecure` a data folder,
//! run the server detached, stop it with SIGTERM.

use std::ffi::OsString;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::Signal;
use tokio::process::Command;

use super::locate::Flavor;
use super::process::{self, SecretFile};
use super::{Ctx, Layout, Started};
use crate::error::{Error, IoContext};
use crate::state::TEMP_MARKER;

/// The socket's file name inside the env's socket folder.
pub(super) const SOCKET: &str = "mysqld.sock";

/// Create the data folder in `layout.init_tmp`, with the admin account set up by SQL the
/// bootstrap runs from a private file: the password never reaches a command line.
pub(super) async fn init(ctx: &Ctx<'_>) -> Result<(), Error> {
    let sql_path = ctx
        .layout
        .dir
        .join(format!(".init-sql{TEMP_MARKER}{}", std::process::id()));
    let sql = setup_sql(ctx.bins.flavor, ctx.spec.user, ctx.spec.password);
    let sql = SecretFile::create(sql_path, &sql, ctx.run_as)?;
    let mut cmd = Command::new(&ctx.bins.init);
    match ctx.bins.flavor {
        Flavor::Mysql => {
            cmd.arg("--no-defaults")
                .arg("--initialize-insecure")
                .arg(opt("--datadir=", &ctx.layout.init_tmp))
                .arg(opt("--init-file=", sql.path()));
        }
        _ => {
            cmd.arg("--no-defaults")
                .arg(opt("--datadir=", &ctx.layout.init_tmp))
                .args([
                    "--auth-root-authentication-method=normal",
                    "--skip-test-db",
                    "--skip-name-resolve",
                ])
                .arg(opt("--extra-file=", sql.path()))
                // The bootstrap must run the server we located, not whatever the script finds.
                .env("MYSQLD_BOOTSTRAP", &ctx.bins.server);
        }
    }
    cmd.current_dir(&ctx.layout.dir);
    if let Some(user) = ctx.run_as {
        user.apply(&mut cmd);
    }
    let tool = ctx
        .bins
        .init
        .file_name()
        .unwrap_or_default()
        .to_string_lossy();
    process::run(&mut cmd, &tool).await?;
    Ok(())
}

/// Run the server in its own process group with its output in the log, so it outlives
/// dbenv and ignores a Ctrl-C meant for dbenv.
pub(super) async fn start(ctx: &Ctx<'_>, port: u16) -> Result<Started, Error> {
    let l = ctx.layout;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&l.log)
        .at(&l.log)?;
    let mut cmd = Command::new(&ctx.bins.server);
    cmd.arg("--no-defaults")
        .arg(opt("--datadir=", &l.data))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg(opt("--socket=", &l.socket_dir.join(SOCKET)))
        .arg(opt("--pid-file=", &l.pid_file))
        .arg(opt("--log-error=", &l.log))
        .arg("--skip-name-resolve");
    if !ctx.spec.durable {
        cmd.args([
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
            "--sync-binlog=0",
        ]);
    }
    if ctx.bins.flavor == Flavor::Mysql {
        // No X Protocol listener on 33060 (two envs would fight over it; `loose-` because
        // MySQL 5.7 has no such option), no binary log.
        cmd.args(["--loose-mysqlx=OFF", "--skip-log-bin"]);
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().at(&l.log)?)
        .stderr(log)
        .current_dir(&l.dir)
        .process_group(0);
    if let Some(user) = ctx.run_as {
        user.apply(&mut cmd);
    }
    let child = cmd
        .spawn()
        .map_err(|e| Error::Server(format!("could not run {}: {e}", ctx.bins.server.display())))?;
    let pid = child.id().unwrap_or(0);
    Ok(Started {
        pid,
        child: Some(child),
    })
}

/// SIGTERM, then wait for the server to finish its clean shutdown.
pub(super) async fn stop(layout: &Layout, pid: u32) -> Result<(), Error> {
    process::signal(pid, Signal::TERM)?;
    if process::wait_exit(pid, Duration::from_secs(60)).await {
        return Ok(());
    }
    Err(Error::Server(format!(
        "the server in {} (pid {pid}) did not stop within 60 s of SIGTERM; see {}, or end it \
         with `kill -9 {pid}`",
        layout.data.display(),
        layout.log.display()
    )))
}

/// The server's pid, from the pid file it writes.
pub(super) fn pid(layout: &Layout) -> Option<u32> {
    let text = std::fs::read_to_string(&layout.pid_file).ok()?;
    text.trim().parse().ok()
}

/// The port a running server was started with (`--port=` on its command line).
pub(super) fn port(pid: u32) -> Option<u16> {
    process::command_line(pid)?
        .iter()
        .find_map(|a| a.strip_prefix("--port=")?.parse().ok())
}

/// Remove what a killed server leaves: its pid file and socket.
pub(super) fn clear_stale(layout: &Layout) {
    let socket = layout.socket_dir.join(SOCKET);
    let mut lock = socket.clone().into_os_string();
    lock.push(".lock");
    for path in [
        layout.pid_file.as_path(),
        socket.as_path(),
        Path::new(&lock),
    ] {
        let _ = std::fs::remove_file(path);
    }
}

/// SQL run once at initialisation: the admin account `user`@`localhost` and
/// `user`@`127.0.0.1` with `password` and every privilege, `root`@`localhost` with the same
/// password, and none of the password-less root accounts install-db creates.
fn setup_sql(flavor: Flavor, user: &str, password: &str) -> String {
    let (u, p) = (literal(user), literal(password));
    let mut sql = String::new();
    if flavor == Flavor::Mariadb {
        // Bootstrap runs without the grant tables loaded; install-db also adds password-less
        // root@127.0.0.1, root@::1 and root@<hostname>.
        sql.push_str(
            "FLUSH PRIVILEGES;\n\
             DELETE FROM mysql.global_priv WHERE Host <> 'localhost';\n\
             DELETE FROM mysql.proxies_priv WHERE Host <> 'localhost';\n\
             FLUSH PRIVILEGES;\n",
        );
    }
    for host in ["localhost", "127.0.0.1"] {
        sql.push_str(&format!(
            "CREATE USER IF NOT EXISTS {u}@'{host}' IDENTIFIED BY {p};\n\
             ALTER USER {u}@'{host}' IDENTIFIED BY {p};\n\
             GRANT ALL PRIVILEGES ON *.* TO {u}@'{host}' WITH GRANT OPTION;\n"
        ));
    }
    if user != "root" {
        sql.push_str(&format!(
            "ALTER USER 'root'@'localhost' IDENTIFIED BY {p};\n"
        ));
    }
    sql
}

/// A MySQL string literal (backslash escapes are on in the default SQL mode).
fn literal(s: &str) -> String {
    format!("'{}'", s.replace('\\', r"\\").replace('\'', "''"))
}

fn opt(name: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(name);
    arg.push(path);
    arg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setup_sql_escapes_and_covers_both_hosts() {
        let sql = setup_sql(Flavor::Mariadb, "app", r"it's\x");
        assert!(sql.contains(r"IDENTIFIED BY 'it''s\\x'"), "{sql}");
        assert!(sql.contains("'app'@'127.0.0.1'") && sql.contains("'app'@'localhost'"));
        assert!(sql.contains("ALTER USER 'root'@'localhost'"));
        assert!(sql.starts_with("FLUSH PRIVILEGES;"));
        let mysql = setup_sql(Flavor::Mysql, "root", "pw");
        assert!(!mysql.contains("global_priv"));
        assert_eq!(mysql.matches("ALTER USER 'root'@'localhost'").count(), 1);
    }
}

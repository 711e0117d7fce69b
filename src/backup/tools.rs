//! The engines' own dump and restore tools (`pg_dump`/`pg_restore`, `mariadb-dump`/`mariadb`
//! or MySQL's `mysqldump`/`mysql`), run with the env's credentials. Passwords never appear
//! on a command line, where any user of the machine could read them: PostgreSQL tools get
//! `PGPASSWORD` in their environment, MySQL tools a private (0600) option file.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;

use crate::config::EngineKind;
use crate::error::Error;
use crate::provider::Endpoint;

/// One of the tools, found on disk, with how to log in.
pub struct Tool {
    program: PathBuf,
    endpoint: Endpoint,
    /// The MySQL option file; removed when the tool is dropped.
    defaults: Option<tempfile::NamedTempFile>,
}

/// What a tool is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Dump,
    Restore,
}

impl Tool {
    /// Find the tool for `job` on `endpoint`'s engine: in `bin_dir` when the env sets one,
    /// else on `PATH`.
    pub fn find(job: Job, endpoint: &Endpoint, bin_dir: Option<&Path>) -> Result<Tool, Error> {
        let names: &[&str] = match (endpoint.engine, job) {
            (EngineKind::Postgres, Job::Dump) => &["pg_dump"],
            (EngineKind::Postgres, Job::Restore) => &["pg_restore"],
            (_, Job::Dump) => &["mariadb-dump", "mysqldump"],
            (_, Job::Restore) => &["mariadb", "mysql"],
        };
        let dirs: Vec<PathBuf> = match bin_dir {
            Some(dir) => vec![dir.to_path_buf()],
            None => std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect())
                .unwrap_or_default(),
        };
        let program = names
            .iter()
            .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
            .find(|p| p.is_file())
            .ok_or_else(|| {
                let package = match endpoint.engine {
                    EngineKind::Postgres => "postgresql-client",
                    _ => "mariadb-client",
                };
                Error::Server(format!(
                    "{} not found on PATH{}: install the engine's client tools (Debian/Ubuntu: `apt-get install {package}`), or set bin_dir in the env",
                    names.join(" or "),
                    bin_dir.map(|d| format!(" nor in {}", d.display())).unwrap_or_default()
                ))
            })?;
        let defaults = match endpoint.engine {
            EngineKind::Postgres => None,
            _ => Some(mysql_defaults(endpoint)?),
        };
        Ok(Tool {
            program,
            endpoint: endpoint.clone(),
            defaults,
        })
    }

    pub fn name(&self) -> String {
        self.program
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The command for a dump of `database` (`snapshot`: a PostgreSQL snapshot to dump in).
    pub fn dump(&self, database: &str, snapshot: Option<&str>) -> Command {
        match self.endpoint.engine {
            EngineKind::Postgres => {
                let mut cmd = self.pg_command(database);
                // Uncompressed custom format: zstd compresses it faster and smaller.
                cmd.args(["--format=custom", "--compress=0"]);
                if let Some(s) = snapshot {
                    cmd.arg(format!("--snapshot={s}"));
                }
                cmd
            }
            _ => {
                let mut cmd = self.mysql_command();
                cmd.args([
                    "--single-transaction",
                    "--routines",
                    "--triggers",
                    "--events",
                    "--hex-blob",
                    "--default-character-set=utf8mb4",
                    "--skip-dump-date",
                ]);
                cmd.arg("--").arg(database);
                cmd
            }
        }
    }

    /// The command restoring a dump, read on stdin, into the existing empty `database`.
    pub fn restore(&self, database: &str) -> Command {
        match self.endpoint.engine {
            EngineKind::Postgres => {
                let mut cmd = self.pg_command(database);
                // Owners may not exist where the backup is restored; grants are kept.
                cmd.args(["--exit-on-error", "--no-owner", "--single-transaction"]);
                cmd
            }
            _ => {
                let mut cmd = self.mysql_command();
                cmd.args(["--default-character-set=utf8mb4", "--database", database]);
                cmd
            }
        }
    }

    fn pg_command(&self, database: &str) -> Command {
        let e = &self.endpoint;
        let mut url = url::Url::parse("postgresql://localhost").expect("static URL");
        let _ = url.set_host(Some(&e.host));
        let _ = url.set_port(Some(e.port));
        let _ = url.set_username(&e.user);
        url.set_path(database);
        url.set_query(e.query.as_deref());
        let mut cmd = Command::new(&self.program);
        cmd.arg(format!("--dbname={url}"))
            .arg("--no-password")
            .env("PGPASSWORD", &e.password)
            .env_remove("PGPASSFILE");
        cmd
    }

    fn mysql_command(&self) -> Command {
        let mut cmd = Command::new(&self.program);
        // MySQL tools only honour --defaults-extra-file as their first argument.
        let defaults = self
            .defaults
            .as_ref()
            .expect("MySQL tools have an option file");
        cmd.arg(format!(
            "--defaults-extra-file={}",
            defaults.path().display()
        ));
        cmd.env_remove("MYSQL_PWD");
        cmd
    }
}

/// A private option file holding the MySQL login (created 0600 by tempfile).
fn mysql_defaults(e: &Endpoint) -> Result<tempfile::NamedTempFile, Error> {
    let mut file = tempfile::Builder::new()
        .prefix("dbenv-my-")
        .suffix(".cnf")
        .tempfile()
        .map_err(|err| Error::io(std::env::temp_dir(), err))?;
    let text = format!(
        "[client]\nuser={}\npassword={}\nhost={}\nport={}\nprotocol=tcp\n",
        option_value(&e.user),
        option_value(&e.password),
        option_value(&e.host),
        e.port
    );
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|err| Error::io(file.path().to_path_buf(), err))?;
    Ok(file)
}

/// A value in a MySQL option file: double-quoted, with `\` and `"` escaped.
fn option_value(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A running tool, its stderr collected in the background for error messages.
pub struct Running {
    pub child: Child,
    what: String,
    stderr: Option<JoinHandle<String>>,
}

impl Running {
    /// Start `cmd` with piped stdout and stdin as asked.
    pub fn spawn(
        mut cmd: Command,
        what: &str,
        stdin: bool,
        stdout: bool,
    ) -> Result<Running, Error> {
        cmd.stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .stdout(if stdout {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .map_err(|e| Error::Server(format!("cannot run {what}: {e}")))?;
        widen_pipes(&child);
        let mut err = child.stderr.take().expect("piped stderr");
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err.read_to_string(&mut text);
            text
        });
        Ok(Running {
            child,
            what: what.to_string(),
            stderr: Some(stderr),
        })
    }

    /// Wait for the tool; an error carries the end of what it printed on stderr.
    pub fn finish(mut self) -> Result<(), Error> {
        let status = self
            .child
            .wait()
            .map_err(|e| Error::Server(format!("{}: {e}", self.what)))?;
        let stderr = self
            .stderr
            .take()
            .map(|h| h.join().unwrap_or_default())
            .unwrap_or_default();
        if status.success() {
            if !stderr.trim().is_empty() {
                tracing::debug!(tool = %self.what, "{}", stderr.trim());
            }
            return Ok(());
        }
        let tail: String = {
            let lines: Vec<&str> = stderr.trim().lines().collect();
            lines[lines.len().saturating_sub(10)..].join("\n")
        };
        Err(Error::Server(format!(
            "{} failed ({status}):\n{tail}",
            self.what
        )))
    }

    /// Stop the tool (after a failure on our side).
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Give the tool's data pipes 1 MiB (Linux's default is 64 KiB, and unprivileged processes
/// may go up to 1 MiB): the tool and dbenv then wake each other up 16 times less often, which
/// shows on a machine whose cores are all busy with the dump. Best effort.
fn widen_pipes(child: &std::process::Child) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsFd;
        const SIZE: usize = 1 << 20;
        if let Some(out) = &child.stdout {
            let _ = rustix::pipe::fcntl_setpipe_size(out.as_fd(), SIZE);
        }
        if let Some(input) = &child.stdin {
            let _ = rustix::pipe::fcntl_setpipe_size(input.as_fd(), SIZE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = child;
}

//! The operating-system side of running a server: tools, whether a pid is our server,
//! signals, ports, the log, private files.

use std::io::{Read, Seek, SeekFrom};
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};
use tokio::process::Command;

use super::user::RunAs;
use crate::error::{Error, IoContext};

/// Run a short-lived tool to completion; a failure carries its output.
pub(super) async fn run(cmd: &mut Command, what: &str) -> Result<Output, Error> {
    cmd.stdin(std::process::Stdio::null()).kill_on_drop(true);
    let out = cmd
        .output()
        .await
        .map_err(|e| Error::Server(format!("could not run {what}: {e}")))?;
    if out.status.success() {
        return Ok(out);
    }
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Err(Error::Server(format!(
        "{what} failed ({}):\n{}",
        out.status,
        last_lines(&text, 20)
    )))
}

/// True while `pid` is a live process (a zombie counts as gone).
pub(super) fn alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Ok(stat) => !matches!(
                stat.rsplit_once(')')
                    .and_then(|(_, r)| r.trim_start().chars().next()),
                Some('Z' | 'X') | None
            ),
            Err(_) => false,
        }
    } else {
        let pid = Pid::from_raw(pid as i32);
        pid.is_some_and(|p| {
            matches!(
                rustix::process::test_kill_process(p),
                Ok(()) | Err(rustix::io::Errno::PERM)
            )
        })
    }
}

/// True when `pid` is alive and is a server working in `data` (its working folder on Linux,
/// its command line elsewhere), so a pid recycled by an unrelated process is never trusted.
pub(super) fn serves(pid: u32, data: &Path) -> bool {
    if !alive(pid) {
        return false;
    }
    if let Ok(cwd) = std::fs::read_link(format!("/proc/{pid}/cwd")) {
        return cwd == data;
    }
    command_line(pid).is_some_and(|args| args.iter().any(|a| a.contains(&*data.to_string_lossy())))
}

/// The arguments `pid` was started with.
pub(super) fn command_line(pid: u32) -> Option<Vec<String>> {
    if let Ok(raw) = std::fs::read(format!("/proc/{pid}/cmdline")) {
        let text = String::from_utf8_lossy(&raw);
        return Some(
            text.split('\0')
                .filter(|a| !a.is_empty())
                .map(String::from)
                .collect(),
        );
    }
    let out = std::process::Command::new("ps")
        .args(["-o", "command=", "-p", &pid.to_string()])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let args: Vec<String> = text.split_whitespace().map(String::from).collect();
    (!args.is_empty()).then_some(args)
}

/// Processes whose working folder is `data` (Linux; empty elsewhere): the children a killed
/// PostgreSQL postmaster leaves behind for a moment.
pub(super) fn working_in(data: &Path) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|c| c == data))
        .filter(|pid| alive(*pid))
        .collect()
}

/// Send `signal` to `pid`; a process that is already gone is not an error.
pub(super) fn signal(pid: u32, signal: Signal) -> Result<(), Error> {
    let Some(p) = Pid::from_raw(pid as i32) else {
        return Ok(());
    };
    match rustix::process::kill_process(p, signal) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(Error::Server(format!(
            "could not signal the server process {pid}: {e}"
        ))),
    }
}

/// Wait until `pid` has exited; false when it still runs after `timeout`.
pub(super) async fn wait_exit(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while alive(pid) {
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    true
}

/// A port on 127.0.0.1 that nothing listens on right now.
pub(super) fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::Server(format!("could not find a free port on 127.0.0.1: {e}")))?;
    Ok(listener.local_addr().map(|a| a.port()).unwrap_or(0))
}

/// True when a server could listen on 127.0.0.1:`port` now.
pub(super) fn port_is_free(port: u16) -> bool {
    TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok()
}

/// The error for a port someone else holds.
pub(super) fn port_taken(port: u16, env: &str) -> Error {
    Error::Server(format!(
        "port {port} on 127.0.0.1 is already in use by another process; free it or set \
         `port = …` in [env.{env}] of dbenv.toml"
    ))
}

/// The size of the log now, to read what a start adds to it afterwards.
pub(super) fn log_len(log: &Path) -> u64 {
    std::fs::metadata(log).map(|m| m.len()).unwrap_or(0)
}

/// What the log gained since `offset`.
pub(super) fn log_since(log: &Path, offset: u64) -> String {
    let mut text = String::new();
    if let Ok(mut f) = std::fs::File::open(log)
        && f.seek(SeekFrom::Start(offset)).is_ok()
    {
        let mut raw = Vec::new();
        let _ = f.read_to_end(&mut raw);
        text = String::from_utf8_lossy(&raw).into_owned();
    }
    text
}

/// "last lines of <log>:" followed by them, for errors about a server that did not start.
pub(super) fn log_excerpt(log: &Path, offset: u64) -> String {
    let mut text = log_since(log, offset);
    if text.trim().is_empty() {
        text = log_since(log, 0);
    }
    format!(
        "last lines of {}:\n{}",
        log.display(),
        last_lines(&text, 20)
    )
}

fn last_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A file only the server's account can read (a password for initdb, setup SQL), removed
/// when dropped.
pub(super) struct SecretFile(PathBuf);

impl SecretFile {
    pub fn create(path: PathBuf, content: &str, owner: Option<&RunAs>) -> Result<Self, Error> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::remove_file(&path);
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path);
        let secret = SecretFile(path);
        let mut file = file.at(&secret.0)?;
        file.write_all(content.as_bytes()).at(&secret.0)?;
        if let Some(user) = owner {
            std::os::unix::fs::chown(&secret.0, Some(user.uid), Some(user.gid)).at(&secret.0)?;
        }
        Ok(secret)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_alive_and_works_where_it_is() {
        let me = std::process::id();
        assert!(alive(me));
        let cwd = std::env::current_dir().unwrap().canonicalize().unwrap();
        assert!(serves(me, &cwd));
        assert!(!serves(me, Path::new("/nonexistent")));
        assert!(!alive(u32::MAX / 2));
    }

    #[test]
    fn a_bound_port_is_not_free_and_a_released_one_is() {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(!port_is_free(port));
        drop(listener);
        assert!(port_is_free(port));
        assert_ne!(free_port().unwrap(), 0);
    }

    #[test]
    fn excerpts_keep_the_last_lines_of_what_a_start_wrote() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("server.log");
        std::fs::write(&log, "old\n").unwrap();
        let offset = log_len(&log);
        let new: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&log, format!("old\n{new}")).unwrap();
        let text = log_excerpt(&log, offset);
        assert!(
            text.contains("line 30") && text.contains("line 11"),
            "{text}"
        );
        assert!(
            !text.contains("line 10\n") && !text.contains("old"),
            "{text}"
        );
    }

    #[test]
    fn secret_files_are_private_and_removed_on_drop() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pw");
        let secret = SecretFile::create(path.clone(), "s3cret", None).unwrap();
        let mode = std::fs::metadata(secret.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(secret);
        assert!(!path.exists());
    }
}

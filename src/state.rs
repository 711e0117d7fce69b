//! What dbenv keeps under `.dbenv/`: per-env state, templates, locks. Every write is atomic
//! (temporary file beside the target, synced, renamed), so a killed dbenv never leaves a
//! half-written file under a real name.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use crate::error::{Error, IoContext};

/// The marker in the names of temporary files; anything carrying it is never a real file.
pub const TEMP_MARKER: &str = ".dbenv-tmp.";

/// An exclusive advisory lock on a file, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct FileLock {
    _file: File,
    path: PathBuf,
}

/// The lock was still held by another process when the timeout ran out.
#[derive(Debug)]
pub struct LockTimeout {
    pub holder: Option<String>,
}

impl FileLock {
    /// Take the lock, polling until `timeout`; says once on stderr (through tracing) that it
    /// is waiting, and for whom.
    pub fn acquire(path: &Path, timeout: Duration, what: &str) -> Result<FileLock, LockTimeout> {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let start = Instant::now();
        let mut told = false;
        loop {
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(path);
            let Ok(mut file) = file else {
                return Err(LockTimeout { holder: None });
            };
            if file.try_lock().is_ok() {
                let _ = file.set_len(0);
                let _ = write!(file, "{}", std::process::id());
                return Ok(FileLock {
                    _file: file,
                    path: path.to_path_buf(),
                });
            }
            let holder = std::fs::read_to_string(path).ok().filter(|s| !s.is_empty());
            if start.elapsed() >= timeout {
                return Err(LockTimeout { holder });
            }
            if !told {
                let by = holder
                    .as_deref()
                    .map(|p| format!(" (pid {p})"))
                    .unwrap_or_default();
                info!("waiting for another dbenv{by} to release the {what} lock");
                told = true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// A path for a temporary file beside `target`, unique to this process.
pub fn temp_beside(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(format!("{TEMP_MARKER}{}", std::process::id()));
    target.with_file_name(name)
}

/// Write `bytes` to `target` atomically.
pub fn write_atomic(target: &Path, bytes: &[u8]) -> Result<(), Error> {
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).at(parent)?;
    }
    remove_stale_temps_of(target);
    let temp = temp_beside(target);
    let written = (|| {
        // Private to the user: state files may hold a generated server password.
        let mut file = private_file(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    // A failed write (a full disk) leaves nothing behind, not even the temporary file.
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::io(&temp, e));
    }
    rename_synced(&temp, target).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

fn private_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Copy `source` over `target` atomically: readers see the old file or the new one, never a
/// mixture. Fast on copy-on-write file systems (std uses copy_file_range/reflink).
pub fn copy_atomic(source: &Path, target: &Path, sync: bool) -> Result<(), Error> {
    let temp = temp_beside(target);
    let copied = std::fs::copy(source, &temp).and_then(|_| {
        if sync {
            File::open(&temp).and_then(|f| f.sync_all())?;
        }
        Ok(())
    });
    // A failed copy (a full disk) leaves nothing behind, not even the temporary file.
    if let Err(e) = copied {
        let _ = std::fs::remove_file(&temp);
        return Err(Error::io(&temp, e));
    }
    rename_synced(&temp, target).inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })
}

/// Rename `temp` to `target`, then sync the folder so the rename itself is durable.
pub fn rename_synced(temp: &Path, target: &Path) -> Result<(), Error> {
    std::fs::rename(temp, target).at(target)?;
    if let Some(dir) = target.parent() {
        // Not every platform can fsync a directory; the rename is still atomic there.
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// Remove temporary files in `dir` left by dbenv processes that no longer run.
pub fn remove_stale_temps(dir: &Path) -> Vec<PathBuf> {
    remove_stale_temps_named(dir, |_| true)
}

/// Remove the temporary files of `target` (`<target>.dbenv-tmp.<pid>`) left by dbenv
/// processes that no longer run: a dbenv killed while writing it.
pub fn remove_stale_temps_of(target: &Path) -> Vec<PathBuf> {
    let (Some(dir), Some(name)) = (target.parent(), target.file_name()) else {
        return Vec::new();
    };
    let name = name.to_string_lossy();
    remove_stale_temps_named(dir, |real| real == name)
}

fn remove_stale_temps_named(dir: &Path, of: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((real, pid)) = name.rsplit_once(TEMP_MARKER) else {
            continue;
        };
        if !of(real) {
            continue;
        }
        let pid: u32 = pid.parse().unwrap_or(0);
        if pid != std::process::id()
            && !process_alive(pid)
            && std::fs::remove_file(entry.path()).is_ok()
        {
            removed.push(entry.path());
        }
    }
    removed
}

fn process_alive(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new(&format!("/proc/{pid}")).exists()
    } else {
        false
    }
}

/// The `.dbenv/` folder of a project.
#[derive(Debug, Clone)]
pub struct StateDir {
    root: PathBuf,
}

/// What dbenv remembers about one env between commands.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct EnvState {
    pub engine: String,
    /// The scenario and seed the data came from, when dbenv put it there.
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    /// Scenarios seeded on top since (`dbenv seed`).
    #[serde(default)]
    pub seeded_on_top: Vec<String>,
    pub template: Option<String>,
    pub updated_at: String,
    /// Server envs: how the server was provided (container, native process, external).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<crate::provider::ServerState>,
    /// Server envs: the database that holds the env's data on that server.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    /// dbenv created that database (so it may drop it, even on an external server).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub owns_database: bool,
    /// A password dbenv generated for a server it started (never one from dbenv.toml, which
    /// stays where the user keeps it). The state file is private to the user (0600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generated_password: Option<String>,
}

impl StateDir {
    pub fn new(project_root: &Path) -> StateDir {
        StateDir {
            root: project_root.join(".dbenv"),
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn templates(&self, engine: &str) -> PathBuf {
        self.root.join("templates").join(engine)
    }

    pub fn locks(&self) -> PathBuf {
        self.root.join("locks")
    }

    fn env_file(&self, env: &str) -> PathBuf {
        self.root.join("state").join(format!("{env}.json"))
    }

    /// Serialise every dbenv command on `env` (DESIGN.md §2).
    pub fn lock_env(&self, env: &str, timeout: Duration) -> Result<FileLock, Error> {
        let path = self.locks().join(format!("{env}.lock"));
        let lock = FileLock::acquire(&path, timeout, &format!("env {env}")).map_err(|t| {
            let by = t.holder.map(|p| format!(" (pid {p})")).unwrap_or_default();
            Error::Locked(format!(
                "another dbenv{by} is working on env {env} and did not finish within {}s; wait for it, or raise --lock-timeout",
                timeout.as_secs()
            ))
        })?;
        // A dbenv killed while writing this env's state left its temporary file; commands
        // that do not rewrite the state (an `up` with nothing to do) clear it too.
        remove_stale_temps_of(&self.env_file(env));
        Ok(lock)
    }

    pub fn read_env(&self, env: &str) -> Option<EnvState> {
        let path = self.env_file(env);
        let text = std::fs::read_to_string(&path).ok()?;
        match serde_json::from_str(&text) {
            Ok(state) => Some(state),
            Err(e) => {
                warn!("ignoring unreadable state file {}: {e}", path.display());
                None
            }
        }
    }

    pub fn write_env(&self, env: &str, state: &EnvState) -> Result<(), Error> {
        let json = serde_json::to_vec_pretty(state).expect("state serialises");
        write_atomic(&self.env_file(env), &json)
    }

    pub fn remove_env(&self, env: &str) -> Result<(), Error> {
        let path = self.env_file(env);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
            _ => Ok(()),
        }
    }

    /// Names of envs that have a state file.
    pub fn known_envs(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.root.join("state")) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                e.file_name()
                    .to_str()?
                    .strip_suffix(".json")
                    .map(str::to_string)
            })
            .collect();
        names.sort();
        names
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("a.json");
        write_atomic(&target, b"one").unwrap();
        write_atomic(&target, b"two").unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn stale_temps_of_dead_processes_are_removed_live_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let dead = dir.path().join(format!("x.sqlite{TEMP_MARKER}999999999"));
        let mine = temp_beside(&dir.path().join("y.sqlite"));
        std::fs::write(&dead, b"").unwrap();
        std::fs::write(&mine, b"").unwrap();
        assert_eq!(remove_stale_temps(dir.path()), vec![dead.clone()]);
        assert!(!dead.exists() && mine.exists());
    }

    /// Regression (tests/faults.rs): a dbenv killed while writing `.dbenv/state/dev.json`
    /// left `dev.json.dbenv-tmp.<pid>` there for good.
    #[test]
    fn a_killed_writers_temporary_file_is_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("dev.json");
        let killed = dir.path().join(format!("dev.json{TEMP_MARKER}999999999"));
        let other = dir.path().join(format!("ci.json{TEMP_MARKER}999999999"));
        std::fs::write(&killed, b"{half").unwrap();
        std::fs::write(&other, b"{half").unwrap();
        write_atomic(&target, b"{}").unwrap();
        assert!(
            !killed.exists(),
            "the killed writer's temporary file is still there"
        );
        assert!(other.exists(), "only the target's own temporary files go");
        assert_eq!(std::fs::read(&target).unwrap(), b"{}");
    }

    /// Regression (tests/disk_full.rs): a failed write left its temporary file behind.
    #[test]
    fn a_failed_atomic_write_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        // Renaming a file over a non-empty folder fails after the temporary file is written.
        let target = dir.path().join("taken");
        std::fs::create_dir(&target).unwrap();
        std::fs::write(target.join("inside"), b"x").unwrap();
        assert!(write_atomic(&target, b"data").is_err());
        assert!(copy_atomic(&target.join("inside"), &target, true).is_err());
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .filter(|n| n.to_string_lossy().contains(TEMP_MARKER))
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }

    #[test]
    fn a_held_lock_times_out_and_names_its_holder() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("env.lock");
        let held = FileLock::acquire(&path, Duration::from_secs(1), "test").unwrap();
        let err = FileLock::acquire(&path, Duration::from_millis(120), "test").unwrap_err();
        assert_eq!(err.holder, Some(std::process::id().to_string()));
        drop(held);
        assert!(FileLock::acquire(&path, Duration::from_millis(120), "test").is_ok());
    }
}

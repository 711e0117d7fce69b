//! The native provider: a PostgreSQL or MariaDB/MySQL server run from the machine's own
//! binaries (no Docker), its data under the project's `.dbenv/<env>/`, listening on
//! 127.0.0.1 only, outliving the dbenv command that started it until `dbenv down`.
//!
//! The env's folder holds everything: `data/` (created in `data.dbenv-init/` and renamed
//! only when complete, so a failed init is simply redone), `server.log`, the unix socket
//! (or a short folder under the temporary directory when the path would be too long for a
//! socket) and, for MariaDB, `server.pid`. When dbenv runs as root, the server runs as the
//! engine's unprivileged account (`postgres`, `mysql`, else `nobody`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), dbenv::Error> {
//! use dbenv::config::EngineKind;
//! use dbenv::provider::native::{self, NativeSpec};
//! let spec = NativeSpec {
//!     engine: EngineKind::Postgres,
//!     dir: std::path::Path::new(".dbenv/test"),
//!     port: 0,
//!     user: "postgres",
//!     password: "secret",
//!     bin_dir: None,
//!     durable: true,
//! };
//! let server = native::ensure_running(&spec, None).await?; // remember `server` (serde)
//! println!("{}", native::endpoint(&server, "postgres", "secret").redacted_url("postgres"));
//! native::stop(&server).await?;
//! # Ok(()) }
//! ```

mod locate;
mod mariadb;
mod postgres;
mod process;
mod ready;
mod server;
mod start;
mod user;

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use locate::{Binaries, Flavor, locate};
pub use server::{ensure_running, health, purge, stop};

use crate::config::EngineKind;
use crate::error::Error;
use crate::provider::Endpoint;
use user::RunAs;

/// How long a server may take to start or stop before dbenv gives up.
const SERVER_TIMEOUT: Duration = Duration::from_secs(60);

/// What the native provider needs to bring a server up.
#[derive(Clone, Copy)]
pub struct NativeSpec<'a> {
    /// `Postgres`, `Mysql` or `Mariadb`.
    pub engine: EngineKind,
    /// The env's folder, `<project>/.dbenv/<env>`: owns `data/`, the log, socket and pid file.
    pub dir: &'a Path,
    /// The port on 127.0.0.1; 0 lets dbenv choose a free one (the caller remembers it
    /// through [`NativeServer::port`] and passes it back as `previous`).
    pub port: u16,
    /// The admin account created at initialisation (e.g. `postgres`, `root`).
    pub user: &'a str,
    pub password: &'a str,
    /// Where the server binaries are (from config); else PATH, then the usual folders.
    pub bin_dir: Option<&'a Path>,
    /// `false` for throwaway servers (test fixtures): no fsync, no full-page writes or
    /// doublewrite buffer. Much faster database creation and writes; a crash of the machine
    /// may corrupt the data, which is acceptable only for data nobody keeps.
    pub durable: bool,
}

impl fmt::Debug for NativeSpec<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NativeSpec")
            .field("engine", &self.engine)
            .field("dir", &self.dir)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"***")
            .field("bin_dir", &self.bin_dir)
            .field("durable", &self.durable)
            .finish()
    }
}

/// What the caller keeps in its state file to find the server again. Holds no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NativeServer {
    pub engine: EngineKind,
    /// The env's folder (absolute).
    pub dir: PathBuf,
    pub port: u16,
    /// The server process (the postmaster for PostgreSQL) when it was last seen running.
    pub pid: Option<u32>,
    /// The folder of the server binary it was started with.
    pub bin_dir: PathBuf,
    /// The server's version, e.g. `15.18` or `10.11.19`.
    pub version: String,
    /// The account the server runs as when dbenv runs as root; `None` means dbenv's own.
    pub run_as: Option<String>,
}

/// What [`health`] finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The server process of this data folder is alive.
    Running { pid: u32 },
    /// The data is there, no server runs on it (never started, stopped, or killed).
    Stopped,
    /// There is no data folder (never initialised, or purged).
    DataMissing,
}

/// The file the server of `dir` writes its process id to (first line) while it runs, for
/// scripts that must stop it without dbenv.
pub fn pid_file(engine: EngineKind, dir: &Path) -> Result<PathBuf, Error> {
    Ok(Layout::new(dir, Family::of(engine)?).pid_file)
}

/// Where to reach a native server, logging in as `user`.
pub fn endpoint(server: &NativeServer, user: &str, password: &str) -> Endpoint {
    Endpoint {
        engine: server.engine,
        host: "127.0.0.1".into(),
        port: server.port,
        user: user.into(),
        password: password.into(),
        query: None,
    }
}

/// The two server families: their files and tools differ, the algorithm does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Postgres,
    Mysql,
}

impl Family {
    fn of(engine: EngineKind) -> Result<Family, Error> {
        match engine {
            EngineKind::Postgres => Ok(Family::Postgres),
            EngineKind::Mysql | EngineKind::Mariadb => Ok(Family::Mysql),
            EngineKind::Sqlite => Err(Error::Unsupported(
                "SQLite has no server to run: use provider \"file\" for SQLite envs".into(),
            )),
        }
    }
}

/// The longest socket path every platform accepts (`sun_path` is 104 bytes on macOS).
const SOCKET_PATH_MAX: usize = 103;

/// The files of one env's server.
#[derive(Debug, Clone)]
struct Layout {
    family: Family,
    dir: PathBuf,
    data: PathBuf,
    /// Where initialisation happens before the rename to `data`.
    init_tmp: PathBuf,
    log: PathBuf,
    pid_file: PathBuf,
    socket_dir: PathBuf,
}

impl Layout {
    fn new(dir: &Path, family: Family) -> Layout {
        let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
        let data = dir.join("data");
        let longest = dir.join(".s.PGSQL.65535");
        let socket_dir = if longest.as_os_str().len() <= SOCKET_PATH_MAX {
            dir.clone()
        } else {
            let hash = hex::encode(Sha256::digest(dir.as_os_str().as_encoded_bytes()));
            std::env::temp_dir().join(format!("dbenv-{}", &hash[..12]))
        };
        Layout {
            family,
            pid_file: match family {
                Family::Postgres => data.join("postmaster.pid"),
                Family::Mysql => dir.join("server.pid"),
            },
            init_tmp: dir.join("data.dbenv-init"),
            log: dir.join("server.log"),
            data,
            socket_dir,
            dir,
        }
    }

    /// True when `data/` holds the engine's files (not merely exists).
    fn data_present(&self) -> bool {
        match self.family {
            Family::Postgres => self.data.join("PG_VERSION").is_file(),
            Family::Mysql => self.data.join("mysql").is_dir(),
        }
    }

    fn pid(&self) -> Option<u32> {
        match self.family {
            Family::Postgres => postgres::pid(self),
            Family::Mysql => mariadb::pid(self),
        }
    }

    fn health(&self) -> Health {
        if !self.data_present() {
            return Health::DataMissing;
        }
        match self.pid() {
            Some(pid) if process::serves(pid, &self.data) => Health::Running { pid },
            _ => Health::Stopped,
        }
    }

    /// The env's name (the folder's), for messages that point into dbenv.toml.
    fn env(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "…".into())
    }
}

/// Everything a start or an init needs.
struct Ctx<'a> {
    spec: &'a NativeSpec<'a>,
    layout: &'a Layout,
    bins: &'a Binaries,
    run_as: Option<&'a RunAs>,
    env: &'a str,
}

impl Ctx<'_> {
    /// What the caller keeps about this server, running as `pid` on `port`.
    fn server(&self, port: u16, pid: Option<u32>) -> NativeServer {
        NativeServer {
            engine: self.spec.engine,
            dir: self.layout.dir.clone(),
            port,
            pid,
            bin_dir: self.bins.bin_dir().to_path_buf(),
            version: self.bins.version.clone(),
            run_as: self.run_as.map(|u| u.name.clone()),
        }
    }

    /// The admin account's endpoint on `port`.
    fn endpoint(&self, port: u16) -> Endpoint {
        endpoint(&self.server(port, None), self.spec.user, self.spec.password)
    }
}

/// A server process just launched.
struct Started {
    pid: u32,
    /// The process itself when dbenv spawned it directly (MariaDB), to notice its exit.
    child: Option<tokio::process::Child>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_folders_get_a_short_socket_folder_short_ones_keep_theirs() {
        let short = Layout::new(Path::new("/p/.dbenv/dev"), Family::Postgres);
        assert_eq!(short.socket_dir, Path::new("/p/.dbenv/dev"));
        assert_eq!(
            short.pid_file,
            Path::new("/p/.dbenv/dev/data/postmaster.pid")
        );
        let deep = format!("/{}/.dbenv/dev", "x".repeat(120));
        let long = Layout::new(Path::new(&deep), Family::Mysql);
        assert!(long.socket_dir.starts_with(std::env::temp_dir()));
        assert!(long.socket_dir.join(mariadb::SOCKET).as_os_str().len() <= SOCKET_PATH_MAX);
        assert_eq!(long.pid_file, Path::new(&deep).join("server.pid"));
        assert_eq!(long.env(), "dev");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let spec = NativeSpec {
            engine: EngineKind::Postgres,
            dir: Path::new("/p"),
            port: 0,
            user: "postgres",
            password: "hunter2",
            bin_dir: None,
            durable: true,
        };
        assert!(!format!("{spec:?}").contains("hunter2"));
    }
}

//! The library's top-level error, grouping the error of each domain.
//!
//! Every variant maps to one of the exit codes documented in DESIGN.md §3 through
//! [`Error::exit_code`], so the binary never has to guess how a failure should end.

use std::path::PathBuf;

use crate::config::ConfigError;
use crate::migrate::MigrateError;
use crate::seed::SeedError;

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: an operation failed (database error, I/O error, lock timeout…).
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad usage or configuration (fix the command line, dbenv.toml or a scenario).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: refused by a guard (production env, missing confirmation).
pub const EXIT_REFUSED: u8 = 3;

/// Anything dbenv's library can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    #[error(transparent)]
    Seed(#[from] SeedError),
    #[error("{message}")]
    Database {
        message: String,
        #[source]
        source: sqlx::Error,
    },
    /// The operating system's error is part of the message, not a `source`: printed with
    /// its chain (`{:#}`) it would otherwise appear twice.
    #[error("{}: {error}", path.display())]
    Io {
        path: PathBuf,
        error: std::io::Error,
    },
    /// A guard refused the operation (production env without confirmation).
    #[error("{0}")]
    Refused(String),
    /// Another dbenv holds the lock for too long.
    #[error("{0}")]
    Locked(String),
    /// Something the user asked for that this build or engine cannot do.
    #[error("{0}")]
    Unsupported(String),
    /// A precondition on existing state failed (for example a file that is not SQLite).
    #[error("{0}")]
    State(String),
    /// A database server could not be provided: Docker unreachable, an image missing, a port
    /// taken, a server that would not start. The message says what to do about it.
    #[error("{0}")]
    Server(String),
    /// The user interrupted the operation (Ctrl-C); nothing was half-written.
    #[error("interrupted: {0}")]
    Interrupted(String),
    /// The connection to an env's server was lost in the middle of a command (the server
    /// stopped, crashed or restarted): which server, and what to do, then the cause.
    #[error("{message}")]
    ServerLost {
        message: String,
        #[source]
        source: Box<Error>,
    },
}

impl Error {
    /// The process exit code for this error (DESIGN.md §3).
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Config(_) => EXIT_USAGE,
            Error::Seed(e) if e.is_usage() => EXIT_USAGE,
            Error::Migrate(e) if e.is_usage() => EXIT_USAGE,
            Error::Migrate(e) if e.is_refusal() => EXIT_REFUSED,
            Error::Refused(_) => EXIT_REFUSED,
            Error::Unsupported(_) => EXIT_USAGE,
            Error::Interrupted(_) => 130,
            _ => EXIT_FAILURE,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            error: source,
        }
    }

    pub(crate) fn db(message: impl Into<String>, source: sqlx::Error) -> Self {
        Error::Database {
            message: message.into(),
            source,
        }
    }

    /// Whether the disk filled up somewhere in this error's chain: `ENOSPC`, SQLite's
    /// `SQLITE_FULL` (13), PostgreSQL's `disk_full` (53100).
    pub fn is_disk_full(&self) -> bool {
        let mut current: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = current {
            if let Some(io) = e.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::StorageFull
            {
                return true;
            }
            if let Some(sqlx::Error::Database(db)) = e.downcast_ref::<sqlx::Error>()
                && matches!(db.code().as_deref(), Some("13" | "53100"))
            {
                return true;
            }
            current = e.source();
        }
        false
    }

    /// Whether this error's chain shows the connection to the database server was lost
    /// half-way: the socket closed under sqlx, PostgreSQL ending sessions for a shutdown or
    /// restart (`57P01`-`57P03`, `08006`), or the same as a client tool (`pg_dump`,
    /// `mariadb-dump`…) words it. A server that refuses to connect is not a lost connection.
    pub fn is_connection_lost(&self) -> bool {
        const SIGNS: &[&str] = &[
            "error communicating with database",
            "server closed the connection unexpectedly",
            "terminating connection due to",
            "the database system is shutting down",
            "the database system is starting up",
            "the database system is in recovery mode",
            "Lost connection to",
            "server has gone away",
        ];
        let mut current: Option<&(dyn std::error::Error + 'static)> = Some(self);
        while let Some(e) = current {
            match e.downcast_ref::<sqlx::Error>() {
                Some(sqlx::Error::Io(_)) => return true,
                Some(sqlx::Error::Database(db))
                    if matches!(
                        db.code().as_deref(),
                        Some("57P01" | "57P02" | "57P03" | "08006")
                    ) =>
                {
                    return true;
                }
                _ => {}
            }
            let text = e.to_string();
            if SIGNS.iter().any(|s| text.contains(s)) {
                return true;
            }
            current = e.source();
        }
        false
    }

    /// When the disk filled up, say so plainly and name `path` (the folder being written):
    /// "PATH: no space left on device while WHAT". Any other error is returned unchanged.
    pub(crate) fn naming_full_disk(self, path: &std::path::Path, what: &str) -> Error {
        if !self.is_disk_full() {
            return self;
        }
        Error::Io {
            path: path.to_path_buf(),
            error: std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                format!("no space left on device while {what} ({self})"),
            ),
        }
    }
}

/// Extension to attach a path to `std::io::Result`s.
pub(crate) trait IoContext<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, Error>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn at(self, path: impl Into<PathBuf>) -> Result<T, Error> {
        self.map_err(|e| Error::io(path, e))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

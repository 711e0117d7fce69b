//! `dbenv.toml`: finding, parsing and validating the project configuration.
//!
//! Parsing walks toml's spanned document tree so every error can say `file:line:column`.
//! Strings that may hold secrets (`url`, `password`, `replicas`, `path`, backup `dir`) are
//! [`ConfigStr`]s: `${VAR}` references are syntax-checked at load and expanded on use.

mod env_table;
mod errors;
mod expand;
mod parse;
mod reader;

#[cfg(test)]
mod error_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use errors::{ConfigError, Location};
pub use expand::ConfigStr;

/// Name of the project configuration file.
pub const FILE_NAME: &str = "dbenv.toml";

/// A parsed and validated `dbenv.toml`.
#[derive(Debug, Clone)]
pub struct Config {
    /// Absolute path of `dbenv.toml`.
    pub file: PathBuf,
    /// The folder holding `dbenv.toml` (the project root).
    pub root: PathBuf,
    pub project: Project,
    pub envs: BTreeMap<String, EnvConfig>,
    /// Env names in the order they appear in the file.
    order: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Project {
    /// Absolute, inside the project root.
    pub migrations: PathBuf,
    /// Absolute, inside the project root.
    pub seeds: PathBuf,
    pub default_env: String,
}

#[derive(Debug, Clone)]
pub struct EnvConfig {
    pub name: String,
    pub kind: EnvKind,
    pub engine: EngineKind,
    pub provider: ProviderKind,
    pub path: Option<ConfigStr>,
    pub url: Option<ConfigStr>,
    pub scenario: Option<String>,
    pub seed: Option<u64>,
    pub image: Option<String>,
    pub pull: PullPolicy,
    pub port: u16,
    pub database: Option<String>,
    pub user: Option<String>,
    pub password: Option<ConfigStr>,
    pub bin_dir: Option<PathBuf>,
    /// This env's own migrations folder (engine-specific SQL), instead of the project's.
    pub migrations: Option<PathBuf>,
    pub replicas: Vec<ConfigStr>,
    pub lock_timeout: Option<Duration>,
    pub statement_timeout: Option<Duration>,
    pub replication: Option<ReplicationConfig>,
    pub backup: Option<BackupConfig>,
}

impl EnvConfig {
    /// An env with every default (SQLite, file provider), as for an env named but not
    /// defined in `dbenv.toml`.
    pub fn implicit(name: &str) -> EnvConfig {
        env_table::implicit_env(name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplicationConfig {
    pub warn_lag: Option<Duration>,
    pub crit_lag: Option<Duration>,
    pub warn_bytes: Option<u64>,
    pub crit_bytes: Option<u64>,
    pub heartbeat: bool,
    /// What `dbenv migrate` does while the replicas are not healthy (lag beyond a threshold,
    /// unreachable, stopped): nothing, refuse, or wait for them.
    pub migrate_guard: MigrateGuard,
}

#[derive(Debug, Clone)]
pub struct BackupConfig {
    /// A folder (relative to the project root when relative) or an object-store URL.
    pub dir: ConfigStr,
    /// When `dbenv schedule` takes a backup: a cron expression (5 fields, or 6 with
    /// seconds first), checked at load.
    pub schedule: Option<String>,
    /// When `dbenv schedule` runs a restore drill (verifies the newest backup): cron.
    pub drill: Option<String>,
    /// The IANA time zone the cron expressions are read in (default UTC), checked at load.
    pub tz: Option<String>,
    /// `dbenv schedule` runs a scheduled time missed while no scheduler ran, once at start.
    pub catch_up: bool,
    pub keep: Keep,
    pub compression: Compression,
    /// zstd's level: 1 to 19 (smaller and slower as it grows), or -1 to -10 (zstd's
    /// `--fast` levels: faster, larger).
    pub compression_level: i32,
    pub verify: bool,
    pub prune: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Keep {
    pub last: u32,
    pub daily: u32,
    pub weekly: u32,
    pub monthly: u32,
}

impl Default for Keep {
    fn default() -> Keep {
        Keep {
            last: 3,
            daily: 0,
            weekly: 0,
            monthly: 0,
        }
    }
}

/// Declares a lowercase enum: `as_str`, `Display`, serde lowercase, and the name table
/// used by the parser.
macro_rules! choice_enum {
    ($(#[$m:meta])* $name:ident, $what:literal { $($var:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name { $($var),+ }

        impl $name {
            pub fn as_str(&self) -> &'static str {
                match self { $($name::$var => $s),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl reader::Choice for $name {
            const WHAT: &'static str = $what;
            const ALL: &'static [(&'static str, Self)] = &[$(($s, $name::$var)),+];
        }
    };
}

choice_enum!(EnvKind, "kind" { Development => "development", Production => "production" });
choice_enum!(EngineKind, "engine" {
    Sqlite => "sqlite", Postgres => "postgres", Mysql => "mysql", Mariadb => "mariadb",
});
choice_enum!(ProviderKind, "provider" {
    File => "file", Container => "container", Native => "native", External => "external",
});
choice_enum!(PullPolicy, "pull" { Missing => "missing", Always => "always", Never => "never" });
choice_enum!(Compression, "compression" { Zstd => "zstd", None => "none" });
choice_enum!(MigrateGuard, "migrate_guard" { Off => "off", Refuse => "refuse", Wait => "wait" });

impl EngineKind {
    /// True for engines that run a server (everything but SQLite).
    pub fn is_server(&self) -> bool {
        !matches!(self, EngineKind::Sqlite)
    }
}

impl Config {
    /// Find `dbenv.toml` in `start` or the nearest parent folder, then [`Config::load`] it.
    pub fn discover(start: &Path) -> Result<Config, ConfigError> {
        let start = absolute(start);
        for dir in start.ancestors() {
            let candidate = dir.join(FILE_NAME);
            if candidate.is_file() {
                return Config::load(&candidate);
            }
        }
        Err(ConfigError::NotFound { start })
    }

    /// Read and validate `file`, with variables from a `.env` next to it (if present).
    /// The process environment is never modified.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let file = absolute(file);
        let bytes = std::fs::read(&file).map_err(|error| ConfigError::Read {
            path: file.clone(),
            error,
        })?;
        let text = String::from_utf8(bytes).map_err(|e| {
            let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            let valid = std::str::from_utf8(valid).unwrap_or_default();
            ConfigError::NotUtf8 {
                at: Location::at(&file, valid, valid.len()),
            }
        })?;
        let root = file.parent().unwrap_or(Path::new("/"));
        let dotenv = read_dotenv(&root.join(".env"))?;
        parse::parse(&text, &file, Arc::new(dotenv))
    }

    /// Parse `text` as if it were the content of `file` (no `.env` is read).
    #[allow(clippy::should_implement_trait)]
    pub fn from_str(text: &str, file: &Path) -> Result<Config, ConfigError> {
        parse::parse(text, &absolute(file), Arc::new(BTreeMap::new()))
    }

    /// The env called `name`, or the project's default env when `name` is `None`.
    pub fn env(&self, name: Option<&str>) -> Result<&EnvConfig, ConfigError> {
        let names = self.env_names();
        let listing = if names.is_empty() {
            format!("{FILE_NAME} defines no envs")
        } else {
            format!("envs in {FILE_NAME}: {}", names.join(", "))
        };
        match name {
            Some(n) => self.envs.get(n).ok_or_else(|| ConfigError::UnknownEnv {
                name: n.to_string(),
                hint: match errors::suggest(n, &names) {
                    Some(s) => format!("did you mean \"{s}\"? {listing}"),
                    None => listing,
                },
            }),
            None => {
                let d = &self.project.default_env;
                self.envs.get(d).ok_or_else(|| ConfigError::NoDefaultEnv {
                    name: d.clone(),
                    envs: listing,
                })
            }
        }
    }

    /// Env names in the order they appear in `dbenv.toml`.
    pub fn env_names(&self) -> Vec<&str> {
        self.order.iter().map(String::as_str).collect()
    }
}

impl EnvConfig {
    /// Absolute path of the SQLite file: `path` expanded and resolved against the project
    /// root, or `<root>/.dbenv/<name>.sqlite`.
    pub fn sqlite_path(&self, root: &Path) -> Result<PathBuf, ConfigError> {
        match &self.path {
            Some(p) => {
                let path = root.join(p.resolve_nonempty()?);
                if path.is_dir() {
                    return Err(p.invalid("names a folder, not a database file (name the file itself, such as \".dbenv/dev.sqlite\")"));
                }
                Ok(path)
            }
            None => Ok(root.join(".dbenv").join(format!("{}.sqlite", self.name))),
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

/// Variables from a `.env` file; a missing file is an empty map.
fn read_dotenv(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut vars = BTreeMap::new();
    if !path.is_file() {
        return Ok(vars);
    }
    let read_err = |error| ConfigError::Read {
        path: path.to_path_buf(),
        error,
    };
    let iter = dotenvy::from_path_iter(path).map_err(|e| match e {
        dotenvy::Error::Io(io) => read_err(io),
        other => read_err(std::io::Error::other(other.to_string())),
    })?;
    for item in iter {
        match item {
            Ok((k, v)) => {
                vars.insert(k, v);
            }
            Err(dotenvy::Error::LineParse(line, _)) => {
                // Point at the offending line without echoing it (it may hold a secret).
                let text = std::fs::read_to_string(path).unwrap_or_default();
                let first = line.lines().next().unwrap_or("").trim();
                let offset = text
                    .lines()
                    .position(|l| l.trim() == first)
                    .map_or(0, |n| text.lines().take(n).map(|l| l.len() + 1).sum());
                return Err(ConfigError::DotEnv {
                    at: Location::at(path, &text, offset),
                });
            }
            Err(dotenvy::Error::Io(io)) => return Err(read_err(io)),
            Err(other) => return Err(read_err(std::io::Error::other(other.to_string()))),
        }
    }
    Ok(vars)
}

//! Migrations in sqlx's format and table, with the guards sqlx lacks.
//!
//! Files are read by sqlx's own resolver (same names, same SHA-384 checksums), and applied
//! migrations are recorded in `_sqlx_migrations` exactly as sqlx records them, so sqlx-cli,
//! `sqlx::migrate!` and `dbenv migrate status` always agree. On top of that dbenv refuses
//! drift (an applied file changed or vanished), out-of-order application and dirty versions,
//! runs each statement on its own so a failure names the file, line and statement, and keeps
//! two migrators apart.

mod error;
pub mod lock;
mod new;
pub mod progress;
mod status;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::migrate::{Migration, MigrationType};

pub mod apply;
pub use apply::{
    Applied, ApplyOptions, PlannedMigration, apply, database_message, lock_sqlite, plan, revert,
};
pub use error::MigrateError;
pub use lock::{LockTarget, MigrationLock};
pub use new::{NewMigration, create};
pub use status::{MigrationState, StatusLine, check_drift, mark_partial, status};

/// One migration found in the migrations folder: an up script and, for reversible pairs,
/// its down script.
#[derive(Debug, Clone)]
pub struct LocalMigration {
    pub version: i64,
    pub description: String,
    pub up: Migration,
    pub up_path: PathBuf,
    pub down: Option<(Migration, PathBuf)>,
}

impl LocalMigration {
    /// The file name relative to the project, for messages.
    pub fn file_name(&self) -> String {
        file_name(&self.up_path)
    }
}

pub(crate) fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// Every migration of a project, ordered by version.
#[derive(Debug, Clone, Default)]
pub struct MigrationSet {
    pub dir: PathBuf,
    pub migrations: Vec<LocalMigration>,
}

impl MigrationSet {
    /// Read `dir` with sqlx's resolver and check what sqlx does not: duplicate versions,
    /// orphan down scripts, unreadable files. A missing folder is an empty set.
    pub fn load(dir: &Path) -> Result<MigrationSet, MigrateError> {
        if !dir.exists() {
            return Ok(MigrationSet {
                dir: dir.to_path_buf(),
                migrations: Vec::new(),
            });
        }
        check_file_names(dir)?;
        let resolved = sqlx::migrate::resolve_blocking(dir).map_err(|e| MigrateError::Resolve {
            dir: dir.to_path_buf(),
            message: error_chain(&e),
        })?;
        let mut ups: BTreeMap<i64, LocalMigration> = BTreeMap::new();
        let mut downs: BTreeMap<i64, (Migration, PathBuf)> = BTreeMap::new();
        for (migration, path) in resolved {
            let version = migration.version;
            let previous = match migration.migration_type {
                MigrationType::ReversibleDown => downs
                    .insert(version, (migration, path.clone()))
                    .map(|(_, p)| p),
                _ => {
                    let local = LocalMigration {
                        version,
                        description: migration.description.to_string(),
                        up: migration,
                        up_path: path.clone(),
                        down: None,
                    };
                    ups.insert(version, local).map(|l| l.up_path)
                }
            };
            if let Some(previous) = previous {
                return Err(MigrateError::DuplicateVersion {
                    version,
                    first: file_name(&previous),
                    second: file_name(&path),
                });
            }
        }
        for (version, down) in downs {
            match ups.get_mut(&version) {
                Some(up) => up.down = Some(down),
                None => {
                    return Err(MigrateError::OrphanDown {
                        file: file_name(&down.1),
                    });
                }
            }
        }
        Ok(MigrationSet {
            dir: dir.to_path_buf(),
            migrations: ups.into_values().collect(),
        })
    }

    pub fn get(&self, version: i64) -> Option<&LocalMigration> {
        self.migrations.iter().find(|m| m.version == version)
    }

    pub fn latest_version(&self) -> Option<i64> {
        self.migrations.last().map(|m| m.version)
    }

    /// A digest of every script's version and checksum: the migrations part of a template key.
    pub fn fingerprint(&self) -> String {
        let mut hash = Sha256::new();
        for m in &self.migrations {
            hash.update(m.version.to_le_bytes());
            hash.update(&*m.up.checksum);
            if let Some((down, _)) = &m.down {
                hash.update(&*down.checksum);
            }
        }
        hex::encode(hash.finalize())
    }
}

/// sqlx skips files it cannot parse silently or fails on the first; check names up front so
/// that every mistake is reported with the file that makes it.
fn check_file_names(dir: &Path) -> Result<(), MigrateError> {
    let entries = std::fs::read_dir(dir).map_err(|e| MigrateError::Resolve {
        dir: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.ends_with(".sql") || !entry.path().is_file() {
            continue;
        }
        let version = name.split_once('_').map(|(v, _)| v);
        if !version.is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())) {
            return Err(MigrateError::BadFileName { file: name });
        }
        let bytes = std::fs::read(entry.path()).unwrap_or_default();
        let text = match std::str::from_utf8(&bytes) {
            Ok(text) => text,
            Err(e) => {
                return Err(MigrateError::NotUtf8 {
                    file: name,
                    offset: e.valid_up_to(),
                });
            }
        };
        // sqlx would apply (and record forever) a file without SQL: almost always a file
        // created and not yet written, whose later content would then be drift.
        let no_sql = crate::sqltext::split_statements(text, crate::sqltext::Dialect::Sqlite)
            .is_ok_and(|s| s.is_empty());
        if no_sql && !name.ends_with(".down.sql") {
            return Err(MigrateError::Parse {
                file: name,
                message: "has no SQL statement (write the migration, or delete the file)".into(),
            });
        }
    }
    Ok(())
}

pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut message = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        message.push_str(": ");
        message.push_str(&s.to_string());
        source = s.source();
    }
    message
}

//! The manifest of a backup (`<id>.manifest.json`), written last: its presence is what
//! makes a backup exist. And the verification record (`<id>.verified.json`), written by
//! `verify` so retention can keep a backup proven restorable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::id::BackupId;
use crate::config::{Compression, EngineKind};
use crate::error::Error;

/// Everything known about one complete backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub id: String,
    pub env: String,
    pub engine: EngineKind,
    /// `sqlite-file`, `pg_dump-custom` or `mysql-sql`: what the data is once decompressed.
    pub format: String,
    pub server_version: Option<String>,
    /// Highest successful version in `_sqlx_migrations`; `None` without that table.
    pub migration_version: Option<i64>,
    pub database: String,
    /// The data object's name, beside the manifest.
    pub file: String,
    pub compression: Compression,
    /// Bytes the dump tool produced (before compression).
    pub raw_bytes: u64,
    /// Bytes stored (after compression): what `sha256` covers.
    pub stored_bytes: u64,
    pub sha256: String,
    /// RFC 3339, UTC.
    pub started_at: String,
    pub finished_at: String,
    pub duration_ms: u64,
    pub dbenv_version: String,
    /// Rows per table at the moment of the backup.
    pub tables: BTreeMap<String, u64>,
    /// Whether `tables` are the dump's own rows: read in its snapshot (SQLite,
    /// PostgreSQL) or counted in its stream (MySQL/MariaDB). Older MySQL/MariaDB backups,
    /// taken before dbenv counted the stream, say `false`: their counts came from a snapshot
    /// just before the dump, so a difference after restore is only a warning.
    pub counts_exact: bool,
}

impl Manifest {
    pub fn backup_id(&self) -> Result<BackupId, Error> {
        BackupId::parse(&self.id)
    }

    /// The database backed up, for messages: its name, or a SQLite file's name.
    pub fn database_label(&self) -> &str {
        match self.engine {
            EngineKind::Sqlite => self.database.rsplit('/').next().unwrap_or(&self.database),
            _ => &self.database,
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        bytes.push(b'\n');
        bytes
    }

    /// Parse a manifest; its id and data file name are checked, so an edited manifest can
    /// never point dbenv at another file.
    pub fn from_bytes(bytes: &[u8], name: &str) -> Result<Manifest, Error> {
        let invalid = |why: String| {
            Error::State(format!(
                "backup manifest {name} is not valid ({why}); it was not written by this version of dbenv, or was edited"
            ))
        };
        let manifest: Manifest =
            serde_json::from_slice(bytes).map_err(|e| invalid(e.to_string()))?;
        let id = BackupId::parse(&manifest.id).map_err(|e| invalid(e.to_string()))?;
        let expected = data_name(&id, manifest.engine, manifest.compression);
        if manifest.file != expected {
            return Err(invalid(format!(
                "its data file should be {expected}, not {:?}",
                manifest.file
            )));
        }
        Ok(manifest)
    }
}

/// The outcome of `backup verify`, kept beside the backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Verification {
    pub id: String,
    pub ok: bool,
    pub verified_at: String,
    /// One line per check: `checksum: ok`, `row counts: ok`, …
    pub checks: Vec<Check>,
    pub duration_ms: u64,
}

/// One check of a verification and what it found.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
}

impl Check {
    pub fn new(name: &str, ok: bool, detail: impl Into<String>) -> Check {
        Check {
            name: name.to_string(),
            ok,
            detail: detail.into(),
        }
    }
}

/// File names of a backup's parts.
pub fn manifest_name(id: &BackupId) -> String {
    format!("{id}.manifest.json")
}

pub fn verified_name(id: &BackupId) -> String {
    format!("{id}.verified.json")
}

/// The data file's name: the id, the format's extension, `.zst` when compressed.
pub fn data_name(id: &BackupId, engine: EngineKind, compression: Compression) -> String {
    let ext = match engine {
        EngineKind::Sqlite => "sqlite",
        EngineKind::Postgres => "pgdump",
        EngineKind::Mysql | EngineKind::Mariadb => "sql",
    };
    match compression {
        Compression::Zstd => format!("{id}.{ext}.zst"),
        Compression::None => format!("{id}.{ext}"),
    }
}

pub fn format_of(engine: EngineKind) -> &'static str {
    match engine {
        EngineKind::Sqlite => "sqlite-file",
        EngineKind::Postgres => "pg_dump-custom",
        EngineKind::Mysql | EngineKind::Mariadb => "mysql-sql",
    }
}

/// The id a backup file belongs to (the text before its first `.`), when well-formed.
pub fn id_of_file(name: &str) -> Option<BackupId> {
    BackupId::parse(name.split('.').next()?).ok()
}

//! Templates (DESIGN.md §5): a database migrated and seeded once per (migrations, scenario,
//! seed), kept under `.dbenv/templates/`, and copied into place by `up` and `reset`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tracing::info;

use crate::engine::sqlite::{OpenMode, SqliteBackend};
use crate::error::Error;
use crate::migrate::{self, ApplyOptions, MigrationSet};
use crate::seed::{self, Scenario, SeedOptions, SeedReport};
use crate::state::{
    FileLock, StateDir, remove_stale_temps, rename_synced, temp_beside, write_atomic,
};

/// Bump when generation changes in a way that changes the data: old templates are rebuilt.
const GENERATOR_VERSION: &str = "dbenv-generator-1";

/// What a template is made of; any change gives a new key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateKey {
    pub engine: String,
    pub scenario: String,
    pub seed: u64,
    pub migrations: String,
    pub scenario_fingerprint: String,
    pub hash: String,
}

impl TemplateKey {
    pub fn new(
        engine: &str,
        migrations: &MigrationSet,
        scenario: &Scenario,
        seed: u64,
    ) -> TemplateKey {
        let migrations = migrations.fingerprint();
        let mut h = Sha256::new();
        for part in [
            GENERATOR_VERSION,
            engine,
            &migrations,
            &scenario.name,
            &scenario.fingerprint,
            &seed.to_string(),
        ] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        TemplateKey {
            engine: engine.to_string(),
            scenario: scenario.name.clone(),
            seed,
            migrations,
            scenario_fingerprint: scenario.fingerprint.clone(),
            hash: hex::encode(h.finalize()),
        }
    }

    /// `demo-42-1f2e3d4c5b6a7988`: readable, and unique per content.
    pub fn file_stem(&self) -> String {
        format!("{}-{}-{}", self.scenario, self.seed, &self.hash[..16])
    }
}

/// Stored beside each template, for `status` and `gc`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TemplateInfo {
    pub scenario: String,
    pub seed: u64,
    pub migrations: String,
    pub scenario_fingerprint: String,
    pub rows: u64,
    pub build_ms: u64,
    pub built_at: String,
}

/// The path of the SQLite template for `key`.
pub fn sqlite_path(state: &StateDir, key: &TemplateKey) -> PathBuf {
    state
        .templates("sqlite")
        .join(format!("{}.sqlite", key.file_stem()))
}

pub fn info_path(template: &Path) -> PathBuf {
    template.with_extension("json")
}

/// The SQLite template for `key`, built first if missing. Concurrent callers (parallel
/// tests, two terminals) wait for one build instead of racing.
pub async fn ensure_sqlite(
    state: &StateDir,
    key: &TemplateKey,
    migrations: &MigrationSet,
    scenario: &Scenario,
    options: &SeedOptions,
) -> Result<(PathBuf, bool), Error> {
    let path = sqlite_path(state, key);
    if path.exists() {
        return Ok((path, false));
    }
    let _lock = lock(state, key)?;
    if path.exists() {
        return Ok((path, false));
    }
    let dir = path.parent().expect("templates live in a folder");
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    remove_stale_temps(dir);
    let start = Instant::now();
    let temp = temp_beside(&path);
    let report = build_sqlite(&temp, migrations, scenario, options).await;
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            let what = format!("building template {}", key.file_stem());
            return Err(e.naming_full_disk(dir, &what));
        }
    };
    // The info first: a template is used as soon as its file exists, so a dbenv killed
    // between the two must not leave a template without its info. An info without its
    // template is harmless (the next build rewrites it).
    let info = TemplateInfo::new(key, &report, start);
    let finished = write_info(&info_path(&path), &info).and_then(|()| rename_synced(&temp, &path));
    if let Err(e) = finished {
        let _ = std::fs::remove_file(&temp);
        return Err(e);
    }
    info!(template = %key.file_stem(), rows = info.rows, ms = info.build_ms, "built template");
    Ok((path, true))
}

impl TemplateInfo {
    fn new(key: &TemplateKey, report: &SeedReport, start: Instant) -> TemplateInfo {
        TemplateInfo {
            scenario: key.scenario.clone(),
            seed: key.seed,
            migrations: key.migrations.clone(),
            scenario_fingerprint: key.scenario_fingerprint.clone(),
            rows: report.total_rows(),
            build_ms: start.elapsed().as_millis() as u64,
            built_at: chrono::Utc::now().to_rfc3339(),
        }
    }
}

/// Builders of the same template (any engine) wait for each other instead of racing.
fn lock(state: &StateDir, key: &TemplateKey) -> Result<FileLock, Error> {
    let path = state
        .locks()
        .join(format!("template-{}.lock", &key.hash[..16]));
    FileLock::acquire(&path, Duration::from_secs(600), "template").map_err(|_| {
        Error::Locked(format!(
            "another dbenv has been building template {} for 10 minutes",
            key.file_stem()
        ))
    })
}

fn write_info(path: &Path, info: &TemplateInfo) -> Result<(), Error> {
    write_atomic(path, &serde_json::to_vec_pretty(info).expect("serialises"))
}

/// Generated keys are correct by construction; a violation found afterwards is a bug.
fn broken_foreign_keys(scenario: &Scenario, violations: &[String]) -> Error {
    Error::State(format!(
        "seeding {} broke foreign keys ({}); this is a dbenv bug, please report it with the scenario",
        scenario.name,
        violations
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

/// Migrate and seed a fresh SQLite file at `path` (which must not be in use): the fast path,
/// without journal or fsync, because the file only becomes real when renamed.
pub async fn build_sqlite(
    path: &Path,
    migrations: &MigrationSet,
    scenario: &Scenario,
    options: &SeedOptions,
) -> Result<SeedReport, Error> {
    let _ = std::fs::remove_file(path);
    let mut db = SqliteBackend::open(path, OpenMode::Scratch).await?;
    migrate::apply(&mut db, migrations, "template", &ApplyOptions::default()).await?;
    // Generated keys are correct by construction; checking them once at the end is far
    // cheaper than checking every row, and still proves it.
    db.set_foreign_keys(false)
        .await
        .map_err(|e| Error::db("disabling foreign keys", e))?;
    let report = seed::seed(&mut db, scenario, options).await?;
    let violations = db
        .foreign_key_violations()
        .await
        .map_err(|e| Error::db("checking foreign keys", e))?;
    if !violations.is_empty() {
        return Err(broken_foreign_keys(scenario, &violations));
    }
    db.close().await?;
    Ok(report)
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub use server::{TEMPLATE_PREFIX, build_server, ensure_server, server_database};

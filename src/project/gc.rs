//! `dbenv gc`: remove what no env owns any more: stale templates, databases of envs that
//! left dbenv.toml, temporary files of killed runs.

use std::path::PathBuf;

use serde::Serialize;

use super::Project;
use crate::config::EngineKind;
use crate::error::Error;
use crate::seed::Scenario;
use crate::state::remove_stale_temps;
use crate::template::{TemplateInfo, info_path};

#[derive(Debug, Clone, Serialize, Default)]
pub struct GcReport {
    pub removed: Vec<PathBuf>,
    pub kept_templates: usize,
    pub freed_bytes: u64,
    /// Containers, volumes, native servers and server databases removed.
    pub removed_servers: Vec<String>,
    pub dry_run: bool,
}

pub async fn gc(project: &Project, dry_run: bool) -> Result<GcReport, Error> {
    let mut report = GcReport {
        dry_run,
        ..Default::default()
    };
    // First: the server part reads the state of envs that left dbenv.toml, removed below.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    super::gc_server::gc_servers(project, &mut report).await?;
    let migrations = project.migration_fingerprints()?;
    let dir = project.state.templates("sqlite");
    if !dry_run {
        report.removed.extend(remove_stale_temps(&dir));
    }
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "sqlite") {
            continue;
        }
        let info: Option<TemplateInfo> = std::fs::read(info_path(&path))
            .ok()
            .and_then(|b| serde_json::from_slice(&b).ok());
        let current = info.is_some_and(|i| {
            let scenario = Scenario::load(&project.config.project.seeds, &i.scenario).ok();
            migrations.contains(&i.migrations)
                && scenario.is_some_and(|s| s.fingerprint == i.scenario_fingerprint)
        });
        if current {
            report.kept_templates += 1;
            continue;
        }
        remove(&mut report, path.clone())?;
        remove(&mut report, info_path(&path))?;
    }
    // Databases and state of envs that are no longer in dbenv.toml.
    for name in project.state.known_envs() {
        if project.config.envs.contains_key(&name) {
            continue;
        }
        let db = project.state.root().join(format!("{name}.sqlite"));
        remove(&mut report, db)?;
        remove(
            &mut report,
            project
                .state
                .root()
                .join("state")
                .join(format!("{name}.json")),
        )?;
    }
    // Schedule state (each job's last run) of envs that left dbenv.toml: were such an env
    // added back, its old last runs would count as missed runs to catch up on.
    let schedules = project.state.root().join("schedule");
    for entry in std::fs::read_dir(&schedules)
        .into_iter()
        .flatten()
        .flatten()
    {
        let name = entry.file_name();
        if name
            .to_str()
            .is_some_and(|n| project.config.envs.contains_key(n))
        {
            continue;
        }
        remove_dir(&mut report, entry.path())?;
    }
    for env in project
        .config
        .envs
        .values()
        .filter(|e| e.engine == EngineKind::Sqlite)
    {
        if let Ok(path) = env.sqlite_path(&project.config.root)
            && let (Some(parent), false) = (path.parent(), dry_run)
        {
            report.removed.extend(remove_stale_temps(parent));
        }
    }
    Ok(report)
}

/// Remove a folder of small state files (counted file by file).
fn remove_dir(report: &mut GcReport, dir: PathBuf) -> Result<(), Error> {
    for entry in std::fs::read_dir(&dir)
        .map_err(|e| Error::io(&dir, e))?
        .flatten()
    {
        remove(report, entry.path())?;
    }
    if !report.dry_run {
        std::fs::remove_dir(&dir).map_err(|e| Error::io(&dir, e))?;
    }
    Ok(())
}

fn remove(report: &mut GcReport, path: PathBuf) -> Result<(), Error> {
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(());
    };
    if !report.dry_run {
        std::fs::remove_file(&path).map_err(|e| Error::io(&path, e))?;
    }
    report.freed_bytes += meta.len();
    report.removed.push(path);
    Ok(())
}

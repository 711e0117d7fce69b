//! `dbenv gc` for server envs: containers and volumes of this project that no env owns,
//! native data folders of envs that left dbenv.toml, stale template databases, and
//! half-built databases of killed runs.

use tracing::{debug, info, warn};

use super::Project;
use super::gc::GcReport;
use super::server::{self, project_identity};
use crate::backup::verify::{SCRATCH_PREFIX, dead_scratch};
use crate::config::{EngineKind, ProviderKind};
use crate::engine::ServerAdmin;
use crate::error::Error;
use crate::provider::ServerState;
use crate::provider::container::{Docker, LABEL_ENV, LABEL_PROJECT};
use crate::provider::native;
use crate::template::{TEMPLATE_PREFIX, TemplateInfo};

pub(crate) async fn gc_servers(project: &Project, report: &mut GcReport) -> Result<(), Error> {
    gc_containers(project, report).await?;
    gc_native(project, report).await?;
    for env in project
        .config
        .envs
        .values()
        .filter(|e| e.engine.is_server())
    {
        if let Err(e) = gc_databases(project, env, report).await {
            // A stopped server is not an error for gc: its templates wait for the next run.
            debug!(env = %env.name, "templates not checked: {e}");
        }
    }
    Ok(())
}

/// Containers (and their volumes) labelled with this project whose env no longer uses them.
async fn gc_containers(project: &Project, report: &mut GcReport) -> Result<(), Error> {
    let wants_docker = project
        .config
        .envs
        .values()
        .any(|e| e.provider == ProviderKind::Container);
    let docker = match Docker::connect().await {
        Ok(d) => d,
        // The rest of gc (files, native servers, templates) is still worth doing.
        Err(e) if wants_docker => {
            warn!("containers not checked: {e}");
            return Ok(());
        }
        Err(_) => return Ok(()),
    };
    let (id, _) = project_identity(project);
    let owned: Vec<String> = project
        .config
        .envs
        .values()
        .filter(|e| e.provider == ProviderKind::Container)
        .filter_map(|e| match project.state.read_env(&e.name)?.server? {
            ServerState::Container { name, .. } => Some(name),
            _ => None,
        })
        .collect();
    for c in docker.list(&[(LABEL_PROJECT, &id)]).await? {
        if owned.contains(&c.name) {
            continue;
        }
        let env = c.labels.get(LABEL_ENV).cloned().unwrap_or_default();
        let volume = format!("{}-data", c.name);
        if !report.dry_run {
            docker.remove(&c.name, Some(&volume)).await?;
            if !project.config.envs.contains_key(&env) {
                project.state.remove_env(&env)?;
            }
        }
        report.removed_servers.push(format!(
            "container {} and volume {volume} (env {env})",
            c.name
        ));
    }
    for v in docker.list_volumes(&[(LABEL_PROJECT, &id)]).await? {
        let container = v.name.trim_end_matches("-data");
        if owned.iter().any(|o| o == container) {
            continue;
        }
        if !report.dry_run {
            docker.remove(container, Some(&v.name)).await?;
        }
        report.removed_servers.push(format!("volume {}", v.name));
    }
    Ok(())
}

/// Native servers of envs that are no longer in dbenv.toml (or no longer native).
async fn gc_native(project: &Project, report: &mut GcReport) -> Result<(), Error> {
    for name in project.state.known_envs() {
        let still_native = project
            .config
            .envs
            .get(&name)
            .is_some_and(|e| e.provider == ProviderKind::Native);
        if still_native {
            continue;
        }
        let Some(ServerState::Native { server }) =
            project.state.read_env(&name).and_then(|s| s.server)
        else {
            continue;
        };
        if !report.dry_run {
            native::purge(&server).await?;
            project.state.remove_env(&name)?;
        }
        report.removed_servers.push(format!(
            "native server of env {name} and its data {}",
            server.dir.display()
        ));
    }
    Ok(())
}

/// On a running server of this project: template databases whose migrations or scenario
/// changed, and databases half-built by runs that were killed.
async fn gc_databases(
    project: &Project,
    env: &crate::config::EnvConfig,
    report: &mut GcReport,
) -> Result<(), Error> {
    let Some(server) = server::known(project, env)? else {
        return Ok(());
    };
    if !server::health(project, env).await.0 {
        return Ok(());
    }
    let mut admin = server.admin().await?;
    let current = current_templates(project, env.engine);
    for db in admin.list_databases(TEMPLATE_PREFIX).await? {
        let hash = &db[TEMPLATE_PREFIX.len()..];
        let stale = match hash.split_once("_b") {
            // A build in progress, or left by a killed run.
            Some((_, pid)) => !pid.parse::<u32>().is_ok_and(process_alive),
            None => !current.iter().any(|h| h == hash),
        };
        if !stale || report.removed_servers.iter().any(|r| r.ends_with(&db)) {
            continue;
        }
        if !report.dry_run
            && let Err(e) = admin.drop_database(&db).await
        {
            warn!("could not drop {db}: {e}");
            continue;
        }
        report
            .removed_servers
            .push(format!("database {db} on the server of env {}", env.name));
    }
    let scratches = admin.list_databases(SCRATCH_PREFIX).await?;
    for db in scratches.into_iter().filter(|db| dead_scratch(db)) {
        if report.removed_servers.iter().any(|r| r.ends_with(&db)) {
            continue;
        }
        if !report.dry_run
            && let Err(e) = admin.drop_database(&db).await
        {
            warn!("could not drop {db}: {e}");
            continue;
        }
        report.removed_servers.push(format!(
            "database {db} (left by a killed `backup verify`) on the server of env {}",
            env.name
        ));
    }
    Ok(())
}

/// The hashes of the templates whose migrations and scenario are still current.
fn current_templates(project: &Project, engine: EngineKind) -> Vec<String> {
    let migrations = project.migration_fingerprints().unwrap_or_default();
    let dir = project.state.templates(engine.as_str());
    let mut current = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let Ok(info) = serde_json::from_slice::<TemplateInfo>(&bytes) else {
            continue;
        };
        let scenario = crate::seed::Scenario::load(&project.config.project.seeds, &info.scenario);
        let fresh = migrations.contains(&info.migrations)
            && scenario.is_ok_and(|s| s.fingerprint == info.scenario_fingerprint);
        if fresh && let Some((_, hash)) = stem.rsplit_once('-') {
            current.push(hash.to_string());
        } else if !fresh {
            let _ = std::fs::remove_file(&path);
        }
    }
    current
}

/// Drop the databases named `<prefix><pid>` whose process is gone: what a run killed
/// half-way left (`dbenv_tpl_<hash>_b<pid>`, `<db>_b<pid>`, `<db>_restore_<pid>`). The
/// caller holds the lock that keeps live runs using `prefix` apart. Returns what it dropped.
pub(crate) async fn drop_dead_runs(
    admin: &mut ServerAdmin,
    prefix: &str,
) -> Result<Vec<String>, Error> {
    // A killed run's `CREATE DATABASE` may still be running on the server.
    admin
        .wait_statements_naming(prefix, std::time::Duration::from_secs(30))
        .await?;
    let mut dropped = Vec::new();
    for db in admin.list_databases(prefix).await? {
        if !dead_run(&db, prefix) {
            continue;
        }
        admin.drop_database(&db).await?;
        info!(database = %db, "dropped a database left half-built by a killed run");
        dropped.push(db);
    }
    Ok(dropped)
}

/// Whether `db` is `<prefix><pid>` and no process `pid` runs.
pub(crate) fn dead_run(db: &str, prefix: &str) -> bool {
    pid_dead(db.strip_prefix(prefix).unwrap_or_default())
}

/// Whether `pid` is a process id (digits only) and no such process runs.
pub(crate) fn pid_dead(pid: &str) -> bool {
    !pid.is_empty()
        && pid.bytes().all(|b| b.is_ascii_digit())
        && !pid.parse::<u32>().is_ok_and(process_alive)
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

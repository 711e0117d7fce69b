//! `dbenv backup verify ID`: prove a backup restorable. The stored bytes are checked
//! against the manifest's SHA-256, then the backup is really restored into a scratch
//! database (a temporary SQLite file, or `dbenv_verify_<id>_<host>_<pid>` on the env's
//! server, dropped afterwards, or by the next verification or `dbenv gc` on the same machine
//! when a killed run left it) whose integrity, rows per table and migration version are
//! compared with the manifest. The outcome is recorded beside the backup
//! (`<id>.verified.json`).

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{SecondsFormat, Utc};
use tracing::info;

use super::inspect::{self, Contents};
use super::manifest::{self, Check, Manifest, Verification};
use super::pipe;
use super::restore::checksum_mismatch;
use super::store::Fetched;
use super::take::blocking;
use super::{BackupId, Target, catalog};
use crate::config::EngineKind;
use crate::error::{Error, IoContext};
use crate::project::Project;

/// Verify backup `id` of `env`; `Ok` with `ok: false` when a check failed (each check says
/// what it found). The result is recorded in the storage either way.
///
/// `id` may be `latest`: the newest backup of the env.
pub async fn verify(project: &Project, env: Option<&str>, id: &str) -> Result<Verification, Error> {
    let parsed = (id != LATEST).then(|| BackupId::parse(id)).transpose()?;
    let target = Target::for_id(project, env)?;
    let id = match parsed {
        Some(id) => id,
        None => latest(&target).await?,
    };
    let manifest = catalog::load(&target, &id).await?;
    let clock = Instant::now();
    let mut checks = Vec::new();
    let fetched = target.store.fetch(&manifest.file).await?;
    let path = fetched.path.clone();
    let (sha, size) = blocking(move || pipe::hash_file(&path).at(&path)).await?;
    if sha == manifest.sha256 && size == manifest.stored_bytes {
        checks.push(Check::new(
            "checksum",
            true,
            format!("SHA-256 {sha} ({size} bytes)"),
        ));
        info!(id = %id, "checksum ok; restoring into a scratch database");
        let restored = restored_contents(project, &target, &manifest, &fetched).await;
        if pipe::cancelled() {
            // Not a verdict on the backup: record nothing.
            return Err(Error::Interrupted(format!(
                "the verification of backup {id} was cancelled"
            )));
        }
        match restored {
            Ok((problems, contents)) => {
                checks.push(integrity(&problems));
                checks.push(counts(&manifest, &contents.tables));
                checks.push(migration(&manifest, contents.migration_version));
            }
            Err(e) => checks.push(Check::new("restore", false, format!("{e:#}"))),
        }
    } else {
        checks.push(Check::new(
            "checksum",
            false,
            checksum_mismatch(&manifest, &sha, size),
        ));
    }
    let verification = Verification {
        id: id.to_string(),
        ok: checks.iter().all(|c| c.ok),
        verified_at: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        checks,
        duration_ms: clock.elapsed().as_millis() as u64,
    };
    let mut record = serde_json::to_vec_pretty(&verification).expect("serialisable");
    record.push(b'\n');
    target
        .store
        .put(&manifest::verified_name(&id), &record)
        .await?;
    Ok(verification)
}

/// The word that names an env's newest backup instead of an id.
pub const LATEST: &str = "latest";

async fn latest(target: &Target<'_>) -> Result<BackupId, Error> {
    let listed = catalog::list_in(&target.store, &target.env.name).await?;
    match listed.last() {
        Some(l) => l.manifest.backup_id(),
        None => Err(Error::Unsupported(format!(
            "env {} has no backup yet in {}; `dbenv backup {}` takes one",
            target.env.name,
            target.store.describe(),
            target.env.name
        ))),
    }
}

/// Restore into scratch; return the integrity problems found and what the copy holds.
async fn restored_contents(
    project: &Project,
    target: &Target<'_>,
    manifest: &Manifest,
    fetched: &Fetched,
) -> Result<(Vec<String>, Contents), Error> {
    match manifest.engine {
        EngineKind::Sqlite => {
            let scratch = tempfile::Builder::new()
                .prefix("dbenv-verify-")
                .suffix(".sqlite")
                .tempfile()
                .map_err(|e| Error::io(std::env::temp_dir(), e))?
                .into_temp_path();
            let _ = std::fs::remove_file(&scratch);
            let (from, compression) = (fetched.path.clone(), manifest.compression);
            blocking(move || {
                pipe::decompress_to(&from, compression, &scratch).at(&scratch)?;
                let problems = inspect::sqlite_problems(&scratch, inspect::Thoroughness::Full)?;
                let contents = inspect::sqlite_contents(&scratch)?;
                drop(scratch);
                Ok((problems, contents))
            })
            .await
        }
        _ => server(project, target, manifest, fetched).await,
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn server(
    project: &Project,
    target: &Target<'_>,
    manifest: &Manifest,
    fetched: &Fetched,
) -> Result<(Vec<String>, Contents), Error> {
    use crate::engine::AnyBackend;
    let env = target.env;
    let (server, _) = crate::project::server::ensure_up(project, env).await?;
    let mut admin = server.admin().await?;
    let scratch = scratch_name(&manifest.backup_id()?, std::process::id());
    drop_dead_scratches(&mut admin).await?;
    admin.drop_database(&scratch).await?;
    admin.create_database(&scratch).await?;
    let result = async {
        super::restore::restore_database(
            &server.endpoint,
            env.bin_dir.as_deref(),
            &scratch,
            manifest,
            &fetched.path,
        )
        .await?;
        let url = server.url_of(&scratch);
        let mut db = AnyBackend::connect(env.engine, &url).await?;
        let problems = db
            .foreign_key_violations()
            .await
            .map_err(|e| Error::db("checking foreign keys", e))?;
        db.close().await?;
        let contents = match env.engine {
            #[cfg(feature = "postgres")]
            EngineKind::Postgres => inspect::pg_contents(&url, &scratch).await?,
            #[cfg(feature = "mysql")]
            EngineKind::Mysql | EngineKind::Mariadb => {
                inspect::mysql_contents(&url, &scratch).await?
            }
            other => {
                return Err(Error::Unsupported(format!(
                    "no {other} engine in this build"
                )));
            }
        };
        let problems = problems
            .into_iter()
            .map(|p| format!("foreign key broken: {p}"))
            .collect();
        Ok((problems, contents))
    }
    .await;
    admin.drop_database(&scratch).await?;
    result
}

/// Scratch databases of server verifications start with this.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) const SCRATCH_PREFIX: &str = "dbenv_verify_";

/// The scratch database of process `pid` of this machine verifying backup `id`: the
/// machine and the pid tell a killed run's leftover (its process is gone) from a
/// verification still running, here or on another machine using the same server.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn scratch_name(id: &BackupId, pid: u32) -> String {
    let host = crate::util::host_id();
    format!("{SCRATCH_PREFIX}{}_{host}_{pid}", id.as_identifier())
}

/// Whether `name` is the scratch database of a verification run on this machine whose
/// process is gone.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn dead_scratch(name: &str) -> bool {
    let Some((rest, pid)) = name
        .strip_prefix(SCRATCH_PREFIX)
        .and_then(|rest| rest.rsplit_once('_'))
    else {
        return false;
    };
    rest.rsplit_once('_').is_some_and(|(id, host)| {
        !id.is_empty() && host == crate::util::host_id() && crate::project::gc_server::pid_dead(pid)
    })
}

/// Drop the scratch databases killed verifications left on this server (a production
/// server must not keep a stray copy of its data); returns their names.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) async fn drop_dead_scratches(
    admin: &mut crate::engine::ServerAdmin,
) -> Result<Vec<String>, Error> {
    let mut dropped = Vec::new();
    for db in admin.list_databases(SCRATCH_PREFIX).await? {
        if dead_scratch(&db) {
            admin.drop_database(&db).await?;
            info!(database = %db, "dropped the scratch database of a killed verification");
            dropped.push(db);
        }
    }
    Ok(dropped)
}

#[cfg(not(any(feature = "postgres", feature = "mysql")))]
async fn server(
    _: &Project,
    target: &Target<'_>,
    _: &Manifest,
    _: &Fetched,
) -> Result<(Vec<String>, Contents), Error> {
    Err(Error::Unsupported(format!(
        "this build of dbenv has no {} engine",
        target.env.engine
    )))
}

fn integrity(problems: &[String]) -> Check {
    if problems.is_empty() {
        Check::new(
            "integrity",
            true,
            "integrity and foreign key checks found nothing",
        )
    } else {
        Check::new("integrity", false, problems.join("; "))
    }
}

fn counts(manifest: &Manifest, restored: &BTreeMap<String, u64>) -> Check {
    let mut differences = Vec::new();
    for (table, &rows) in &manifest.tables {
        match restored.get(table) {
            Some(&got) if got == rows => {}
            Some(&got) => differences.push(format!("{table}: {got} rows, manifest says {rows}")),
            None => differences.push(format!("{table}: missing after restore")),
        }
    }
    for table in restored
        .keys()
        .filter(|t| !manifest.tables.contains_key(*t))
    {
        differences.push(format!("{table}: not in the manifest"));
    }
    let total: u64 = restored.values().sum();
    if differences.is_empty() {
        return Check::new(
            "row counts",
            true,
            format!(
                "{} tables, {total} rows, as in the manifest",
                restored.len()
            ),
        );
    }
    let missing = differences
        .iter()
        .any(|d| d.contains("missing") || d.contains("not in"));
    if !manifest.counts_exact && !missing {
        // Older MySQL/MariaDB backups: counts from a snapshot just before the dump's own.
        return Check::new(
            "row counts",
            true,
            format!(
                "differ, as writes between the count and the dump allow: {}",
                differences.join("; ")
            ),
        );
    }
    Check::new("row counts", false, differences.join("; "))
}

fn migration(manifest: &Manifest, restored: Option<i64>) -> Check {
    let show = |v: Option<i64>| v.map_or("none".to_string(), |v| v.to_string());
    let ok = restored == manifest.migration_version;
    let detail = if ok {
        format!("version {}", show(restored))
    } else {
        format!(
            "restored copy is at {}, manifest says {}",
            show(restored),
            show(manifest.migration_version)
        )
    };
    Check::new("migration version", ok, detail)
}

#[cfg(all(test, any(feature = "postgres", feature = "mysql")))]
mod tests {
    use super::*;

    #[test]
    fn scratch_names_carry_the_pid_and_only_dead_ones_are_leftovers() {
        let id = BackupId::parse("20261124T031500Z-a1b2").unwrap();
        let mine = scratch_name(&id, std::process::id());
        let host = crate::util::host_id();
        assert_eq!(
            mine,
            format!(
                "dbenv_verify_20261124t031500z_a1b2_{host}_{}",
                std::process::id()
            )
        );
        assert!(
            !dead_scratch(&mine),
            "a running verification is not a leftover"
        );
        // No process has pid 4194304 + 1 (above Linux's pid_max).
        assert!(dead_scratch(&scratch_name(&id, 4_194_305)));
        // Not ours: another machine's (its processes are not ours to see), no host, no
        // pid, no id, another prefix.
        let other = if host == "000000" { "ffffff" } else { "000000" };
        for name in [
            format!("dbenv_verify_20261124t031500z_a1b2_{other}_4194305"),
            "dbenv_verify_20261124t031500z_a1b2_4194305".to_string(),
            format!("dbenv_verify_20261124t031500z_a1b2_{host}"),
            format!("dbenv_verify__{host}_4194305"),
            format!("app_20261124t031500z_a1b2_{host}_4194305"),
        ] {
            assert!(!dead_scratch(&name), "{name} taken for a leftover");
        }
    }
}

//! What a storage holds: complete backups (those with a manifest), their verification, the
//! leftovers of killed backups, and pruning by the env's keep policy.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::Serialize;
use tracing::info;

use super::Target;
use super::id::BackupId;
use super::manifest::{self, Manifest, Verification};
use super::retention::{self, Candidate, Decision};
use super::store::Store;
use crate::error::Error;
use crate::project::Project;

/// A complete backup and its latest verification.
#[derive(Debug, Clone, Serialize)]
pub struct Listed {
    #[serde(flatten)]
    pub manifest: Manifest,
    pub verification: Option<Verification>,
}

impl Listed {
    /// When the backup started (the manifest's time, else the id's).
    pub fn started(&self) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&self.manifest.started_at)
            .map(|t| t.with_timezone(&Utc))
            .or_else(|_| self.manifest.backup_id().map(|id| id.time()))
            .unwrap_or_default()
    }

    pub fn verified_ok(&self) -> bool {
        self.verification.as_ref().is_some_and(|v| v.ok)
    }
}

/// The env's complete backups, oldest first.
pub async fn list(project: &Project, env: Option<&str>) -> Result<Vec<Listed>, Error> {
    let target = Target::open(project, env)?;
    list_in(&target.store, &target.env.name).await
}

pub(crate) async fn list_in(store: &Store, env: &str) -> Result<Vec<Listed>, Error> {
    let names = store.names().await?;
    let present: BTreeSet<&str> = names.iter().map(String::as_str).collect();
    let mut out = Vec::new();
    for name in &names {
        let Some(id) = name
            .strip_suffix(".manifest.json")
            .and_then(|s| BackupId::parse(s).ok())
        else {
            continue;
        };
        let manifest = Manifest::from_bytes(&store.read(name).await?, name)?;
        if manifest.env != env {
            continue;
        }
        let verified = manifest::verified_name(&id);
        let verification = if present.contains(verified.as_str()) {
            serde_json::from_slice(&store.read(&verified).await?).ok()
        } else {
            None
        };
        out.push(Listed {
            manifest,
            verification,
        });
    }
    // By start time to the millisecond: ids only tell seconds apart.
    out.sort_by(|a, b| (a.started(), &a.manifest.id).cmp(&(b.started(), &b.manifest.id)));
    Ok(out)
}

/// The manifest of backup `id`, with a clear error when there is no such backup.
pub(crate) async fn load(target: &Target<'_>, id: &BackupId) -> Result<Manifest, Error> {
    let name = manifest::manifest_name(id);
    let names = target.store.names().await?;
    if !names.contains(&name) {
        return Err(Error::Unsupported(format!(
            "no backup {id} in {} (env {}); `dbenv backup list {}` shows the backups there",
            target.store.describe(),
            target.env.name,
            target.env.name
        )));
    }
    let manifest = Manifest::from_bytes(&target.store.read(&name).await?, &name)?;
    if manifest.id != id.as_str() {
        return Err(Error::State(format!(
            "manifest {name} names backup {}; it was renamed or edited",
            manifest.id
        )));
    }
    Ok(manifest)
}

/// Remove what killed backups left: temporary files, and data or verification files whose
/// backup has no manifest (the manifest is written last, deleted first). Run under the
/// storage lock, so no backup is in progress.
pub(crate) async fn clean_leftovers(store: &Store) -> Result<Vec<String>, Error> {
    let mut removed = store.remove_stale_temps();
    let names = store.names().await?;
    let complete: BTreeSet<BackupId> = names
        .iter()
        .filter_map(|n| n.strip_suffix(".manifest.json"))
        .filter_map(|s| BackupId::parse(s).ok())
        .collect();
    for name in &names {
        if name.ends_with(".manifest.json") {
            continue;
        }
        if let Some(id) = manifest::id_of_file(name)
            && !complete.contains(&id)
        {
            store.delete(name).await?;
            removed.push(name.clone());
        }
    }
    if !removed.is_empty() {
        info!(
            files = removed.len(),
            "removed leftovers of unfinished backups: {}",
            removed.join(", ")
        );
    }
    Ok(removed)
}

/// What `backup prune` decided, and did.
#[derive(Debug, Clone, Serialize)]
pub struct PruneReport {
    pub env: String,
    pub decisions: Vec<Decision>,
    /// Ids deleted (empty without `yes`).
    pub deleted: Vec<String>,
    pub dry_run: bool,
}

/// Apply the env's keep policy at time `now`; deletes only with `yes`.
pub async fn prune(
    project: &Project,
    env: Option<&str>,
    yes: bool,
    now: DateTime<Utc>,
) -> Result<PruneReport, Error> {
    let target = Target::open(project, env)?;
    let _lock = target.lock(project)?;
    let listed = list_in(&target.store, &target.env.name).await?;
    let candidates: Vec<Candidate> = listed
        .iter()
        .filter_map(|l| {
            let id = l.manifest.backup_id().ok()?;
            Some(Candidate {
                time: l.started(),
                verified: l.verified_ok(),
                id,
            })
        })
        .collect();
    let decisions = retention::decide(&candidates, &target.config.keep, now)?;
    let mut deleted = Vec::new();
    if yes {
        for d in decisions.iter().filter(|d| !d.keep) {
            let listed = listed
                .iter()
                .find(|l| l.manifest.id == d.id)
                .expect("listed");
            delete_backup(&target.store, &listed.manifest).await?;
            deleted.push(d.id.clone());
        }
    }
    Ok(PruneReport {
        env: target.env.name.clone(),
        decisions,
        deleted,
        dry_run: !yes,
    })
}

/// Manifest first, so a backup is never half-listed; then its data and verification.
async fn delete_backup(store: &Store, manifest: &Manifest) -> Result<(), Error> {
    let id = manifest.backup_id()?;
    store.delete(&manifest::manifest_name(&id)).await?;
    store.delete(&manifest.file).await?;
    store.delete(&manifest::verified_name(&id)).await?;
    info!(id = %id, "deleted backup");
    Ok(())
}

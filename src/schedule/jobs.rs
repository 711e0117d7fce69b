//! What a scheduled run does. A backup run takes a backup, then (per the env's
//! `[backup]` config) verifies it by restoring it into a scratch database and prunes by the
//! keep policy. A drill run verifies the newest backup on its own schedule: a restore
//! drill that proves, away from the backup itself, that the latest backup restores.

use chrono::Utc;

use super::JobKind;
use crate::backup::{self, Verification};
use crate::error::Error;
use crate::project::Project;

/// What a run did, as far as it got.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The backup taken (backup runs) or drilled (drill runs).
    pub backup_id: Option<String>,
    /// Its stored size.
    pub stored_bytes: Option<u64>,
    /// Whether it was verified, and passed.
    pub verified: Option<bool>,
    /// Backups deleted by the keep policy.
    pub pruned: Option<usize>,
    /// Why the run failed; `None` when it succeeded.
    pub failure: Option<Error>,
}

/// Run `job` on `env` once.
pub async fn run(project: &Project, env: &str, job: JobKind) -> Outcome {
    let mut outcome = Outcome::default();
    let result = match job {
        JobKind::Backup => backup_run(project, env, &mut outcome).await,
        JobKind::Drill => drill_run(project, env, &mut outcome).await,
    };
    outcome.failure = result.err();
    outcome
}

async fn backup_run(project: &Project, env: &str, out: &mut Outcome) -> Result<(), Error> {
    let config = project
        .env(Some(env))?
        .backup
        .clone()
        .ok_or_else(|| Error::Unsupported(format!("env {env} has no [env.{env}.backup]")))?;
    let manifest = backup::backup(project, Some(env)).await?;
    out.backup_id = Some(manifest.id.clone());
    out.stored_bytes = Some(manifest.stored_bytes);
    if config.verify {
        interrupted()?;
        let verification = backup::verify(project, Some(env), &manifest.id).await?;
        out.verified = Some(verification.ok);
        passed(&verification)?;
    }
    if config.prune {
        interrupted()?;
        let report = backup::prune(project, Some(env), true, Utc::now()).await?;
        out.pruned = Some(report.deleted.len());
    }
    Ok(())
}

async fn drill_run(project: &Project, env: &str, out: &mut Outcome) -> Result<(), Error> {
    let listed = backup::list(project, Some(env)).await?;
    let Some(latest) = listed.last() else {
        return Err(Error::State(format!(
            "env {env} has no backup to drill yet (`dbenv backup {env}` takes one)"
        )));
    };
    out.backup_id = Some(latest.manifest.id.clone());
    out.stored_bytes = Some(latest.manifest.stored_bytes);
    let verification = backup::verify(project, Some(env), &latest.manifest.id).await?;
    out.verified = Some(verification.ok);
    passed(&verification)
}

/// Between steps: stop when the scheduler is aborting.
fn interrupted() -> Result<(), Error> {
    if backup::pipe::cancelled() {
        return Err(Error::Interrupted(
            "the scheduler is shutting down; the remaining steps were not run".into(),
        ));
    }
    Ok(())
}

fn passed(v: &Verification) -> Result<(), Error> {
    if v.ok {
        return Ok(());
    }
    let failed: Vec<String> = v
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    Err(Error::State(format!(
        "backup {} failed verification: {}",
        v.id,
        failed.join("; ")
    )))
}

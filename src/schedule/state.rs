//! What the scheduler remembers between runs: each job's last run, in
//! `.dbenv/schedule/<env>/<job>.json`, written atomically. A run that was aborted (the
//! scheduler stopped mid-way) is not recorded, so it counts as missed.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::warn;

use super::JobKind;
use crate::error::Error;
use crate::state::{StateDir, write_atomic};

/// The last run of one job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastRun {
    /// The scheduled time the run stood for.
    pub slot: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub ok: bool,
    /// The backup taken or drilled, when there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup_id: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl LastRun {
    /// Scheduled times up to this one are done with (the run, and every slot it overlapped).
    pub fn covered_until(&self) -> DateTime<Utc> {
        self.slot.max(self.finished_at)
    }
}

fn path(state: &StateDir, env: &str, job: JobKind) -> PathBuf {
    state
        .root()
        .join("schedule")
        .join(env)
        .join(format!("{}.json", job.as_str()))
}

/// The last recorded run of `job` on `env`; `None` when there is none or it is unreadable.
pub fn read(state: &StateDir, env: &str, job: JobKind) -> Option<LastRun> {
    let path = path(state, env, job);
    let text = std::fs::read_to_string(&path).ok()?;
    serde_json::from_str(&text)
        .inspect_err(|e| warn!("ignoring unreadable schedule state {}: {e}", path.display()))
        .ok()
}

/// Record the last run of `job` on `env`.
pub fn write(state: &StateDir, env: &str, job: JobKind, run: &LastRun) -> Result<(), Error> {
    let mut json = serde_json::to_vec_pretty(run).expect("serialisable");
    json.push(b'\n');
    write_atomic(&path(state, env, job), &json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_is_written_atomically_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let state = StateDir::new(dir.path());
        assert_eq!(read(&state, "prod", JobKind::Backup), None);
        let t: DateTime<Utc> = "2026-03-01T03:00:00Z".parse().unwrap();
        let run = LastRun {
            slot: t,
            started_at: t,
            finished_at: t + chrono::TimeDelta::seconds(5),
            ok: true,
            backup_id: Some("20260301T030000Z-a1b2".into()),
            error: None,
        };
        write(&state, "prod", JobKind::Backup, &run).unwrap();
        assert_eq!(read(&state, "prod", JobKind::Backup), Some(run.clone()));
        assert_eq!(read(&state, "prod", JobKind::Drill), None);
        assert_eq!(run.covered_until(), t + chrono::TimeDelta::seconds(5));
        let files: Vec<_> = std::fs::read_dir(dir.path().join(".dbenv/schedule/prod"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(files, vec!["backup.json"]);
    }
}

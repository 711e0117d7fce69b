//! `dbenv schedule`: run each env's backup schedule in the foreground.
//!
//! Each env with `schedule = "<cron>"` in `[env.X.backup]` gets a backup job (backup, then
//! verify and prune as its config says); `drill = "<cron>"` adds a restore drill (verify
//! the newest backup: a real restore into a scratch database). Cron expressions are read
//! in the env's `tz` (UTC by default).
//!
//! | file | its job |
//! |---|---|
//! | [`plan`] | cron expressions and time zones: next times, the run missed while down |
//! | [`clock`] | the system clock, or an accelerated one for tests |
//! | [`state`] | each job's last run, in `.dbenv/schedule/` |
//! | [`jobs`] | what one run does |
//! | [`daemon`] | the loop: runs, skips, catch-up, locks, shutdown |
//! | [`systemd`] | the same schedule as systemd timers |
//!
//! ```no_run
//! # async fn demo() -> Result<(), dbenv::Error> {
//! use std::sync::Arc;
//! use dbenv::schedule::{self, Options, SystemClock};
//! let project = dbenv::project::Project::discover(std::path::Path::new("."))?;
//! let jobs = schedule::select(&project, &[])?;
//! let (control, stop) = schedule::control();
//! // Elsewhere: control.finish() on SIGTERM, control.abort() on a second one.
//! # drop(control);
//! let summary = schedule::run(&project, jobs, Options::new(Arc::new(SystemClock)), stop).await?;
//! # Ok(()) }
//! ```

pub mod clock;
pub mod daemon;
pub mod jobs;
pub mod plan;
pub mod state;
pub mod systemd;

pub use clock::{Clock, ScaledClock, SystemClock};
pub use daemon::{Control, Options, Stop, Summary, control, run};
pub use plan::Plan;

use crate::config::{EnvConfig, EnvKind};
use crate::error::Error;
use crate::project::Project;

/// The two kinds of scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobKind {
    /// Take a backup (then verify and prune, per the env's config).
    Backup,
    /// Verify the newest backup: restore it into a scratch database and check it.
    Drill,
}

impl JobKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            JobKind::Backup => "backup",
            JobKind::Drill => "drill",
        }
    }
}

impl std::fmt::Display for JobKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One scheduled job of one env.
#[derive(Debug, Clone)]
pub struct Job {
    pub env: String,
    pub kind: JobKind,
    pub plan: Plan,
    /// Run once at start-up when a scheduled time passed while no scheduler ran.
    pub catch_up: bool,
    /// The env is `kind = "production"`.
    pub production: bool,
}

/// The jobs of the envs named (all envs with a schedule or a drill when none is named).
/// An env named without either is a usage error, as is a project without any.
pub fn select(project: &Project, envs: &[String]) -> Result<Vec<Job>, Error> {
    let config = &project.config;
    let chosen: Vec<&EnvConfig> = if envs.is_empty() {
        let all: Vec<&EnvConfig> = config
            .env_names()
            .into_iter()
            .filter_map(|n| config.envs.get(n))
            .filter(|e| has_schedule(e))
            .collect();
        if all.is_empty() {
            return Err(Error::Unsupported(format!(
                "no env in {} has a backup schedule: add, for example,\n  [env.prod.backup]\n  dir = \"backups/prod\"\n  schedule = \"0 3 * * *\"",
                config.file.display()
            )));
        }
        all
    } else {
        let mut chosen = Vec::new();
        for name in envs {
            let env = project.env(Some(name))?;
            if !has_schedule(env) {
                return Err(Error::Unsupported(format!(
                    "env {name} has no backup schedule: add schedule = \"0 3 * * *\" (cron) to [env.{name}.backup] in {}",
                    config.file.display()
                )));
            }
            if !chosen.iter().any(|e: &&EnvConfig| e.name == env.name) {
                chosen.push(env);
            }
        }
        chosen
    };
    let mut jobs = Vec::new();
    for env in chosen {
        jobs.extend(env_jobs(env)?);
    }
    Ok(jobs)
}

fn has_schedule(env: &EnvConfig) -> bool {
    env.backup
        .as_ref()
        .is_some_and(|b| b.schedule.is_some() || b.drill.is_some())
}

fn env_jobs(env: &EnvConfig) -> Result<Vec<Job>, Error> {
    let Some(b) = &env.backup else {
        return Ok(Vec::new());
    };
    let mut jobs = Vec::new();
    for (kind, cron) in [(JobKind::Backup, &b.schedule), (JobKind::Drill, &b.drill)] {
        let Some(cron) = cron else { continue };
        // Validated when dbenv.toml was loaded; a config built in code is checked here.
        let plan = Plan::new(cron, b.tz.as_deref()).map_err(|e| {
            Error::Unsupported(format!(
                "env {}: {} \"{cron}\": {e}",
                env.name,
                if kind == JobKind::Backup {
                    "schedule"
                } else {
                    "drill"
                }
            ))
        })?;
        jobs.push(Job {
            env: env.name.clone(),
            kind,
            plan,
            catch_up: b.catch_up,
            production: env.kind == EnvKind::Production,
        });
    }
    Ok(jobs)
}

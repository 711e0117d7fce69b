//! The scheduler loop. One task per job sleeps until the job's next time and starts a run;
//! a run still going when its next time comes makes that time skipped (logged), never
//! queued. Runs of the same env take turns, and a drill due at the same time as a backup
//! runs after it. A lock file per env keeps a second scheduler off it. Each event is one
//! `tracing` line with an `event` field; secrets never appear (errors and storage names are
//! already redacted).
//!
//! Shutdown ([`Control`]): `finish` stops scheduling and lets runs in progress finish for
//! up to the grace period; `abort` (or the end of the grace period) cancels them: their
//! byte pipelines stop at the next buffer and remove their partial files, nothing is
//! recorded, and [`Summary::aborted`] counts them.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use tokio::sync::{Mutex, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use super::clock::{Clock, sleep_until};
use super::state::{self, LastRun};
use super::{Job, JobKind, Plan, jobs};
use crate::error::Error;
use crate::project::Project;
use crate::state::FileLock;

/// How long cancelled runs get to clean up before the scheduler stops waiting for them.
const ABORT_WAIT: Duration = Duration::from_secs(30);

/// What the scheduler should be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stop {
    /// Run the schedule.
    Run,
    /// Start nothing new; let runs in progress finish within the grace period.
    Finish,
    /// Cancel runs in progress now.
    Abort,
}

/// The handle that tells a running scheduler to stop (see [`Stop`]).
#[derive(Debug, Clone)]
pub struct Control(Arc<watch::Sender<Stop>>);

impl Control {
    pub fn finish(&self) {
        self.0.send_if_modified(|s| raise(s, Stop::Finish));
    }
    pub fn abort(&self) {
        self.0.send_if_modified(|s| raise(s, Stop::Abort));
    }
    /// `finish` the first time, `abort` the next (what a signal does).
    pub fn escalate(&self) {
        self.0.send_modify(|s| {
            *s = if *s == Stop::Run {
                Stop::Finish
            } else {
                Stop::Abort
            }
        });
    }
}

fn raise(s: &mut Stop, to: Stop) -> bool {
    let changed = *s < to;
    *s = (*s).max(to);
    changed
}

/// A [`Control`] and the receiver to give [`run`].
pub fn control() -> (Control, watch::Receiver<Stop>) {
    let (tx, rx) = watch::channel(Stop::Run);
    (Control(Arc::new(tx)), rx)
}

/// How the scheduler runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub clock: Arc<dyn Clock>,
    /// How long runs in progress may take to finish after [`Control::finish`].
    pub grace: Duration,
}

impl Options {
    /// Options with `clock` and a 60-second grace period.
    pub fn new(clock: Arc<dyn Clock>) -> Options {
        Options {
            clock,
            grace: Duration::from_secs(60),
        }
    }
}

/// What happened while the scheduler ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub runs: u64,
    pub failed: u64,
    /// Runs cancelled by the shutdown.
    pub aborted: u64,
    pub skipped: u64,
}

/// What every job task shares.
struct Shared {
    project: Project,
    clock: Arc<dyn Clock>,
    stop: watch::Receiver<Stop>,
    /// One per env: runs of the same env take turns.
    turns: BTreeMap<String, Arc<Mutex<()>>>,
    /// Each env's backup schedule: a drill due at the same time as a backup runs after it.
    backup_plans: BTreeMap<String, Plan>,
    /// Per env with a backup job: the latest slot its backup loop has dealt with (the run
    /// took the env's turn, or the slot was skipped). Drills of the same slot wait for it.
    backups_reached: BTreeMap<String, watch::Sender<Option<DateTime<Utc>>>>,
    /// When this scheduler started: runs for earlier slots are catch-ups.
    started: DateTime<Utc>,
    /// Runs in progress.
    active: watch::Sender<usize>,
    runs: AtomicU64,
    failed: AtomicU64,
    aborted: AtomicU64,
    skipped: AtomicU64,
}

impl Shared {
    fn now(&self) -> String {
        stamp(self.clock.now())
    }
    fn stopping(&self) -> bool {
        *self.stop.borrow() != Stop::Run
    }
    fn backup_due_at(&self, env: &str, slot: DateTime<Utc>) -> bool {
        self.backup_plans
            .get(env)
            .is_some_and(|p| p.next_after(slot - chrono::Duration::milliseconds(1)) == Some(slot))
    }

    /// For a drill at `slot`: when the env's backup is due at the same slot, wait until the
    /// backup loop has dealt with it, so that the drill checks the newest backup (both
    /// loops wake at the same instant, in no set order). Catch-up drills do not wait: the
    /// backup's own catch-up may stand for another slot.
    async fn after_backup_of(&self, env: &str, slot: DateTime<Utc>) {
        let Some(reached) = self.backups_reached.get(env) else {
            return;
        };
        if slot < self.started || !self.backup_due_at(env, slot) {
            return;
        }
        let (mut reached, mut stop) = (reached.subscribe(), self.stop.clone());
        tokio::select! {
            _ = reached.wait_for(|r| r.is_some_and(|r| r >= slot)) => {}
            _ = stop.wait_for(|s| *s != Stop::Run) => {}
        }
    }

    /// The env's backup loop has dealt with `slot`.
    fn backup_reached(&self, env: &str, slot: DateTime<Utc>) {
        if let Some(reached) = self.backups_reached.get(env) {
            reached.send_if_modified(|r| {
                let later = r.is_none_or(|r| r < slot);
                if later {
                    *r = Some(slot);
                }
                later
            });
        }
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Run `jobs` until `stop` says otherwise; returns once every run has ended.
pub async fn run(
    project: &Project,
    jobs: Vec<Job>,
    options: Options,
    stop: watch::Receiver<Stop>,
) -> Result<Summary, Error> {
    let mut envs: Vec<&str> = jobs.iter().map(|j| j.env.as_str()).collect();
    envs.dedup();
    let _locks = lock_envs(project, &envs)?;
    let mut copy = Project::new(project.config.clone());
    copy.lock_timeout = project.lock_timeout;
    let shared = Arc::new(Shared {
        project: copy,
        clock: options.clock.clone(),
        stop: stop.clone(),
        turns: envs
            .iter()
            .map(|e| (e.to_string(), Arc::default()))
            .collect(),
        backup_plans: jobs
            .iter()
            .filter(|j| j.kind == JobKind::Backup)
            .map(|j| (j.env.clone(), j.plan.clone()))
            .collect(),
        backups_reached: jobs
            .iter()
            .filter(|j| j.kind == JobKind::Backup)
            .map(|j| (j.env.clone(), watch::channel(None).0))
            .collect(),
        started: options.clock.now(),
        active: watch::channel(0).0,
        runs: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        aborted: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
    });
    info!(event = "started", envs = %envs.join(","), jobs = jobs.len(), pid = std::process::id(), at = %shared.now(), "scheduler started");
    let mut loops = JoinSet::new();
    for job in jobs {
        loops.spawn(job_loop(shared.clone(), job));
    }
    let mut stop = stop;
    tokio::select! {
        _ = stop.wait_for(|s| *s != Stop::Run) => {}
        _ = async { while loops.join_next().await.is_some() {} } => {
            info!(event = "no_more_runs", at = %shared.now(), "no job has a next time; stopping");
        }
    }
    loops.abort_all();
    shut_down(&shared, options.grace, stop).await;
    let summary = Summary {
        runs: shared.runs.load(Ordering::SeqCst),
        failed: shared.failed.load(Ordering::SeqCst),
        aborted: shared.aborted.load(Ordering::SeqCst),
        skipped: shared.skipped.load(Ordering::SeqCst),
    };
    info!(event = "stopped", runs = summary.runs, failed = summary.failed, aborted = summary.aborted, skipped = summary.skipped, at = %shared.now(), "scheduler stopped");
    Ok(summary)
}

/// One scheduler per env: a lock held as long as the scheduler runs.
fn lock_envs(project: &Project, envs: &[&str]) -> Result<Vec<FileLock>, Error> {
    envs.iter()
        .map(|env| {
            let path = project.state.locks().join("schedule").join(format!("{env}.lock"));
            FileLock::acquire(&path, Duration::ZERO, &format!("schedule {env}")).map_err(|t| {
                let by = t.holder.map(|p| format!(" (pid {p})")).unwrap_or_default();
                Error::Locked(format!(
                    "env {env} is already scheduled by another `dbenv schedule`{by}; run one scheduler per env (stop that one first)"
                ))
            })
        })
        .collect()
}

/// Wait for runs in progress: up to `grace`, or until an abort; then cancel what is left.
async fn shut_down(shared: &Shared, grace: Duration, mut stop: watch::Receiver<Stop>) {
    let mut active = shared.active.subscribe();
    let running = *active.borrow();
    info!(event = "shutting_down", running, grace_s = grace.as_secs(), at = %shared.now(), "shutting down");
    if running == 0 {
        return;
    }
    let finished = tokio::select! {
        _ = active.wait_for(|n| *n == 0) => true,
        _ = stop.wait_for(|s| *s == Stop::Abort) => false,
        _ = tokio::time::sleep(grace) => false,
    };
    if finished {
        return;
    }
    info!(event = "aborting", running = *active.borrow(), at = %shared.now(), "aborting the runs in progress");
    crate::backup::pipe::cancel_all();
    if tokio::time::timeout(ABORT_WAIT, active.wait_for(|n| *n == 0))
        .await
        .is_err()
    {
        warn!(event = "abandoned", running = *active.borrow(), at = %shared.now(), "runs did not stop in time; leaving them");
    }
}

/// Sleep to each next time of `job` and start a run, unless the last one still runs.
async fn job_loop(shared: Arc<Shared>, job: Job) {
    let busy = Arc::new(AtomicBool::new(false));
    let (env, kind) = (job.env.as_str(), job.kind.as_str());
    let start = shared.clock.now();
    if let Some(slot) = missed(&shared, &job, start) {
        info!(event = "catch_up", env, job = kind, slot = %stamp(slot), at = %shared.now(), "running a missed run");
        start_run(&shared, &job, slot, &busy);
    }
    let mut after = start;
    let mut stop = shared.stop.clone();
    loop {
        let Some(next) = job.plan.next_after(after) else {
            info!(event = "no_next_run", env, job = kind, schedule = job.plan.text(), at = %shared.now(), "the schedule has no next time");
            return;
        };
        info!(event = "next_run", env, job = kind, next_at = %stamp(next), at = %shared.now(), "next run");
        tokio::select! {
            _ = sleep_until(&*shared.clock, next) => {}
            _ = stop.wait_for(|s| *s != Stop::Run) => return,
        }
        after = next.max(shared.clock.now());
        if busy.load(Ordering::SeqCst) {
            shared.skipped.fetch_add(1, Ordering::SeqCst);
            info!(event = "skipped", env, job = kind, slot = %stamp(next), at = %shared.now(), "skipped: the previous run is still going");
            if job.kind == JobKind::Backup {
                shared.backup_reached(env, next);
            }
            continue;
        }
        start_run(&shared, &job, next, &busy);
    }
}

/// The scheduled time missed while no scheduler ran, when `catch_up` is on.
fn missed(shared: &Shared, job: &Job, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    if !job.catch_up {
        return None;
    }
    let last = state::read(&shared.project.state, &job.env, job.kind)?;
    job.plan.missed(last.covered_until(), now)
}

fn start_run(shared: &Arc<Shared>, job: &Job, slot: DateTime<Utc>, busy: &Arc<AtomicBool>) {
    busy.store(true, Ordering::SeqCst);
    shared.active.send_modify(|n| *n += 1);
    let (shared, job, busy) = (shared.clone(), job.clone(), busy.clone());
    tokio::spawn(async move {
        if job.kind == JobKind::Drill {
            shared.after_backup_of(&job.env, slot).await;
        }
        let turn = shared.turns[&job.env].clone();
        let _turn = turn.lock().await;
        if job.kind == JobKind::Backup {
            shared.backup_reached(&job.env, slot);
        }
        if !shared.stopping() {
            one_run(&shared, &job, slot).await;
        }
        busy.store(false, Ordering::SeqCst);
        shared.active.send_modify(|n| *n -= 1);
    });
}

async fn one_run(shared: &Shared, job: &Job, slot: DateTime<Utc>) {
    let (env, kind) = (job.env.as_str(), job.kind.as_str());
    let started_at = shared.clock.now();
    let clock = Instant::now();
    info!(event = "job_started", env, job = kind, slot = %stamp(slot), at = %stamp(started_at), "job started");
    let outcome = jobs::run(&shared.project, env, job.kind).await;
    let ms = clock.elapsed().as_millis() as u64;
    let id = outcome.backup_id.clone().unwrap_or_default();
    let bytes = outcome.stored_bytes.unwrap_or(0);
    shared.runs.fetch_add(1, Ordering::SeqCst);
    match &outcome.failure {
        None => {
            info!(event = "job_finished", env, job = kind, id = %id, bytes, ms, verified = outcome.verified, pruned = outcome.pruned, at = %shared.now(), "job finished");
        }
        Some(Error::Interrupted(why)) => {
            shared.aborted.fetch_add(1, Ordering::SeqCst);
            warn!(event = "job_aborted", env, job = kind, id = %id, ms, reason = %why, at = %shared.now(), "job aborted");
            return;
        }
        Some(e) => {
            shared.failed.fetch_add(1, Ordering::SeqCst);
            warn!(event = "job_failed", env, job = kind, id = %id, ms, error = %chain(e), at = %shared.now(), "job failed");
        }
    }
    let run = LastRun {
        slot,
        started_at,
        finished_at: shared.clock.now(),
        ok: outcome.failure.is_none(),
        backup_id: outcome.backup_id,
        error: outcome.failure.as_ref().map(chain),
    };
    if let Err(e) = state::write(&shared.project.state, env, job.kind, &run) {
        warn!(event = "state_not_saved", env, job = kind, error = %chain(&e), "could not record the run");
    }
}

/// An error and its causes, on one line.
fn chain(e: &Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let message = s.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        source = s.source();
    }
    text
}

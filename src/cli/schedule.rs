//! `dbenv schedule [ENV…]`: run the backup schedules in the foreground, or print them as
//! systemd units (`--print-systemd`).

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;
use dbenv::project::Project;
use dbenv::schedule::{self, Clock, Options, ScaledClock, SystemClock, systemd};
use tracing::info;

use super::{Command, GlobalArgs};

/// Run the backup schedules of `[env.X.backup]` (`schedule`, `drill`) until stopped.
#[derive(Debug, Args)]
#[command(after_help = AFTER_HELP)]
pub struct ScheduleArgs {
    /// The envs to schedule (default: every env whose [env.X.backup] has a schedule or a
    /// drill).
    #[arg(value_name = "ENV")]
    pub envs: Vec<String>,
    /// Print equivalent systemd service and timer units on stdout instead of running.
    #[arg(long)]
    pub print_systemd: bool,
    /// After SIGTERM or Ctrl-C, how long a run in progress may take to finish before it is
    /// aborted (a second signal aborts at once).
    #[arg(long, default_value_t = 60, value_name = "SECONDS")]
    pub grace: u64,
}

const AFTER_HELP: &str = "Each scheduled time takes a backup, then verifies and prunes it as \
[env.X.backup] says (verify, prune; both on by default); `drill` verifies the newest backup on \
its own schedule. A run still going at its next time makes that time skipped, not queued. \
Logs are one line per event on stderr, JSON for production envs or with --log-format json.

Stopping: the first SIGTERM/Ctrl-C starts nothing new and lets a run in progress finish \
(up to --grace seconds); the second, or the end of the grace period, aborts it (its partial \
files are removed; nothing half-written is listed).

Exit codes: 0 stopped cleanly; 130 stopped by a signal that aborted a run in progress; 1 \
another scheduler already runs one of the envs, or a schedule could not be written for \
systemd (--print-systemd); 2 bad usage or config (an env without a schedule, a bad cron \
expression or time zone).";

/// Speed up the scheduler's clock (tests and load tests): `60` makes a minute pass in a
/// second.
const SPEED_VAR: &str = "DBENV_SCHEDULE_CLOCK_SPEED";
/// Where the accelerated clock starts (RFC 3339; default: now).
const START_VAR: &str = "DBENV_SCHEDULE_CLOCK_START";

pub async fn run(args: &ScheduleArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let jobs = schedule::select(project, &args.envs)?;
    if args.print_systemd {
        return print_systemd(project, &jobs, g);
    }
    let options = Options {
        clock: clock()?,
        grace: Duration::from_secs(args.grace),
    };
    let (control, stop) = schedule::control();
    tokio::spawn(on_signals(control));
    let summary = schedule::run(project, jobs, options, stop).await?;
    Ok(if summary.aborted > 0 { 130 } else { 0 })
}

fn clock() -> anyhow::Result<Arc<dyn Clock>> {
    let Ok(speed) = std::env::var(SPEED_VAR) else {
        return Ok(Arc::new(SystemClock));
    };
    let usage = |what: String| dbenv::Error::Unsupported(what);
    let speed: f64 = speed
        .parse()
        .ok()
        .filter(|s: &f64| s.is_finite() && *s > 0.0)
        .ok_or_else(|| {
            usage(format!(
                "{SPEED_VAR} must be a positive number, found {speed:?}"
            ))
        })?;
    let start = match std::env::var(START_VAR) {
        Ok(s) => chrono::DateTime::parse_from_rfc3339(&s)
            .map_err(|e| usage(format!("{START_VAR} must be an RFC 3339 time: {e}")))?
            .to_utc(),
        Err(_) => chrono::Utc::now(),
    };
    Ok(Arc::new(ScaledClock::new(start, speed)))
}

/// SIGTERM and SIGINT: the first asks the scheduler to finish, the next to abort.
async fn on_signals(control: schedule::Control) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            info!(event = "signal", signal = name, "received {name}");
            control.escalate();
        }
    }
    #[cfg(not(unix))]
    while tokio::signal::ctrl_c().await.is_ok() {
        info!(event = "signal", signal = "Ctrl-C", "received Ctrl-C");
        control.escalate();
    }
}

fn print_systemd(project: &Project, jobs: &[schedule::Job], g: &GlobalArgs) -> anyhow::Result<u8> {
    let cx = systemd::Context {
        exe: std::env::current_exe().context("finding the dbenv binary")?,
        config: project.config.file.clone(),
    };
    let units = systemd::units(&project.config, jobs, &cx);
    if g.json {
        let files: Vec<serde_json::Value> = units
            .files
            .iter()
            .map(|(name, content)| serde_json::json!({ "name": name, "content": content }))
            .collect();
        super::print_json(&serde_json::json!({
            "units": files,
            "untranslated": units.untranslated,
        }))?;
    } else {
        for (name, content) in &units.files {
            println!("# /etc/systemd/system/{name}\n{content}");
        }
    }
    for problem in &units.untranslated {
        eprintln!("error: {problem}");
    }
    if g.quiet == 0 {
        let timers: Vec<&str> = units
            .files
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| n.ends_with(".timer"))
            .collect();
        eprintln!(
            "install: save each unit in /etc/systemd/system/, then `systemctl daemon-reload && systemctl enable --now {}`",
            timers.join(" ")
        );
    }
    Ok(if units.untranslated.is_empty() { 0 } else { 1 })
}

/// Whether `dbenv schedule` will run a production env, whose logs are JSON (decided
/// before logging is set up; a config that does not load is reported later).
pub fn production_logs(command: &Command, g: &GlobalArgs) -> bool {
    let Command::Schedule(args) = command else {
        return false;
    };
    if args.print_systemd {
        return false;
    }
    let project = match &g.config {
        Some(path) => Project::load(path),
        None => std::env::current_dir()
            .map_err(|e| dbenv::Error::State(e.to_string()))
            .and_then(|d| Project::discover(&d)),
    };
    let Ok(project) = project else {
        return false;
    };
    schedule::select(&project, &args.envs).is_ok_and(|jobs| jobs.iter().any(|j| j.production))
}

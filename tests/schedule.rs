//! `dbenv schedule`, through the binary: runs at the right times (per-second cron, and an
//! accelerated clock), verify/prune/drill after them, JSON logs in production, no overlap
//! in one scheduler nor between two, catch-up after downtime, SIGTERM while idle and
//! during a backup, systemd units, and config errors with their location.

mod common;
#[path = "schedule/load.rs"]
mod load;
#[path = "shared_server.rs"]
mod shared_server;

use std::path::{Path, PathBuf};
use std::process::{Child, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::{Project, block_on};
use serde_json::Value as Json;

const SENTINEL: &str = "S3ntinel-pw-sched";

/// A `dbenv schedule` running in the background, its stderr in a file.
struct Daemon {
    child: Child,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daemon {
    fn start(p: &Project, args: &[&str], vars: &[(&str, &str)]) -> Daemon {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr");
        let mut cmd = p.std_cmd(&[&["schedule"], args].concat());
        cmd.envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        Daemon {
            child: cmd.spawn().unwrap(),
            log,
            _dir: dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Wait (up to 30 s) until the log satisfies `done`.
    #[track_caller]
    fn wait_for(&mut self, what: &str, done: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while !done(&self.log()) {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!(
                    "the scheduler exited ({status}) before {what}:\n{}",
                    self.log()
                );
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no {what} within 30 s:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn term(&self) {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.child.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        )
        .unwrap();
    }

    /// The exit status and the log, once it exits by itself.
    fn wait(mut self) -> (ExitStatus, String) {
        let status = self.child.wait().unwrap();
        (status, self.log())
    }

    /// SIGTERM, then the exit status, how long it took, and the log.
    fn stop(mut self) -> (ExitStatus, Duration, String) {
        self.term();
        let start = Instant::now();
        let status = self.child.wait().unwrap();
        (status, start.elapsed(), self.log())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The JSON events of a log with `event` = `name`.
fn events<'a>(lines: &'a [Json], name: &str) -> Vec<&'a Json> {
    lines
        .iter()
        .filter(|l| l["fields"]["event"] == name)
        .collect()
}

/// Every line of the log, each required to be JSON.
fn json_lines(log: &str) -> Vec<Json> {
    log.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

/// Text-format lines with `event=<name>`.
fn text_events<'a>(log: &'a str, name: &str) -> Vec<&'a str> {
    let tag = format!("event=\"{name}\"");
    log.lines().filter(|l| l.contains(&tag)).collect()
}

/// The value of `key=` on a text-format line.
fn text_field<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line.find(&format!(" {key}=")).unwrap() + key.len() + 2;
    let rest = line[start..].trim_start_matches('"');
    rest.split(['"', ' ']).next().unwrap()
}

fn list(p: &Project, env: &str) -> Vec<Json> {
    let run = p.run(&["--json", "backup", "list", env]);
    run.code(0);
    run.json().as_array().unwrap().clone()
}

/// Files in `dir` whose name carries the temporary marker.
fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(dbenv::state::TEMP_MARKER))
        .collect()
}

fn time(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse()
        .unwrap_or_else(|e| panic!("not a time ({e}): {s:?}"))
}

#[test]
fn per_second_backups_with_verify_prune_and_drill_log_json_in_production() {
    let p = Project::with_config(
        r#"[env.prod]
kind = "production"
engine = "sqlite"
path = ".dbenv/prod.sqlite"
scenario = "demo"
[env.prod.backup]
dir = "backups"
schedule = "* * * * * *"
drill = "*/2 * * * * *"
keep = { last = 2 }
"#,
    );
    p.ok(&["up", "prod"]);
    let mut d = Daemon::start(&p, &[], &[]);
    d.wait_for("four backups and a drill", |log| {
        log.matches(r#""event":"job_finished","env":"prod","job":"backup""#)
            .count()
            >= 4
            && log.contains(r#""job":"drill""#)
    });
    let (status, _, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    let lines = json_lines(&log);
    for event in [
        "started",
        "next_run",
        "job_started",
        "shutting_down",
        "stopped",
    ] {
        assert!(
            !events(&lines, event).is_empty(),
            "no {event} event:\n{log}"
        );
    }
    assert!(events(&lines, "job_failed").is_empty(), "{log}");

    // Runs start on their second, one second apart (or a whole number of seconds when one
    // was skipped), each verified; prune keeps the last two.
    let started: Vec<&Json> = events(&lines, "job_started")
        .into_iter()
        .filter(|e| e["fields"]["job"] == "backup")
        .collect();
    let slots: Vec<_> = started
        .iter()
        .map(|e| time(e["fields"]["slot"].as_str().unwrap()))
        .collect();
    for (e, slot) in started.iter().zip(&slots) {
        assert_eq!(slot.timestamp_subsec_millis(), 0, "{e}");
        let late = time(e["fields"]["at"].as_str().unwrap()) - *slot;
        assert!(late < chrono::TimeDelta::milliseconds(900), "late: {e}");
    }
    for pair in slots.windows(2) {
        assert!(pair[1] > pair[0], "slots out of order: {slots:?}");
    }
    let finished: Vec<&Json> = events(&lines, "job_finished")
        .into_iter()
        .filter(|e| e["fields"]["job"] == "backup")
        .collect();
    for f in &finished {
        let fields = &f["fields"];
        assert_eq!(fields["verified"], true, "{f}");
        assert!(fields["bytes"].as_u64().unwrap() > 1000, "{f}");
        assert!(fields["ms"].is_u64() && fields["id"].as_str().unwrap().len() == 21);
    }
    assert!(
        finished
            .iter()
            .any(|f| f["fields"]["pruned"].as_u64() >= Some(1)),
        "nothing was pruned:\n{log}"
    );
    let drill = events(&lines, "job_finished")
        .into_iter()
        .find(|e| e["fields"]["job"] == "drill")
        .unwrap();
    assert_eq!(drill["fields"]["verified"], true);

    // A drill due with a backup starts after that backup (it checks the newest one).
    let start_of = |job: &str, slot: &Json| {
        lines.iter().position(|e| {
            e["fields"]["event"] == "job_started"
                && e["fields"]["job"] == job
                && &e["fields"]["slot"] == slot
        })
    };
    let mut paired = 0;
    for drill in events(&lines, "job_started")
        .into_iter()
        .filter(|e| e["fields"]["job"] == "drill")
    {
        let slot = &drill["fields"]["slot"];
        if let Some(backup) = start_of("backup", slot) {
            assert!(
                backup < start_of("drill", slot).unwrap(),
                "drill before its backup:\n{log}"
            );
            paired += 1;
        }
    }
    assert!(
        paired >= 1,
        "no drill shared its slot with a backup:\n{log}"
    );

    let listed = list(&p, "prod");
    assert!(listed.len() <= 2, "keep last = 2: {listed:?}");
    assert!(listed.iter().all(|l| l["verification"]["ok"] == true));
    let state: Json = serde_json::from_slice(&p.read(".dbenv/schedule/prod/backup.json")).unwrap();
    assert_eq!(state["ok"], true);
    assert!(temps(&p.file("backups")).is_empty());
}

#[test]
fn an_accelerated_clock_runs_a_minute_schedule_every_second() {
    let p = Project::with_config(
        r#"[env.dev]
engine = "sqlite"
scenario = "demo"
[env.dev.backup]
dir = "backups"
schedule = "* * * * *"
verify = false
prune = false
keep = { last = 10 }
"#,
    );
    p.ok(&["up", "dev"]);
    let vars = [
        ("DBENV_SCHEDULE_CLOCK_SPEED", "60"),
        ("DBENV_SCHEDULE_CLOCK_START", "2030-01-01T00:00:30Z"),
    ];
    let mut d = Daemon::start(&p, &["dev"], &vars);
    d.wait_for("three runs", |log| {
        text_events(log, "job_finished").len() >= 3
    });
    let (status, _, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    // Text logs for a development env; the slots are the clock's minutes.
    let slots: Vec<&str> = text_events(&log, "job_started")
        .iter()
        .map(|l| text_field(l, "slot"))
        .collect();
    assert_eq!(
        slots[..3],
        [
            "2030-01-01T00:01:00.000Z",
            "2030-01-01T00:02:00.000Z",
            "2030-01-01T00:03:00.000Z"
        ],
        "{log}"
    );
    // verify = false, prune = false: neither ran.
    for line in text_events(&log, "job_finished") {
        assert!(
            !line.contains("verified=") && !line.contains("pruned="),
            "{line}"
        );
    }
    assert!(list(&p, "dev").len() >= 3);
}

#[test]
fn a_run_slower_than_its_interval_is_skipped_never_doubled() {
    let p = Project::with_config(
        r#"[env.dev]
engine = "sqlite"
scenario = "demo"
[env.dev.backup]
dir = "backups"
schedule = "* * * * *"
"#,
    );
    p.ok(&["up", "dev"]);
    // A minute every 10 ms of real time: each backup + verify + prune takes longer.
    let vars = [("DBENV_SCHEDULE_CLOCK_SPEED", "6000")];
    let mut d = Daemon::start(&p, &[], &vars);
    d.wait_for("runs and skips", |log| {
        text_events(log, "job_finished").len() >= 3 && text_events(log, "skipped").len() >= 3
    });
    let (status, _, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    // Started and finished strictly alternate: never two runs at once.
    let mut running = false;
    for line in log.lines() {
        if line.contains("event=\"job_started\"") {
            assert!(!running, "a second run started during the first:\n{log}");
            running = true;
        } else if line.contains("event=\"job_finished\"") || line.contains("event=\"job_failed\"") {
            running = false;
        }
    }
    assert!(text_events(&log, "job_failed").is_empty(), "{log}");
}

#[test]
fn a_second_scheduler_on_the_same_env_exits_and_sigterm_when_idle_is_quick() {
    let p = Project::with_config(
        r#"[env.dev]
engine = "sqlite"
[env.dev.backup]
dir = "backups"
schedule = "0 3 * * *"
"#,
    );
    let mut first = Daemon::start(&p, &[], &[]);
    first.wait_for("the first scheduler to start", |log| {
        log.contains("event=\"next_run\"")
    });
    p.run(&["schedule", "dev"])
        .code(1)
        .err_has("env dev is already scheduled by another `dbenv schedule` (pid ")
        .err_has("run one scheduler per env");
    let (status, took, log) = first.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(took < Duration::from_secs(3), "idle shutdown took {took:?}");
    assert!(log.contains("event=\"shutting_down\"") && log.contains("event=\"stopped\""));
    assert!(!p.file("backups").exists(), "nothing ran");
}

/// `catch_up` on or off, with the last run recorded yesterday at 03:00 and the clock at
/// 10:00 today: returns the log.
fn catch_up_story(catch_up: bool) -> (Project, String) {
    let p = Project::with_config(&format!(
        r#"[env.dev]
engine = "sqlite"
scenario = "demo"
[env.dev.backup]
dir = "backups"
schedule = "0 3 * * *"
catch_up = {catch_up}
"#
    ));
    p.ok(&["up", "dev"]);
    p.write(
        ".dbenv/schedule/dev/backup.json",
        r#"{"slot": "2030-01-01T03:00:00Z", "started_at": "2030-01-01T03:00:00Z",
            "finished_at": "2030-01-01T03:00:04Z", "ok": true}"#,
    );
    let vars = [
        ("DBENV_SCHEDULE_CLOCK_SPEED", "1"),
        ("DBENV_SCHEDULE_CLOCK_START", "2030-01-02T10:00:00Z"),
    ];
    let mut d = Daemon::start(&p, &[], &vars);
    if catch_up {
        d.wait_for("the catch-up run", |log| {
            log.contains("event=\"job_finished\"")
        });
    } else {
        d.wait_for("the next run", |log| log.contains("event=\"next_run\""));
        std::thread::sleep(Duration::from_millis(300));
    }
    let (status, _, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    (p, log)
}

#[test]
fn a_run_missed_while_down_is_caught_up_once_only_when_configured() {
    let (p, log) = catch_up_story(true);
    let catch_ups = text_events(&log, "catch_up");
    assert_eq!(catch_ups.len(), 1, "{log}");
    assert_eq!(text_field(catch_ups[0], "slot"), "2030-01-02T03:00:00.000Z");
    assert_eq!(text_events(&log, "job_started").len(), 1, "{log}");
    assert_eq!(list(&p, "dev").len(), 1);
    let state: Json = serde_json::from_slice(&p.read(".dbenv/schedule/dev/backup.json")).unwrap();
    assert_eq!(state["slot"], "2030-01-02T03:00:00Z");
    let next = text_events(&log, "next_run");
    assert_eq!(text_field(next[0], "next_at"), "2030-01-03T03:00:00.000Z");

    let (p, log) = catch_up_story(false);
    assert!(text_events(&log, "catch_up").is_empty(), "{log}");
    assert!(text_events(&log, "job_started").is_empty(), "{log}");
    assert!(!p.file("backups").exists());
}

#[test]
fn sigterm_during_a_backup_lets_it_finish_or_aborts_it_leaving_nothing() {
    let p = Project::with_config(
        r#"[env.dev]
engine = "sqlite"
scenario = "demo"
[env.dev.backup]
dir = "backups"
schedule = "* * * * * *"
"#,
    );
    p.ok(&["up", "dev"]);
    // About 400 MB of incompressible rows: the backup takes more than a second.
    common::add_ballast(&p.db("dev"), 400);
    let backups = p.file("backups");
    let partial = |d: &mut Daemon| {
        d.wait_for("a partial backup", |_| {
            temps(&backups)
                .iter()
                .any(|t| std::fs::metadata(backups.join(t)).is_ok_and(|m| m.len() > 1_000_000))
        })
    };
    let files = || {
        let mut names: Vec<String> = std::fs::read_dir(&backups)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };

    // One signal, within the grace period: the run finishes (backup, verify, prune), exit 0.
    let mut d = Daemon::start(&p, &[], &[]);
    partial(&mut d);
    d.term();
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(0), "{log}");
    let after_shutdown = &log[log.find("event=\"shutting_down\"").unwrap()..];
    assert!(after_shutdown.contains("event=\"job_finished\""), "{log}");
    assert!(after_shutdown.contains("verified=true"), "{log}");
    let listed = list(&p, "dev");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["tables"]["ballast"], 400);
    let (kept, state) = (files(), p.read(".dbenv/schedule/dev/backup.json"));

    // One signal, a grace period too short: the run is aborted when it ends, exit 130.
    let mut d = Daemon::start(&p, &["--grace", "1"], &[]);
    partial(&mut d);
    d.term();
    let start = Instant::now();
    let (status, log) = d.wait();
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(start.elapsed() >= Duration::from_millis(900), "{log}");
    assert!(log.contains("event=\"aborting\"") && log.contains("event=\"job_aborted\""));

    // Two signals: aborted at once.
    let mut d = Daemon::start(&p, &[], &[]);
    partial(&mut d);
    d.term();
    d.wait_for("the shutdown", |log| {
        log.contains("event=\"shutting_down\"")
    });
    let (status, took, log) = d.stop();
    assert_eq!(status.code(), Some(130), "{log}");
    assert!(took < Duration::from_secs(5), "the abort took {took:?}");
    assert!(log.contains("event=\"aborting\"") && log.contains("event=\"job_aborted\""));

    // Neither aborted run left anything partial: no temporary file, no file without a
    // listed backup, every listed backup complete (an abort during the verification that
    // follows a finished backup leaves that backup, unverified: no verdict is recorded).
    assert!(
        temps(&backups).is_empty(),
        "leftovers: {:?}",
        temps(&backups)
    );
    let listed = list(&p, "dev");
    assert!(listed.iter().all(|l| l["verification"]["ok"] != false));
    for l in &listed {
        let data = backups.join(l["file"].as_str().unwrap());
        assert_eq!(std::fs::metadata(&data).unwrap().len(), l["stored_bytes"]);
    }
    for name in files() {
        assert!(
            listed
                .iter()
                .any(|l| name.starts_with(l["id"].as_str().unwrap())),
            "{name} belongs to no listed backup"
        );
    }
    assert!(kept.iter().all(|k| files().contains(k)));
    assert!(temps(&p.file(".dbenv")).is_empty(), "leftovers in .dbenv");
    assert_eq!(
        p.read(".dbenv/schedule/dev/backup.json"),
        state,
        "an aborted run is recorded"
    );
}

#[test]
fn a_failing_job_is_logged_and_the_password_never_printed() {
    let p = Project::with_config(
        r#"[env.remote]
engine = "postgres"
url = "${REMOTE_URL}"
[env.remote.backup]
dir = "backups/remote"
schedule = "* * * * * *"
"#,
    );
    let url = format!("postgres://app:{SENTINEL}@127.0.0.1:9/app");
    let mut d = Daemon::start(&p, &[], &[("REMOTE_URL", &url)]);
    d.wait_for("a failed run", |log| log.contains("event=\"job_failed\""));
    let (status, _, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    let failed = text_events(&log, "job_failed");
    assert!(failed[0].contains("error="), "{log}");
    assert!(!log.contains(SENTINEL), "the password was printed:\n{log}");
    let state = String::from_utf8(p.read(".dbenv/schedule/remote/backup.json")).unwrap();
    assert!(state.contains("\"ok\": false") && !state.contains(SENTINEL));
    p.run_with(
        &["schedule", "--print-systemd"],
        &[("REMOTE_URL", url.as_str())],
    )
    .code(0)
    .never_says(SENTINEL);
}

const SYSTEMD_CONFIG: &str = r#"[env.prod]
kind = "production"
engine = "postgres"
url = "${PROD_URL}"
[env.prod.backup]
dir = "/var/backups/app"
schedule = "0 3 * * *"
tz = "Europe/Paris"
drill = "0 5 * * 0"
catch_up = true

[env.dev]
engine = "sqlite"
[env.dev.backup]
dir = "backups"
schedule = "*/15 * * * 1-5"
verify = false
"#;

#[test]
fn print_systemd_gives_services_and_timers_with_on_calendar() {
    let p = Project::with_config(SYSTEMD_CONFIG);
    let url = format!("postgres://app:{SENTINEL}@db.example:5432/app");
    let run = p.run_with(&["schedule", "--print-systemd"], &[("PROD_URL", &url)]);
    run.code(0).never_says(SENTINEL).never_says("db.example");
    let config = p.file("dbenv.toml").display().to_string();
    for unit in [
        "dbenv-backup-prod.service",
        "dbenv-backup-prod.timer",
        "dbenv-drill-prod.service",
        "dbenv-drill-prod.timer",
        "dbenv-backup-dev.service",
        "dbenv-backup-dev.timer",
    ] {
        run.out_has(&format!("# /etc/systemd/system/{unit}\n"));
    }
    run.out_has("OnCalendar=*-*-* 03:00:00 Europe/Paris\n")
        .out_has("OnCalendar=Sun *-*-* 05:00:00 Europe/Paris\n")
        .out_has("OnCalendar=Mon..Fri *-*-* *:00/15:00 UTC\n")
        .out_has("Persistent=true\n")
        .out_has("Persistent=false\n")
        .out_has(&format!(
            "--config {config} --log-format json backup prod\n"
        ))
        .out_has(&format!(
            "--config {config} --log-format json backup verify latest --env prod\n"
        ))
        .out_has(&format!("--config {config} backup dev\n"))
        .out_has(&format!("--config {config} backup prune dev --yes\n"))
        .out_has(&format!("WorkingDirectory={}\n", p.path().display()))
        .err_has("systemctl daemon-reload");
    // verify = false in dev: no verify line for it.
    assert!(!run.stdout.contains("backup verify latest --env dev"));

    // One schedule systemd cannot express: said clearly, exit 1, the others still printed.
    p.write(
        "dbenv.toml",
        SYSTEMD_CONFIG.replace("*/15 * * * 1-5", "0 3 L * *"),
    );
    let run = p.run_with(&["schedule", "--print-systemd"], &[("PROD_URL", &url)]);
    run.code(1)
        .err_has("dbenv-backup-dev.timer: cron \"0 3 L * *\" cannot be written as OnCalendar")
        .out_has("#OnCalendar=\n")
        .out_has("OnCalendar=*-*-* 03:00:00 Europe/Paris\n");
}

/// Where systemd-analyze is installed: its next times for each OnCalendar are croner's.
#[test]
fn on_calendar_lines_elapse_when_the_cron_expression_does() {
    use dbenv::schedule::{Plan, systemd::on_calendar};
    if !common::have_tool("systemd-analyze", &["--version"], false) {
        return;
    }
    let now = time("2026-11-24T10:17:31Z");
    for (cron, tz) in [
        ("0 3 * * *", "Europe/Paris"),
        ("*/15 9-17 * * 1-5", "UTC"),
        ("30 2 1,15 * *", "America/New_York"),
        ("0 0 1 */3 *", "UTC"),
        ("*/10 * * * * *", "UTC"),
        ("0 9-17/2 * * SAT,SUN", "Asia/Tokyo"),
    ] {
        let calendar = on_calendar(cron, tz).unwrap();
        let out = std::process::Command::new("systemd-analyze")
            .args(["calendar", "--iterations=5", "--base-time"])
            .arg(now.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .arg(&calendar)
            .env("TZ", "UTC")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{calendar}: {text}");
        // "    Next elapse: Wed 2026-11-25 02:00:00 UTC", "       Iter. #2: Thu …"
        let systemd: Vec<String> = text
            .lines()
            .filter(|l| l.contains("Next elapse:") || l.contains("Iter. #"))
            .map(|l| {
                let (_, when) = l.split_once(": ").unwrap();
                let words: Vec<&str> = when.split_whitespace().collect();
                words[1..3].join(" ")
            })
            .collect();
        let plan = Plan::new(cron, Some(tz)).unwrap();
        let mut t = now;
        let mut croner = Vec::new();
        for _ in 0..systemd.len() {
            t = plan.next_after(t).unwrap();
            croner.push(t.format("%Y-%m-%d %H:%M:%S").to_string());
        }
        assert!(systemd.len() >= 5, "{calendar}: {text}");
        assert_eq!(systemd, croner, "{cron} ({tz}) as {calendar}");
    }
}

#[test]
fn bad_cron_or_tz_and_envs_without_a_schedule_are_usage_errors() {
    let p = Project::with_config(
        "[env.dev]\nengine = \"sqlite\"\n[env.dev.backup]\ndir = \"backups\"\nschedule = \"0 25 * * *\"\n",
    );
    p.run(&["schedule"]).code(2).err_has(
        "dbenv.toml:5:12: invalid cron expression \"0 25 * * *\" for schedule in [env.dev.backup]",
    );
    p.write(
        "dbenv.toml",
        "[env.dev]\nengine = \"sqlite\"\n[env.dev.backup]\ndir = \"backups\"\nschedule = \"0 3 * *\"\n",
    );
    p.run(&["schedule"])
        .code(2)
        .err_has("dbenv.toml:5:12:")
        .err_has("5 fields");
    p.write(
        "dbenv.toml",
        "[env.dev]\nengine = \"sqlite\"\n[env.dev.backup]\ndir = \"backups\"\nschedule = \"0 3 * * *\"\ntz = \"Mars/Olympus\"\n",
    );
    p.run(&["schedule"])
        .code(2)
        .err_has("dbenv.toml:6:6: invalid tz \"Mars/Olympus\" in [env.dev.backup]")
        .err_has("IANA");
    p.write(
        "dbenv.toml",
        "[env.dev]\nengine = \"sqlite\"\n[env.dev.backup]\ndir = \"backups\"\ndrill = \"0 3 * * * * *\"\n",
    );
    p.run(&["schedule"]).code(2).err_has("dbenv.toml:5:9:");

    p.write(
        "dbenv.toml",
        "[env.dev]\nengine = \"sqlite\"\n[env.dev.backup]\ndir = \"backups\"\n\n[env.other]\nengine = \"sqlite\"\n",
    );
    p.run(&["schedule", "dev"])
        .code(2)
        .err_has("env dev has no backup schedule");
    p.run(&["schedule", "other"])
        .code(2)
        .err_has("env other has no backup schedule");
    p.run(&["schedule"])
        .code(2)
        .err_has("no env in")
        .err_has("has a backup schedule");
    p.run(&["schedule", "nope"])
        .code(2)
        .err_has("unknown env \"nope\"");
}

/// The shared native PostgreSQL test server (or `DBENV_TEST_PG_URL`), as a production env
/// whose URL carries the sentinel password: scheduled pg_dump backups, verified by a restore
/// into a scratch database, pruned, drilled; JSON logs without the password.
#[cfg(feature = "postgres")]
#[test]
fn postgres_scheduled_backups_and_drill_without_leaking_the_password() {
    let Some(admin) = shared_server::postgres_url_or_skip("the scheduled PostgreSQL backup test")
    else {
        return;
    };
    block_on(async {
        use sqlx::{AssertSqlSafe, Connection, Executor};
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        let create = format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dbenv_sched') THEN \
             CREATE ROLE dbenv_sched LOGIN SUPERUSER PASSWORD '{SENTINEL}'; END IF; END $$"
        );
        conn.execute(AssertSqlSafe(create)).await.unwrap();
        conn.close().await.unwrap();
    });
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_username("dbenv_sched").unwrap();
    url.set_password(Some(SENTINEL)).unwrap();
    url.set_path(&format!("dbenv_sched_{}", std::process::id()));
    let p = Project::with_config(
        r#"[env.prod]
kind = "production"
engine = "postgres"
url = "${APP_URL}"
scenario = "demo"
[env.prod.backup]
dir = "backups"
schedule = "* * * * * *"
drill = "*/2 * * * * *"
keep = { last = 2 }
"#,
    );
    let vars = [("APP_URL", url.as_str())];
    p.run_with(&["up", "prod"], &vars).code(0);
    let mut d = Daemon::start(&p, &[], &vars);
    d.wait_for("three backups and a drill", |log| {
        log.matches(r#""event":"job_finished","env":"prod","job":"backup""#)
            .count()
            >= 3
            && log.contains(r#""event":"job_finished","env":"prod","job":"drill""#)
    });
    let (status, _, log) = d.stop();
    assert_eq!(status.code(), Some(0), "{log}");
    assert!(!log.contains(SENTINEL), "the password was printed:\n{log}");
    let lines = json_lines(&log);
    assert!(events(&lines, "job_failed").is_empty(), "{log}");
    for f in events(&lines, "job_finished") {
        assert_eq!(f["fields"]["verified"], true, "{f}");
    }
    let listed = p.run_with(&["--json", "backup", "list", "prod"], &vars);
    listed.code(0).never_says(SENTINEL);
    let listed = listed.json();
    let listed = listed.as_array().unwrap();
    assert!(!listed.is_empty() && listed.len() <= 2, "{listed:?}");
    assert!(listed.iter().all(|l| l["verification"]["ok"] == true));
    assert!(
        listed
            .iter()
            .all(|l| l["file"].as_str().unwrap().ends_with(".pgdump.zst"))
    );
    p.run_with(
        &["down", "prod", "--purge", "--force", "--confirm", "prod"],
        &vars,
    )
    .code(0);
}

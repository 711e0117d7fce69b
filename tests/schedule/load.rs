//! The scheduler under load (issue 6, part 5): backups every minute of an accelerated
//! clock against a PostgreSQL database that pgbench writes to the whole time. No run may
//! overlap another, none may be missed, and the daemon's memory and open files must stay
//! flat.
//!
//! The default is 20 minutes of schedule, which CI runs on every change; the clock runs
//! `DBENV_LOAD_SPEED` times faster than real time (default 20: a minute in 3 s, ten times a
//! backup's time, so that a busy CI machine does not make runs late). The report's hour:
//! `DBENV_LOAD_MINUTES=60 DBENV_LOAD_SPEED=40 cargo test --test schedule under_pgbench --
//! --nocapture`.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::*;

/// One sample of the daemon's resources.
#[derive(Debug, Clone, Copy)]
struct Sample {
    rss_kib: u64,
    fds: usize,
}

fn sample(pid: u32) -> Option<Sample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let rss_kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).ok()?.count();
    Some(Sample { rss_kib, fds })
}

fn pgbench() -> Option<PathBuf> {
    let installed = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin/pgbench"))
        .find(|p| p.exists());
    installed.or_else(|| {
        Command::new("pgbench")
            .arg("--version")
            .output()
            .ok()
            .map(|_| PathBuf::from("pgbench"))
    })
}

fn var_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("{name}={v} is not a number"))
        })
        .unwrap_or(default)
}

fn median(mut values: Vec<u64>) -> u64 {
    values.sort_unstable();
    values[values.len() / 2]
}

#[test]
fn minutely_backups_under_pgbench_load_never_overlap_miss_or_leak() {
    let (Some(admin), Some(pgbench)) = (
        shared_server::native_server_url(dbenv::engine::EngineKind::Postgres),
        pgbench(),
    ) else {
        assert_ne!(
            std::env::var("DBENV_TEST_REQUIRE").as_deref(),
            Ok("all"),
            "no PostgreSQL server or no pgbench"
        );
        eprintln!("**** SKIP: no PostgreSQL or pgbench: the schedule load test did not run ****");
        return;
    };
    let minutes = var_or("DBENV_LOAD_MINUTES", 20);
    let speed = var_or("DBENV_LOAD_SPEED", 20);
    assert!(
        minutes >= 10,
        "DBENV_LOAD_MINUTES={minutes}: the test needs at least 10 minutes (one drill, five backups kept)"
    );
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&format!("dbenv_load_{}", std::process::id()));
    let p = Project::with_config(
        r#"[env.prod]
kind = "production"
engine = "postgres"
url = "${APP_URL}"
scenario = "empty"
[env.prod.backup]
dir = "backups"
schedule = "* * * * *"
drill = "*/10 * * * *"
verify = false
keep = { last = 5 }
"#,
    );
    let vars = [("APP_URL", url.as_str())];
    p.run_with(&["up", "prod"], &vars).code(0);
    let init = Command::new(&pgbench)
        .args(["-i", "-q", "-s", "2", url.as_str()])
        .output()
        .unwrap();
    assert!(init.status.success(), "pgbench -i: {init:?}");

    // Write load for longer than the schedule runs: TPC-B-like transactions from two
    // clients, rate-limited so that the machine's cores are shared, not swamped.
    let real = Duration::from_secs_f64((minutes as f64 + 2.0) * 60.0 / speed as f64);
    let mut load = Command::new(&pgbench)
        .args(["-n", "-c", "2", "-j", "1", "-R", "300", "-T"])
        .arg((real.as_secs() + 5).to_string())
        .arg(url.as_str())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    let speed_text = speed.to_string();
    let clock = [
        ("DBENV_SCHEDULE_CLOCK_SPEED", speed_text.as_str()),
        ("DBENV_SCHEDULE_CLOCK_START", "2030-01-01T00:00:30Z"),
        ("APP_URL", url.as_str()),
    ];
    let mut d = Daemon::start(&p, &[], &clock);
    let pid = d.child.id();
    let started = Instant::now();
    let finished = |log: &str| {
        log.matches(r#""event":"job_finished","env":"prod","job":"backup""#)
            .count() as u64
    };
    let mut samples = Vec::new();
    while finished(&d.log()) < minutes {
        if let Some(status) = d.child.try_wait().unwrap() {
            panic!("the scheduler exited ({status}):\n{}", d.log());
        }
        assert!(
            started.elapsed() < real * 2 + Duration::from_secs(30),
            "{minutes} backups did not finish in time:\n{}",
            d.log()
        );
        samples.extend(sample(pid));
        std::thread::sleep(Duration::from_millis(100));
    }
    let (status, _, log) = d.stop();
    let _ = load.kill();
    let _ = load.wait();
    assert_eq!(status.code(), Some(0), "{log}");

    // Flat: after the first fifth (caches, the pools' connections), the daemon's memory
    // and open files do not grow with the number of runs. Open files are counted at rest
    // (the median: most samples fall between runs) and at peak (a backup's pipes and files).
    assert!(samples.len() >= 20, "{} samples", samples.len());
    let fifth = samples.len() / 5;
    let early = &samples[fifth..2 * fifth];
    let late = &samples[samples.len() - fifth..];
    let rss = |s: &[Sample]| median(s.iter().map(|s| s.rss_kib).collect());
    let fds = |s: &[Sample]| median(s.iter().map(|s| s.fds as u64).collect());
    let peak = |s: &[Sample]| s.iter().map(|s| s.fds as u64).max().unwrap();
    eprintln!(
        "schedule load: {minutes} minutes at {speed}x in {:.1} s, {} backups; RSS median \
         {} KiB early, {} KiB late; open files {} at rest and {} at peak early, {} and {} \
         late; {} samples",
        started.elapsed().as_secs_f64(),
        finished(&log),
        rss(early),
        rss(late),
        fds(early),
        peak(early),
        fds(late),
        peak(late),
        samples.len()
    );
    assert!(
        rss(late) <= rss(early) + rss(early) / 10 + 2048,
        "memory grew: {} KiB early, {} KiB late",
        rss(early),
        rss(late)
    );
    assert!(
        fds(late) <= fds(early) && peak(late) <= peak(early) + 4,
        "open files grew: {} at rest, {} at peak early; {}, {} late",
        fds(early),
        peak(early),
        fds(late),
        peak(late)
    );

    let lines = json_lines(&log);
    assert!(events(&lines, "job_failed").is_empty(), "{log}");
    assert!(
        events(&lines, "skipped").is_empty(),
        "a run was skipped:\n{log}"
    );
    // No missed run: one backup for every minute, in order, none twice.
    let slots: Vec<_> = events(&lines, "job_started")
        .into_iter()
        .filter(|e| e["fields"]["job"] == "backup")
        .map(|e| time(e["fields"]["slot"].as_str().unwrap()))
        .collect();
    assert!(slots.len() as u64 >= minutes, "{log}");
    for pair in slots.windows(2) {
        assert_eq!(
            pair[1] - pair[0],
            chrono::TimeDelta::minutes(1),
            "a minute was missed or repeated: {slots:?}"
        );
    }
    // No overlap: each job's runs start and finish strictly in turn.
    for job in ["backup", "drill"] {
        let mut running = false;
        for line in &lines {
            if line["fields"]["job"] != job {
                continue;
            }
            match line["fields"]["event"].as_str() {
                Some("job_started") => {
                    assert!(!running, "two {job} runs at once:\n{log}");
                    running = true;
                }
                Some("job_finished" | "job_aborted") => running = false,
                _ => {}
            }
        }
    }
    let drills = events(&lines, "job_finished")
        .into_iter()
        .filter(|e| e["fields"]["job"] == "drill")
        .count() as u64;
    assert!(drills + 1 >= minutes / 10, "{drills} drills:\n{log}");

    // The load really ran (each pgbench transaction adds a history row), and prune kept
    // the last five plus, at most, the newest verified one (a drill's).
    let history: i64 = block_on(async {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(url.as_str()).await.unwrap();
        sqlx::query_scalar("SELECT count(*) FROM pgbench_history")
            .fetch_one(&mut conn)
            .await
            .unwrap()
    });
    assert!(history > 100, "pgbench wrote {history} transactions");
    let listed = p.run_with(&["--json", "backup", "list", "prod"], &vars);
    let listed = listed.code(0).json();
    let kept = listed.as_array().unwrap().len();
    assert!((5..=6).contains(&kept), "keep last = 5: {listed}");
    assert!(temps(&p.file("backups")).is_empty());
    p.run_with(
        &["down", "prod", "--purge", "--force", "--confirm", "prod"],
        &vars,
    )
    .code(0);
}

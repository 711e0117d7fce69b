//! What the fault tests share (tests/faults.rs on SQLite, tests/faults_postgres.rs): dbenv
//! killed with SIGKILL at random points of a command, the same command run again, the env
//! checked; races of one command started many times at once; the checks that hold on every
//! engine (no temporary file left, only complete backups listed, each verifying).
//!
//! `DBENV_FAULT_KILLS` kills per command (default 10, the CI run); `DBENV_FAULT_SEED`
//! replays a run's random points (each test prints its seed); `DBENV_FAULT_RACES` rounds of
//! each race (default 2).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, PgConnection};

use super::{Project, Run, block_on};

pub fn kills() -> usize {
    std::env::var("DBENV_FAULT_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

pub fn races() -> usize {
    std::env::var("DBENV_FAULT_RACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

/// splitmix64: reproducible random points without a dependency.
pub struct Rng(u64);

impl Rng {
    pub fn new(what: &str) -> Rng {
        let seed = std::env::var("DBENV_FAULT_SEED")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("faults {what}: DBENV_FAULT_SEED={seed}");
        Rng(seed)
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// Start `dbenv ARGS`, SIGKILL it after `delay`; whether it was still running then, and
/// its process id (the suffix of the temporary names it may have left behind).
fn kill_after(p: &Project, args: &[&str], delay: Duration) -> (bool, u32) {
    let mut child = p
        .std_cmd(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(delay);
    let landed = child.try_wait().unwrap().is_none();
    let _ = child.kill(); // SIGKILL
    child.wait().unwrap();
    (landed, child.id())
}

/// How one command fared.
pub struct Tally {
    pub landed: usize,
    pub finished_first: usize,
    pub longest_ms: u128,
    /// The process ids of the runs killed so far.
    pub killed: Vec<u32>,
}

/// Prepares each attempt and returns the command's arguments.
pub type Setup<'a> = &'a mut dyn FnMut(&Project) -> Vec<String>;
/// Checks the env after each rerun, given the process ids of the runs killed so far.
pub type Check<'a> = &'a mut dyn FnMut(&Project, &[u32]);

/// Kill a command at random points until `kills()` kills landed mid-run; after each, the
/// same command again must succeed, `check` must pass and no temporary file may be left.
pub fn kill_loop(what: &str, p: &Project, setup: Setup, check: Check) -> Tally {
    let mut rng = Rng::new(what);
    let args = setup(p);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let start = Instant::now();
    p.ok(&args);
    let normal = start.elapsed();
    check(p, &[]);
    // Random points within the command's running time; the window adapts (a run that
    // finished before its kill shrinks it, a kill that landed widens it) because later runs
    // may be faster than the first (a template already built).
    let mut window = (normal.as_micros() as u64 * 12 / 10).max(1_000);
    let mut tally = Tally {
        landed: 0,
        finished_first: 0,
        longest_ms: normal.as_millis(),
        killed: Vec::new(),
    };
    let mut attempts = 0;
    while tally.landed < kills() {
        attempts += 1;
        assert!(
            attempts <= kills() * 10,
            "{what}: too few kills landed mid-run"
        );
        let args = setup(p);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let delay = Duration::from_micros(rng.below(window));
        let (landed, pid) = kill_after(p, &args, delay);
        if landed {
            tally.landed += 1;
            tally.killed.push(pid);
            window = window * 21 / 20;
        } else {
            tally.finished_first += 1;
            window = (window * 4 / 5).max(1_000);
        }
        let rerun = p.run(&args);
        assert_eq!(
            rerun.status.code(),
            Some(0),
            "{what}: the rerun after a SIGKILL at {delay:?} failed: {rerun:?}"
        );
        check(p, &tally.killed);
        no_leftovers(p);
    }
    eprintln!(
        "faults {what}: {} kills landed mid-run ({} runs finished before their kill), \
         normal run {} ms; every rerun succeeded and left the env consistent",
        tally.landed, tally.finished_first, tally.longest_ms
    );
    tally
}

pub fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// No temporary file, partial file or hot journal anywhere under `.dbenv/` or `backups/`.
#[track_caller]
pub fn no_leftovers(p: &Project) {
    fn walk(dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.contains(".dbenv-tmp.") || name.ends_with("-journal") || name.ends_with(".tmp")
            {
                out.push(path.display().to_string());
            }
        }
    }
    let mut found = Vec::new();
    walk(&p.file(".dbenv"), &mut found);
    walk(&p.file("backups"), &mut found);
    assert!(found.is_empty(), "left behind: {found:?}");
}

/// `dbenv status --json ENV` says the env is healthy and fully migrated to `latest`.
#[track_caller]
pub fn status_healthy(p: &Project, env: &str, latest: i64) -> serde_json::Value {
    let status = p.ok(&["--json", "status", env]).json();
    assert_eq!(status["health"], "ok", "{status:#}");
    assert_eq!(status["migrations"]["latest_applied"], latest, "{status:#}");
    assert_eq!(status["migrations"]["pending"], 0, "{status:#}");
    status
}

/// Ids `backup list ENV` shows (complete backups only), each one verifying (those not in
/// `already`, which this adds them to); `backups/` holds nothing of an unlisted backup.
#[track_caller]
pub fn listed_backups_verify(p: &Project, env: &str, already: &mut Vec<String>) -> Vec<String> {
    let list = p.ok(&["--json", "backup", "list", env]).json();
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        if !already.contains(id) {
            p.ok(&["backup", "verify", id, "--env", env]);
            already.push(id.clone());
        }
    }
    for entry in std::fs::read_dir(p.file("backups")).unwrap().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') || name.ends_with(".lock") {
            continue;
        }
        assert!(
            ids.iter().any(|id| name.starts_with(id.as_str())),
            "backups/{name} belongs to no listed backup ({ids:?})"
        );
    }
    ids
}

/// The number of backups `backup list ENV` shows.
pub fn backup_count(p: &Project, env: &str) -> usize {
    let list = p.ok(&["--json", "backup", "list", env]).json();
    list.as_array().unwrap().len()
}

/// `n` copies of `dbenv ARGS` started at once; all must succeed.
pub fn race(p: &Project, args: &[&str], n: usize) -> Vec<Run> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            p.std_cmd(args)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let runs: Vec<Run> = children
        .into_iter()
        .map(|c| Run::new(args, c.wait_with_output().unwrap()))
        .collect();
    for run in &runs {
        run.code(0);
    }
    runs
}

/// Every user table of the PostgreSQL database at `url` with its row count and a hash of
/// its rows (to compare two databases, or one before and after).
pub fn pg_contents(url: &str) -> BTreeMap<String, (i64, String)> {
    block_on(async {
        let mut c = PgConnection::connect(url).await.unwrap();
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public' \
             AND table_type = 'BASE TABLE' AND table_name <> '_sqlx_migrations' ORDER BY 1",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        let mut out = BTreeMap::new();
        for t in tables {
            let sql = format!(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) \
                 FROM \"{t}\" AS t"
            );
            let row: (i64, String) = sqlx::query_as(AssertSqlSafe(sql))
                .fetch_one(&mut c)
                .await
                .unwrap();
            out.insert(t, row);
        }
        c.close().await.unwrap();
        out
    })
}

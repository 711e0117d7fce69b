//! Faults, with nothing lost (docs/reliability.md): dbenv killed with SIGKILL at a random
//! point of `up`, `reset`, `seed`, `migrate`, `backup` and `backup restore`, then run again:
//! the rerun must succeed and leave the env consistent (healthy status, sound database at
//! the right version with the scenario's rows, no temporary or partial file under `.dbenv/`
//! or in the backup folder, only complete backups listed, each verifying).
//!
//! `DBENV_FAULT_KILLS` kills per command (default 10, the CI run; the report's figures use
//! 100); `DBENV_FAULT_SEED` replays a run's random points (each test prints its seed).

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;

const CONFIG: &str = r#"[project]
default_env = "dev"

[env.dev]
engine = "sqlite"
scenario = "demo"

[env.dev.backup]
dir = "backups"
"#;

/// A migration that keeps `dbenv migrate` busy for a while (the kills land inside it).
const SLOW_MIGRATION: &str = "CREATE TABLE events (id INTEGER PRIMARY KEY, payload TEXT NOT NULL);\n\
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)\n\
INSERT INTO events (payload) SELECT hex(randomblob(24)) FROM n;\n\
CREATE INDEX events_payload ON events (payload);\n";
const SLOW_MIGRATION_FILE: &str = "migrations/0004_events.sql";

fn kills() -> usize {
    std::env::var("DBENV_FAULT_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10)
}

/// splitmix64: reproducible random points without a dependency.
struct Rng(u64);

impl Rng {
    fn new(what: &str) -> Rng {
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

    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n.max(1)
    }
}

/// Start `dbenv ARGS`, SIGKILL it after `delay`; whether it was still running then.
fn kill_after(p: &Project, args: &[&str], delay: Duration) -> bool {
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
    landed
}

/// How one command fared.
struct Tally {
    landed: usize,
    finished_first: usize,
    longest_ms: u128,
}

/// Kill a command at random points until `kills()` kills landed mid-run; after each, the
/// same command again must succeed and `check` must pass. `setup` prepares each attempt and
/// returns the command's arguments.
fn kill_loop(
    what: &str,
    p: &Project,
    setup: &mut dyn FnMut(&Project) -> Vec<String>,
    check: &mut dyn FnMut(&Project),
) -> Tally {
    let mut rng = Rng::new(what);
    let args = setup(p);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let start = Instant::now();
    p.ok(&args);
    let normal = start.elapsed();
    check(p);
    // Random points within the command's running time; the window adapts (a run that
    // finished before its kill shrinks it, a kill that landed widens it) because later runs
    // may be faster than the first (a template already built).
    let mut window = (normal.as_micros() as u64 * 12 / 10).max(1_000);
    let mut tally = Tally {
        landed: 0,
        finished_first: 0,
        longest_ms: normal.as_millis(),
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
        if kill_after(p, &args, delay) {
            tally.landed += 1;
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
        check(p);
        no_leftovers(p);
    }
    eprintln!(
        "faults {what}: {} kills landed mid-run ({} runs finished before their kill), \
         normal run {} ms; every rerun succeeded and left the env consistent",
        tally.landed, tally.finished_first, tally.longest_ms
    );
    tally
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// No temporary file, partial file or hot journal anywhere under `.dbenv/` or `backups/`.
#[track_caller]
fn no_leftovers(p: &Project) {
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

/// `dbenv status --json` says the env is healthy, fully migrated, with these row counts.
#[track_caller]
fn healthy(p: &Project, latest: i64) -> BTreeMap<String, u64> {
    let status = p.ok(&["--json", "status", "dev"]).json();
    assert_eq!(status["health"], "ok", "{status:#}");
    assert_eq!(status["migrations"]["latest_applied"], latest, "{status:#}");
    assert_eq!(status["migrations"]["pending"], 0, "{status:#}");
    let db = p.db("dev");
    assert_healthy(&db);
    assert_eq!(*applied_versions(&db).last().unwrap(), latest);
    counts(&db)
        .into_iter()
        .map(|(t, n)| (t, n as u64))
        .collect()
}

/// Every template has its info file, and its rows are what the info says.
#[track_caller]
fn templates_complete(p: &Project) {
    for name in p.templates() {
        let path = p.file(&format!(".dbenv/templates/sqlite/{name}"));
        let info = path.with_extension("json");
        let info: serde_json::Value = serde_json::from_slice(
            &std::fs::read(&info).unwrap_or_else(|e| panic!("{}: {e}", info.display())),
        )
        .unwrap();
        assert_healthy(&path);
        assert_eq!(info["rows"], total_rows(&path), "{name}");
    }
}

fn project() -> Project {
    Project::with_config(CONFIG)
}

#[test]
fn sigkill_during_up() {
    let p = project();
    p.ok(&["up", "dev"]);
    let expected = counts(&p.db("dev"));
    let mut setup = |p: &Project| {
        let _ = std::fs::remove_dir_all(p.file(".dbenv"));
        args(&["up", "dev"])
    };
    let mut check = |p: &Project| {
        healthy(p, 3);
        assert_eq!(counts(&p.db("dev")), expected);
        templates_complete(p);
    };
    kill_loop("up", &p, &mut setup, &mut check);
}

#[test]
fn sigkill_during_reset() {
    let p = project();
    p.ok(&["up", "dev"]);
    // New seeds build new templates; repeated ones are copies of a template.
    let mut rng = Rng::new("reset seeds");
    let n = kills() as u64;
    let mut setup = |_: &Project| {
        let seed = (1_000 + rng.below(n)).to_string();
        args(&["reset", "dev", "--seed", &seed])
    };
    let mut check = |p: &Project| {
        healthy(p, 3);
        let status = p.ok(&["--json", "status", "dev"]).json();
        let template = status["state"]["template"].as_str().unwrap().to_string();
        assert_eq!(
            content_hash(&p.db("dev")),
            content_hash(Path::new(&template))
        );
        templates_complete(p);
    };
    kill_loop("reset", &p, &mut setup, &mut check);
}

#[test]
fn sigkill_during_seed() {
    let p = project();
    p.ok(&["up", "dev"]);
    // What one seed on an empty database gives, and two.
    p.ok(&["reset", "dev", "--scenario", "empty"]);
    p.ok(&["seed", "dev", "--scenario", "demo"]);
    let once = counts(&p.db("dev"));
    p.ok(&["seed", "dev", "--scenario", "demo"]);
    let twice = counts(&p.db("dev"));
    let mut setup = |p: &Project| {
        p.ok(&["reset", "dev", "--scenario", "empty"]);
        args(&["seed", "dev", "--scenario", "demo"])
    };
    let mut check = |p: &Project| {
        healthy(p, 3);
        let now = counts(&p.db("dev"));
        assert!(now == once || now == twice, "seed left {now:?}");
    };
    kill_loop("seed", &p, &mut setup, &mut check);
}

#[test]
fn sigkill_during_migrate() {
    let p = project();
    p.ok(&["up", "dev"]);
    let demo = counts(&p.db("dev"));
    let mut setup = |p: &Project| {
        let _ = std::fs::remove_file(p.file(SLOW_MIGRATION_FILE));
        p.ok(&["reset", "dev"]);
        p.write(SLOW_MIGRATION_FILE, SLOW_MIGRATION);
        args(&["migrate", "dev"])
    };
    let mut check = |p: &Project| {
        let mut now = healthy(p, 4);
        assert_eq!(now.remove("events"), Some(100_000));
        let demo: BTreeMap<String, u64> =
            demo.iter().map(|(t, n)| (t.clone(), *n as u64)).collect();
        assert_eq!(now, demo);
    };
    kill_loop("migrate", &p, &mut setup, &mut check);
}

/// Ids `backup list` shows (complete backups only), each one verifying.
#[track_caller]
fn listed_backups_verify(p: &Project, already: &mut Vec<String>) -> Vec<String> {
    let list = p.ok(&["--json", "backup", "list", "dev"]).json();
    let ids: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    for id in &ids {
        if !already.contains(id) {
            p.ok(&["backup", "verify", id]);
            already.push(id.clone());
        }
    }
    // Nothing in the folder that belongs to no listed backup.
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

#[test]
fn sigkill_during_backup() {
    let p = project();
    p.ok(&["up", "dev"]);
    let mut verified = Vec::new();
    let before = std::cell::Cell::new(0usize);
    let mut setup = |p: &Project| {
        let n = p.ok(&["--json", "backup", "list", "dev"]).json();
        before.set(n.as_array().unwrap().len());
        args(&["backup", "dev"])
    };
    let mut check = |p: &Project| {
        let ids = listed_backups_verify(p, &mut verified);
        let added = ids.len() - before.get();
        assert!(
            added == 1 || added == 2,
            "{added} backups added by a killed run and its rerun"
        );
        healthy(p, 3);
    };
    kill_loop("backup", &p, &mut setup, &mut check);
}

#[test]
fn sigkill_during_restore() {
    let p = project();
    p.ok(&["up", "dev"]);
    let demo = content_hash(&p.db("dev"));
    let id = p.ok(&["backup", "dev"]).stdout.trim().to_string();
    let mut setup = |p: &Project| {
        p.ok(&["reset", "dev", "--scenario", "empty"]);
        args(&["backup", "restore", &id])
    };
    let mut check = |p: &Project| {
        healthy(p, 3);
        assert_eq!(content_hash(&p.db("dev")), demo);
    };
    kill_loop("restore", &p, &mut setup, &mut check);
}

/// `n` copies of `dbenv ARGS` started at once; all must succeed.
fn race(p: &Project, args: &[&str], n: usize) -> Vec<Run> {
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

fn races() -> usize {
    std::env::var("DBENV_FAULT_RACES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2)
}

#[test]
fn eight_resets_at_once() {
    for round in 0..races() {
        let p = project();
        // The first round races to build the template too; later ones start with it built.
        if round % 2 == 1 {
            p.ok(&["up", "dev"]);
        }
        race(&p, &["reset", "dev"], 8);
        healthy(&p, 3);
        templates_complete(&p);
        assert_eq!(p.templates().len(), 1, "{:?}", p.templates());
        no_leftovers(&p);
    }
    eprintln!("faults races: {} rounds of 8 resets at once", races());
}

#[test]
fn four_backups_at_once() {
    for _ in 0..races() {
        let p = project();
        p.ok(&["up", "dev"]);
        let runs = race(&p, &["backup", "dev"], 4);
        let mut ids: Vec<String> = runs.iter().map(|r| r.stdout.trim().to_string()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 4, "{ids:?}");
        let mut verified = Vec::new();
        let mut listed = listed_backups_verify(&p, &mut verified);
        listed.sort();
        assert_eq!(listed, ids);
        no_leftovers(&p);
    }
    eprintln!("faults races: {} rounds of 4 backups at once", races());
}

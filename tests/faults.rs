//! Faults, with nothing lost (docs/reliability.md): dbenv killed with SIGKILL at a random
//! point of `up`, `reset`, `seed`, `migrate`, `backup` and `backup restore`, then run again:
//! the rerun must succeed and leave the env consistent (healthy status, sound database at
//! the right version with the scenario's rows, no temporary or partial file under `.dbenv/`
//! or in the backup folder, only complete backups listed, each verifying).
//!
//! `DBENV_FAULT_KILLS` kills per command (default 10, the CI run; the report's figures use
//! 100); `DBENV_FAULT_SEED` replays a run's random points (each test prints its seed). The
//! PostgreSQL variant is tests/faults_postgres.rs; both use tests/common/faults.rs.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::faults::*;
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

/// `dbenv status --json` says the env is healthy, fully migrated, with these row counts.
#[track_caller]
fn healthy(p: &Project, latest: i64) -> BTreeMap<String, u64> {
    status_healthy(p, "dev", latest);
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
    let mut check = |p: &Project, _: &[u32]| {
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
    let mut check = |p: &Project, _: &[u32]| {
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
    let mut check = |p: &Project, _: &[u32]| {
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
    let mut check = |p: &Project, _: &[u32]| {
        let mut now = healthy(p, 4);
        assert_eq!(now.remove("events"), Some(100_000));
        let demo: BTreeMap<String, u64> =
            demo.iter().map(|(t, n)| (t.clone(), *n as u64)).collect();
        assert_eq!(now, demo);
    };
    kill_loop("migrate", &p, &mut setup, &mut check);
}

#[test]
fn sigkill_during_backup() {
    let p = project();
    p.ok(&["up", "dev"]);
    let mut verified = Vec::new();
    let before = std::cell::Cell::new(0usize);
    let mut setup = |p: &Project| {
        before.set(backup_count(p, "dev"));
        args(&["backup", "dev"])
    };
    let mut check = |p: &Project, _: &[u32]| {
        let ids = listed_backups_verify(p, "dev", &mut verified);
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
    let mut check = |p: &Project, _: &[u32]| {
        healthy(p, 3);
        assert_eq!(content_hash(&p.db("dev")), demo);
    };
    kill_loop("restore", &p, &mut setup, &mut check);
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
        let mut listed = listed_backups_verify(&p, "dev", &mut verified);
        listed.sort();
        assert_eq!(listed, ids);
        no_leftovers(&p);
    }
    eprintln!("faults races: {} rounds of 4 backups at once", races());
}

//! Several dbenv processes on one env, Ctrl-C in the middle of a seed, and files at an
//! env's path that are not SQLite databases.

mod common;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A scenario big enough to keep dbenv busy for seconds (it is always interrupted).
const BIG: &str = "rows = 0\n\n[tables.users]\nrows = 300000\n";

fn spawn(p: &Project, args: &[&str]) -> Child {
    p.std_cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(args: &[&str], child: Child) -> Run {
    Run::new(args, child.wait_with_output().unwrap())
}

fn interrupt(child: &Child) {
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -INT failed");
}

/// Exit code 130, or killed by SIGINT before the handler was installed.
#[track_caller]
fn assert_interrupted(run: &Run) {
    use std::os::unix::process::ExitStatusExt;
    match run.status.code() {
        Some(130) => {
            run.err_has("interrupted");
        }
        None => assert_eq!(run.status.signal(), Some(2), "{run:?}"),
        other => panic!("expected an interrupted dbenv, got {other:?}: {run:?}"),
    }
}

/// Temporary files dbenv leaves beside a database while building it.
fn temps(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("dbenv-tmp"))
        .collect()
}

fn wait_until(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn two_resets_at_once() {
    let p = Project::new();
    let db = p.db("dev");
    let args = ["reset", "--scenario", "demo"];
    for round in 0..3 {
        let a = spawn(&p, &args);
        let b = spawn(&p, &args);
        let runs = [finish(&args, a), finish(&args, b)];
        let mut succeeded = 0;
        for run in &runs {
            if run.status.success() {
                succeeded += 1;
                assert_eq!(sqlite_path_of_url(&run.stdout), db);
            } else {
                run.code(1).err_has("another dbenv").err_has("env dev");
            }
        }
        assert!(
            succeeded >= 1,
            "round {round}: neither reset succeeded: {runs:?}"
        );
        assert_healthy(&db);
        let c = counts(&db);
        assert_eq!(c["users"], 60, "round {round}");
        assert_eq!(c["organisations"], 6, "round {round}");
        assert!(temps(db.parent().unwrap()).is_empty());
    }
    // The data is the demo data, exactly: the same as a reset on its own gives.
    let hash = content_hash(&db);
    p.ok(&args);
    assert_eq!(content_hash(&db), hash);
    assert_eq!(p.templates().len(), 1, "{:?}", p.templates());
}

#[test]
fn lock_timeout_while_another_dbenv_holds_the_env() {
    let p = Project::new();
    p.write("seeds/big.toml", BIG);
    let db = p.db("dev");
    p.ok(&["up", "--scenario", "empty"]);
    let before = bytes(&db);

    let holder_args = ["reset", "--scenario", "big", "--no-template"];
    let holder = spawn(&p, &holder_args);
    // The holder has the lock once it builds its temporary database.
    wait_until("the big reset to start", Duration::from_secs(20), || {
        !temps(db.parent().unwrap()).is_empty()
    });

    let start = Instant::now();
    let run = p.run(&["--lock-timeout", "0", "reset", "--scenario", "demo"]);
    run.code(1)
        .err_has(&format!(
            "another dbenv (pid {}) is working on env dev and did not finish within 0s",
            holder.id()
        ))
        .err_has("--lock-timeout");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(run.stdout.is_empty());

    let start = Instant::now();
    p.run(&["--lock-timeout", "1", "seed", "--scenario", "demo"])
        .code(1)
        .err_has("is working on env dev and did not finish within 1s");
    assert!(
        start.elapsed() >= Duration::from_millis(900),
        "did not wait"
    );

    p.run(&["--lock-timeout", "0", "down", "--purge"])
        .code(1)
        .err_has("env dev");
    assert!(
        db.exists(),
        "down --purge deleted the database without the lock"
    );

    interrupt(&holder);
    assert_interrupted(&finish(&holder_args, holder));
    // The database is the one from before the interrupted reset.
    assert_eq!(bytes(&db), before);
    assert_healthy(&db);
    // The next run cleans the interrupted one's temporary file up.
    p.ok(&["reset", "--scenario", "empty"]);
    assert!(temps(db.parent().unwrap()).is_empty());
}

#[test]
fn ctrl_c_during_seed_writes_nothing() {
    let p = Project::new();
    p.write("seeds/big.toml", BIG);
    let db = p.db("dev");
    p.ok(&["up"]);
    let rows = counts(&db);
    let hash = content_hash(&db);

    let args = ["seed", "--scenario", "big"];
    let mut child = spawn(&p, &args);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "the seed finished before it could be interrupted"
    );
    interrupt(&child);
    let run = finish(&args, child);
    assert_interrupted(&run);

    assert_eq!(counts(&db), rows, "the interrupted seed left rows behind");
    assert_eq!(content_hash(&db), hash);
    assert_healthy(&db);
    // The env is usable afterwards.
    p.ok(&["seed", "--scenario", "empty"]);
    p.ok(&["status"]).out_has("health     ok");
    assert_eq!(counts(&db), rows);
}

#[test]
fn ctrl_c_during_reset_keeps_the_previous_database() {
    let p = Project::new();
    p.write("seeds/big.toml", BIG);
    let db = p.db("dev");
    p.ok(&["up"]);
    let hash = content_hash(&db);
    let templates = p.templates();

    let args = ["reset", "--scenario", "big"];
    let child = spawn(&p, &args);
    std::thread::sleep(Duration::from_millis(300));
    interrupt(&child);
    assert_interrupted(&finish(&args, child));
    assert_eq!(content_hash(&db), hash);
    assert_healthy(&db);
    // No half-built template is kept as if it were complete.
    assert_eq!(p.templates(), templates);
    let state = p.ok(&["status", "--json"]).json();
    assert_eq!(state["state"]["scenario"], "demo");
}

#[test]
fn file_that_is_not_sqlite_is_left_alone() {
    let p = Project::new();
    let db = p.db("dev");
    p.write(".dbenv/dev.sqlite", "hello");
    let message = format!(
        "{} is not a SQLite database (its first bytes are not \"SQLite format 3\"); dbenv left it untouched",
        db.display()
    );
    for args in [
        &["up"][..],
        &["reset", "--scenario", "demo"],
        &["reset", "--scenario", "demo", "--no-template"],
        &["seed", "--scenario", "demo"],
        &["migrate"],
        &["migrate", "status"],
        &["migrate", "down"],
    ] {
        p.run(args).code(1).err_has(&message);
        assert_eq!(
            bytes(&db),
            b"hello",
            "`dbenv {}` changed the file",
            args.join(" ")
        );
    }
    p.run(&["status"])
        .code(1)
        .out_has("health     unusable: ")
        .out_has("is not a SQLite database");
    // (`status --json` exits 0 whatever the health: the field says it.)
    let json = p.run(&["status", "--json"]).json();
    assert!(
        json["health"]
            .as_str()
            .unwrap()
            .contains("is not a SQLite database"),
        "{json}"
    );
    assert_eq!(bytes(&db), b"hello");
    let dir: Vec<_> = std::fs::read_dir(db.parent().unwrap())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("dev.sqlite"))
        .collect();
    assert_eq!(dir, vec!["dev.sqlite"], "files were left beside it");
}

/// `down --purge` deletes whatever is at the env's path, even a file that is not a SQLite
/// database (a mistyped `path`), although `up` and `reset` refuse to touch that file.
///
/// Ignored until fixed: src/project/dev.rs, `down`, removes `path` without the
/// `ensure_sqlite_file(&path)?` check that `reset` makes (dev.rs, `reset`).
#[test]
fn purge_refuses_a_file_that_is_not_sqlite() {
    let p = Project::with_config("[env.dev]\nengine = \"sqlite\"\npath = \"notes.txt\"\n");
    p.write("notes.txt", "my precious notes\n");
    p.run(&["up"]).code(1).err_has("is not a SQLite database");
    p.run(&["down", "--purge"])
        .code(1)
        .err_has("is not a SQLite database");
    assert_eq!(p.read("notes.txt"), b"my precious notes\n");
}

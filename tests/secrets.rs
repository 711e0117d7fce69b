//! A sentinel password in every env of a project, and every output dbenv produces searched
//! for it: stdout and stderr of each command at every verbosity (`-q`, default, `-v`, `-vv`,
//! JSON logs), `--json` output, error chains (an unreachable server, a refused command),
//! every file written in the project (`.dbenv/`, backups and their manifests), and the
//! command lines of every process on the machine while a backup, a verify and a restore run
//! (`pg_dump`, `pg_restore`: `/proc/*/cmdline`).
//!
//! `dbenv url` prints a URL by design; on a production env it shows the password as `***`
//! unless `--show-password` is given (docs/configuration.md), which is checked here too.

mod common;
#[path = "shared_server.rs"]
mod shared_server;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use dbenv::engine::EngineKind;

const SENTINEL: &str = "Sekr1t-S3ntinel-7f3a";
const USER: &str = "dbenv_secrets";

/// Every process's command line, sampled until `stop`: the lines holding the sentinel, and
/// the programs seen.
fn sample_cmdlines(
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(Vec<String>, BTreeSet<String>)> {
    std::thread::spawn(move || {
        let (mut leaks, mut seen) = (Vec::new(), BTreeSet::new());
        while !stop.load(Ordering::Relaxed) {
            for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
                    continue;
                };
                let line = String::from_utf8_lossy(&raw).replace('\0', " ");
                if let Some(prog) = line.split_whitespace().next() {
                    seen.insert(prog.rsplit('/').next().unwrap_or(prog).to_string());
                }
                if line.contains(SENTINEL) {
                    leaks.push(line);
                }
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        (leaks, seen)
    })
}

fn create_user(admin: &str) {
    block_on(async {
        use sqlx::{AssertSqlSafe, Connection, Executor};
        let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
        let create = format!(
            "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{USER}') THEN \
             CREATE ROLE {USER} LOGIN SUPERUSER PASSWORD '{SENTINEL}'; END IF; END $$"
        );
        conn.execute(AssertSqlSafe(create)).await.unwrap();
        conn.close().await.unwrap();
    });
}

/// Every file of the project that holds the sentinel.
fn files_with_sentinel(p: &Project) -> Vec<String> {
    p.snapshot()
        .into_iter()
        .filter(|(_, bytes)| String::from_utf8_lossy(bytes).contains(SENTINEL))
        .map(|(path, _)| path.display().to_string())
        .collect()
}

#[test]
fn the_password_never_shows() {
    if !servers::have_native("postgres") {
        return;
    }
    let Some(admin) = shared_server::native_server_url(EngineKind::Postgres) else {
        return;
    };
    create_user(&admin);
    let database = format!("dbenv_secrets_{}", std::process::id());
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_username(USER).unwrap();
    url.set_password(Some(SENTINEL)).unwrap();
    url.set_path(&database);
    let app_url = url.to_string();
    url.set_port(Some(1)).unwrap();
    let dead_url = url.to_string();

    let p = Project::with_config(
        "[project]\ndefault_env = \"prod\"\n\n\
         [env.prod]\nkind = \"production\"\nengine = \"postgres\"\nurl = \"${APP_URL}\"\nscenario = \"demo\"\nreplicas = [\"${APP_URL}\"]\n\
         [env.prod.backup]\ndir = \"backups\"\n\n\
         [env.gone]\nkind = \"production\"\nengine = \"postgres\"\nurl = \"${DEAD_URL}\"\n\
         [env.gone.backup]\ndir = \"backups-gone\"\n\n\
         [env.dev-pg]\nengine = \"postgres\"\nprovider = \"native\"\npassword = \"${APP_PW}\"\n",
    );
    let vars = [
        ("APP_URL", app_url.as_str()),
        ("DEAD_URL", dead_url.as_str()),
        ("APP_PW", SENTINEL),
        ("RUST_BACKTRACE", "1"),
    ];
    let mut runs = Vec::new();
    let mut run = |args: &[&str]| -> Run {
        let r = p.run_with(args, &vars);
        r.never_says(SENTINEL);
        assert!(!r.stderr.contains("panicked"), "{}: {}", r.args, r.stderr);
        runs.push(r.args.clone());
        r
    };

    run(&["up", "prod"]).code(0);
    let verbosities: [&[&str]; 5] = [
        &["-q"],
        &[],
        &["-v"],
        &["-vv"],
        &["--log-format", "json", "-vv"],
    ];
    for v in verbosities {
        let with = |rest: &[&'static str]| -> Vec<&'static str> { [v, rest].concat() };
        run(&with(&["status", "prod"])).code(0);
        run(&with(&["--json", "status", "prod"])).code(0);
        run(&with(&["url", "prod"])).code(0).out_has(":***@");
        run(&with(&["--json", "url", "prod"])).code(0);
        run(&with(&["url", "prod", "--export"])).code(0);
        run(&with(&["migrate", "prod", "--yes"])).code(0);
        run(&with(&["migrate", "status", "prod"])).code(0);
        run(&with(&["--json", "migrate", "status", "prod"])).code(0);
        run(&with(&["check", "replication", "prod"]));
        run(&with(&["--json", "check", "replication", "prod"]));
        run(&with(&["backup", "list", "prod"])).code(0);
        // Errors: an unreachable server, refusals.
        run(&with(&["status", "gone"]));
        run(&with(&["up", "gone"])).code(1);
        run(&with(&["migrate", "gone", "--yes"])).code(1);
        run(&with(&["backup", "gone"])).code(1);
        run(&with(&["check", "replication", "gone"]));
        run(&with(&["reset", "prod", "--scenario", "empty"])).code(3);
        run(&with(&["url", "dev-pg"])).code(1);
    }

    // Backup, verify and restore while every process's command line is watched.
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = sample_cmdlines(stop.clone());
    let id = run(&["-vv", "backup", "prod"])
        .code(0)
        .stdout
        .trim()
        .to_string();
    run(&["-vv", "backup", "verify", &id, "--env", "prod"]).code(0);
    run(&["--json", "backup", "verify", &id, "--env", "prod"]).code(0);
    run(&[
        "-vv",
        "backup",
        "restore",
        &id,
        "--env",
        "prod",
        "--force",
        "--confirm",
        "prod",
    ])
    .code(0);
    stop.store(true, Ordering::Relaxed);
    let (leaks, seen) = sampler.join().unwrap();
    assert!(
        leaks.is_empty(),
        "the password was on a command line: {leaks:?}"
    );
    for tool in ["pg_dump", "pg_restore"] {
        if !seen.contains(tool) {
            eprintln!(
                "note: {tool} ran too briefly to be sampled (tests/backup.rs spies on its arguments)"
            );
        }
    }

    // By request only.
    let shown = p.run_with(&["url", "prod", "--show-password"], &vars);
    shown.code(0).out_has(SENTINEL);

    let files = files_with_sentinel(&p);
    assert!(files.is_empty(), "files holding the password: {files:?}");
    eprintln!("secrets: {} command(s) checked", runs.len());
    p.run_with(
        &["down", "prod", "--purge", "--force", "--confirm", "prod"],
        &vars,
    )
    .code(0)
    .never_says(SENTINEL);
}

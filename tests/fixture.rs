//! The fixture library (`dbenv::TestDb`) against real engines: isolation under parallel
//! tests, templates rebuilt when migrations change, fixtures, guards, kept databases, and
//! nothing left behind after a run, whether it exits, panics or is killed.

mod common;
#[path = "shared_server.rs"]
mod shared_server;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::Project;
use common::servers::{PG_IMAGE, have_image, have_native};
use dbenv::TestDb;
use dbenv::config::EngineKind;
use sqlx::{PgPool, SqlitePool};

const SHARED_CONFIG: &str = r#"[project]
default_env = "dev"

[env.dev]
scenario = "demo"

[env.pg]
engine = "postgres"
provider = "native"
scenario = "demo"

[env.maria]
engine = "mariadb"
provider = "native"
scenario = "demo"

[env.pgc]
engine = "postgres"
image = "dbenv-test/postgres:15"
pull = "never"
scenario = "demo"

[env.prod]
kind = "production"
"#;

fn project() -> Project {
    Project::with_config(SHARED_CONFIG)
}

/// The error of a build that must fail, as users see it.
async fn build_error(builder: dbenv::TestDbBuilder) -> String {
    builder.build().await.unwrap_err().to_string()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

async fn count(pool: &SqlitePool, table: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
        .fetch_one(pool)
        .await
        .unwrap()
}

#[test]
fn sqlite_databases_of_parallel_tests_are_isolated_and_removed() {
    let p = project();
    let root = p.path().to_path_buf();
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let root = root.clone();
            std::thread::spawn(move || {
                runtime().block_on(async {
                    let db = TestDb::builder()
                        .project_dir(&root)
                        .scenario("demo")
                        .build()
                        .await
                        .unwrap();
                    let pool: SqlitePool = db.pool();
                    let before = count(&pool, "organisations").await;
                    assert_eq!(before, 6, "the demo scenario's organisations");
                    sqlx::query(
                        "INSERT INTO organisations (name, slug, plan) VALUES (?, ?, 'free')",
                    )
                    .bind(format!("org of test {i}"))
                    .bind(format!("org-{i}"))
                    .execute(&pool)
                    .await
                    .unwrap();
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    let names: Vec<String> = sqlx::query_scalar(
                        "SELECT name FROM organisations WHERE name LIKE 'org of test %'",
                    )
                    .fetch_all(&pool)
                    .await
                    .unwrap();
                    assert_eq!(
                        names,
                        vec![format!("org of test {i}")],
                        "only its own write"
                    );
                    db.path().unwrap().to_path_buf()
                })
            })
        })
        .collect();
    let files: Vec<PathBuf> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut unique = files.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 8, "one file per test");
    for f in &files {
        assert!(!f.exists(), "{} is removed with its TestDb", f.display());
    }
    assert_eq!(p.templates().len(), 1, "one template built for all eight");
}

#[test]
fn a_changed_migration_gives_a_new_template() {
    let p = project();
    let rt = runtime();
    let first = rt.block_on(async {
        let db = TestDb::builder()
            .project_dir(p.path())
            .build()
            .await
            .unwrap();
        let pool: SqlitePool = db.pool();
        let cols: Vec<String> =
            sqlx::query_scalar("SELECT name FROM pragma_table_info('users') ORDER BY cid")
                .fetch_all(&pool)
                .await
                .unwrap();
        assert!(!cols.contains(&"nickname".to_string()));
        p.templates()
    });
    p.write(
        "migrations/0004_nickname.sql",
        "ALTER TABLE users ADD COLUMN nickname TEXT;",
    );
    rt.block_on(async {
        let db = TestDb::builder()
            .project_dir(p.path())
            .build()
            .await
            .unwrap();
        let pool: SqlitePool = db.pool();
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'nickname'",
        )
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(n, 1, "the new migration is in the test's database");
        let users = count(&pool, "users").await;
        assert_eq!(users, 60, "and the demo data too");
    });
    let second = p.templates();
    assert_eq!(first.len(), 1);
    assert!(
        second.iter().any(|t| !first.contains(t)),
        "a new template: {first:?} then {second:?}"
    );
}

#[test]
fn fixtures_run_after_cloning_and_a_bad_one_is_named() {
    let p = project();
    p.write(
        "tests/fixtures/acme.sql",
        "INSERT INTO organisations (name, slug, plan) VALUES ('Acme', 'acme', 'team');\n\
         INSERT INTO organisations (name, slug, plan) VALUES ('Initech', 'initech', 'free');",
    );
    p.write(
        "tests/fixtures/broken.sql",
        "INSERT INTO nowhere VALUES (1);",
    );
    runtime().block_on(async {
        let db = TestDb::builder()
            .project_dir(p.path())
            .scenario("empty")
            .fixture("tests/fixtures/acme.sql")
            .fixture_sql("UPDATE organisations SET plan = 'enterprise' WHERE slug = 'acme'")
            .build()
            .await
            .unwrap();
        let pool: SqlitePool = db.pool();
        let plan: String = sqlx::query_scalar("SELECT plan FROM organisations WHERE slug = 'acme'")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(plan, "enterprise", "fixtures run in order");
        assert_eq!(count(&pool, "organisations").await, 2, "empty scenario + 2");

        let err = build_error(
            TestDb::builder()
                .project_dir(p.path())
                .fixture("tests/fixtures/broken.sql"),
        )
        .await;
        assert!(
            err.contains("broken.sql") && err.contains("nowhere"),
            "{err}"
        );

        let err = build_error(
            TestDb::builder()
                .project_dir(p.path())
                .fixture("tests/fixtures/missing.sql"),
        )
        .await;
        assert!(
            err.contains("missing.sql") && err.contains("relative to the project root"),
            "{err}"
        );
    });
}

#[test]
fn bad_requests_are_refused_clearly() {
    let p = project();
    runtime().block_on(async {
        let err = TestDb::builder()
            .project_dir(p.path())
            .env("prod")
            .build()
            .await
            .unwrap_err();
        assert_eq!(err.exit_code(), 3);
        assert!(err.to_string().contains("production env"), "{err}");

        let err = build_error(TestDb::builder().project_dir(p.path()).env("nope")).await;
        assert!(err.contains("nope") && err.contains("dev"), "{err}");

        let err = build_error(TestDb::builder().project_dir(p.path()).scenario("nosuch")).await;
        assert!(err.contains("nosuch"), "{err}");

        let err = build_error(
            TestDb::builder()
                .project_dir(p.path())
                .env("pg")
                .engine(EngineKind::Sqlite),
        )
        .await;
        assert!(
            err.contains("engine sqlite") && err.contains("env pg is postgres"),
            "{err}"
        );

        let db = TestDb::builder()
            .project_dir(p.path())
            .build()
            .await
            .unwrap();
        let err = db.try_pool::<PgPool>().unwrap_err().to_string();
        assert!(
            err.contains("is sqlite") && err.contains("sqlx::PgPool"),
            "{err}"
        );

        let none = tempfile::tempdir().unwrap();
        let err = build_error(TestDb::builder().project_dir(none.path())).await;
        assert!(err.contains("dbenv.toml"), "{err}");
    });
}

// ---- server engines -------------------------------------------------------------------

async fn server_story(p: &Project, env: &str) {
    let build = || {
        TestDb::builder()
            .project_dir(p.path())
            .env(env)
            .fixture_sql("INSERT INTO labels (id, organisation_id, name, color) SELECT 100000, id, 'fixture', '#000000' FROM organisations ORDER BY id LIMIT 1")
            .build()
    };
    let (a, b) = tokio::join!(build(), build());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_ne!(a.name(), b.name());
    // The same checks on either engine's pool type.
    macro_rules! isolated {
        ($pool:ty) => {{
            let (pa, pb): ($pool, $pool) = (a.pool(), b.pool());
            let count = |sql: &'static str, pool: $pool| async move {
                sqlx::query_scalar::<_, i64>(sql)
                    .fetch_one(&pool)
                    .await
                    .unwrap()
            };
            assert_eq!(count("SELECT count(*) FROM users", pa.clone()).await, 60);
            let fixture = "SELECT count(*) FROM labels WHERE name = 'fixture'";
            assert_eq!(count(fixture, pa.clone()).await, 1);
            sqlx::query("DELETE FROM comments")
                .execute(&pa)
                .await
                .unwrap();
            assert_eq!(count("SELECT count(*) FROM comments", pa).await, 0);
            assert!(count("SELECT count(*) FROM comments", pb).await > 0);
        }};
    }
    match a.engine() {
        EngineKind::Postgres => isolated!(PgPool),
        _ => isolated!(sqlx::MySqlPool),
    }
    let url = a.url().to_string();
    let name = a.name().to_string();
    drop((a, b));
    // Dropped in the background on a throwaway server: wait for it.
    let admin_url = url.replace(
        &name,
        if url.starts_with("postgres") {
            "postgres"
        } else {
            "mysql"
        },
    );
    let engine = if url.starts_with("postgres") {
        EngineKind::Postgres
    } else {
        EngineKind::Mariadb
    };
    let mut admin = dbenv::engine::ServerAdmin::connect(engine, &admin_url)
        .await
        .unwrap();
    let start = Instant::now();
    while admin.database_exists(&name).await.unwrap() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{name} was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn postgres_native_test_databases() {
    if !have_native("postgres") {
        return;
    }
    let p = project();
    runtime().block_on(server_story(&p, "pg"));
}

#[test]
fn mariadb_native_test_databases() {
    if !have_native("mariadb") {
        return;
    }
    let p = project();
    runtime().block_on(server_story(&p, "maria"));
}

#[test]
fn postgres_container_test_databases() {
    if !have_image(PG_IMAGE) {
        return;
    }
    let p = project();
    runtime().block_on(server_story(&p, "pgc"));
}

#[test]
fn an_external_server_keeps_only_what_is_not_ours() {
    if !have_native("postgres") {
        return;
    }
    let Some(server) = shared_pg_url() else {
        return;
    };
    let p = Project::with_config(&format!(
        "[env.ext]\nengine = \"postgres\"\nurl = \"{server}\"\nscenario = \"demo\"\n"
    ));
    runtime().block_on(async {
        let mut admin = dbenv::engine::ServerAdmin::connect(EngineKind::Postgres, &server)
            .await
            .unwrap();
        // What a killed run of this machine left, and what another machine's run has.
        let stale = format!("dbenv_t_{}_deadbeef_1_1", host_id());
        let foreign = "dbenv_t_ffffff_deadbeef_1_1";
        for db in [stale.as_str(), foreign] {
            admin.drop_database(db).await.unwrap();
            admin.create_database(db).await.unwrap();
        }
        let db = TestDb::builder()
            .project_dir(p.path())
            .env("ext")
            .build()
            .await
            .unwrap();
        let name = db.name().to_string();
        assert!(admin.database_exists(&name).await.unwrap());
        assert!(
            !admin.database_exists(&stale).await.unwrap(),
            "stale database swept"
        );
        assert!(
            admin.database_exists(foreign).await.unwrap(),
            "another machine's kept"
        );
        assert!(
            !format!("{db:?}").contains("dbenv-test-only"),
            "Debug hides the password"
        );
        drop(db);
        assert!(
            !admin.database_exists(&name).await.unwrap(),
            "dropped before the TestDb's drop returns on an external server"
        );
        admin.drop_database(foreign).await.unwrap();
    });
}

fn shared_pg_url() -> Option<String> {
    shared_server::native_server_url(EngineKind::Postgres)
}

fn host_id() -> String {
    use sha2::Digest;
    let id = std::fs::read_to_string("/etc/machine-id")
        .or_else(|_| std::fs::read_to_string("/proc/sys/kernel/hostname"))
        .unwrap();
    hex::encode(&sha2::Sha256::digest(id.trim().as_bytes())[..3])
}

// ---- runs end cleanly ---------------------------------------------------------------

/// Run by [`child`] in a process of its own: makes a database and then exits, panics or
/// sleeps (to be killed), as `DBENV_CHILD` says.
#[test]
#[ignore = "run as a child process by the cleanup tests"]
fn child_process() {
    let Ok(mode) = std::env::var("DBENV_CHILD") else {
        return;
    };
    let root = std::env::var("DBENV_CHILD_PROJECT").unwrap();
    let env = std::env::var("DBENV_CHILD_ENV").unwrap();
    runtime().block_on(async {
        let db = TestDb::builder()
            .project_dir(&root)
            .env(&env)
            .build()
            .await
            .unwrap();
        println!("URL={}", db.url());
        println!("PID={}", std::process::id());
        use std::io::Write;
        std::io::stdout().flush().unwrap();
        match mode.as_str() {
            "panic" => panic!("the test failed"),
            "sleep" => tokio::time::sleep(Duration::from_secs(60)).await,
            _ => {}
        }
    });
}

struct Child {
    process: std::process::Child,
    url: String,
}

fn child(p: &Project, env: &str, mode: &str) -> Child {
    let mut process = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_process", "--ignored", "--nocapture"])
        .env("DBENV_CHILD", mode)
        .env("DBENV_CHILD_PROJECT", p.path())
        .env("DBENV_CHILD_ENV", env)
        // A run of its own, even when this test runs under nextest.
        .env_remove("NEXTEST_RUN_ID")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = std::io::BufReader::new(process.stdout.take().unwrap());
    let mut url = String::new();
    loop {
        let mut line = String::new();
        use std::io::BufRead;
        if out.read_line(&mut line).unwrap() == 0 {
            let status = process.wait().unwrap();
            let mut err = String::new();
            std::io::Read::read_to_string(process.stderr.as_mut().unwrap(), &mut err).unwrap();
            panic!("the child process ended ({status}) before making its database:\n{err}");
        }
        if let Some(u) = line.trim().strip_prefix("URL=") {
            url = u.to_string();
        }
        if line.starts_with("PID=") {
            break;
        }
    }
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
    Child { process, url }
}

/// The runs folder entries of the process `pid`.
fn run_dirs(pid: u32) -> Vec<PathBuf> {
    entries_of(&std::env::temp_dir().join("dbenv-tests"), pid)
}

/// What the runs of the process `pid` left: run folders, and server data kept in memory.
fn leftovers(pid: u32) -> Vec<PathBuf> {
    let mut left = run_dirs(pid);
    left.extend(entries_of(Path::new("/dev/shm/dbenv-tests"), pid));
    left
}

fn entries_of(root: &Path, pid: u32) -> Vec<PathBuf> {
    std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.is_dir()
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(&format!("{pid}-")))
        })
        .collect()
}

fn port_of(url: &str) -> u16 {
    url::Url::parse(url).unwrap().port().unwrap()
}

fn listening(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &format!("127.0.0.1:{port}").parse().unwrap(),
        Duration::from_millis(200),
    )
    .is_ok()
}

fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(30), "{what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Reaper processes (`sh` loops) watching `dir`'s run.
fn reapers_of(dir: &Path) -> Vec<i32> {
    let needle = dir.to_string_lossy().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.starts_with("sh\0-c\0") && c.contains(&needle)
            })
        })
        .collect()
}

#[test]
fn runs_clean_up_after_exit_panic_and_sigkill() {
    if !have_native("postgres") {
        return;
    }
    let p = project();

    // A run that exits: its server and folder go at once.
    let mut c = child(&p, "pg", "exit");
    let pid = c.process.id();
    let port = port_of(&c.url);
    assert!(c.process.wait().unwrap().success());
    eventually("the server of a finished run stops", || !listening(port));
    eventually("the folder of a finished run goes", || {
        leftovers(pid).is_empty()
    });

    // A run whose test panicked: the database is kept (with the server) until the next run.
    let mut c = child(&p, "pg", "panic");
    let pid = c.process.id();
    let port = port_of(&c.url);
    let mut err = String::new();
    std::io::Read::read_to_string(c.process.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!c.process.wait().unwrap().success());
    assert!(err.contains("kept test database dbenv_t_"), "{err}");
    std::thread::sleep(Duration::from_millis(600));
    assert!(listening(port), "the kept database's server stays up");
    assert_eq!(run_dirs(pid).len(), 1);
    let mut next = child(&p, "dev", "exit");
    assert!(next.process.wait().unwrap().success());
    assert!(!listening(port), "the next run swept the kept one");
    assert!(leftovers(pid).is_empty());

    // A run killed with SIGKILL: its reaper still tears it down.
    let mut c = child(&p, "pg", "sleep");
    let pid = c.process.id();
    let port = port_of(&c.url);
    c.process.kill().unwrap();
    c.process.wait().unwrap();
    eventually("the server of a killed run stops", || !listening(port));
    eventually("the folder of a killed run goes", || {
        leftovers(pid).is_empty()
    });

    // Interrupted (Ctrl-C): the same.
    let mut c = child(&p, "pg", "sleep");
    let pid = c.process.id();
    let port = port_of(&c.url);
    Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    c.process.wait().unwrap();
    eventually("the server of an interrupted run stops", || {
        !listening(port)
    });
    eventually("the folder of an interrupted run goes", || {
        leftovers(pid).is_empty()
    });

    // Killed together with its reaper (a reboot, a killed process group): the next run
    // sweeps it.
    let mut c = child(&p, "pg", "sleep");
    let pid = c.process.id();
    let port = port_of(&c.url);
    let dirs = run_dirs(pid);
    assert_eq!(dirs.len(), 1);
    let reapers = reapers_of(&dirs[0]);
    assert_eq!(reapers.len(), 1, "one reaper per run");
    for r in reapers {
        Command::new("kill")
            .args(["-9", &r.to_string()])
            .status()
            .unwrap();
    }
    c.process.kill().unwrap();
    c.process.wait().unwrap();
    std::thread::sleep(Duration::from_millis(600));
    assert!(listening(port), "nobody tore it down yet");
    let mut next = child(&p, "dev", "exit");
    assert!(next.process.wait().unwrap().success());
    assert!(!listening(port), "the next run swept the dead one");
    assert!(leftovers(pid).is_empty());
}

#[test]
fn dbenv_keep_keeps_sqlite_databases_until_the_next_run() {
    let p = project();
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args(["--exact", "child_process", "--ignored", "--nocapture"])
        .env("DBENV_CHILD", "exit")
        .env("DBENV_CHILD_PROJECT", p.path())
        .env("DBENV_CHILD_ENV", "dev")
        .env("DBENV_KEEP", "1")
        .env_remove("NEXTEST_RUN_ID");
    let out = c.output().unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let url = stdout
        .lines()
        .find_map(|l| l.strip_prefix("URL="))
        .unwrap()
        .to_string();
    let file = PathBuf::from(url.strip_prefix("sqlite://").unwrap());
    std::thread::sleep(Duration::from_millis(600));
    assert!(file.exists(), "kept: {}", file.display());
    assert!(String::from_utf8_lossy(&out.stderr).contains("kept test database"));
    let mut next = child(&p, "dev", "exit");
    assert!(next.process.wait().unwrap().success());
    assert!(!file.exists(), "swept by the next run");
}

#[test]
fn the_library_alone_is_lean() {
    let out = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--no-default-features",
            "--features",
            "sqlite,macros",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8(out.stdout).unwrap();
    assert!(tree.contains("sqlx-sqlite"), "{tree}");
    for heavy in [
        "clap ",
        "bollard ",
        "indicatif ",
        "tracing-subscriber ",
        "anyhow ",
        "sqlx-postgres ",
        "sqlx-mysql ",
    ] {
        assert!(
            !tree.contains(heavy),
            "a sqlite-only dev-dependency pulls {heavy}"
        );
    }
}

//! `dbenv migrate` on a production env, against real servers: the plan and its
//! confirmation, the migration lock between two migrators (and with sqlx's own lock), no
//! deadlock with `CREATE INDEX CONCURRENTLY`, half-applied MySQL/MariaDB migrations resumed,
//! statement timeouts, drift, and a password that never shows.
//!
//! Each test uses the shared native server of its engine (tests/shared_server.rs) and a
//! database of its own, reached through an external URL that carries a sentinel password.

mod common;
#[path = "shared_server.rs"]
mod shared_server;

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::*;
use dbenv::engine::EngineKind;
use sqlx::{AssertSqlSafe, Connection};

const SENTINEL: &str = "Migr8-S3ntinel-pw";
const USER: &str = "dbenv_mp";

/// A production env on a fresh database of `engine`, with its own migrations.
struct Prod {
    p: Project,
    url: String,
    engine: EngineKind,
}

impl Prod {
    /// `None` (after a loud SKIP) when the engine's server binaries are missing; a
    /// failure under `DBENV_TEST_REQUIRE=all`.
    fn new(engine: EngineKind, name: &str, extra_config: &str) -> Option<Prod> {
        let kind = if engine == EngineKind::Postgres {
            "postgres"
        } else {
            "mariadb"
        };
        if !servers::have_native(kind) {
            return None;
        }
        let admin = shared_server::native_server_url(engine)?;
        create_user(engine, &admin);
        let database = format!("mp_{name}_{}", std::process::id());
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_username(USER).unwrap();
        url.set_password(Some(SENTINEL)).unwrap();
        url.set_path(&database);
        let p = Project::bare();
        p.write(
            "dbenv.toml",
            format!(
                "[project]\ndefault_env = \"prod\"\n\n[env.prod]\nkind = \"production\"\nengine = \"{kind}\"\nurl = \"${{APP_URL}}\"\n{extra_config}"
            ),
        );
        std::fs::create_dir_all(p.file("migrations")).unwrap();
        Some(Prod {
            p,
            url: url.to_string(),
            engine,
        })
    }

    /// A second project folder on the same database (another machine, another CI job).
    fn twin(&self) -> Project {
        let p = Project::bare();
        p.write("dbenv.toml", self.p.read("dbenv.toml"));
        std::fs::create_dir_all(p.file("migrations")).unwrap();
        for e in std::fs::read_dir(self.p.file("migrations"))
            .unwrap()
            .flatten()
        {
            std::fs::copy(e.path(), p.file("migrations").join(e.file_name())).unwrap();
        }
        p
    }

    fn migration(&self, file: &str, sql: &str) {
        self.p.write(&format!("migrations/{file}"), sql);
    }

    /// Run dbenv in this project; the password never shows.
    fn run(&self, args: &[&str]) -> Run {
        run_in(&self.p, &self.url, args)
    }

    fn spawn(&self, p: &Project, args: &[&str]) -> Child {
        p.std_cmd(args)
            .env("APP_URL", &self.url)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }

    /// Rows of a query, each cell as text (NULL as "NULL").
    fn query(&self, sql: &str) -> Vec<Vec<String>> {
        let (engine, url, sql) = (self.engine, self.url.clone(), sql.to_string());
        block_on(async move {
            match engine {
                EngineKind::Postgres => pg_rows(&url, &sql).await,
                _ => my_rows(&url, &sql).await,
            }
        })
    }

    /// `version:success` of each `_sqlx_migrations` row (none without the table).
    fn applied(&self) -> Vec<String> {
        let exists = match self.engine {
            EngineKind::Postgres => "SELECT to_regclass('_sqlx_migrations') IS NOT NULL",
            _ => {
                "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = '_sqlx_migrations'"
            }
        };
        if matches!(self.query(exists)[0][0].as_str(), "f" | "0") {
            return Vec::new();
        }
        self.query("SELECT CAST(version AS CHAR(20)) || ':' || CAST(success AS CHAR(5)) FROM _sqlx_migrations ORDER BY version")
            .into_iter()
            .map(|r| r[0].replace(":1", ":true").replace(":0", ":false"))
            .collect()
    }
}

fn run_in(p: &Project, url: &str, args: &[&str]) -> Run {
    let run = p.run_with(args, &[("APP_URL", url)]);
    run.never_says(SENTINEL);
    run
}

async fn pg_rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    let mut c = sqlx::PgConnection::connect(url).await.unwrap();
    let sql = format!("SELECT CAST(r AS TEXT) FROM ({sql}) AS r");
    let rows = sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    rows.iter()
        .map(|r| {
            vec![
                r.get::<String, _>(0)
                    .trim_matches(['(', ')', '"'])
                    .to_string(),
            ]
        })
        .collect()
}

async fn my_rows(url: &str, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    let mut c = sqlx::MySqlConnection::connect(url).await.unwrap();
    // MariaDB's `||` is OR unless told otherwise.
    sqlx::raw_sql("SET SESSION sql_mode = CONCAT(@@sql_mode, ',PIPES_AS_CONCAT')")
        .execute(&mut c)
        .await
        .unwrap();
    let rows = sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    rows.iter()
        .map(|r| {
            (0..r.len())
                .map(|i| {
                    let v: Option<&[u8]> = r.try_get_unchecked(i).unwrap();
                    v.map_or("NULL".into(), |b| String::from_utf8_lossy(b).into_owned())
                })
                .collect()
        })
        .collect()
}

fn create_user(engine: EngineKind, admin: &str) {
    let admin = admin.to_string();
    block_on(async move {
        if engine == EngineKind::Postgres {
            let mut c = sqlx::PgConnection::connect(&admin).await.unwrap();
            let sql = format!(
                "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{USER}') THEN \
                 CREATE ROLE {USER} LOGIN SUPERUSER PASSWORD '{SENTINEL}'; END IF; END $$"
            );
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut c)
                .await
                .unwrap();
            c.close().await.unwrap();
        } else {
            let mut c = sqlx::MySqlConnection::connect(&admin).await.unwrap();
            for sql in [
                format!("CREATE USER IF NOT EXISTS '{USER}'@'%' IDENTIFIED BY '{SENTINEL}'"),
                format!("GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'%' WITH GRANT OPTION"),
            ] {
                sqlx::raw_sql(AssertSqlSafe(sql))
                    .execute(&mut c)
                    .await
                    .unwrap();
            }
            c.close().await.unwrap();
        }
    });
}

/// Wait for a child, failing (and killing it) after `limit`.
fn finish(mut child: Child, limit: Duration, what: &str) -> (i32, String, String) {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
            let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
            assert!(!stdout.contains(SENTINEL) && !stderr.contains(SENTINEL));
            return (out.status.code().unwrap_or(-1), stdout, stderr);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what} did not finish within {limit:?} (deadlock?)\n--- stderr\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------------------------------
// The plan, its confirmation, --dry-run, --to, --json, drift.

#[test]
fn postgres_prod_shows_the_plan_and_applies_only_when_confirmed() {
    let Some(db) = Prod::new(EngineKind::Postgres, "plan", "") else {
        return;
    };
    db.migration("0001_a.sql", "CREATE TABLE a (id int PRIMARY KEY);\n");
    db.migration(
        "0002_b.sql",
        "CREATE TABLE b (id int);\nCREATE TABLE b2 (id int);\n",
    );
    db.migration("0003_c.sql", "CREATE TABLE c (id int);\n");

    // No terminal, no --yes: the plan, then a refusal; nothing applied.
    db.run(&["migrate", "prod"])
        .code(3)
        .err_has("Plan for prod: 3 migrations to apply")
        .err_has("0002_b.sql (version 2, 2 statements)")
        .err_has("stdin is not a terminal; pass --yes");
    assert!(db.applied().is_empty());

    // --dry-run: the SQL, nothing applied, no confirmation needed.
    db.run(&["migrate", "prod", "--dry-run", "--to", "2"])
        .code(0)
        .out_has("-- 0001_a.sql (version 1)\nCREATE TABLE a")
        .out_has("CREATE TABLE b2")
        .never_says("CREATE TABLE c");
    assert!(db.applied().is_empty());

    // --to with --yes: up to version 2.
    db.run(&["migrate", "prod", "--to", "2", "--yes"])
        .code(0)
        .err_has("Plan for prod: 2 migrations to apply")
        .out_has("applied 0001_a.sql")
        .out_has("applied 0002_b.sql")
        .never_says("0003_c.sql");
    assert_eq!(db.applied(), ["1:true", "2:true"]);

    // --json: machine-readable on stdout, the plan on stderr.
    let run = db.run(&["--json", "migrate", "prod", "--yes"]);
    run.code(0).err_has("0003_c.sql (version 3");
    let report = run.json();
    assert_eq!(report["env"], "prod");
    assert_eq!(report["applied"][0]["file"], "0003_c.sql");

    // Nothing pending: nothing to confirm.
    db.run(&["migrate", "prod"])
        .code(0)
        .err_has("nothing to do");

    // `up` never migrates a production env: its pending migrations go through `migrate`.
    db.run(&["up", "prod"]).code(0);
    db.migration("0004_d.sql", "CREATE TABLE d (id int);\n");
    db.run(&["up", "prod"])
        .code(3)
        .err_has("env prod is a production env with 1 pending migration(s) (0004_d.sql)")
        .err_has("dbenv migrate prod");
    assert_eq!(db.applied().len(), 3);

    // Drift on prod: refused, naming the file.
    db.migration("0001_a.sql", "CREATE TABLE a (id bigint PRIMARY KEY);\n");
    db.run(&["migrate", "prod", "--yes"])
        .code(1)
        .err_has("0001_a.sql (version 1) was changed after it was applied on prod");
    assert_eq!(db.applied().len(), 3);
}

// ---------------------------------------------------------------------------------------
// The migration lock.

fn sleep_sql(engine: EngineKind, secs: u32) -> String {
    match engine {
        EngineKind::Postgres => format!("SELECT pg_sleep({secs});\n"),
        _ => format!("SELECT SLEEP({secs});\n"),
    }
}

/// Two migrators at once: one applies, the other waits (saying for whom) and then finds
/// nothing to do; a short --lock-timeout fails naming the lock and its holder; sqlx's own
/// lock keeps dbenv out; a failed migration releases the lock at once.
fn two_migrators(engine: EngineKind, name: &str) {
    let Some(db) = Prod::new(engine, name, "") else {
        return;
    };
    db.migration("0001_slow.sql", &sleep_sql(engine, 2));
    let other = db.twin();
    let a = db.spawn(&db.p, &["migrate", "prod", "--yes"]);
    std::thread::sleep(Duration::from_millis(600));
    let b = db.spawn(&other, &["migrate", "prod", "--yes"]);
    let (code_a, out_a, err_a) = finish(a, Duration::from_secs(30), "first migrator");
    let (code_b, out_b, err_b) = finish(b, Duration::from_secs(30), "second migrator");
    assert_eq!((code_a, code_b), (0, 0), "{err_a}\n{err_b}");
    assert!(out_a.contains("applied 0001_slow.sql"), "{out_a}\n{err_a}");
    assert!(!out_b.contains("applied"), "{out_b}");
    assert!(
        err_b.contains("waiting for the migration lock held by"),
        "{err_b}"
    );
    assert!(err_b.contains("nothing to do"), "{err_b}");
    assert_eq!(db.applied(), ["1:true"]);

    // A short lock timeout: exit 1, naming the lock and who holds it.
    db.migration("0002_slow.sql", &sleep_sql(engine, 3));
    let other = db.twin();
    let a = db.spawn(&db.p, &["migrate", "prod", "--yes"]);
    std::thread::sleep(Duration::from_millis(800));
    let b = run_in(
        &other,
        &db.url,
        &["--lock-timeout", "1", "migrate", "prod", "--yes"],
    );
    b.code(1)
        .err_has("the migration lock on")
        .err_has("is still held by")
        .err_has("--lock-timeout");
    if engine == EngineKind::Postgres {
        b.err_has("held by dbenv migrate (pid ");
    } else {
        b.err_has("held by connection ");
    }
    assert_eq!(finish(a, Duration::from_secs(30), "migrator").0, 0);

    // sqlx's own lock (sqlx-cli, sqlx::migrate!) keeps dbenv out. On MariaDB sqlx's
    // `GET_LOCK(name, -1)` takes nothing (MariaDB has no negative, infinite timeout and
    // returns NULL, which sqlx ignores), so there the lock is taken by hand under the name
    // sqlx derives, computed here independently.
    db.migration("0003_t.sql", "CREATE TABLE t (id int);\n");
    let url = db.url.clone();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let (held_tx, held_rx) = std::sync::mpsc::channel::<()>();
    let database = url::Url::parse(&url)
        .unwrap()
        .path()
        .trim_start_matches('/')
        .to_string();
    let holder = std::thread::spawn(move || {
        block_on(async move {
            use sqlx::migrate::Migrate;
            if engine == EngineKind::Postgres {
                let mut c = sqlx::PgConnection::connect(&url).await.unwrap();
                c.lock().await.unwrap();
                held_tx.send(()).unwrap();
                rx.recv().unwrap();
                c.unlock().await.unwrap();
            } else {
                let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
                let name = format!("{:x}", 0x3d32ad9e * i64::from(crc32(database.as_bytes())));
                let got: Option<i64> = sqlx::query_scalar("SELECT CAST(GET_LOCK(?, 0) AS SIGNED)")
                    .bind(&name)
                    .fetch_one(&mut c)
                    .await
                    .unwrap();
                assert_eq!(got, Some(1));
                held_tx.send(()).unwrap();
                rx.recv().unwrap();
                c.close().await.unwrap();
            }
        })
    });
    held_rx.recv().unwrap();
    db.run(&["--lock-timeout", "1", "migrate", "prod", "--yes"])
        .code(1)
        .err_has("is still held by");
    tx.send(()).unwrap();
    holder.join().unwrap();
    db.run(&["migrate", "prod", "--yes"])
        .code(0)
        .out_has("applied 0003_t.sql");

    // A failed migration releases the lock: the next run starts at once.
    db.migration("0004_bad.sql", "SELECT * FROM no_such_table;\n");
    let other = db.twin();
    db.run(&["migrate", "prod", "--yes"])
        .code(1)
        .err_has("0004_bad.sql failed at line 1");
    let start = Instant::now();
    run_in(
        &other,
        &db.url,
        &["--lock-timeout", "5", "migrate", "prod", "--yes"],
    )
    .code(1)
    .err_has("0004_bad.sql failed at line 1");
    assert!(
        start.elapsed() < Duration::from_secs(4),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn postgres_two_migrators_never_run_at_once() {
    two_migrators(EngineKind::Postgres, "lock");
}

#[test]
fn mariadb_two_migrators_never_run_at_once() {
    two_migrators(EngineKind::Mariadb, "lock");
}

/// sqlx's blocking `pg_advisory_lock` leaves a waiting migrator inside a statement, which a
/// `CREATE INDEX CONCURRENTLY` waits for: a deadlock. dbenv's lock is an idle session lock
/// on its own connection, and waiters poll: the index is built while another waits.
#[test]
fn postgres_create_index_concurrently_does_not_deadlock_with_the_lock() {
    let Some(db) = Prod::new(EngineKind::Postgres, "cic", "") else {
        return;
    };
    db.migration(
        "0001_t.sql",
        "CREATE TABLE t (id int PRIMARY KEY, x int);\nINSERT INTO t SELECT g, g % 97 FROM generate_series(1, 20000) g;\n",
    );
    db.migration(
        "0002_index.sql",
        "-- no-transaction\nSELECT pg_sleep(1);\nCREATE INDEX CONCURRENTLY t_x ON t (x);\n",
    );
    let other = db.twin();
    let a = db.spawn(&db.p, &["migrate", "prod", "--yes"]);
    std::thread::sleep(Duration::from_millis(500));
    let b = db.spawn(&other, &["migrate", "prod", "--yes"]);
    let (code_a, out_a, err_a) = finish(
        a,
        Duration::from_secs(20),
        "the migrator building the index",
    );
    let (code_b, _, err_b) = finish(b, Duration::from_secs(20), "the waiting migrator");
    assert_eq!((code_a, code_b), (0, 0), "{err_a}\n{err_b}");
    assert!(out_a.contains("applied 0002_index.sql"), "{out_a}");
    let valid = db.query("SELECT indisvalid FROM pg_index WHERE indexrelid = 't_x'::regclass");
    assert_eq!(valid, [["t"]]);
}

// ---------------------------------------------------------------------------------------
// Half-applied migrations on MariaDB.

#[test]
fn mariadb_half_applied_migration_is_reported_and_resumed() {
    let Some(db) = Prod::new(EngineKind::Mariadb, "resume", "") else {
        return;
    };
    db.migration("0001_base.sql", "CREATE TABLE t (id INT PRIMARY KEY);\n");
    let broken = "CREATE TABLE a (id INT PRIMARY KEY);\nINSERT INTO a VALUES (1);\nINSERT INTO nope VALUES (1);\nCREATE TABLE c (id INT);\n";
    db.migration("0002_multi.sql", broken);
    db.run(&["migrate", "prod", "--yes"])
        .code(1)
        .err_has("migration 0002_multi.sql failed at line 3: ")
        .err_has("statement: INSERT INTO nope VALUES (1)\n  statement number: 3 of 4")
        .err_has("statements 1-2 of 4 are applied")
        .err_has("--resume");
    let progress =
        "SELECT version, statement_no, line FROM _dbenv_migration_progress ORDER BY 1, 2";
    assert_eq!(db.query(progress), [["2", "1", "1"], ["2", "2", "2"]]);
    // sqlx's own marker of a half-applied MySQL migration: never `success = TRUE`.
    assert_eq!(db.applied(), ["1:true", "2:false"]);
    assert_eq!(db.query("SELECT COUNT(*) FROM a"), [["1"]]);
    db.run(&["migrate", "status", "prod"])
        .code(1)
        .out_has("partial");

    // Without --resume on production: the half-applied state, precisely, and a refusal.
    db.run(&["migrate", "prod", "--yes"])
        .code(3)
        .err_has("0002_multi.sql (version 2) was applied half-way on prod: statements 1-2 of 4 are applied")
        .err_has("statement 3 (line 3) has not run yet")
        .err_has("dbenv migrate prod --resume");
    // With --resume but not fixed: statements 1-2 are not run again.
    db.run(&["migrate", "prod", "--yes", "--resume"])
        .code(1)
        .err_has("resumes at statement 3 (line 3)")
        .err_has("failed at line 3")
        .never_says("Duplicate entry");
    assert_eq!(db.query("SELECT COUNT(*) FROM a"), [["1"]]);

    // Fixed: resumed, completed, recorded with the final checksum.
    let fixed = broken.replace("INSERT INTO nope", "INSERT INTO t");
    db.migration("0002_multi.sql", &fixed);
    db.run(&["migrate", "prod", "--yes", "--resume"])
        .code(0)
        .err_has("resuming 0002_multi.sql at statement 3 of 4")
        .out_has("applied 0002_multi.sql");
    assert_eq!(db.applied(), ["1:true", "2:true"]);
    let checksum = db.query("SELECT HEX(checksum) FROM _sqlx_migrations WHERE version = 2");
    let expected = hex::encode_upper(<sha2::Sha384 as sha2::Digest>::digest(fixed.as_bytes()));
    assert_eq!(checksum, [[expected]]);
    assert!(db.query(progress).is_empty());
    assert_eq!(db.query("SELECT COUNT(*) FROM c"), [["0"]]);

    // An applied statement changed after a partial apply: refused, with the repair.
    db.migration(
        "0003_more.sql",
        "CREATE TABLE d (id INT);\nINSERT INTO nope2 VALUES (1);\nCREATE TABLE e (id INT);\n",
    );
    db.run(&["migrate", "prod", "--yes"])
        .code(1)
        .err_has("statement number: 2 of 3");
    db.migration(
        "0003_more.sql",
        "CREATE TABLE d (id BIGINT);\nINSERT INTO t VALUES (2);\nCREATE TABLE e (id INT);\n",
    );
    db.run(&["migrate", "prod", "--yes", "--resume"])
        .code(1)
        .err_has("0003_more.sql (version 3) was applied half-way on prod")
        .err_has("statement 1 (line 1) has changed since it was applied")
        .err_has("DELETE FROM _dbenv_migration_progress WHERE version = 3");
    assert_eq!(db.query("SELECT COUNT(*) FROM t"), [["1"]]);
    // dbenv's bookkeeping stays out of the schema dbenv reports.
    let status = db.run(&["--json", "status", "prod"]);
    assert!(
        !status.stdout.contains("_dbenv_migration_progress"),
        "{}",
        status.stdout
    );
}

/// A `-- no-transaction` migration on PostgreSQL (the way to run `CREATE INDEX
/// CONCURRENTLY`) keeps the statements it ran before one failed: recorded one by one, so
/// the next run resumes after them instead of failing on the first again.
#[test]
fn postgres_half_applied_no_transaction_migration_is_reported_and_resumed() {
    let Some(db) = Prod::new(EngineKind::Postgres, "notx", "") else {
        return;
    };
    db.migration(
        "0001_t.sql",
        "CREATE TABLE t (id int, a int, b int);\nINSERT INTO t VALUES (1, 2, 3);\n",
    );
    db.run(&["migrate", "prod", "--yes"]).code(0);
    let broken = "-- no-transaction\nCREATE INDEX CONCURRENTLY t_a ON t (a);\nCREATE INDEX CONCURRENTLY t_b ON t (b);\nCREATE INDEX CONCURRENTLY t_c ON t (nope);\n";
    db.migration("0002_idx.sql", broken);
    db.run(&["migrate", "prod", "--yes"])
        .code(1)
        .err_has("statement number: 3 of 3")
        .err_has("statements 1-2 of 3 are applied")
        .err_has("it is marked `-- no-transaction`")
        .err_has("--resume");
    let progress =
        "SELECT version || ':' || statement_no FROM _dbenv_migration_progress ORDER BY 1";
    assert_eq!(db.query(progress), [["2:1"], ["2:2"]]);
    assert_eq!(db.applied(), ["1:true", "2:false"]);
    let indexes = "SELECT indexname::text FROM pg_indexes WHERE tablename = 't' ORDER BY 1";
    assert_eq!(db.query(indexes), [["t_a"], ["t_b"]]);

    // Without --resume on production: the half-applied state, and a refusal.
    db.run(&["migrate", "prod", "--yes"])
        .code(3)
        .err_has("0002_idx.sql (version 2) was applied half-way on prod: statements 1-2 of 3 are applied")
        .err_has("dbenv migrate prod --resume");

    // Fixed: resumed at statement 3 (t_a and t_b are not built again), completed.
    db.migration("0002_idx.sql", &broken.replace("(nope)", "(a, b)"));
    db.run(&["migrate", "prod", "--yes", "--resume"])
        .code(0)
        .err_has("resuming 0002_idx.sql at statement 3 of 3")
        .out_has("applied 0002_idx.sql")
        .never_says("already exists");
    assert_eq!(db.applied(), ["1:true", "2:true"]);
    assert!(db.query(progress).is_empty());
    assert_eq!(db.query(indexes), [["t_a"], ["t_b"], ["t_c"]]);
    db.run(&["migrate", "status", "prod"]).code(0);
    let status = db.run(&["--json", "status", "prod"]);
    assert!(
        !status.stdout.contains("_dbenv_migration_progress"),
        "{}",
        status.stdout
    );
}

// ---------------------------------------------------------------------------------------
// Session timeouts.

#[test]
fn postgres_statement_timeout_stops_a_migration_at_the_last_good_version() {
    let Some(db) = Prod::new(
        EngineKind::Postgres,
        "timeout",
        "statement_timeout = \"500ms\"\nlock_timeout = \"2s\"\n",
    ) else {
        return;
    };
    db.migration("0001_ok.sql", "CREATE TABLE ok (id int);\n");
    db.migration(
        "0002_slow.sql",
        "CREATE TABLE slow (id int);\nSELECT pg_sleep(3);\n",
    );
    let start = Instant::now();
    db.run(&["migrate", "prod", "--yes"])
        .code(1)
        .err_has("0002_slow.sql failed at line 2: canceling statement due to statement timeout")
        .err_has("statement_timeout = \"500ms\" in [env.prod]")
        .err_has("left at version 1 (0001_ok.sql) (this migration was rolled back)");
    assert!(start.elapsed() < Duration::from_secs(3));
    assert_eq!(db.applied(), ["1:true"]);
    assert!(db.query("SELECT to_regclass('slow') IS NULL").eq(&[["t"]]));
}

/// CRC-32 (IEEE), bit by bit: sqlx's lock key derivation without sharing dbenv's code.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

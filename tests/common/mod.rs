//! Shared helpers for dbenv's integration tests: a throw-away project folder, a way to run
//! the `dbenv` binary in it, and read-only inspection of SQLite files through sqlx.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::str::FromStr;

use sha2::{Digest, Sha256};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, SqliteConnection};

/// The repository this test suite belongs to.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The dbenv.toml of a fresh test project: one dev env using the demo scenario.
pub const DEFAULT_CONFIG: &str = r#"[project]
migrations = "migrations"
seeds = "seeds"
default_env = "dev"

[env.dev]
engine = "sqlite"
scenario = "demo"
"#;

/// Environment variables of the developer's shell that would change what dbenv does.
const SCRUBBED_ENV: &[&str] = &["DBENV_CONFIG", "DBENV_NO_TEMPLATE", "RUST_LOG", "NO_COLOR"];

/// A temporary dbenv project.
pub struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A project with the repository's migrations, `seeds/demo.toml` and [`DEFAULT_CONFIG`].
    pub fn new() -> Project {
        Project::with_config(DEFAULT_CONFIG)
    }

    /// Like [`Project::new`], with another dbenv.toml.
    pub fn with_config(config: &str) -> Project {
        let p = Project::bare();
        let migrations = p.path().join("migrations");
        std::fs::create_dir_all(&migrations).unwrap();
        for entry in std::fs::read_dir(repo().join("migrations")).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), migrations.join(entry.file_name())).unwrap();
        }
        p.write(
            "seeds/demo.toml",
            std::fs::read(repo().join("seeds/demo.toml")).unwrap(),
        );
        p.write("dbenv.toml", config);
        p
    }

    /// An empty folder.
    pub fn bare() -> Project {
        Project {
            dir: tempfile::Builder::new()
                .prefix("dbenv-it-")
                .tempdir()
                .unwrap(),
        }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn file(&self, rel: &str) -> PathBuf {
        self.path().join(rel)
    }

    /// Write a file of the project (creating its folder).
    pub fn write(&self, rel: &str, contents: impl AsRef<[u8]>) {
        let path = self.file(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, contents).unwrap();
    }

    pub fn read(&self, rel: &str) -> Vec<u8> {
        std::fs::read(self.file(rel)).unwrap()
    }

    pub fn remove(&self, rel: &str) {
        std::fs::remove_file(self.file(rel)).unwrap();
    }

    /// The SQLite file of an env without a `path`.
    pub fn db(&self, env: &str) -> PathBuf {
        self.file(&format!(".dbenv/{env}.sqlite"))
    }

    /// The `dbenv` binary, run in the project folder, with a scrubbed environment.
    pub fn cmd(&self) -> assert_cmd::Command {
        let mut cmd = assert_cmd::Command::cargo_bin("dbenv").unwrap();
        cmd.current_dir(self.path()).env("NO_COLOR", "1");
        for var in SCRUBBED_ENV {
            cmd.env_remove(var);
        }
        cmd
    }

    /// The same, as a std Command (for processes that run in the background).
    pub fn std_cmd(&self, args: &[&str]) -> std::process::Command {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("dbenv"));
        cmd.current_dir(self.path()).args(args);
        for var in SCRUBBED_ENV {
            cmd.env_remove(var);
        }
        cmd
    }

    /// Run `dbenv ARGS` and collect what it did.
    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with(args, &[])
    }

    /// Run with extra environment variables.
    pub fn run_with(&self, args: &[&str], vars: &[(&str, &str)]) -> Run {
        let mut cmd = self.cmd();
        cmd.args(args);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        Run::new(args, cmd.output().unwrap())
    }

    /// Run and require exit code 0.
    pub fn ok(&self, args: &[&str]) -> Run {
        let run = self.run(args);
        run.code(0);
        run
    }

    /// Every file of the project with its content, except lock files (empty files that
    /// commands create to take a lock): compare two snapshots to prove nothing changed.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        fn walk(dir: &Path, root: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
            for entry in std::fs::read_dir(dir).unwrap().flatten() {
                let path = entry.path();
                let rel = path.strip_prefix(root).unwrap().to_path_buf();
                if rel.starts_with(".dbenv/locks") || rel.to_string_lossy().ends_with("lock") {
                    continue;
                }
                if path.is_dir() {
                    walk(&path, root, out);
                } else {
                    out.insert(rel, std::fs::read(&path).unwrap());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk(self.path(), self.path(), &mut out);
        out
    }

    /// Require the project to be exactly as in `before` (lock files aside).
    #[track_caller]
    pub fn assert_unchanged(&self, before: &BTreeMap<PathBuf, Vec<u8>>) {
        let now = self.snapshot();
        let names = |m: &BTreeMap<PathBuf, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
        assert_eq!(names(&now), names(before), "files were added or removed");
        for (path, content) in before {
            assert!(now[path] == *content, "{} changed", path.display());
        }
    }

    /// Every file under the project's `.dbenv/templates/sqlite/` ending in `.sqlite`.
    pub fn templates(&self) -> Vec<String> {
        let dir = self.file(".dbenv/templates/sqlite");
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".sqlite"))
            .collect();
        names.sort();
        names
    }
}

/// What one run of the binary did.
#[derive(Debug)]
pub struct Run {
    pub args: String,
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn new(args: &[&str], out: Output) -> Run {
        Run {
            args: args.join(" "),
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Require exit code `code` (with the whole output in the failure message).
    #[track_caller]
    pub fn code(&self, code: i32) -> &Run {
        assert_eq!(
            self.status.code(),
            Some(code),
            "`dbenv {}` exited with {:?}, expected {code}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Require `fragment` on stderr.
    #[track_caller]
    pub fn err_has(&self, fragment: &str) -> &Run {
        assert!(
            self.stderr.contains(fragment),
            "`dbenv {}`: stderr lacks {fragment:?}\n--- stderr\n{}",
            self.args,
            self.stderr
        );
        self
    }

    /// Require `fragment` not to be on stderr nor stdout.
    #[track_caller]
    pub fn never_says(&self, fragment: &str) -> &Run {
        assert!(
            !self.stderr.contains(fragment) && !self.stdout.contains(fragment),
            "`dbenv {}` printed {fragment:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    /// Require `fragment` on stdout.
    #[track_caller]
    pub fn out_has(&self, fragment: &str) -> &Run {
        assert!(
            self.stdout.contains(fragment),
            "`dbenv {}`: stdout lacks {fragment:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.args,
            self.stdout,
            self.stderr
        );
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "`dbenv {}`: stdout is not JSON ({e})\n--- stdout\n{}",
                self.args, self.stdout
            )
        })
    }
}

/// Whether `tool` runs. When it does not: panic under `DBENV_TEST_REQUIRE=all` (if
/// `required_under_all`), else print a loud SKIP line and return false.
pub fn have_tool(tool: &str, probe: &[&str], required_under_all: bool) -> bool {
    let found = std::process::Command::new(tool)
        .args(probe)
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return true;
    }
    let require_all = std::env::var("DBENV_TEST_REQUIRE").is_ok_and(|v| v == "all");
    if require_all && required_under_all {
        panic!("`{tool}` is not on PATH, and DBENV_TEST_REQUIRE=all requires it");
    }
    eprintln!("\n**** SKIP: `{tool}` is not on PATH: this part of the test did not run ****\n");
    false
}

// ---------------------------------------------------------------------------------------
// Inspecting databases (read-only, through sqlx).

/// Run `f` to completion on a fresh single-threaded runtime.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// A read-only connection to the SQLite file at `path`.
pub async fn connect(path: &Path) -> SqliteConnection {
    SqliteConnectOptions::from_str("sqlite://")
        .unwrap()
        .filename(path)
        .read_only(true)
        .create_if_missing(false)
        .connect()
        .await
        .unwrap_or_else(|e| panic!("opening {}: {e}", path.display()))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// User tables (no `sqlite_*`, no `_sqlx_migrations`), sorted.
pub async fn user_tables(conn: &mut SqliteConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
         AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap()
}

async fn columns(conn: &mut SqliteConnection, table: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT name FROM pragma_table_info(?) ORDER BY cid")
        .bind(table)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
}

/// Every user table with its row count.
pub fn counts(path: &Path) -> BTreeMap<String, i64> {
    block_on(async {
        let mut conn = connect(path).await;
        let mut out = BTreeMap::new();
        for t in user_tables(&mut conn).await {
            let n: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT count(*) FROM {}",
                quote_ident(&t)
            )))
            .fetch_one(&mut conn)
            .await
            .unwrap();
            out.insert(t, n);
        }
        conn.close().await.unwrap();
        out
    })
}

/// Total rows over every user table.
pub fn total_rows(path: &Path) -> i64 {
    counts(path).values().sum()
}

/// A SHA-256 of the content of every user table: each table's name, columns and rows,
/// rows ordered by all columns, values written with SQLite's `quote()` (type-exact).
pub fn content_hash(path: &Path) -> String {
    block_on(async {
        let mut conn = connect(path).await;
        let mut hash = Sha256::new();
        for t in user_tables(&mut conn).await {
            let cols = columns(&mut conn, &t).await;
            hash.update(format!("table {t} ({})\n", cols.join(",")));
            let select = cols
                .iter()
                .map(|c| format!("quote({})", quote_ident(c)))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            let order_by = cols
                .iter()
                .map(|c| quote_ident(c))
                .collect::<Vec<_>>()
                .join(", ");
            let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT {select} FROM {} ORDER BY {order_by}",
                quote_ident(&t)
            )))
            .fetch_all(&mut conn)
            .await
            .unwrap();
            for r in rows {
                hash.update(r.as_bytes());
                hash.update(b"\n");
            }
        }
        conn.close().await.unwrap();
        hex::encode(hash.finalize())
    })
}

/// `PRAGMA foreign_key_check` finds nothing and `PRAGMA integrity_check` says ok.
#[track_caller]
pub fn assert_healthy(path: &Path) {
    let (violations, integrity) = block_on(async {
        let mut conn = connect(path).await;
        let violations: Vec<String> = sqlx::query_scalar(
            "SELECT \"table\" || ' rowid ' || ifnull(rowid, 'null') || ' -> ' || parent FROM pragma_foreign_key_check",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(&mut conn)
            .await
            .unwrap();
        conn.close().await.unwrap();
        (violations, integrity)
    });
    assert!(
        violations.is_empty(),
        "{}: foreign key violations: {violations:?}",
        path.display()
    );
    assert_eq!(integrity, vec!["ok".to_string()], "{}", path.display());
}

/// Versions recorded in `_sqlx_migrations` (successful ones), ascending.
pub fn applied_versions(path: &Path) -> Vec<i64> {
    block_on(async {
        let mut conn = connect(path).await;
        let v = sqlx::query_scalar(
            "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        v
    })
}

/// Whether a table (or any schema object) named `name` exists.
pub fn has_table(path: &Path, name: &str) -> bool {
    block_on(async {
        let mut conn = connect(path).await;
        let n: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?",
        )
        .bind(name)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        conn.close().await.unwrap();
        n == 1
    })
}

/// Names of the columns of `table`.
pub fn table_columns(path: &Path, table: &str) -> Vec<String> {
    block_on(async {
        let mut conn = connect(path).await;
        let c = columns(&mut conn, table).await;
        conn.close().await.unwrap();
        c
    })
}

/// The bytes of a file (to prove that a refused command did not touch it).
pub fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The single stdout line of a command that prints a URL.
pub fn sqlite_path_of_url(url: &str) -> PathBuf {
    PathBuf::from(
        url.trim()
            .strip_prefix("sqlite://")
            .unwrap_or_else(|| panic!("not a sqlite:// URL: {url:?}")),
    )
}
pub mod faults;
pub mod servers;

/// Add `megabytes` MB of incompressible rows (table `ballast`) to the SQLite database at
/// `path`: backups of it take long, or fill a small disk.
pub fn add_ballast(path: &Path, megabytes: u32) {
    block_on(async {
        use sqlx::{Connection, Executor};
        let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
            .await
            .unwrap();
        conn.execute("CREATE TABLE ballast (id INTEGER PRIMARY KEY, blob BLOB)")
            .await
            .unwrap();
        let fill = format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {megabytes}) \
             INSERT INTO ballast (blob) SELECT randomblob(1000000) FROM n"
        );
        conn.execute(sqlx::AssertSqlSafe(fill)).await.unwrap();
        conn.close().await.unwrap();
    });
}

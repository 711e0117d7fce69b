//! Faults, with nothing lost, on PostgreSQL (docs/reliability.md): dbenv killed with
//! SIGKILL at a random point of `up`, `reset`, `seed`, `migrate`, `backup` and `backup
//! restore` on a PostgreSQL env, then run again. Kills land inside template builds,
//! `CREATE DATABASE … TEMPLATE`, migrations and the `pg_dump`/`pg_restore` pipelines. The
//! rerun must succeed and leave the env consistent: healthy status, the right migration
//! version and rows, every template complete with its info, no temporary database of a
//! killed run left on the server (`dbenv_tpl_…_b<pid>`, `<db>_b<pid>`, `<db>_restore_<pid>`,
//! `<db>_old_<pid>`, `dbenv_verify_<id>`), no partial file, only complete backups listed.
//!
//! Each test has its own database on the shared native server (or `DBENV_TEST_PG_URL`) and
//! its own copy of the demo scenario (so its own templates). `DBENV_FAULT_KILLS` and
//! `DBENV_FAULT_SEED` as in tests/faults.rs.

mod common;
#[path = "shared_server.rs"]
mod shared_server;

use std::collections::BTreeMap;

use common::faults::*;
use common::{Project, block_on};
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// A migration that keeps `dbenv migrate` busy for a while (the kills land inside it).
const SLOW_MIGRATION: &str = "CREATE TABLE events (id BIGSERIAL PRIMARY KEY, payload TEXT NOT NULL);\n\
INSERT INTO events (payload) SELECT md5(i::text) FROM generate_series(1, 100000) AS i;\n\
CREATE INDEX events_payload ON events (payload);\n";
const SLOW_MIGRATION_FILE: &str = "migrations/0004_events.sql";

/// A test's PostgreSQL env `dev` (an external server: the shared test server) and a way to
/// look at that server from outside dbenv.
struct PgEnv {
    p: Project,
    admin: url::Url,
    database: String,
}

/// The env for test `name`, or `None` (after a loud SKIP) when no server is available.
fn pg_env(name: &str) -> Option<PgEnv> {
    let admin = shared_server::postgres_url_or_skip(&format!("the fault test {name}"))?;
    let admin = url::Url::parse(&admin).unwrap();
    let database = format!("faults_{name}_{}", std::process::id());
    let mut url = admin.clone();
    url.set_path(&database);
    let p = Project::with_config(
        r#"[project]
default_env = "dev"

[env.dev]
engine = "postgres"
url = "${APP_URL}"
scenario = "demo"

[env.dev.backup]
dir = "backups"
"#,
    );
    p.write(".env", format!("APP_URL={url}\n"));
    // A scenario of its own: templates no other test (or earlier run) builds or drops.
    let mut demo = p.read("seeds/demo.toml");
    demo.extend(format!("\n# faults_postgres {name} {}\n", std::process::id()).bytes());
    p.write("seeds/demo.toml", demo);
    let env = PgEnv { p, admin, database };
    env.drop_database(&env.database);
    Some(env)
}

impl PgEnv {
    fn url(&self, database: &str) -> String {
        let mut url = self.admin.clone();
        url.set_path(database);
        url.to_string()
    }

    fn query<T>(
        &self,
        database: &str,
        sql: &str,
        f: impl AsyncFnOnce(&mut PgConnection, &str) -> T,
    ) -> T {
        block_on(async {
            let mut conn = PgConnection::connect(&self.url(database)).await.unwrap();
            let out = f(&mut conn, sql).await;
            conn.close().await.unwrap();
            out
        })
    }

    /// The databases on the server whose name starts with `prefix`.
    fn databases(&self, prefix: &str) -> Vec<String> {
        self.query("postgres", prefix, async |c, prefix| {
            sqlx::query_scalar(
                "SELECT datname::text FROM pg_database WHERE left(datname, length($1)) = $1 ORDER BY 1",
            )
            .bind(prefix)
            .fetch_all(c)
            .await
            .unwrap()
        })
    }

    fn drop_database(&self, name: &str) {
        let sql = format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)");
        self.query("postgres", &sql, async |c, sql| {
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(c).await.unwrap();
        });
    }

    /// Every user table of `database` with its row count and a hash of its rows.
    fn contents(&self, database: &str) -> BTreeMap<String, (i64, String)> {
        pg_contents(&self.url(database))
    }

    fn counts(&self, database: &str) -> BTreeMap<String, i64> {
        let contents = self.contents(database);
        contents.into_iter().map(|(t, (n, _))| (t, n)).collect()
    }

    #[track_caller]
    fn healthy(&self, latest: i64) -> serde_json::Value {
        status_healthy(&self.p, "dev", latest)
    }

    /// The env's state file says dbenv created its database (so later resets may replace it).
    #[track_caller]
    fn owned(&self) {
        let state: serde_json::Value =
            serde_json::from_slice(&self.p.read(".dbenv/state/dev.json")).unwrap();
        assert_eq!(state["owns_database"], true, "{state:#}");
    }

    /// The template databases this project's info files describe, with their info.
    fn templates(&self) -> Vec<(String, serde_json::Value)> {
        let dir = self.p.file(".dbenv/templates/postgres");
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
            let (_, hash) = stem.rsplit_once('-').unwrap();
            let info = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            out.push((format!("dbenv_tpl_{hash}"), info));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every template of this project exists with the rows its info says, and `template`
    /// (the env's, when given) has its info.
    #[track_caller]
    fn templates_complete(&self, template: Option<&str>) {
        let templates = self.templates();
        for (name, info) in &templates {
            let rows: i64 = self.counts(name).values().sum();
            assert_eq!(info["rows"], rows, "template {name}");
        }
        if let Some(t) = template {
            assert!(
                templates.iter().any(|(name, _)| name == t),
                "template {t} has no info file"
            );
        }
    }

    /// No temporary database of this env, nor of a killed run, is left on the server.
    #[track_caller]
    fn no_server_leftovers(&self, killed: &[u32]) {
        let mut left = self.databases(&format!("{}_", self.database));
        left.extend(
            self.databases("dbenv_tpl_")
                .into_iter()
                .filter(|d| killed.iter().any(|pid| d.ends_with(&format!("_b{pid}")))),
        );
        assert!(left.is_empty(), "left on the server: {left:?}");
    }

    /// No scratch database of a verify of these backups is left on the server.
    #[track_caller]
    fn no_verify_leftovers(&self, ids: &[String]) {
        let scratch: Vec<String> = ids
            .iter()
            .map(|id| format!("dbenv_verify_{}", id.to_lowercase().replace('-', "_")))
            .collect();
        let left: Vec<String> = self
            .databases("dbenv_verify_")
            .into_iter()
            .filter(|d| scratch.contains(d))
            .collect();
        assert!(left.is_empty(), "verify left: {left:?}");
    }

    /// Drop what the test made on the shared server (kept when the test failed).
    fn clean_up(self) {
        for (name, _) in self.templates() {
            self.drop_database(&name);
        }
        self.drop_database(&self.database);
    }
}

/// The template of the env, as `status` shows it.
fn env_template(status: &serde_json::Value) -> String {
    status["state"]["template"]
        .as_str()
        .unwrap_or_else(|| panic!("no template in {status:#}"))
        .to_string()
}

#[test]
fn sigkill_during_up_postgres() {
    let Some(env) = pg_env("up") else { return };
    env.p.ok(&["up", "dev"]);
    let expected = env.contents(&env.database);
    let mut setup = |p: &Project| {
        // From nothing: no state, no env database, no template (each run builds it).
        for (name, _) in env.templates() {
            env.drop_database(&name);
        }
        env.drop_database(&env.database);
        let _ = std::fs::remove_dir_all(p.file(".dbenv"));
        args(&["up", "dev"])
    };
    let mut check = |_: &Project, killed: &[u32]| {
        env.healthy(3);
        env.owned();
        assert_eq!(env.contents(&env.database), expected);
        env.templates_complete(None);
        assert_eq!(env.templates().len(), 1);
        env.no_server_leftovers(killed);
    };
    kill_loop("up (postgres)", &env.p, &mut setup, &mut check);
    env.clean_up();
}

#[test]
fn sigkill_during_reset_postgres() {
    let Some(env) = pg_env("reset") else { return };
    env.p.ok(&["up", "dev"]);
    // New seeds build new templates; repeated ones are copies of a template.
    let mut rng = Rng::new("reset seeds (postgres)");
    let n = kills() as u64;
    let mut setup = |_: &Project| {
        let seed = (1_000 + rng.below(n)).to_string();
        args(&["reset", "dev", "--seed", &seed])
    };
    let mut check = |_: &Project, killed: &[u32]| {
        let status = env.healthy(3);
        let template = env_template(&status);
        assert_eq!(env.contents(&env.database), env.contents(&template));
        env.templates_complete(Some(&template));
        env.no_server_leftovers(killed);
    };
    kill_loop("reset (postgres)", &env.p, &mut setup, &mut check);
    env.clean_up();
}

#[test]
fn sigkill_during_seed_postgres() {
    let Some(env) = pg_env("seed") else { return };
    let p = &env.p;
    p.ok(&["up", "dev"]);
    // What one seed on an empty database gives, and two.
    p.ok(&["reset", "dev", "--scenario", "empty"]);
    p.ok(&["seed", "dev", "--scenario", "demo"]);
    let once = env.counts(&env.database);
    p.ok(&["seed", "dev", "--scenario", "demo"]);
    let twice = env.counts(&env.database);
    let mut setup = |p: &Project| {
        p.ok(&["reset", "dev", "--scenario", "empty"]);
        args(&["seed", "dev", "--scenario", "demo"])
    };
    let mut check = |_: &Project, killed: &[u32]| {
        env.healthy(3);
        let now = env.counts(&env.database);
        assert!(now == once || now == twice, "seed left {now:?}");
        env.no_server_leftovers(killed);
    };
    kill_loop("seed (postgres)", p, &mut setup, &mut check);
    env.clean_up();
}

#[test]
fn sigkill_during_migrate_postgres() {
    let Some(env) = pg_env("migrate") else { return };
    env.p.ok(&["up", "dev"]);
    let demo = env.contents(&env.database);
    let mut setup = |p: &Project| {
        let _ = std::fs::remove_file(p.file(SLOW_MIGRATION_FILE));
        p.ok(&["reset", "dev"]);
        p.write(SLOW_MIGRATION_FILE, SLOW_MIGRATION);
        args(&["migrate", "dev"])
    };
    let mut check = |_: &Project, killed: &[u32]| {
        env.healthy(4);
        let mut now = env.contents(&env.database);
        assert_eq!(now.remove("events").map(|(n, _)| n), Some(100_000));
        assert_eq!(now, demo);
        env.no_server_leftovers(killed);
    };
    kill_loop("migrate (postgres)", &env.p, &mut setup, &mut check);
    env.clean_up();
}

#[test]
fn sigkill_during_backup_postgres() {
    let Some(env) = pg_env("backup") else { return };
    env.p.ok(&["up", "dev"]);
    let mut verified = Vec::new();
    let before = std::cell::Cell::new(0usize);
    let mut setup = |p: &Project| {
        before.set(backup_count(p, "dev"));
        args(&["backup", "dev"])
    };
    let mut check = |p: &Project, killed: &[u32]| {
        let ids = listed_backups_verify(p, "dev", &mut verified);
        let added = ids.len() - before.get();
        assert!(
            added == 1 || added == 2,
            "{added} backups added by a killed run and its rerun"
        );
        env.healthy(3);
        env.no_server_leftovers(killed);
        env.no_verify_leftovers(&ids);
    };
    kill_loop("backup (postgres)", &env.p, &mut setup, &mut check);
    env.clean_up();
}

#[test]
fn sigkill_during_restore_postgres() {
    let Some(env) = pg_env("restore") else { return };
    env.p.ok(&["up", "dev"]);
    let demo = env.contents(&env.database);
    let id = env.p.ok(&["backup", "dev"]).stdout.trim().to_string();
    let mut setup = |p: &Project| {
        p.ok(&["reset", "dev", "--scenario", "empty"]);
        args(&["backup", "restore", &id])
    };
    let mut check = |_: &Project, killed: &[u32]| {
        env.healthy(3);
        assert_eq!(env.contents(&env.database), demo);
        env.no_server_leftovers(killed);
    };
    kill_loop("restore (postgres)", &env.p, &mut setup, &mut check);
    env.clean_up();
}

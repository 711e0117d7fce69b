//! The database server stopped, or restarted, in the middle of a command
//! (docs/reliability.md): on a PostgreSQL env with a native server of its own (never the
//! shared test server: other tests use it), `backup`, `reset` and `migrate` are held at a
//! known point by a lock the test owns, then the server is stopped (`pg_ctl stop -m
//! immediate`, as a crash) or restarted (`pg_ctl restart -m immediate`). The command must
//! fail with exit code 1 and an error that names the server, what was going on and what to
//! do; nothing partial may be left (no backup listed, no temporary database); the same
//! command run again (which starts a stopped server) must succeed and leave the env
//! consistent, with nothing of its data lost.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::faults::{
    backup_count, listed_backups_verify, no_leftovers, pg_contents, status_healthy,
};
use common::servers::have_native;
use common::{Project, Run, block_on};
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

const PASSWORD: &str = "dbenv-stop-test";

/// What seeding the `slow` scenario's template ends with: it waits for the test's lock on
/// a role (a shared catalog row, so the lock reaches a database that does not exist yet).
const SLOW_SQL: &str = "ALTER ROLE stop_blocker CONNECTION LIMIT 7;\n";

/// A migration that waits for the test's lock on `users`.
const MIGRATION: &str = "ALTER TABLE users ADD COLUMN nickname TEXT;\n";
const MIGRATION_FILE: &str = "migrations/0004_nickname.sql";

/// How the server goes away.
#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Stopped, as in a crash (`-m immediate`), and left stopped.
    Stop,
    /// Stopped the same way and started again at once.
    Restart,
}

/// A project whose env `dev` runs its own native PostgreSQL server, up and seeded.
struct OwnServer {
    p: Project,
}

fn own_server() -> Option<OwnServer> {
    if !have_native("postgres") {
        return None;
    }
    let p = Project::with_config(&format!(
        r#"[project]
default_env = "dev"

[env.dev]
engine = "postgres"
provider = "native"
password = "{PASSWORD}"
scenario = "demo"

[env.dev.backup]
dir = "backups"
"#
    ));
    p.write("seeds/slow.toml", "extends = \"demo\"\n");
    p.write("seeds/slow.sql", SLOW_SQL);
    p.ok(&["up", "dev"]);
    let server = OwnServer { p };
    server.sql("postgres", "CREATE ROLE stop_blocker");
    Some(server)
}

impl OwnServer {
    /// The native server's record in the env's state: folder, binaries, account.
    fn native(&self) -> serde_json::Value {
        fn find(v: &serde_json::Value) -> Option<&serde_json::Value> {
            if v.get("bin_dir").is_some() {
                return Some(v);
            }
            v.as_object()?.values().find_map(find)
        }
        let state: serde_json::Value =
            serde_json::from_slice(&self.p.read(".dbenv/state/dev.json")).unwrap();
        find(&state["server"])
            .unwrap_or_else(|| panic!("no native server in {state:#}"))
            .clone()
    }

    fn url(&self, database: &str) -> String {
        let port = self.native()["port"].as_u64().unwrap();
        format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/{database}")
    }

    fn sql(&self, database: &str, sql: &str) {
        block_on(async {
            let mut c = PgConnection::connect(&self.url(database)).await.unwrap();
            c.execute(AssertSqlSafe(sql.to_string())).await.unwrap();
            c.close().await.unwrap();
        });
    }

    /// `pg_ctl ARGS` on the server's data folder, as the account the server runs as.
    fn pg_ctl(&self, args: &[&str]) {
        let native = self.native();
        let pg_ctl = format!("{}/pg_ctl", native["bin_dir"].as_str().unwrap());
        let data = format!("{}/data", native["dir"].as_str().unwrap());
        let mut cmd = match native["run_as"].as_str() {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--", &pg_ctl]);
                c
            }
            None => Command::new(&pg_ctl),
        };
        // The restarted server logs to the env's log, not to pg_ctl's (piped) output.
        let log = format!("{}/server.log", native["dir"].as_str().unwrap());
        let out = cmd
            .args(["-D", &data, "-l", &log, "-w"])
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "pg_ctl {args:?}: {out:?}");
    }

    fn fault(&self, fault: Fault) {
        match fault {
            Fault::Stop => self.pg_ctl(&["-m", "immediate", "stop"]),
            Fault::Restart => self.pg_ctl(&["-m", "immediate", "restart"]),
        }
    }

    /// Hold `lock` (SQL run in an open transaction on `database`) until the connection drops.
    fn hold(&self, database: &str, lock: &str) -> PgConnection {
        block_on(async {
            let mut c = PgConnection::connect(&self.url(database)).await.unwrap();
            c.execute("BEGIN").await.unwrap();
            c.execute(AssertSqlSafe(lock.to_string())).await.unwrap();
            c
        })
    }

    /// Wait until a session whose query contains `query` waits for a lock.
    #[track_caller]
    fn wait_blocked(&self, child: &mut Child, query: &str) {
        let start = Instant::now();
        loop {
            let blocked: bool = block_on(async {
                let mut c = PgConnection::connect(&self.url("postgres")).await.unwrap();
                let found = sqlx::query_scalar(
                    "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                     AND strpos(query, $1) > 0)",
                )
                .bind(query)
                .fetch_one(&mut c)
                .await
                .unwrap();
                c.close().await.unwrap();
                found
            });
            if blocked {
                return;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the command ended ({status}) before it waited on {query:?}");
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "nothing waited on {query:?} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Run `dbenv ARGS` until it waits on the test's lock (`hold` on `database`), bring
    /// the server down with `fault`, and return how the command ended.
    fn interrupt(
        &self,
        args: &[&str],
        database: &str,
        hold: &str,
        query: &str,
        fault: Fault,
    ) -> Run {
        let lock = self.hold(database, hold);
        let mut child = self
            .p
            .std_cmd(args)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        self.wait_blocked(&mut child, query);
        self.fault(fault);
        drop(lock);
        let run = Run::new(args, child.wait_with_output().unwrap());
        eprintln!("{fault:?} during `dbenv {}`:\n{}", run.args, run.stderr);
        run
    }

    /// No temporary database on the server (the env's own `dev_…`, template builds).
    #[track_caller]
    fn no_temporary_databases(&self) {
        let left: Vec<String> = block_on(async {
            let mut c = PgConnection::connect(&self.url("postgres")).await.unwrap();
            let left = sqlx::query_scalar(
                "SELECT datname::text FROM pg_database WHERE datname LIKE 'dev\\_%' \
                 OR datname ~ '^dbenv_tpl_.*_b[0-9]+$' OR datname LIKE 'dbenv\\_verify\\_%'",
            )
            .fetch_all(&mut c)
            .await
            .unwrap();
            c.close().await.unwrap();
            left
        });
        assert!(left.is_empty(), "left on the server: {left:?}");
        no_leftovers(&self.p);
    }

    #[track_caller]
    fn healthy(&self, latest: i64) -> serde_json::Value {
        status_healthy(&self.p, "dev", latest)
    }

    /// The env's tables with their rows (counts and a hash of the content).
    fn rows(&self) -> std::collections::BTreeMap<String, (i64, String)> {
        pg_contents(&self.url("dev"))
    }
}

/// The command failed as documented: exit code 1, an error naming the server that went
/// away, what the command was doing, and a way out.
#[track_caller]
fn failed_clearly(run: &Run, doing: &str) {
    run.code(1)
        .never_says("panicked")
        .err_has("error: lost the connection to the postgres server of env dev (native server on 127.0.0.1:")
        .err_has(&format!("while {doing}: the server stopped, crashed or restarted"))
        .err_has("`dbenv up dev` starts it again")
        .err_has("server.log");
}

fn server_goes_away_during(what: &str, faults: &[Fault], mut case: impl FnMut(&OwnServer, Fault)) {
    let Some(server) = own_server() else { return };
    let start = Instant::now();
    for &fault in faults {
        case(&server, fault);
    }
    eprintln!(
        "server stop: {what}: {} cases in {} ms",
        faults.len(),
        start.elapsed().as_millis()
    );
    let _ = server.p.run(&["down", "dev", "--purge"]);
}

#[test]
fn server_stopped_or_restarted_during_backup() {
    server_goes_away_during("backup", &[Fault::Stop, Fault::Restart], |s, fault| {
        let before = backup_count(&s.p, "dev");
        let run = s.interrupt(
            &["backup", "dev"],
            "dev",
            "LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
            "LOCK TABLE",
            fault,
        );
        failed_clearly(&run, "taking a backup");
        assert_eq!(
            backup_count(&s.p, "dev"),
            before,
            "a partial backup is listed"
        );
        s.p.ok(&["backup", "dev"]);
        let mut verified = Vec::new();
        let ids = listed_backups_verify(&s.p, "dev", &mut verified);
        assert_eq!(ids.len(), before + 1);
        s.healthy(3);
        s.no_temporary_databases();
    });
}

#[test]
fn server_stopped_or_restarted_during_reset() {
    server_goes_away_during("reset", &[Fault::Stop, Fault::Restart], |s, fault| {
        let demo = s.rows();
        // A seed of its own per case: the template is built (and waits) every time.
        let seed = format!("{}", fault as u8 + 1);
        let reset = ["reset", "dev", "--scenario", "slow", "--seed", &seed];
        let run = s.interrupt(
            &reset,
            "postgres",
            "ALTER ROLE stop_blocker CONNECTION LIMIT 3",
            "stop_blocker",
            fault,
        );
        failed_clearly(&run, "resetting its database");
        // Nothing lost: the env's database is as it was.
        s.p.ok(&["up", "dev"]);
        assert_eq!(s.rows(), demo);
        s.p.ok(&reset);
        let status = s.healthy(3);
        let template = status["state"]["template"].as_str().unwrap();
        assert_eq!(
            s.rows(),
            pg_contents(&s.url(template)),
            "not a copy of {template}"
        );
        s.no_temporary_databases();
        s.p.ok(&["reset", "dev"]);
    });
}

#[test]
fn server_stopped_or_restarted_during_migrate() {
    server_goes_away_during("migrate", &[Fault::Stop, Fault::Restart], |s, fault| {
        let _ = std::fs::remove_file(s.p.file(MIGRATION_FILE));
        s.p.ok(&["reset", "dev"]);
        s.p.write(MIGRATION_FILE, MIGRATION);
        let run = s.interrupt(
            &["migrate", "dev"],
            "dev",
            "LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
            "nickname",
            fault,
        );
        failed_clearly(&run, "migrating it");
        s.p.ok(&["migrate", "dev"]);
        s.healthy(4);
        s.no_temporary_databases();
    });
}

//! `dbenv check replication` against real servers: a PostgreSQL primary with a streaming
//! standby and a MariaDB primary with a GTID replica, each started here and stopped at the
//! end (even when a test fails). Faults are made for real: replay paused, a replica stopped,
//! the SQL thread stopped, the primary gone, a server that never answers.

mod common;
mod repl;

use std::time::{Duration, Instant};

use common::{Project, Run};
use repl::{MariaPair, PgPair, SENTINEL};
use sqlx::Executor;

/// Run `dbenv check replication ARGS` and require that no secret reached any output.
fn check(p: &Project, args: &[&str]) -> Run {
    let mut all = vec!["check", "replication"];
    all.extend_from_slice(args);
    let run = p.run(&all);
    run.never_says(SENTINEL);
    run
}

fn pg_config(pair: &PgPair, replicas: &[String], replication: &str) -> String {
    let list: Vec<String> = replicas.iter().map(|r| format!("\"{r}\"")).collect();
    format!(
        "[project]\ndefault_env = \"pg\"\n\n[env.pg]\nengine = \"postgres\"\nurl = \"{}\"\nreplicas = [{}]\n\n[env.pg.replication]\n{replication}\n",
        pair.primary_url("app"),
        list.join(", ")
    )
}

/// Poll `f` until it is true (replication is asynchronous).
async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_primary_and_standby_through_every_fault() {
    if !common::servers::have_native("postgres") {
        return;
    }
    let pair = PgPair::start().await;
    let replica = pair.replica_url("app");
    let p = Project::with_config(&pg_config(
        &pair,
        std::slice::from_ref(&replica),
        "heartbeat = true\nwarn_lag = \"5s\"\ncrit_lag = \"30s\"",
    ));
    p.ok(&["up", "pg"]);
    let mut standby = pair.replica("postgres").await;
    eventually("the app database on the standby", async || {
        sqlx::query_scalar::<_, bool>(
            "SELECT EXISTS (SELECT FROM pg_database WHERE datname = 'app')",
        )
        .fetch_one(&mut standby)
        .await
        .unwrap()
    })
    .await;
    let mut app = pair.replica("app").await;
    eventually("the migrations on the standby", async || {
        let table =
            sqlx::query_scalar::<_, bool>("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
                .fetch_one(&mut app)
                .await
                .unwrap();
        table
            && sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations")
                .fetch_one(&mut app)
                .await
                .unwrap()
                == 3
    })
    .await;

    healthy_is_ok(&p);
    a_silent_server_is_reported_within_the_timeout(&pair, &replica);
    replay_paused_behind_on_migrations_then_lagging(&p, &pair, &replica).await;
    stopped_replica_is_critical_then_lost_primary_unknown(&p, &pair).await;
}

fn healthy_is_ok(p: &Project) {
    let run = check(p, &[]);
    run.code(0)
        .out_has("REPLICATION OK - pg: 1 replica healthy");
    let first = run.stdout.lines().next().unwrap();
    assert!(
        first.starts_with("REPLICATION OK - pg:") && first.contains("| replica1_lag="),
        "{first}"
    );
    run.out_has("replica ")
        .out_has("streaming")
        .out_has("127.0.0.1:");
    let json = check(p, &["--json"]);
    json.code(0);
    let j = json.json();
    assert_eq!(j["status"], "OK");
    assert_eq!(j["engine"], "postgres");
    let primary = &j["primary"];
    assert_eq!(primary["reachable"], true);
    assert_eq!(primary["heartbeat_written"], true);
    assert_eq!(primary["migration_version"], 3);
    assert_eq!(primary["senders"][0]["state"], "streaming");
    assert!(primary["target"].as_str().unwrap().ends_with("/app"));
    let r = &j["replicas"][0];
    assert_eq!(r["status"], "OK");
    assert_eq!(r["state"], "streaming");
    assert_eq!(r["migration_version"], 3);
    assert_eq!(r["lag_bytes"], 0, "{r}");
    assert!(r["heartbeat_lag"].as_f64().unwrap() < 1.0, "{r}");
    assert!(!json.stdout.contains("postgres://"), "a URL in the JSON");
    // Debug logs (sqlx's included) keep the secret too.
    check(p, &["-vv"]).code(0);
}

fn a_silent_server_is_reported_within_the_timeout(pair: &PgPair, replica: &str) {
    // Accepts connections (the kernel does) and never says a word.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    let hung = format!("postgres://postgres:{SENTINEL}@127.0.0.1:{port}/app");
    let p2 = Project::with_config(&pg_config(pair, &[replica.to_string(), hung], ""));
    let started = Instant::now();
    let run = check(&p2, &["--timeout", "1"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    run.code(2).out_has(&format!(
        "127.0.0.1:{port}/app: unreachable: connecting: no answer within 1s"
    ));
}

async fn replay_paused_behind_on_migrations_then_lagging(
    p: &Project,
    pair: &PgPair,
    replica: &str,
) {
    let mut standby = pair.replica("app").await;
    standby
        .execute("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    // A new migration on the primary, which the paused standby does not replay.
    p.write(
        "migrations/0004_notes.sql",
        "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL);\n",
    );
    p.ok(&["migrate", "pg"]);
    let run = check(p, &["--json"]);
    run.code(1);
    let j = run.json();
    let r = &j["replicas"][0];
    assert_eq!(r["migration_version"], 3, "{r}");
    let messages = r["findings"].to_string();
    assert!(
        messages.contains("behind the primary's schema: migration 3, the primary has migration 4"),
        "{messages}"
    );
    assert!(messages.contains("WAL replay is paused"), "{messages}");

    // Writes pile up unreplayed: lag by bytes and by time, both thresholds exceeded.
    let mut primary = pair.primary("app").await;
    primary
        .execute("INSERT INTO notes SELECT g, repeat('x', 100) FROM generate_series(1, 2000) g")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    p.write(
        "dbenv.toml",
        pg_config(
            pair,
            &[replica.to_string()],
            "warn_lag = \"1s\"\nwarn_bytes = \"1kB\"\ncrit_lag = \"1h\"\ncrit_bytes = \"1GB\"",
        ),
    );
    let run = check(p, &[]);
    run.code(1)
        .out_has("WARNING  127.0.0.1:")
        .out_has("lag ")
        .out_has("bytes behind (thresholds: warn 1s and 1000 bytes");
    // Tighter thresholds: the same lag is critical.
    p.write(
        "dbenv.toml",
        pg_config(
            pair,
            &[replica.to_string()],
            "crit_lag = \"1s\"\ncrit_bytes = 1024",
        ),
    );
    let run = check(p, &["--json"]);
    run.code(2);
    let r = &run.json()["replicas"][0];
    assert_eq!(r["status"], "CRITICAL", "{r}");
    assert!(r["lag_bytes"].as_u64().unwrap() > 100_000, "{r}");
    assert!(r["lag"].as_f64().unwrap() >= 1.0, "{r}");
    // The idle-primary rule: time exceeded but bytes under their threshold is not an alarm.
    p.write(
        "dbenv.toml",
        pg_config(
            pair,
            &[replica.to_string()],
            "crit_lag = \"1s\"\ncrit_bytes = \"1GB\"",
        ),
    );
    check(p, &[]).code(1).out_has("WAL replay is paused");

    migrate_guard_refuses_then_waits_for_the_standby(p, pair, replica, &mut standby).await;
    eventually("the standby to catch up", async || {
        check(p, &[]).status.code() == Some(0)
    })
    .await;
}

/// `migrate_guard`: with the standby paused, `refuse` stops the migration before anything
/// runs; `wait` holds it until replay resumes, then applies it.
async fn migrate_guard_refuses_then_waits_for_the_standby(
    p: &Project,
    pair: &PgPair,
    replica: &str,
    standby: &mut sqlx::PgConnection,
) {
    let guarded = |mode: &str| {
        pg_config(
            pair,
            &[replica.to_string()],
            &format!("crit_lag = \"1s\"\ncrit_bytes = 1024\nmigrate_guard = \"{mode}\""),
        )
    };
    p.write(
        "migrations/0005_tags.sql",
        "CREATE TABLE tags (id INTEGER PRIMARY KEY);\n",
    );
    p.write("dbenv.toml", guarded("refuse"));
    let run = p.run(&["migrate", "pg"]);
    run.code(3)
        .err_has("migrations of env pg refused: its replicas are not healthy")
        .err_has("dbenv check replication pg")
        .never_says(SENTINEL);
    let mut primary = pair.primary("app").await;
    let tags = "SELECT to_regclass('tags') IS NOT NULL";
    let exists = || sqlx::query_scalar::<_, bool>(tags);
    assert!(
        !exists().fetch_one(&mut primary).await.unwrap(),
        "refused, yet applied"
    );

    p.write("dbenv.toml", guarded("wait"));
    let waiting = p
        .std_cmd(&["--lock-timeout", "30", "migrate", "pg"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(
        !exists().fetch_one(&mut primary).await.unwrap(),
        "applied while the standby lags"
    );
    standby
        .execute("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    let out = waiting.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("waiting for the replicas before migrating"),
        "{stderr}"
    );
    assert!(!stderr.contains(SENTINEL));
    assert!(exists().fetch_one(&mut primary).await.unwrap());
}

async fn stopped_replica_is_critical_then_lost_primary_unknown(p: &Project, pair: &PgPair) {
    pair.stop_replica().await;
    let run = check(p, &[]);
    run.code(2);
    assert!(
        run.stdout
            .starts_with("REPLICATION CRITICAL - pg: 127.0.0.1:"),
        "{}",
        run.stdout
    );
    run.out_has("unreachable: connecting:");
    pair.stop_primary().await;
    let run = check(p, &["--json"]);
    run.code(3);
    let j = run.json();
    assert_eq!(j["status"], "UNKNOWN");
    assert!(
        j["summary"].as_str().unwrap().contains("unreachable"),
        "{j}"
    );
    check(p, &[])
        .code(3)
        .out_has("REPLICATION UNKNOWN - pg: primary 127.0.0.1:");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_primary_and_replica_sql_thread_stopped_is_critical() {
    if !common::servers::have_native("mariadb") {
        return;
    }
    let pair = MariaPair::start().await;
    let config = format!(
        "[project]\ndefault_env = \"maria\"\n\n[env.maria]\nengine = \"mariadb\"\nurl = \"{}\"\nreplicas = [\"{}\"]\n\n[env.maria.replication]\nheartbeat = true\nwarn_lag = \"5s\"\ncrit_lag = \"30s\"\n",
        pair.primary.url("app"),
        pair.replica.url("app")
    );
    let p = Project::with_config(&config);
    p.ok(&["up", "maria"]);
    let mut replica = pair.replica.connect("mysql").await;
    // Every migration row replayed, not only the table: the check compares versions.
    eventually("the migrations on the replica", async || {
        let table = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'app' AND table_name = '_sqlx_migrations'")
            .fetch_one(&mut replica)
            .await
            .unwrap();
        table == 1
            && sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM app._sqlx_migrations")
                .fetch_one(&mut replica)
                .await
                .unwrap()
                == 3
    })
    .await;

    let run = check(&p, &["--json"]);
    run.code(0);
    let j = run.json();
    assert_eq!(j["status"], "OK", "{j}");
    let r = &j["replicas"][0];
    assert_eq!(r["state"], "IO thread running, SQL thread running");
    assert_eq!(r["migration_version"], 3);
    assert!(r["heartbeat_lag"].as_f64().unwrap() < 1.0, "{r}");
    assert_eq!(j["primary"]["heartbeat_written"], true);
    check(&p, &[])
        .code(0)
        .out_has("REPLICATION OK - maria: 1 replica healthy");

    replica.execute("STOP REPLICA SQL_THREAD").await.unwrap();
    let run = check(&p, &[]);
    run.code(2)
        .out_has("REPLICATION CRITICAL - maria:")
        .out_has("replication SQL thread is stopped (Slave_SQL_Running = No)");
    replica.execute("START REPLICA SQL_THREAD").await.unwrap();
    eventually("the SQL thread to catch up", async || {
        check(&p, &[]).status.code() == Some(0)
    })
    .await;
}

#[test]
fn sqlite_env_is_not_applicable() {
    let p = Project::new();
    check(&p, &[])
        .code(3)
        .out_has("REPLICATION UNKNOWN - dev: not applicable: env dev uses sqlite");
    let j = check(&p, &["--json"]).json();
    assert_eq!(j["status"], "UNKNOWN");
}

#[test]
fn an_env_without_replicas_says_how_to_configure_them() {
    let p = Project::with_config(&format!(
        "[env.prod]\nengine = \"postgres\"\nurl = \"postgres://app:{SENTINEL}@127.0.0.1:1/app\"\n"
    ));
    check(&p, &["prod"]).code(3).out_has(
        "env prod has no replicas configured: add replicas = [\"${REPLICA_URL}\"] to [env.prod]",
    );
}

#[test]
fn configuration_errors_are_unknown_not_usage_errors() {
    let p = Project::new();
    check(&p, &["nope"])
        .code(3)
        .out_has("REPLICATION UNKNOWN - ");
    let p = Project::with_config(
        "[env.dev]\nengine = \"postgres\"\nurl = \"postgres://a@127.0.0.1:1/app\"\nreplicas = [\"${MISSING_REPLICA_URL}\"]\n",
    );
    check(&p, &[]).code(3).out_has("MISSING_REPLICA_URL");
}

//! The development loop on server engines: one story, run on every engine × provider that
//! can be had here (PostgreSQL and MariaDB, in containers built by scripts/images.sh and as
//! native servers from Debian's packages; the mysql engine against the MariaDB image).

mod common;

use std::collections::BTreeMap;

use common::servers::{
    self, MARIADB_IMAGE, PG_IMAGE, assert_integrity, column_text, connect, docker, have_image,
    have_native,
};
use common::{Project, block_on};
use serde_json::Value as Json;

/// A project with a SQLite env (the reference) and one server env called `db`.
fn project(engine: &str, provider_lines: &str) -> Project {
    Project::with_config(&format!(
        r#"[project]
default_env = "dev"

[env.dev]
engine = "sqlite"
scenario = "demo"

[env.db]
engine = "{engine}"
scenario = "demo"
{provider_lines}
"#
    ))
}

fn container_lines(image: &str) -> String {
    format!("image = \"{image}\"\npull = \"never\"\n")
}

fn native_project(engine: &str) -> Project {
    let p = project(engine, "provider = \"native\"\n");
    open_for_server_user(&p);
    p
}

/// As root, the native provider runs the server as an unprivileged user, who must be able
/// to reach the project folder (temporary folders are 0700).
fn open_for_server_user(p: &Project) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Rows per table, from `dbenv status --json`.
fn counts(p: &Project, env: &str) -> BTreeMap<String, u64> {
    let status = p.ok(&["--json", "status", env]).json();
    status["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["table"].as_str().unwrap().to_string(),
                t["rows"].as_u64().unwrap(),
            )
        })
        .collect()
}

fn total(counts: &BTreeMap<String, u64>) -> u64 {
    counts.values().sum()
}

fn state(p: &Project, env: &str) -> Json {
    serde_json::from_slice(&p.read(&format!(".dbenv/state/{env}.json"))).unwrap()
}

fn url(p: &Project, env: &str) -> String {
    p.ok(&["url", env]).stdout.trim().to_string()
}

/// The dev story, on one server env: up, reuse, integrity, same data as SQLite, reset
/// (template), seed on top, migrate status, down/up keeps data, down --purge.
fn dev_story(p: &Project, engine: &str) {
    let up = p.ok(&["--json", "up", "db"]).json();
    assert_eq!(up["created"], true, "{up}");
    let first = state(p, "db");
    let demo = counts(p, "db");
    let reference = {
        p.ok(&["up", "dev"]);
        counts(p, "dev")
    };
    assert_eq!(
        demo, reference,
        "same scenario and seed, same rows as on SQLite"
    );
    assert!(total(&demo) > 1000, "{demo:?}");

    // The same data, not only the same amount: the generated emails match SQLite's.
    let server_url = url(p, "db");
    let sqlite_url = url(p, "dev");
    block_on(async {
        let mut db = connect(servers::engine_of(&server_url, engine), &server_url).await;
        assert_integrity(&mut db).await;
        let emails = column_text(&mut db, "users", "email").await;
        let mut lite = dbenv::engine::AnyBackend::Sqlite(
            dbenv::engine::sqlite::SqliteBackend::open(
                &common::sqlite_path_of_url(&sqlite_url),
                dbenv::engine::sqlite::OpenMode::Existing,
            )
            .await
            .unwrap(),
        );
        assert_eq!(emails, column_text(&mut lite, "users", "email").await);
    });

    // `up` again reuses the server and keeps the data.
    let again = p.ok(&["--json", "up", "db"]).json();
    assert_eq!(again["created"], false, "{again}");
    assert_eq!(state(p, "db")["server"], first["server"], "the same server");
    assert_eq!(counts(p, "db"), demo);

    // Reset to empty and back: the template is reused.
    p.ok(&["reset", "db", "--scenario", "empty"]);
    assert_eq!(total(&counts(p, "db")), 0);
    let back = p
        .ok(&["--json", "reset", "db", "--scenario", "demo"])
        .json();
    assert_eq!(back["template_built"], false, "{back}");
    assert_eq!(counts(p, "db"), demo);

    // Seeding on top adds rows; the migrations are all applied.
    p.ok(&["seed", "db", "--scenario", "demo"]);
    let seeded = counts(p, "db");
    assert!(total(&seeded) > total(&demo), "{seeded:?}");
    let migrate = p.ok(&["--json", "migrate", "db"]).json();
    assert_eq!(
        migrate["applied"],
        serde_json::json!([]),
        "nothing pending: {migrate}"
    );
    let status = p.ok(&["--json", "migrate", "status", "db"]).json();
    assert!(
        status
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["state"] == "applied"),
        "{status}"
    );

    // down stops the server; up brings it back with the data.
    p.ok(&["down", "db"]);
    let stopped = p.ok(&["--json", "status", "db"]).json();
    assert!(
        stopped["health"].as_str().unwrap().contains("stopped"),
        "{stopped}"
    );
    p.ok(&["up", "db"]);
    assert_eq!(counts(p, "db"), seeded);
}

fn purge_story(p: &Project) {
    p.ok(&["down", "db", "--purge"]);
    assert!(!p.file(".dbenv/state/db.json").exists());
    let status = p.ok(&["--json", "status", "db"]).json();
    assert_eq!(status["exists"], false, "{status}");
}

#[test]
fn postgres_in_a_container() {
    if !have_image(PG_IMAGE) {
        return;
    }
    let p = project("postgres", &container_lines(PG_IMAGE));
    dev_story(&p, "postgres");
    container_recovery(&p);
    let name = container_name(&p);
    purge_story(&p);
    assert!(
        !docker(&["inspect", &name]).status.success(),
        "container removed"
    );
    assert!(
        !docker(&["volume", "inspect", &format!("{name}-data")])
            .status
            .success(),
        "volume removed"
    );
}

#[test]
fn mariadb_in_a_container() {
    if !have_image(MARIADB_IMAGE) {
        return;
    }
    let p = project("mariadb", &container_lines(MARIADB_IMAGE));
    dev_story(&p, "mariadb");
    container_recovery(&p);
    purge_story(&p);
}

/// The mysql engine speaks to any MySQL-protocol server; no MySQL server can be had here,
/// so it runs against the MariaDB image, configured as a custom image.
#[test]
fn mysql_engine_in_a_container() {
    if !have_image(MARIADB_IMAGE) {
        return;
    }
    let p = project("mysql", &container_lines(MARIADB_IMAGE));
    dev_story(&p, "mysql");
    purge_story(&p);
}

#[test]
fn postgres_native() {
    if !have_native("postgres") {
        return;
    }
    let p = native_project("postgres");
    dev_story(&p, "postgres");
    native_recovery(&p);
    let dir = p.file(".dbenv/db");
    assert!(dir.exists());
    purge_story(&p);
    assert!(!dir.exists(), "data folder deleted");
}

#[test]
fn mariadb_native() {
    if !have_native("mariadb") {
        return;
    }
    let p = native_project("mariadb");
    dev_story(&p, "mariadb");
    native_recovery(&p);
    purge_story(&p);
}

fn container_name(p: &Project) -> String {
    state(p, "db")["server"]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

/// A container removed behind dbenv's back is noticed by status and recreated by up, with
/// the data of its volume.
fn container_recovery(p: &Project) {
    let before = counts(p, "db");
    let name = container_name(p);
    assert!(docker(&["rm", "-f", &name]).status.success());
    let status = p.ok(&["--json", "status", "db"]).json();
    assert!(
        status["health"].as_str().unwrap().contains("removed"),
        "{status}"
    );
    p.ok(&["up", "db"]);
    assert_eq!(counts(p, "db"), before, "the volume kept the data");
}

/// A native server killed with SIGKILL is noticed by status and restarted by up.
fn native_recovery(p: &Project) {
    let before = counts(p, "db");
    let pid = state(p, "db")["server"]["server"]["pid"].as_u64().unwrap();
    let kill = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    assert!(kill.unwrap().success());
    std::thread::sleep(std::time::Duration::from_millis(300));
    let status = p.ok(&["--json", "status", "db"]).json();
    assert!(
        status["health"].as_str().unwrap().contains("stopped"),
        "{status}"
    );
    p.ok(&["up", "db"]);
    assert_eq!(counts(p, "db"), before);
}

#[test]
fn gc_sweeps_a_container_no_env_owns() {
    if !have_image(PG_IMAGE) {
        return;
    }
    let p = project("postgres", &container_lines(PG_IMAGE));
    p.ok(&["up", "db", "--scenario", "empty"]);
    let name = container_name(&p);
    // The env leaves dbenv.toml: its container is an orphan now.
    p.write("dbenv.toml", "[env.dev]\nengine = \"sqlite\"\n");
    let dry = p.ok(&["gc", "--dry-run"]);
    assert!(dry.stdout.contains(&name), "{}", dry.stdout);
    assert!(
        docker(&["inspect", &name]).status.success(),
        "dry run keeps it"
    );
    let gc = p.ok(&["gc"]);
    assert!(gc.stdout.contains(&name), "{}", gc.stdout);
    assert!(
        !docker(&["inspect", &name]).status.success(),
        "container swept"
    );
    assert!(
        !docker(&["volume", "inspect", &format!("{name}-data")])
            .status
            .success()
    );
}

#[test]
fn image_absent_with_pull_never() {
    if !have_image(PG_IMAGE) {
        return;
    }
    let p = project(
        "postgres",
        "image = \"dbenv-test/absent:1\"\npull = \"never\"\n",
    );
    p.run(&["up", "db"])
        .code(1)
        .err_has("image dbenv-test/absent:1 is not present locally and pull = \"never\"");
    assert_eq!(
        servers::docker(&[
            "ps",
            "-a",
            "-q",
            "--filter",
            &format!("label=dbenv.project.path={}", p.path().display())
        ])
        .stdout,
        b"",
        "no container was created"
    );
}

#[test]
fn docker_not_reachable() {
    let p = project("postgres", &container_lines(PG_IMAGE));
    p.run_with(
        &["up", "db"],
        &[("DOCKER_HOST", "unix:///nonexistent/docker.sock")],
    )
    .code(1)
    .err_has("cannot reach the Docker engine")
    .err_has("is Docker running?");
    assert!(!p.file(".dbenv/state/db.json").exists());
}

#[test]
fn port_already_taken() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let busy = format!("port {port} on 127.0.0.1 is already in use");
    if have_native("postgres") {
        let p = project(
            "postgres",
            &format!("provider = \"native\"\nport = {port}\n"),
        );
        open_for_server_user(&p);
        p.run(&["up", "db"]).code(1).err_has(&busy);
    }
    if have_image(PG_IMAGE) {
        let p = project(
            "postgres",
            &format!("{}port = {port}\n", container_lines(PG_IMAGE)),
        );
        p.run(&["up", "db"]).code(1).err_has(&busy);
        // Whatever the failed `up` left (a volume), `down --purge` finds by name.
        p.ok(&["down", "db", "--purge"]);
        let filter = format!("label=dbenv.project.path={}", p.path().display());
        assert_eq!(
            docker(&["volume", "ls", "-q", "--filter", &filter]).stdout,
            b""
        );
        assert_eq!(docker(&["ps", "-aq", "--filter", &filter]).stdout, b"");
    }
    drop(listener);
}

/// An existing server given by url: dbenv creates and drops only its own database there,
/// refuses to replace one it did not create, and never stops the server.
#[test]
fn external_server_databases_only() {
    if !have_native("postgres") {
        return;
    }
    let p = Project::with_config(
        r#"[env.host]
engine = "postgres"
provider = "native"

[env.ext]
engine = "postgres"
url = "${EXT_URL}"
database = "ext_app"
scenario = "demo"

[env.theirs]
engine = "postgres"
url = "${EXT_URL}"
database = "their_db"

[env.prod]
kind = "production"
engine = "postgres"
url = "${EXT_URL}"
database = "prod_app"
"#,
    );
    open_for_server_user(&p);
    p.ok(&["up", "host"]);
    let host_url = url(&p, "host");
    let vars = [("EXT_URL", host_url.as_str())];
    p.run_with(&["up", "ext"], &vars).code(0);
    p.run_with(&["--json", "status", "ext"], &vars).code(0);
    // A production env's output never carries the password.
    let password = url::Url::parse(&host_url)
        .unwrap()
        .password()
        .unwrap()
        .to_string();
    let prod = p.run_with(&["up", "prod"], &vars);
    prod.code(0).out_has(":***@").never_says(&password);
    p.run_with(&["--json", "status", "prod"], &vars)
        .code(0)
        .never_says(&password);
    // A database dbenv did not create is migrated by up, but never dropped or replaced.
    block_on(async {
        let admin_url = host_url.clone();
        let mut db = connect(dbenv::engine::EngineKind::Postgres, &admin_url).await;
        use dbenv::engine::Backend;
        db.execute("CREATE DATABASE their_db").await.unwrap();
    });
    p.run_with(&["reset", "theirs", "--scenario", "empty"], &vars)
        .code(3)
        .err_has("was not created by dbenv");
    p.run_with(&["down", "theirs", "--purge"], &vars).code(3);
    // Purging ext drops ext_app only; the server (env host) keeps running.
    p.run_with(&["down", "ext", "--purge"], &vars).code(0);
    let host = p.ok(&["--json", "status", "host"]).json();
    assert_eq!(host["health"], "ok", "{host}");
    block_on(async {
        let mut admin =
            dbenv::engine::ServerAdmin::connect(dbenv::engine::EngineKind::Postgres, &host_url)
                .await
                .unwrap();
        assert!(!admin.database_exists("ext_app").await.unwrap());
        assert!(admin.database_exists("their_db").await.unwrap());
    });
    p.ok(&["down", "host", "--purge"]);
}

/// The production guard is the same on a server env: refused before any server is touched.
#[test]
fn production_server_env_is_guarded() {
    let p = Project::with_config(
        r#"[env.prod]
kind = "production"
engine = "postgres"
url = "postgres://app:secret@db.invalid:5432/app"
"#,
    );
    for args in [
        &["reset", "prod", "--scenario", "empty"][..],
        &["seed", "prod", "--scenario", "demo"],
        &["down", "prod", "--purge"],
        &["migrate", "down", "prod"],
    ] {
        p.run(args).code(3).err_has("--force").never_says("secret");
    }
    assert!(!p.file(".dbenv/state/prod.json").exists());
}

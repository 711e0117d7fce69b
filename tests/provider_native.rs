//! The native provider against real servers from the machine's own binaries: PostgreSQL
//! (`initdb`/`pg_ctl`) and MariaDB (`mariadbd`/`mariadb-install-db`).
//!
//! Without the binaries each test prints a loud SKIP and passes, unless
//! `DBENV_TEST_REQUIRE=all` (or names the engine), which makes it fail instead.
#![cfg(unix)]

use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dbenv::config::EngineKind;
use dbenv::provider::native::{self, Health, NativeServer, NativeSpec};
use sqlx::{Connection, MySqlConnection, PgConnection, Row};

/// A password that needs escaping in SQL and encoding in URLs.
const PASSWORD: &str = r"p@ss'w\rd:/x";

/// Binaries present, or a SKIP line (a panic when the engine is required).
fn available(engine: EngineKind) -> bool {
    let Err(e) = native::locate(engine, None) else {
        return true;
    };
    let install = match engine {
        EngineKind::Postgres => "apt-get install postgresql",
        _ => "apt-get install mariadb-server",
    };
    let message = format!("SKIP: no {engine} server binaries ({e}); `{install}` to run this test");
    let required = std::env::var("DBENV_TEST_REQUIRE").unwrap_or_default();
    if required == "all" || required.split(',').any(|r| r == engine.as_str()) {
        panic!("{message}");
    }
    eprintln!("\n!!!!!!!!!! {message}\n");
    false
}

/// A project folder the server's account can reach when the tests run as root (whatever
/// the umask or tempfile's defaults make of it).
fn project() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("dbenv-native-")
        .tempdir()
        .unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn env_dir(project: &Path, env: &str) -> PathBuf {
    project.join(".dbenv").join(env)
}

fn spec<'a>(engine: EngineKind, dir: &'a Path, user: &'a str) -> NativeSpec<'a> {
    NativeSpec {
        engine,
        dir,
        port: 0,
        user,
        password: PASSWORD,
        bin_dir: None,
        durable: true,
    }
}

/// Stops the server when the test ends, passed or failed.
struct Guard(Option<NativeServer>);

impl Guard {
    fn set(&mut self, server: &NativeServer) {
        self.0 = Some(server.clone());
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let Some(server) = self.0.take() else { return };
        // Drop runs inside the test's runtime: stop on a runtime of our own.
        let stopped = std::thread::spawn(move || {
            tokio::runtime::Runtime::new()
                .unwrap()
                .block_on(native::stop(&server))
                .map_err(|e| (e.to_string(), native::health(&server)))
        })
        .join()
        .unwrap();
        if let Err((e, Health::Running { pid })) = stopped {
            eprintln!("guard: stop failed ({e}); killing {pid}");
            kill9(pid);
        }
    }
}

/// The error of a call expected to fail; a server it started anyway is stopped by `guard`.
fn must_fail(result: Result<NativeServer, dbenv::Error>, guard: &mut Guard) -> dbenv::Error {
    match result {
        Ok(server) => {
            guard.set(&server);
            panic!("expected an error, got a running server: {server:?}");
        }
        Err(e) => e,
    }
}

fn kill9(pid: u32) {
    let status = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Run `sql` statements through the endpoint's URL, then return the first column of `query`.
async fn sql(
    server: &NativeServer,
    user: &str,
    statements: &[&'static str],
    query: &'static str,
) -> String {
    let ep = native::endpoint(server, user, PASSWORD);
    let url = ep.url(ep.admin_database());
    if server.engine == EngineKind::Postgres {
        let mut c = PgConnection::connect(&url).await.expect("connect");
        for s in statements {
            sqlx::raw_sql(*s).execute(&mut c).await.expect(s);
        }
        sqlx::query(query)
            .fetch_one(&mut c)
            .await
            .expect(query)
            .get(0)
    } else {
        let mut c = MySqlConnection::connect(&url).await.expect("connect");
        for s in statements {
            sqlx::raw_sql(*s).execute(&mut c).await.expect(s);
        }
        sqlx::query(query)
            .fetch_one(&mut c)
            .await
            .expect(query)
            .get(0)
    }
}

/// As root the server runs as its own account; no password on its command line; the
/// private files that carried the password to the init are gone.
fn runs_unprivileged_without_secrets_in_sight(server: &NativeServer) {
    use std::os::unix::fs::MetadataExt;
    let pid = server.pid.unwrap();
    let root = std::fs::metadata("/proc/self")
        .map(|m| m.uid() == 0)
        .unwrap_or(false);
    assert_eq!(server.run_as.is_some(), root, "{:?}", server.run_as);
    if let Ok(proc_dir) = std::fs::metadata(format!("/proc/{pid}")) {
        assert!(
            !root || proc_dir.uid() != 0,
            "the server must not run as root"
        );
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
        assert!(!String::from_utf8_lossy(&cmdline).contains(PASSWORD));
    }
    for entry in std::fs::read_dir(&server.dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        assert!(!name.contains(".dbenv-tmp."), "left behind: {name}");
    }
}

async fn wait_for(server: &NativeServer, want: Health) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while native::health(server) != want {
        assert!(Instant::now() < deadline, "health never became {want:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Init, reuse, stop and start again, recover from SIGKILL, purge: one story per engine.
async fn story(engine: EngineKind, user: &str, create: &[&'static str], read: &'static str) {
    if !available(engine) {
        return;
    }
    let project = project();
    let dir = env_dir(project.path(), &format!("story-{engine}"));
    // What an init killed half-way leaves: redone cleanly.
    std::fs::create_dir_all(dir.join("data.dbenv-init/half")).unwrap();
    let spec = spec(engine, &dir, user);
    let mut guard = Guard(None);

    let t = Instant::now();
    let first = native::ensure_running(&spec, None).await.unwrap();
    guard.set(&first);
    let marker = sql(&first, user, create, read).await;
    eprintln!(
        "{engine}: cold init + start to first query: {} ms",
        t.elapsed().as_millis()
    );
    assert_eq!(marker, "kept");
    assert!(first.port != 0 && first.dir.is_absolute() && !first.version.is_empty());
    assert_eq!(
        native::health(&first),
        Health::Running {
            pid: first.pid.unwrap()
        }
    );
    assert!(!dir.join("data.dbenv-init").exists());
    runs_unprivileged_without_secrets_in_sight(&first);

    let again = native::ensure_running(&spec, Some(&first)).await.unwrap();
    assert_eq!(again, first, "a running server is reused as it is");

    native::stop(&first).await.unwrap();
    assert_eq!(native::health(&first), Health::Stopped);
    native::stop(&first).await.unwrap(); // idempotent
    let t = Instant::now();
    let warm = native::ensure_running(&spec, Some(&first)).await.unwrap();
    guard.set(&warm);
    assert_eq!(sql(&warm, user, &[], read).await, "kept");
    eprintln!(
        "{engine}: warm start to first query: {} ms",
        t.elapsed().as_millis()
    );
    assert_eq!(warm.port, first.port, "the remembered port is reused");

    kill9(warm.pid.unwrap());
    wait_for(&warm, Health::Stopped).await;
    let recovered = native::ensure_running(&spec, Some(&warm)).await.unwrap();
    guard.set(&recovered);
    assert_ne!(recovered.pid, warm.pid);
    assert_eq!(sql(&recovered, user, &[], read).await, "kept");

    native::purge(&recovered).await.unwrap();
    guard.0 = None;
    assert_eq!(native::health(&recovered), Health::DataMissing);
    assert!(!dir.exists(), "purge leaves nothing behind");
}

#[tokio::test]
async fn postgres_inits_starts_reuses_stops_recovers_and_purges() {
    let create = [
        "CREATE TABLE kept (v text)",
        "INSERT INTO kept VALUES ('kept')",
    ];
    story(
        EngineKind::Postgres,
        "postgres",
        &create,
        "SELECT v FROM kept",
    )
    .await;
}

#[tokio::test]
async fn mariadb_inits_starts_reuses_stops_recovers_and_purges() {
    let create = [
        "CREATE DATABASE story",
        "CREATE TABLE story.kept (v varchar(10))",
        "INSERT INTO story.kept VALUES ('kept')",
    ];
    let read = "SELECT v FROM story.kept";
    story(EngineKind::Mariadb, "admin", &create, read).await;
}

/// Engine mysql falls back to MariaDB's binaries here; the admin is `root` itself.
#[tokio::test]
async fn mysql_engine_runs_with_root_as_the_admin() {
    if !available(EngineKind::Mysql) {
        return;
    }
    let project = project();
    // Too deep for a unix socket path: the socket goes to a short folder under /tmp.
    let deep = project.path().join("a-folder-name-long-enough".repeat(4));
    let dir = env_dir(&deep, "my-root");
    let mut guard = Guard(None);
    let server = native::ensure_running(&spec(EngineKind::Mysql, &dir, "root"), None)
        .await
        .unwrap();
    guard.set(&server);
    let user = sql(&server, "root", &[], "SELECT CAST(CURRENT_USER() AS CHAR)").await;
    assert_eq!(user, "root@127.0.0.1");
    runs_unprivileged_without_secrets_in_sight(&server);
    assert!(!dir.join("mysqld.sock").exists());
    let sockets_before = short_socket_dirs();
    assert!(!sockets_before.is_empty());
    native::purge(&server).await.unwrap();
    guard.0 = None;
    assert!(
        short_socket_dirs().len() < sockets_before.len(),
        "purge removes the socket folder"
    );
}

fn short_socket_dirs() -> Vec<PathBuf> {
    std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("dbenv-"))
        .filter(|e| e.path().join("mysqld.sock").exists())
        .map(|e| e.path())
        .collect()
}

async fn port_taken(engine: EngineKind, user: &str) {
    if !available(engine) {
        return;
    }
    let project = project();
    let dir = env_dir(project.path(), "busy");
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let spec = NativeSpec {
        port,
        ..spec(engine, &dir, user)
    };
    let mut guard = Guard(None);
    let err = must_fail(native::ensure_running(&spec, None).await, &mut guard);
    assert_eq!(
        err.to_string(),
        format!(
            "port {port} on 127.0.0.1 is already in use by another process; free it or set \
             `port = …` in [env.busy] of dbenv.toml"
        )
    );
    assert!(
        !dir.join("data").exists(),
        "nothing initialised for nothing"
    );
}

#[tokio::test]
async fn postgres_refuses_a_port_another_process_holds() {
    port_taken(EngineKind::Postgres, "postgres").await;
}

#[tokio::test]
async fn mariadb_refuses_a_port_another_process_holds() {
    port_taken(EngineKind::Mariadb, "root").await;
}

#[tokio::test]
async fn a_bin_dir_without_the_binaries_is_named_in_the_error() {
    let project = project();
    let bad = project.path().join("no-bin");
    let cases = [
        (
            EngineKind::Postgres,
            format!(
                "PostgreSQL binaries not found in bin_dir {}: missing pg_ctl, initdb, postgres; \
                 point `bin_dir` in dbenv.toml at the folder holding pg_ctl, initdb and postgres \
                 (e.g. /usr/lib/postgresql/16/bin), or remove it to search PATH and the usual \
                 folders",
                bad.display()
            ),
        ),
        (
            EngineKind::Mariadb,
            format!(
                "MariaDB server binary not found in bin_dir {}: expected mariadbd (or MariaDB's \
                 mysqld) there; point `bin_dir` in dbenv.toml at the folder holding it, or \
                 remove it to search PATH and the usual folders",
                bad.display()
            ),
        ),
    ];
    for (engine, want) in cases {
        let dir = env_dir(project.path(), engine.as_str());
        let spec = NativeSpec {
            bin_dir: Some(&bad),
            durable: true,
            ..spec(engine, &dir, "root")
        };
        let err = must_fail(native::ensure_running(&spec, None).await, &mut Guard(None));
        assert_eq!(err.to_string(), want);
        assert_eq!(err.exit_code(), dbenv::EXIT_FAILURE);
        assert_eq!(
            native::locate(engine, Some(&bad)).unwrap_err().to_string(),
            want
        );
    }
}

#[tokio::test]
async fn a_data_folder_dbenv_did_not_make_is_left_alone() {
    if !available(EngineKind::Postgres) {
        return;
    }
    let project = project();
    let dir = env_dir(project.path(), "foreign");
    std::fs::create_dir_all(dir.join("data")).unwrap();
    std::fs::write(dir.join("data/precious.txt"), "mine").unwrap();
    let mut guard = Guard(None);
    let spec = spec(EngineKind::Postgres, &dir, "postgres");
    let err = must_fail(native::ensure_running(&spec, None).await, &mut guard);
    assert!(
        err.to_string().contains("holds no PostgreSQL data"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("data/precious.txt")).unwrap(),
        "mine"
    );
}

/// As root the server runs as `postgres`, which cannot enter a 0700 folder of root's: the
/// error names the folder and the fix, and nobody's permissions are changed.
#[tokio::test]
async fn a_folder_the_server_account_cannot_enter_is_named_with_the_fix() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if !root || !available(EngineKind::Postgres) {
        return; // as a normal user the server runs as that user: nothing to cross
    }
    let closed = tempfile::tempdir().unwrap();
    std::fs::set_permissions(closed.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    let dir = env_dir(closed.path(), "closed");
    let mut guard = Guard(None);
    let spec = spec(EngineKind::Postgres, &dir, "postgres");
    let err = must_fail(native::ensure_running(&spec, None).await, &mut guard).to_string();
    let blocked = closed.path().canonicalize().unwrap();
    assert!(
        err.contains(&format!("which cannot enter {}", blocked.display()))
            && err.contains(&format!("`chmod o+x {}`", blocked.display())),
        "{err}"
    );
    let mode = std::fs::metadata(&blocked).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o700);
}

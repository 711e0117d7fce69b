//! The container provider against a real Docker engine, with a tiny image built locally
//! (`scripts/tiny-image.sh`: busybox httpd on port 5432, no registry needed).
//!
//! Without a reachable Docker engine every test prints a SKIP line and passes, unless
//! `DBENV_TEST_REQUIRE=all`, which makes it fail. Containers and volumes are named after the
//! test and the process id, and removed by a guard even when a test fails.
#![cfg(feature = "container")]

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use dbenv::config::PullPolicy;
use dbenv::provider::container::{
    ContainerSpec, Docker, Health, LABEL_ENGINE, LABEL_ENV, LABEL_PROJECT, LABEL_PROJECT_PATH,
};

const TINY: &str = "dbenv-test/tiny:1";
const UNREACHABLE: &str = "unix:///nonexistent.sock";

fn require_all() -> bool {
    std::env::var("DBENV_TEST_REQUIRE").is_ok_and(|v| v == "all")
}

fn skip(why: &str) {
    if require_all() {
        panic!("{why}, and DBENV_TEST_REQUIRE=all requires Docker");
    }
    eprintln!("\n**** SKIP: {why}: start Docker to run the container provider tests ****\n");
}

/// A connected client with the tiny image built, or `None` (after a SKIP line).
async fn docker() -> Option<Docker> {
    let docker = match Docker::connect().await {
        Ok(d) => d,
        Err(e) => {
            skip(&e.to_string());
            return None;
        }
    };
    if let Err(why) = tiny_image() {
        skip(why);
        return None;
    }
    Some(docker)
}

/// Build the tiny image once per test binary (the script does nothing when it exists).
fn tiny_image() -> Result<(), &'static str> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/tiny-image.sh");
        let out = Command::new("sh")
            .arg(script)
            .arg(TINY)
            .output()
            .map_err(|e| format!("cannot run {script}: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{script} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    });
    built.as_ref().map(|_| ()).map_err(|e| {
        eprintln!("{e}");
        "the test image dbenv-test/tiny:1 could not be built"
    })
}

/// Removes the test's container and volume when dropped, even on panic.
struct Cleanup {
    name: String,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", "-v", &self.name])
            .output();
        let _ = Command::new("docker")
            .args(["volume", "rm", "-f", &self.name])
            .output();
    }
}

/// A spec for the tiny image, named after `test` and this process, and its cleanup guard.
fn spec(test: &str) -> (ContainerSpec, Cleanup) {
    let name = format!("dbenv-test-{}-{test}", std::process::id());
    let labels: BTreeMap<String, String> = [
        (LABEL_PROJECT, "dbenv-test".to_string()),
        (
            LABEL_PROJECT_PATH,
            format!("/tmp/dbenv-test-{}", std::process::id()),
        ),
        (LABEL_ENV, test.to_string()),
        (LABEL_ENGINE, "postgres".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    let spec = ContainerSpec {
        name: name.clone(),
        image: TINY.into(),
        pull: PullPolicy::Never,
        labels,
        env: vec![("POSTGRES_PASSWORD".into(), "not-logged".into())],
        container_port: 5432,
        host_port: 0,
        volume: name.clone(),
        volume_target: "/data".into(),
        args: vec![],
    };
    (spec, Cleanup { name })
}

/// `docker exec NAME busybox sh -c SCRIPT`, its stdout.
fn exec(name: &str, script: &str) -> String {
    let out = Command::new("docker")
        .args(["exec", name, "/bin/busybox", "sh", "-c", script])
        .output()
        .expect("docker exec");
    assert!(out.status.success(), "docker exec {name} {script}: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn a_container_is_created_reused_stopped_restarted_and_removed() {
    let Some(docker) = docker().await else { return };
    let (spec, _cleanup) = spec("life");
    let label = [(LABEL_ENV, "life"), (LABEL_PROJECT, "dbenv-test")];

    let t = Instant::now();
    let first = docker.ensure_running(&spec).await.unwrap();
    eprintln!("TIMING create+start: {:?}", t.elapsed());
    assert!(first.created && first.started, "{first:?}");
    assert_ne!(first.host_port, 0);
    std::net::TcpStream::connect(("127.0.0.1", first.host_port)).unwrap();

    let again = docker.ensure_running(&spec).await.unwrap();
    assert_eq!(again.id, first.id);
    assert_eq!(again.host_port, first.host_port);
    assert!(!again.created && !again.started, "{again:?}");

    let listed = docker.list(&label).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].name, spec.name);
    assert_eq!(listed[0].id, first.id);
    assert!(listed[0].is_running());
    assert_eq!(listed[0].labels.get(LABEL_ENGINE).unwrap(), "postgres");
    let volumes = docker.list_volumes(&label).await.unwrap();
    assert_eq!(volumes.len(), 1, "{volumes:?}");
    assert_eq!(volumes[0].name, spec.volume);

    exec(&spec.name, "echo kept > /data/marker");
    assert!(docker.stop(&spec.name).await.unwrap());
    assert!(
        !docker.stop(&spec.name).await.unwrap(),
        "stop is idempotent"
    );
    match docker.health(&spec.name).await.unwrap() {
        Health::Stopped { id, exit_code, .. } => {
            assert_eq!(id, first.id);
            assert_eq!(exit_code, Some(0));
        }
        other => panic!("{other:?}"),
    }
    assert!(!docker.list(&label).await.unwrap()[0].is_running());

    let t = Instant::now();
    let restarted = docker.ensure_running(&spec).await.unwrap();
    eprintln!("TIMING start of a stopped container: {:?}", t.elapsed());
    assert_eq!(restarted.id, first.id);
    assert_eq!(restarted.host_port, first.host_port);
    assert!(!restarted.created && restarted.started, "{restarted:?}");
    assert_eq!(exec(&spec.name, "cat /data/marker").trim(), "kept");
    assert_eq!(
        docker.health(&spec.name).await.unwrap(),
        Health::Running {
            id: first.id.clone(),
            host_port: first.host_port
        }
    );

    assert!(docker.remove(&spec.name, Some(&spec.volume)).await.unwrap());
    assert_eq!(docker.health(&spec.name).await.unwrap(), Health::Missing);
    assert!(docker.list(&label).await.unwrap().is_empty());
    assert!(docker.list_volumes(&label).await.unwrap().is_empty());
    assert!(!docker.remove(&spec.name, Some(&spec.volume)).await.unwrap());
    assert!(!docker.stop(&spec.name).await.unwrap());
}

#[tokio::test]
async fn pull_never_with_an_absent_image_says_how_to_get_it() {
    let Some(docker) = docker().await else { return };
    let (mut spec, _cleanup) = spec("never");
    spec.image = format!("dbenv-test/absent:{}", std::process::id());
    let err = docker.ensure_running(&spec).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "image {0} is not present locally and pull = \"never\" in [env.never]: run \
             `docker pull {0}`, or set pull = \"missing\"",
            spec.image
        )
    );
    assert_eq!(docker.health(&spec.name).await.unwrap(), Health::Missing);
}

#[tokio::test]
async fn pull_missing_with_an_unreachable_registry_names_the_image() {
    let Some(docker) = docker().await else { return };
    let (mut spec, _cleanup) = spec("missing");
    spec.image = format!("dbenv-test/absent:{}", std::process::id());
    spec.pull = PullPolicy::Missing;
    assert!(!docker.image_present(&spec.image).await.unwrap());
    let err = docker.ensure_running(&spec).await.unwrap_err().to_string();
    eprintln!("{err}");
    let head = format!(
        "cannot pull image {} (pull = \"missing\" in [env.missing]): ",
        spec.image
    );
    assert!(err.starts_with(&head), "{err}");
    assert!(
        err.contains(&format!("`docker pull {}`", spec.image)),
        "{err}"
    );
    assert!(!err.contains("not-logged"), "{err}");
    assert_eq!(docker.health(&spec.name).await.unwrap(), Health::Missing);
}

#[tokio::test]
async fn a_taken_port_fails_at_once_with_what_to_do() {
    let Some(docker) = docker().await else { return };
    let (mut spec, _cleanup) = spec("porttaken");
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port();
    spec.host_port = port;
    let err = docker.ensure_running(&spec).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "port {port} on 127.0.0.1 is already in use (container {} publishes its server \
             there); free it or set port = 0 (any free port) or another port in \
             [env.porttaken] of dbenv.toml",
            spec.name
        )
    );
    assert_eq!(docker.health(&spec.name).await.unwrap(), Health::Missing);
    drop(holder);
}

#[tokio::test]
async fn a_stopped_container_whose_port_was_taken_meanwhile_is_not_started() {
    let Some(docker) = docker().await else { return };
    let (spec, _cleanup) = spec("portlater");
    let first = docker.ensure_running(&spec).await.unwrap();
    docker.stop(&spec.name).await.unwrap();
    let holder = TcpListener::bind(("127.0.0.1", first.host_port)).unwrap();
    let err = docker.ensure_running(&spec).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "port {} on 127.0.0.1 is already in use",
            first.host_port
        )),
        "{err}"
    );
    drop(holder);
    let again = docker.ensure_running(&spec).await.unwrap();
    assert_eq!((again.id, again.host_port), (first.id, first.host_port));
}

#[tokio::test]
async fn an_unreachable_engine_says_to_start_docker() {
    let err = Docker::connect_with_host(UNREACHABLE).await.unwrap_err();
    assert_unreachable(&err.to_string());
}

fn assert_unreachable(err: &str) {
    eprintln!("{err}");
    let head = format!("cannot reach the Docker engine at {UNREACHABLE}: ");
    let tail = " — is Docker running? (start it, or set provider = \"native\" in the env's \
                section of dbenv.toml to use the server binaries installed on this machine)";
    assert!(err.starts_with(&head), "{err}");
    assert!(err.ends_with(tail), "{err}");
}

/// Runs this test binary again with `DOCKER_HOST` pointing nowhere (the process environment
/// cannot be changed safely from a multi-threaded test).
#[test]
fn docker_host_is_honoured() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "child_connects_through_docker_host", "--ignored"])
        .args(["--nocapture", "--test-threads=1"])
        .env("DOCKER_HOST", UNREACHABLE)
        .env("DBENV_TEST_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[tokio::test]
#[ignore = "run by docker_host_is_honoured with DOCKER_HOST set"]
async fn child_connects_through_docker_host() {
    if std::env::var("DBENV_TEST_CHILD").is_err() {
        return;
    }
    let err = Docker::connect().await.unwrap_err();
    assert_unreachable(&err.to_string());
}

#[tokio::test]
async fn a_server_that_exits_at_once_is_reported_with_its_exit_code_and_logs() {
    let Some(docker) = docker().await else { return };
    let (mut spec, _cleanup) = spec("dies");
    spec.args = ["sh", "-c", "echo 'FATAL: boom' >&2; exit 3"]
        .map(String::from)
        .to_vec();
    // Either ensure_running sees it die, or it dies just after and health sees it.
    let id = match docker.ensure_running(&spec).await {
        Err(e) => {
            let e = e.to_string();
            assert!(
                e.contains("stopped right after it started, with exit code 3"),
                "{e}"
            );
            assert!(e.contains("FATAL: boom"), "{e}");
            docker.list(&[(LABEL_ENV, "dies")]).await.unwrap()[0]
                .id
                .clone()
        }
        Ok(running) => running.id,
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let health = loop {
        match docker.health(&spec.name).await.unwrap() {
            Health::Running { .. } if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => break other,
        }
    };
    assert_eq!(
        health,
        Health::Stopped {
            id,
            status: "exited".into(),
            exit_code: Some(3)
        }
    );
    let logs = docker.logs_tail(&spec.name, 20).await.unwrap();
    assert!(logs.contains("FATAL: boom"), "{logs:?}");
    assert_eq!(docker.logs_tail("dbenv-test-no-such", 5).await.unwrap(), "");
}

#[tokio::test]
async fn a_container_made_from_another_image_is_not_used() {
    let Some(docker) = docker().await else { return };
    let (spec, _cleanup) = spec("otherimage");
    docker.ensure_running(&spec).await.unwrap();
    let other = format!("dbenv-test/tiny:other-{}", std::process::id());
    let tagged = Command::new("docker")
        .args(["tag", TINY, &other])
        .status()
        .unwrap();
    assert!(tagged.success());
    let changed = ContainerSpec {
        image: other.clone(),
        ..spec.clone()
    };
    let err = docker
        .ensure_running(&changed)
        .await
        .unwrap_err()
        .to_string();
    let _ = Command::new("docker").args(["rmi", &other]).output();
    assert_eq!(
        err,
        format!(
            "container {} runs image {TINY} but [env.otherimage] asks for {other}: run `dbenv \
             down --purge otherimage` to delete it and its data, then `dbenv up otherimage`, \
             or set image = \"{TINY}\" back",
            spec.name
        )
    );
}

#[tokio::test]
async fn a_container_not_made_by_dbenv_is_left_alone() {
    let Some(docker) = docker().await else { return };
    let (spec, _cleanup) = spec("foreign");
    let created = Command::new("docker")
        .args(["create", "--name", &spec.name, TINY])
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let err = docker.ensure_running(&spec).await.unwrap_err().to_string();
    assert!(
        err.starts_with(&format!(
            "a container named {} exists but dbenv did not create it",
            spec.name
        )),
        "{err}"
    );
}

#[tokio::test]
async fn a_new_port_recreates_the_container_and_keeps_the_data() {
    let Some(docker) = docker().await else { return };
    let (mut spec, _cleanup) = spec("newport");
    let first = docker.ensure_running(&spec).await.unwrap();
    exec(&spec.name, "echo kept > /data/marker");
    spec.host_port = free_port();
    let moved = docker.ensure_running(&spec).await.unwrap();
    assert_ne!(moved.id, first.id);
    assert_eq!(moved.host_port, spec.host_port);
    assert!(moved.created && moved.started, "{moved:?}");
    assert_eq!(exec(&spec.name, "cat /data/marker").trim(), "kept");
}

#[test]
fn debug_output_never_shows_passwords() {
    let (spec, _cleanup) = spec("debug");
    let text = format!("{spec:?}");
    assert!(!text.contains("not-logged"), "{text}");
    assert!(text.contains("POSTGRES_PASSWORD=***"), "{text}");
}

/// A real server image, when present locally (built by another script; skipped otherwise).
struct Server {
    test: &'static str,
    image: &'static str,
    env: &'static [(&'static str, &'static str)],
    port: u16,
    data: &'static str,
    /// Runs SQL through the image's own client over TCP; `{}` is the SQL.
    client: &'static str,
}

const POSTGRES: Server = Server {
    test: "pg",
    image: "dbenv-test/postgres:15",
    env: &[("POSTGRES_PASSWORD", "pw-not-logged")],
    port: 5432,
    data: "/var/lib/postgresql/data",
    client: "PGPASSWORD=pw-not-logged psql -h 127.0.0.1 -U postgres -tAc \"{}\"",
};

const MARIADB: Server = Server {
    test: "maria",
    image: "dbenv-test/mariadb:10.11",
    env: &[
        ("MARIADB_ROOT_PASSWORD", "pw-not-logged"),
        ("MARIADB_DATABASE", "app"),
    ],
    port: 3306,
    data: "/var/lib/mysql",
    client: "mariadb -h 127.0.0.1 -uroot -ppw-not-logged -N app -e \"{}\"",
};

/// Run `sql` in the container through the server's client, retrying until `deadline`.
fn sql(name: &str, server: &Server, sql: &str, deadline: Instant) -> String {
    let script = server.client.replace("{}", sql);
    loop {
        let out = Command::new("docker")
            .args(["exec", name, "sh", "-c", &script])
            .output()
            .unwrap();
        if out.status.success() {
            return String::from_utf8_lossy(&out.stdout).trim().to_string();
        }
        assert!(Instant::now() < deadline, "{script}: {out:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

async fn real_server_keeps_its_data(server: Server) {
    let Some(docker) = docker().await else { return };
    if !docker.image_present(server.image).await.unwrap() {
        eprintln!(
            "\n**** SKIP: {} is not built: the real-server test did not run ****\n",
            server.image
        );
        return;
    }
    let (mut spec, _cleanup) = spec(server.test);
    spec.image = server.image.into();
    spec.env = server
        .env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    spec.container_port = server.port;
    spec.volume_target = server.data.into();

    let t = Instant::now();
    let first = docker.ensure_running(&spec).await.unwrap();
    let started = t.elapsed();
    let ready = Instant::now() + Duration::from_secs(120);
    sql(
        &spec.name,
        &server,
        "create table kept (v int); insert into kept values (42)",
        ready,
    );
    eprintln!(
        "TIMING {}: create+start {started:?}, ready {:?}",
        server.image,
        t.elapsed()
    );

    let t = Instant::now();
    assert!(docker.stop(&spec.name).await.unwrap());
    eprintln!("TIMING {}: stop {:?}", server.image, t.elapsed());
    match docker.health(&spec.name).await.unwrap() {
        Health::Stopped { exit_code, .. } => assert_eq!(exit_code, Some(0)),
        other => panic!("{other:?}"),
    }

    let t = Instant::now();
    let again = docker.ensure_running(&spec).await.unwrap();
    let started = t.elapsed();
    assert_eq!((&again.id, again.host_port), (&first.id, first.host_port));
    let ready = Instant::now() + Duration::from_secs(60);
    assert_eq!(sql(&spec.name, &server, "select v from kept", ready), "42");
    eprintln!(
        "TIMING {}: restart {started:?}, ready {:?}",
        server.image,
        t.elapsed()
    );
    let logs = docker.logs_tail(&spec.name, 200).await.unwrap();
    assert!(
        !logs.contains("pw-not-logged"),
        "the password leaked into the logs"
    );
    assert!(docker.remove(&spec.name, Some(&spec.volume)).await.unwrap());
}

#[tokio::test]
async fn a_real_postgres_keeps_its_data_across_stop_and_start() {
    real_server_keeps_its_data(POSTGRES).await;
}

#[tokio::test]
async fn a_real_mariadb_keeps_its_data_across_stop_and_start() {
    real_server_keeps_its_data(MARIADB).await;
}

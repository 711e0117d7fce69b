//! What the server-engine tests need: the locally built images and the native server
//! binaries, checked once, with a loud SKIP (or, under `DBENV_TEST_REQUIRE=all`, a failure
//! that says what to install).

use std::path::Path;
use std::process::Command;

use dbenv::engine::{AnyBackend, Backend, EngineKind};

/// The images `scripts/images.sh` builds: PostgreSQL and MariaDB behind the official
/// images' interface (environment variables, ports, data folders).
pub const PG_IMAGE: &str = "dbenv-test/postgres:15";
pub const MARIADB_IMAGE: &str = "dbenv-test/mariadb:10.11";

fn require_all() -> bool {
    std::env::var("DBENV_TEST_REQUIRE").is_ok_and(|v| v == "all")
}

fn missing(what: &str, fix: &str) -> bool {
    if require_all() {
        panic!("{what} is missing, and DBENV_TEST_REQUIRE=all requires it: {fix}");
    }
    eprintln!("\n**** SKIP: {what} is missing: {fix} ****\n");
    false
}

/// Docker answers and `image` is present locally.
pub fn have_image(image: &str) -> bool {
    let docker = Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .output();
    if !docker.is_ok_and(|o| o.status.success()) {
        return missing("a reachable Docker engine", "start Docker (dockerd)");
    }
    let inspect = Command::new("docker")
        .args(["image", "inspect", image])
        .output();
    if inspect.is_ok_and(|o| o.status.success()) {
        return true;
    }
    missing(
        &format!("the image {image}"),
        "run `bash scripts/images.sh` (scripts/test.sh does it)",
    )
}

/// The server binaries of `engine` are installed where dbenv's native provider looks.
pub fn have_native(engine: &str) -> bool {
    let found = match engine {
        "postgres" => glob_bin("/usr/lib/postgresql", "bin/initdb") || on_path("initdb"),
        _ => Path::new("/usr/sbin/mariadbd").exists() || on_path("mariadbd"),
    };
    if found {
        return true;
    }
    let package = if engine == "postgres" {
        "postgresql"
    } else {
        "mariadb-server"
    };
    missing(
        &format!("the {engine} server binaries"),
        &format!("apt-get install {package} (scripts/test.sh does it)"),
    )
}

fn glob_bin(dir: &str, rel: &str) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| e.path().join(rel).exists())
}

fn on_path(bin: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(bin).exists()))
}

/// Docker CLI, for checks from outside dbenv.
pub fn docker(args: &[&str]) -> std::process::Output {
    Command::new("docker").args(args).output().unwrap()
}

pub fn engine_of(url: &str, engine: &str) -> EngineKind {
    match engine {
        "postgres" => EngineKind::Postgres,
        "mysql" => EngineKind::Mysql,
        "mariadb" => EngineKind::Mariadb,
        _ => panic!("no server engine {engine} for {url}"),
    }
}

/// Connect to `url` through dbenv's own engine layer.
pub async fn connect(engine: EngineKind, url: &str) -> AnyBackend {
    AnyBackend::connect(engine, url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"))
}

/// Every value of `column` in `table`, as text, in primary-key order.
pub async fn column_text(db: &mut AnyBackend, table: &str, column: &str) -> Vec<String> {
    db.select_values(table, &[column.to_string()])
        .await
        .unwrap()
        .into_iter()
        .map(|row| row[0].to_sql_literal())
        .collect()
}

/// Prove the data sound from outside the generator: every foreign key points at a row
/// (the engine's own check) and no primary or unique key repeats (checked here).
pub async fn assert_integrity(db: &mut AnyBackend) {
    let violations = db.foreign_key_violations().await.unwrap();
    assert!(violations.is_empty(), "foreign keys broken: {violations:?}");
    let schema = db.introspect().await.unwrap();
    for table in &schema.tables {
        for key in table.unique_keys() {
            let rows = db.select_values(&table.name, key).await.unwrap();
            let mut seen = std::collections::HashSet::new();
            for row in rows.iter().filter(|r| r.iter().all(|v| !v.is_null())) {
                let mut enc = Vec::new();
                row.iter().for_each(|v| v.encode_into(&mut enc));
                assert!(
                    seen.insert(enc),
                    "duplicate {}({}) = {row:?}",
                    table.name,
                    key.join(", ")
                );
            }
        }
    }
}

//! One native server per engine shared by the engine test binaries, started through dbenv's
//! own native provider in `$TMPDIR/dbenv-test-servers/<engine>/` when no server URL is given.
//! It keeps running after the tests (the next run reuses it in milliseconds);
//! `scripts/test.sh` stops it at the end.
#![allow(dead_code)]

use std::path::PathBuf;
use std::time::Duration;

use dbenv::engine::EngineKind;
use dbenv::provider::native::{self, NativeServer, NativeSpec};

const PASSWORD: &str = "dbenv-test-only";

/// The admin URL of the shared native server of `engine`, started when needed; `None` when
/// the engine's server binaries are not installed.
pub fn native_server_url(engine: EngineKind) -> Option<String> {
    // Under the temporary folder, not the checkout: as root the server runs as an
    // unprivileged user, who may not be able to reach a private checkout.
    let dir = std::env::temp_dir()
        .join("dbenv-test-servers")
        .join(engine.as_str());
    native::locate(engine, None).ok()?;
    // A thread of its own: callers may already be inside a tokio runtime.
    let url = std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(start(engine, dir))
    })
    .join()
    .unwrap();
    Some(url)
}

/// The admin URL of a PostgreSQL server for `what` (a test): `DBENV_TEST_PG_URL`, else the
/// shared native server; when there is neither, `None` after a loud SKIP line (a failure
/// under `DBENV_TEST_REQUIRE=all`).
pub fn postgres_url_or_skip(what: &str) -> Option<String> {
    if let Ok(url) = std::env::var("DBENV_TEST_PG_URL")
        && !url.is_empty()
    {
        return Some(url);
    }
    let url = native_server_url(EngineKind::Postgres);
    if url.is_none() {
        assert_ne!(
            std::env::var("DBENV_TEST_REQUIRE").as_deref(),
            Ok("all"),
            "no PostgreSQL server"
        );
        eprintln!("**** SKIP: no PostgreSQL: {what} did not run ****");
    }
    url
}

async fn start(engine: EngineKind, dir: PathBuf) -> String {
    std::fs::create_dir_all(&dir).unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        let open = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(dir.parent().unwrap(), open.clone()).unwrap();
        std::fs::set_permissions(&dir, open).unwrap();
    }
    let _lock = dbenv::state::FileLock::acquire(
        &dir.join("test.lock"),
        Duration::from_secs(300),
        "test server",
    )
    .unwrap_or_else(|_| panic!("the shared {engine} test server is locked"));
    let state = dir.join("server.json");
    let previous: Option<NativeServer> = std::fs::read(&state)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok());
    let user = if engine == EngineKind::Postgres {
        "postgres"
    } else {
        "root"
    };
    let spec = NativeSpec {
        engine,
        dir: &dir,
        port: 0,
        user,
        password: PASSWORD,
        bin_dir: None,
        // Throwaway test data: no fsync, as the fixture library's own test servers.
        durable: false,
    };
    let server = native::ensure_running(&spec, previous.as_ref())
        .await
        .unwrap_or_else(|e| panic!("cannot start the shared {engine} test server: {e}"));
    std::fs::write(&state, serde_json::to_vec(&server).unwrap()).unwrap();
    let endpoint = native::endpoint(&server, user, PASSWORD);
    endpoint.url(endpoint.admin_database())
}

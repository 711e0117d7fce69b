//! Servers for the replication tests, in a temporary folder, stopped when dropped (even
//! when the test fails): a PostgreSQL primary with a streaming standby (`pg_basebackup -R`),
//! and a MariaDB primary with a GTID replica. Both use the password [`SENTINEL`], which no
//! output of dbenv may ever show.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbenv::engine::EngineKind;
use dbenv::provider::native::{self, NativeServer, NativeSpec};
use sqlx::{Connection, Executor, MySqlConnection, PgConnection};

/// The password of every test server: it must never appear in dbenv's output.
pub const SENTINEL: &str = "Sentinel-Pw-7f3a9c";

/// A folder the servers' unprivileged account can reach (dbenv runs them as `postgres` or
/// `mysql` when the tests run as root).
fn scratch(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix(prefix).tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// Run `fut` to completion on a runtime of its own (from `Drop`, or inside a test's runtime).
fn block_on_thread<F, T>(fut: F) -> T
where
    F: std::future::Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(fut)
    })
    .join()
    .unwrap()
}

/// A PostgreSQL primary and its streaming standby.
pub struct PgPair {
    pub primary: NativeServer,
    pub replica: NativeServer,
    _dir: tempfile::TempDir,
}

impl PgPair {
    pub async fn start() -> PgPair {
        let dir = scratch("dbenv-repl-pg-");
        let primary = pg_server(&dir.path().join("primary")).await;
        let replica_dir = dir.path().join("replica");
        std::fs::create_dir_all(&replica_dir).unwrap();
        let started = Instant::now();
        let out = Command::new(primary.bin_dir.join("pg_basebackup"))
            .args(["-h", "127.0.0.1", "-U", "postgres", "-R", "-X", "stream"])
            .args(["--checkpoint=fast", "-p"])
            .arg(primary.port.to_string())
            .arg("-D")
            .arg(replica_dir.join("data"))
            .env("PGPASSWORD", SENTINEL)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_basebackup: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("pg_basebackup: {} ms", started.elapsed().as_millis());
        // The data folder exists: the native provider only starts it (as a standby).
        let replica = pg_server(&replica_dir).await;
        PgPair {
            primary,
            replica,
            _dir: dir,
        }
    }

    pub fn primary_url(&self, database: &str) -> String {
        url("postgres", self.primary.port, database)
    }

    pub fn replica_url(&self, database: &str) -> String {
        url("postgres", self.replica.port, database)
    }

    pub async fn primary(&self, database: &str) -> PgConnection {
        PgConnection::connect(&self.primary_url(database))
            .await
            .unwrap()
    }

    pub async fn replica(&self, database: &str) -> PgConnection {
        PgConnection::connect(&self.replica_url(database))
            .await
            .unwrap()
    }

    pub async fn stop_replica(&self) {
        native::stop(&self.replica).await.unwrap();
    }

    pub async fn stop_primary(&self) {
        native::stop(&self.primary).await.unwrap();
    }
}

impl Drop for PgPair {
    fn drop(&mut self) {
        let servers = [self.replica.clone(), self.primary.clone()];
        block_on_thread(async move {
            for s in servers {
                if let Err(e) = native::stop(&s).await {
                    eprintln!("stopping {}: {e}", s.dir.display());
                }
            }
        });
    }
}

async fn pg_server(dir: &Path) -> NativeServer {
    let spec = NativeSpec {
        engine: EngineKind::Postgres,
        dir,
        port: 0,
        user: "postgres",
        password: SENTINEL,
        bin_dir: None,
        durable: false,
    };
    native::ensure_running(&spec, None)
        .await
        .unwrap_or_else(|e| panic!("starting PostgreSQL in {}: {e}", dir.display()))
}

fn url(scheme: &str, port: u16, database: &str) -> String {
    let user = if scheme == "postgres" {
        "postgres"
    } else {
        "root"
    };
    format!("{scheme}://{user}:{SENTINEL}@127.0.0.1:{port}/{database}")
}

/// One MariaDB server started by this harness (the native provider has no binary log).
pub struct Maria {
    pub dir: PathBuf,
    pub port: u16,
    child: std::process::Child,
}

/// A MariaDB primary (binary log on) and a replica following it by GTID.
pub struct MariaPair {
    pub primary: Maria,
    pub replica: Maria,
    _dir: tempfile::TempDir,
}

impl MariaPair {
    pub async fn start() -> MariaPair {
        let dir = scratch("dbenv-repl-maria-");
        let (primary, replica) = tokio::join!(
            maria(dir.path().join("primary"), 1, true),
            maria(dir.path().join("replica"), 2, false)
        );
        let mut conn = replica.connect("mysql").await;
        conn.execute(sqlx::AssertSqlSafe(format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {}, \
                 MASTER_USER = 'root', MASTER_PASSWORD = '{SENTINEL}', \
                 MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1",
            primary.port
        )))
        .await
        .unwrap();
        conn.execute("START REPLICA").await.unwrap();
        MariaPair {
            primary,
            replica,
            _dir: dir,
        }
    }
}

impl Maria {
    pub fn url(&self, database: &str) -> String {
        url("mysql", self.port, database)
    }

    pub async fn connect(&self, database: &str) -> MySqlConnection {
        MySqlConnection::connect(&self.url(database)).await.unwrap()
    }
}

impl Drop for Maria {
    /// SIGTERM (a clean shutdown), then SIGKILL if it takes more than 30 s.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while matches!(self.child.try_wait(), Ok(None)) {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn maria(dir: PathBuf, server_id: u32, log_bin: bool) -> Maria {
    // A temporary folder of its own: two bootstraps at once in /tmp have been seen to
    // trip over each other's temporary tables.
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).unwrap();
    let user: &[&str] = if is_root() { &["--user=mysql"] } else { &[] };
    if is_root() {
        let ok = Command::new("chown")
            .arg("mysql:mysql")
            .args([&dir, &tmp])
            .status()
            .unwrap();
        assert!(ok.success());
    }
    let out = tokio::process::Command::new("mariadb-install-db")
        .env("TMPDIR", &tmp)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .args(user)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "mariadb-install-db: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = free_port();
    let mut cmd = Command::new("/usr/sbin/mariadbd");
    cmd.arg("--no-defaults")
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg(format!("--port={port}"))
        .arg(format!("--socket={}", dir.join("s.sock").display()))
        .arg(format!("--log-error={}", dir.join("server.log").display()))
        .arg(format!("--tmpdir={}", tmp.display()))
        .args(["--bind-address=127.0.0.1", "--skip-name-resolve"])
        .args([
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-buffer-pool-size=16M",
        ])
        .arg(format!("--server-id={server_id}"))
        .args(user)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if log_bin {
        cmd.arg(format!("--log-bin={}", dir.join("data/bin").display()));
    }
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let server = Maria {
        dir: dir.clone(),
        port,
        child: cmd.spawn().unwrap(),
    };
    // Wait for the password-less root@127.0.0.1 that install-db creates, then give it the
    // sentinel password (not written to the binary log: the replica has its own).
    let bare = format!("mysql://root@127.0.0.1:{port}/mysql");
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut conn = loop {
        match MySqlConnection::connect(&bare).await {
            Ok(c) => break c,
            Err(e) if Instant::now() > deadline => panic!(
                "MariaDB in {} did not start: {e}\n{}",
                dir.display(),
                std::fs::read_to_string(dir.join("server.log")).unwrap_or_default()
            ),
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    };
    for sql in [
        "SET sql_log_bin = 0".to_string(),
        format!("ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '{SENTINEL}'"),
    ] {
        conn.execute(sqlx::AssertSqlSafe(sql)).await.unwrap();
    }
    server
}

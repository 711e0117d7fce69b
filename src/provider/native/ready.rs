//! Readiness is real: a server is ready when a query succeeds with the admin account.

use std::time::{Duration, Instant};

use crate::config::EngineKind;
use crate::provider::Endpoint;

/// Why a server did not become ready.
#[derive(Debug)]
pub(super) enum NotReady {
    /// The process exited.
    Died,
    /// The server answered and refused the account (wrong password, unknown user).
    Rejected(String),
    /// Still no successful query at the deadline; the last failure.
    TimedOut(String),
}

enum Probe {
    Ready,
    Retry(String),
    Rejected(String),
}

/// Poll `SELECT 1` through sqlx until it succeeds, `died()` says the process is gone, the
/// server refuses the account, or `timeout` passes.
pub(super) async fn wait_ready(
    ep: &Endpoint,
    timeout: Duration,
    mut died: impl FnMut() -> bool,
) -> Result<(), NotReady> {
    let deadline = Instant::now() + timeout;
    loop {
        let last = match probe(ep).await {
            Probe::Ready => return Ok(()),
            Probe::Rejected(why) => return Err(NotReady::Rejected(why)),
            Probe::Retry(why) => why,
        };
        if died() {
            return Err(NotReady::Died);
        }
        if Instant::now() >= deadline {
            return Err(NotReady::TimedOut(last));
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn probe(ep: &Endpoint) -> Probe {
    match tokio::time::timeout(Duration::from_secs(5), query(ep)).await {
        Err(_) => Probe::Retry("no answer within 5 s".into()),
        Ok(Ok(())) => Probe::Ready,
        Ok(Err(e)) => classify(e),
    }
}

/// Authorisation failures (SQLSTATE class 28) are final; everything else (refused
/// connections, "the database system is starting up") is worth another try.
fn classify(e: sqlx::Error) -> Probe {
    match &e {
        sqlx::Error::Database(db) if db.code().is_some_and(|c| c.starts_with("28")) => {
            Probe::Rejected(db.message().to_string())
        }
        _ => Probe::Retry(e.to_string()),
    }
}

async fn query(ep: &Endpoint) -> Result<(), sqlx::Error> {
    match ep.engine {
        EngineKind::Postgres => query_postgres(ep).await,
        _ => query_mysql(ep).await,
    }
}

#[cfg(feature = "postgres")]
async fn query_postgres(ep: &Endpoint) -> Result<(), sqlx::Error> {
    use sqlx::{ConnectOptions, Connection};
    let options = sqlx::postgres::PgConnectOptions::new()
        .host(&ep.host)
        .port(ep.port)
        .username(&ep.user)
        .password(&ep.password)
        .database(ep.admin_database())
        .disable_statement_logging();
    let mut conn = options.connect().await?;
    sqlx::query("SELECT 1").execute(&mut conn).await?;
    conn.close().await
}

#[cfg(feature = "mysql")]
async fn query_mysql(ep: &Endpoint) -> Result<(), sqlx::Error> {
    use sqlx::{ConnectOptions, Connection};
    let options = sqlx::mysql::MySqlConnectOptions::new()
        .host(&ep.host)
        .port(ep.port)
        .username(&ep.user)
        .password(&ep.password)
        .disable_statement_logging();
    let mut conn = options.connect().await?;
    sqlx::query("SELECT 1").execute(&mut conn).await?;
    conn.close().await
}

/// Without the engine's sqlx driver, a server that accepts TCP connections counts as ready.
#[cfg(not(feature = "postgres"))]
async fn query_postgres(ep: &Endpoint) -> Result<(), sqlx::Error> {
    accepts(ep).await
}

#[cfg(not(feature = "mysql"))]
async fn query_mysql(ep: &Endpoint) -> Result<(), sqlx::Error> {
    accepts(ep).await
}

#[cfg(not(all(feature = "postgres", feature = "mysql")))]
async fn accepts(ep: &Endpoint) -> Result<(), sqlx::Error> {
    // A local connect answers at once (accepted or refused); no need for an async socket.
    let addr = std::net::SocketAddr::new(
        ep.host
            .parse()
            .map_err(|_| sqlx::Error::Configuration("host".into()))?,
        ep.port,
    );
    std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .map(drop)
        .map_err(sqlx::Error::Io)
}

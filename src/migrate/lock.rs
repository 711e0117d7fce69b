//! The migration lock: two migrators of one database never run at once.
//!
//! On a server it is taken on a connection of its own, outside any pool, with a try-lock
//! polled every [`POLL`] until the timeout (never a blocking lock call, which would sit in
//! an open statement and could deadlock a `CREATE INDEX CONCURRENTLY`): PostgreSQL's
//! `pg_try_advisory_lock` and MySQL/MariaDB's `GET_LOCK(name, 0)`, under the key or name
//! sqlx derives, so sqlx-cli and dbenv keep each other out. On SQLite it is a lock file
//! beside the database. [`MigrationLock::release`] unlocks explicitly; dropping the lock
//! (an error path, a panic) closes its connection, which releases it on the server.

use std::path::Path;
use std::time::{Duration, Instant};

use tracing::info;

use super::MigrateError;
use crate::config::EngineKind;
use crate::state::FileLock;

/// How often a waiting migrator tries again.
pub const POLL: Duration = Duration::from_millis(200);
/// How often the "waiting for the migration lock" line is repeated.
const TELL_EVERY: Duration = Duration::from_secs(10);

/// What to lock: a SQLite file, or a server database by URL.
#[derive(Clone, Copy)]
pub enum LockTarget<'a> {
    Sqlite(&'a Path),
    Server { engine: EngineKind, url: &'a str },
}

/// A held migration lock.
#[derive(Debug)]
pub enum MigrationLock {
    File(FileLock),
    #[cfg(feature = "postgres")]
    Postgres(crate::engine::postgres::migrate_lock::PgLockSession),
    #[cfg(feature = "mysql")]
    Mysql(crate::engine::mysql::migrate_lock::MySqlLockSession),
}

impl MigrationLock {
    /// Take the lock, waiting up to `timeout` for its holder (named in the log and in the
    /// timeout error when the server says who it is).
    pub async fn acquire(target: LockTarget<'_>, timeout: Duration) -> Result<Self, MigrateError> {
        match target {
            LockTarget::Sqlite(path) => Ok(MigrationLock::File(super::lock_sqlite(path, timeout)?)),
            #[cfg(feature = "postgres")]
            LockTarget::Server {
                engine: EngineKind::Postgres,
                url,
            } => {
                use crate::engine::postgres::migrate_lock::PgLockSession;
                let session = PgLockSession::connect(url).await.map_err(lock_error)?;
                poll(session, timeout).await.map(MigrationLock::Postgres)
            }
            #[cfg(feature = "mysql")]
            LockTarget::Server {
                engine: EngineKind::Mysql | EngineKind::Mariadb,
                url,
            } => {
                use crate::engine::mysql::migrate_lock::MySqlLockSession;
                let session = MySqlLockSession::connect(url).await.map_err(lock_error)?;
                poll(session, timeout).await.map(MigrationLock::Mysql)
            }
            #[allow(unreachable_patterns)]
            LockTarget::Server { engine, .. } => Err(MigrateError::Io(format!(
                "this build of dbenv has no {engine} engine to take the migration lock with"
            ))),
        }
    }

    /// Unlock and close the lock's connection.
    pub async fn release(self) -> Result<(), MigrateError> {
        let released = match self {
            MigrationLock::File(lock) => {
                drop(lock);
                Ok(())
            }
            #[cfg(feature = "postgres")]
            MigrationLock::Postgres(s) => s.release().await,
            #[cfg(feature = "mysql")]
            MigrationLock::Mysql(s) => s.release().await,
        };
        released.map_err(|e| MigrateError::db("releasing the migration lock", e))
    }
}

#[allow(dead_code)] // with no server engine compiled in
fn lock_error(e: crate::Error) -> MigrateError {
    MigrateError::Io(e.to_string())
}

/// A connection that can try the lock once and say who holds it.
#[allow(async_fn_in_trait)]
trait LockSession {
    fn target(&self) -> &str;
    async fn try_once(&mut self) -> Result<bool, sqlx::Error>;
    async fn holder_of(&mut self) -> Option<String>;
}

#[cfg(feature = "postgres")]
impl LockSession for crate::engine::postgres::migrate_lock::PgLockSession {
    fn target(&self) -> &str {
        self.target()
    }
    async fn try_once(&mut self) -> Result<bool, sqlx::Error> {
        self.try_lock().await
    }
    async fn holder_of(&mut self) -> Option<String> {
        self.holder().await
    }
}

#[cfg(feature = "mysql")]
impl LockSession for crate::engine::mysql::migrate_lock::MySqlLockSession {
    fn target(&self) -> &str {
        self.target()
    }
    async fn try_once(&mut self) -> Result<bool, sqlx::Error> {
        self.try_lock().await
    }
    async fn holder_of(&mut self) -> Option<String> {
        self.holder().await
    }
}

#[allow(dead_code)] // with no server engine compiled in
async fn poll<S: LockSession>(mut session: S, timeout: Duration) -> Result<S, MigrateError> {
    let start = Instant::now();
    let mut told: Option<Instant> = None;
    loop {
        let taken = session.try_once().await.map_err(|e| {
            MigrateError::db(
                format!("taking the migration lock on {}", session.target()),
                e,
            )
        })?;
        if taken {
            if told.is_some() {
                info!(
                    waited_ms = start.elapsed().as_millis() as u64,
                    "took the migration lock"
                );
            }
            return Ok(session);
        }
        let holder = session.holder_of().await;
        if start.elapsed() >= timeout {
            return Err(MigrateError::LockTimeout {
                place: session.target().to_string(),
                waited: timeout,
                holder,
            });
        }
        if told.is_none_or(|t| t.elapsed() >= TELL_EVERY) {
            let by = holder.as_deref().unwrap_or("another migrator");
            info!(
                "waiting for the migration lock held by {by} on {} (up to {} s, --lock-timeout)",
                session.target(),
                timeout.as_secs()
            );
            told = Some(Instant::now());
        }
        tokio::time::sleep(
            POLL.min(timeout.saturating_sub(start.elapsed()))
                .max(Duration::from_millis(10)),
        )
        .await;
    }
}

//! The migration lock on PostgreSQL: a session-level advisory lock under sqlx's own key,
//! taken with `pg_try_advisory_lock` on a connection of its own (never the migrating one,
//! never a pooled one).
//!
//! The lock connection stays idle outside any transaction while the migration runs, so a
//! `CREATE INDEX CONCURRENTLY` on the migrating connection does not wait for it (it waits
//! for every open transaction, which is how sqlx's blocking `pg_advisory_lock` deadlocks a
//! waiting migrator against a concurrent index build). Ending the connection releases the
//! lock, so a crash or a panic cannot leave it behind.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::describe;
use crate::error::Error;

/// The key of the migration lock of `database`, derived exactly as sqlx-postgres derives
/// it (`generate_lock_id` in its `migrate.rs`), so sqlx-cli, `sqlx::migrate!` and dbenv
/// keep each other out.
pub fn lock_key(database: &str) -> i64 {
    const CRC_IEEE: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    0x3d32ad9e * i64::from(CRC_IEEE.checksum(database.as_bytes()))
}

/// A connection that holds (or tries to take) the migration lock of one database.
pub struct PgLockSession {
    conn: PgConnection,
    key: i64,
    target: String,
}

impl PgLockSession {
    /// Open the lock's own connection to the database `url` names.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options =
            PgConnectOptions::from_str(url).map_err(|e| Error::db("invalid PostgreSQL URL", e))?;
        let target = describe(&options);
        let mut conn = options
            .application_name("dbenv migrate")
            .connect()
            .await
            .map_err(|e| {
                Error::db(
                    format!("cannot connect to {target} for the migration lock"),
                    e,
                )
            })?;
        let database: String = sqlx::query_scalar("SELECT current_database()")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| Error::db(format!("reading the database name on {target}"), e))?;
        Ok(PgLockSession {
            conn,
            key: lock_key(&database),
            target,
        })
    }

    /// `database on host:port as user`, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// One attempt, without waiting: true when this session now holds the lock.
    pub async fn try_lock(&mut self) -> Result<bool, sqlx::Error> {
        sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(self.key)
            .fetch_one(&mut self.conn)
            .await
    }

    /// Who holds the lock, from `pg_locks` and `pg_stat_activity`: process id, application,
    /// user, client address and since when. `None` when it cannot be seen (or was released).
    pub async fn holder(&mut self) -> Option<String> {
        type Holder = (
            i32,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Holder> = sqlx::query_as(
            "SELECT a.pid, a.application_name, a.usename::text, host(a.client_addr), \
             to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') \
             FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
             WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 \
             AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             AND l.classid::bigint = ($1 >> 32) AND l.objid::bigint = ($1 & 4294967295) \
             LIMIT 1",
        )
        .bind(self.key)
        .fetch_optional(&mut self.conn)
        .await
        .ok()
        .flatten();
        let (pid, app, user, addr, since) = row?;
        let app = app
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "a client without application_name (sqlx-cli?)".into());
        let mut who = format!("{app} (pid {pid}");
        if let Some(user) = user {
            who.push_str(&format!(", user {user}"));
        }
        if let Some(addr) = addr {
            who.push_str(&format!(", from {addr}"));
        }
        if let Some(since) = since {
            who.push_str(&format!(", connected since {since} UTC"));
        }
        who.push(')');
        Some(who)
    }

    /// Release the lock and close the connection (closing alone would release it too).
    pub async fn release(mut self) -> Result<(), sqlx::Error> {
        let unlocked = sqlx::query_scalar::<_, bool>("SELECT pg_advisory_unlock($1)")
            .bind(self.key)
            .fetch_one(&mut self.conn)
            .await;
        let closed = self.conn.close().await;
        unlocked.map(drop).and(closed)
    }
}

impl std::fmt::Debug for PgLockSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgLockSession")
            .field("target", &self.target)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::lock_key;

    #[test]
    fn lock_key_is_sqlx_s() {
        // sqlx's formula with an independent CRC-32, itself checked on a known value.
        assert_eq!(
            crc32(b"The quick brown fox jumps over the lazy dog"),
            0x414F_A339
        );
        assert_eq!(
            lock_key("postgres"),
            0x3d32ad9e * i64::from(crc32(b"postgres"))
        );
        assert!(lock_key("app") > 0);
    }

    /// A plain bitwise CRC-32 (IEEE), independent of the `crc` crate.
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
}

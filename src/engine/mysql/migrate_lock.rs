//! The migration lock on MySQL/MariaDB: a named lock (`GET_LOCK(name, 0)`, polled) under
//! sqlx's own name, on a connection of its own. Ending the connection releases it.

use sqlx::ConnectOptions;
use sqlx::Connection;
use sqlx::mysql::MySqlConnection;

use super::introspect::text_rows;
use super::literal::str_literal;
use super::{describe, parse_url};
use crate::error::Error;

/// The name of the migration lock of `database`, derived exactly as sqlx-mysql derives it
/// (`generate_lock_id` in its `migrate.rs`): named locks are server-wide, so the database
/// name is part of it.
pub fn lock_name(database: &str) -> String {
    const CRC_IEEE: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
    format!(
        "{:x}",
        0x3d32ad9e * i64::from(CRC_IEEE.checksum(database.as_bytes()))
    )
}

/// A connection that holds (or tries to take) the migration lock of one database.
pub struct MySqlLockSession {
    conn: MySqlConnection,
    /// The lock name as a SQL string literal (hex digits only).
    name: String,
    target: String,
}

impl MySqlLockSession {
    /// Open the lock's own connection to the database `url` names.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let options = parse_url(url)?;
        let target = describe(&options);
        let mut conn = options.connect().await.map_err(|e| {
            Error::db(
                format!("cannot connect to {target} for the migration lock"),
                e,
            )
        })?;
        let rows = text_rows(&mut conn, "SELECT DATABASE()".into())
            .await
            .map_err(|e| Error::db(format!("reading the database name on {target}"), e))?;
        let database = rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .unwrap_or_default();
        Ok(MySqlLockSession {
            conn,
            name: str_literal(&lock_name(&database)),
            target,
        })
    }

    /// `user@host:port/database`, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// One attempt, without waiting: true when this session now holds the lock.
    pub async fn try_lock(&mut self) -> Result<bool, sqlx::Error> {
        let sql = format!("SELECT GET_LOCK({}, 0)", self.name);
        let rows = text_rows(&mut self.conn, sql).await?;
        Ok(rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .as_deref()
            == Some("1"))
    }

    /// Who holds the lock: its connection id (`IS_USED_LOCK`) and, when this user may see
    /// it, the user, host and command from the process list.
    pub async fn holder(&mut self) -> Option<String> {
        let sql = format!(
            "SELECT CAST(l.id AS CHAR), p.USER, p.HOST, p.COMMAND, CAST(p.TIME AS CHAR) \
             FROM (SELECT IS_USED_LOCK({}) AS id) l \
             LEFT JOIN information_schema.PROCESSLIST p ON p.ID = l.id WHERE l.id IS NOT NULL",
            self.name
        );
        let rows = text_rows(&mut self.conn, sql).await.ok()?;
        let row = rows.first()?;
        let cell = |i: usize| row.get(i).cloned().flatten();
        let mut who = format!("connection {}", cell(0)?);
        if let (Some(user), Some(host)) = (cell(1), cell(2)) {
            who.push_str(&format!(" ({user}@{host}"));
            if let (Some(command), Some(time)) = (cell(3), cell(4)) {
                who.push_str(&format!(", {command} for {time} s"));
            }
            who.push(')');
        }
        Some(who)
    }

    /// Release the lock and close the connection (closing alone would release it too).
    pub async fn release(mut self) -> Result<(), sqlx::Error> {
        let sql = format!("SELECT RELEASE_LOCK({})", self.name);
        let released = text_rows(&mut self.conn, sql).await;
        let closed = self.conn.close().await;
        released.map(drop).and(closed)
    }
}

impl std::fmt::Debug for MySqlLockSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MySqlLockSession")
            .field("target", &self.target)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn lock_name_is_sqlx_s() {
        // format!("{:x}", 0x3d32ad9e * crc32("app")), computed with Python's zlib.crc32.
        assert_eq!(super::lock_name("app"), "3027310f4fd382c2");
    }
}

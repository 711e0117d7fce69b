//! MySQL and MariaDB: the primary's binary log position, each replica's
//! `SHOW REPLICA STATUS` (`SHOW SLAVE STATUS` on older servers): both threads running, their
//! last errors, `Seconds_Behind_Master`, and how far the executed position trails the
//! primary's. `Seconds_Behind_Master` only measures the SQL thread against what the IO
//! thread has fetched, so it reads 0 while the IO thread lags: the heartbeat covers that.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::mysql::{MySqlConnectOptions, MySqlConnection};
use sqlx::{AssertSqlSafe, Column, ConnectOptions, Connection, Executor, Row};

use super::heartbeat::{self, Poll, Seen, Written};
use super::target::Target;
use super::{Ctx, PrimaryReport, ReplicaReport, Severity, timed};

type Res<T> = Result<T, String>;
/// One row of a text-protocol result, by column name.
type Named = BTreeMap<String, Option<String>>;

struct Primary {
    report: PrimaryReport,
    /// The binary log file and position being written.
    binlog: Option<(String, u64)>,
    heartbeat: Option<Written>,
}

pub(super) async fn check(ctx: &Ctx<'_>) -> (PrimaryReport, Vec<ReplicaReport>) {
    let limit = ctx.options.timeout;
    let (primary_conn, replica_conns) = tokio::join!(
        connect(ctx.primary, limit),
        futures_util::future::join_all(ctx.replicas.iter().map(|r| connect(r, limit)))
    );
    let primary = primary_view(ctx, primary_conn).await;
    if !primary.report.reachable {
        return (primary.report, Vec::new());
    }
    let replicas = futures_util::future::join_all(
        ctx.replicas
            .iter()
            .zip(replica_conns)
            .map(|(t, conn)| replica_view(ctx, &primary, t, conn)),
    )
    .await;
    (primary.report, replicas)
}

async fn connect(target: &Target, limit: Duration) -> Res<MySqlConnection> {
    let options = MySqlConnectOptions::from_str(&target.url)
        .map_err(|_| "invalid MySQL/MariaDB URL (not shown: it may hold a password)".to_string())?
        .charset("utf8mb4");
    timed(limit, "connecting", options.connect()).await
}

async fn close(conn: MySqlConnection) {
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
}

/// Every row of `sql` (text protocol), cells as text by column name.
async fn named(
    conn: &mut MySqlConnection,
    limit: Duration,
    what: &str,
    sql: &str,
) -> Res<Vec<Named>> {
    let rows = timed(limit, what, conn.fetch_all(AssertSqlSafe(sql.to_string()))).await?;
    rows.iter()
        .map(|row| {
            row.columns()
                .iter()
                .map(|c| {
                    let raw: Option<&[u8]> = row
                        .try_get_unchecked(c.ordinal())
                        .map_err(|e| format!("{what}: column {}: {e}", c.name()))?;
                    Ok((
                        c.name().to_string(),
                        raw.map(|b| String::from_utf8_lossy(b).into_owned()),
                    ))
                })
                .collect()
        })
        .collect()
}

/// The first of `names` the row has (MySQL 8.4 says Source where MariaDB says Master).
fn field<'a>(row: &'a Named, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| row.get(*n)?.as_deref())
}

async fn primary_view(ctx: &Ctx<'_>, conn: Res<MySqlConnection>) -> Primary {
    let mut p = Primary {
        report: PrimaryReport {
            target: ctx.primary.label.clone(),
            ..Default::default()
        },
        binlog: None,
        heartbeat: None,
    };
    let mut conn = match conn {
        Ok(c) => c,
        Err(e) => {
            p.report.add(
                Severity::Unknown,
                format!("primary {} unreachable: {e}", ctx.primary.label),
            );
            return p;
        }
    };
    p.report.reachable = true;
    if let Err(e) = read_primary(ctx, &mut conn, &mut p).await {
        p.report.add(Severity::Critical, e);
    }
    close(conn).await;
    p
}

async fn read_primary(ctx: &Ctx<'_>, conn: &mut MySqlConnection, p: &mut Primary) -> Res<()> {
    let limit = ctx.options.timeout;
    let state = named(
        conn,
        limit,
        "reading the primary's state",
        "SELECT VERSION() AS version",
    )
    .await?;
    p.report.server_version = state
        .first()
        .and_then(|r| field(r, &["version"]))
        .map(str::to_string);
    p.report.migration_version = migration_version(conn, limit).await?;
    p.binlog = binlog_position(conn, limit).await?;
    match &p.binlog {
        Some((file, pos)) => p.report.position = Some(format!("{file}:{pos}")),
        None => p.report.add(
            Severity::Critical,
            "the binary log is off on the primary (SHOW MASTER STATUS is empty): replicas cannot follow it; start the server with log_bin",
        ),
    }
    if ctx.heartbeat {
        match write_heartbeat(conn, limit).await {
            Ok(w) => {
                p.heartbeat = Some(w);
                p.report.heartbeat_written = true;
            }
            Err(e) => p.report.add(
                Severity::Warning,
                format!("heartbeat not written ({e}); the env's user needs CREATE and INSERT on the database, or set heartbeat = false"),
            ),
        }
    }
    Ok(())
}

async fn binlog_position(
    conn: &mut MySqlConnection,
    limit: Duration,
) -> Res<Option<(String, u64)>> {
    let rows = match named(
        conn,
        limit,
        "reading the binary log position",
        "SHOW MASTER STATUS",
    )
    .await
    {
        Ok(rows) => rows,
        // MySQL 8.4 renamed it.
        Err(_) => {
            named(
                conn,
                limit,
                "reading the binary log position",
                "SHOW BINARY LOG STATUS",
            )
            .await?
        }
    };
    Ok(rows.first().and_then(|r| {
        let file = field(r, &["File"])?.to_string();
        let pos = field(r, &["Position"])?.parse().ok()?;
        Some((file, pos))
    }))
}

async fn migration_version(conn: &mut MySqlConnection, limit: Duration) -> Res<Option<i64>> {
    let rows = named(
        conn,
        limit,
        "looking for _sqlx_migrations",
        "SELECT COUNT(*) AS n FROM information_schema.tables \
         WHERE table_schema = DATABASE() AND table_name = '_sqlx_migrations'",
    )
    .await?;
    if rows.first().and_then(|r| field(r, &["n"])) != Some("1") {
        return Ok(None);
    }
    let rows = named(
        conn,
        limit,
        "reading _sqlx_migrations",
        "SELECT MAX(version) AS v FROM _sqlx_migrations WHERE success",
    )
    .await?;
    Ok(rows
        .first()
        .and_then(|r| field(r, &["v"]))
        .and_then(|v| v.parse().ok()))
}

async fn write_heartbeat(conn: &mut MySqlConnection, limit: Duration) -> Res<Written> {
    // The time in microseconds since the epoch, as the primary's clock says (statement-based
    // replication replays NOW() with the primary's timestamp too).
    for (what, sql) in [
        (
            "creating _dbenv_heartbeat",
            "CREATE TABLE IF NOT EXISTS _dbenv_heartbeat (id INT PRIMARY KEY, seq BIGINT NOT NULL, written_us BIGINT NOT NULL)",
        ),
        (
            "writing the heartbeat",
            "INSERT INTO _dbenv_heartbeat (id, seq, written_us) VALUES (1, 1, CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)) \
          ON DUPLICATE KEY UPDATE seq = seq + 1, written_us = CAST(UNIX_TIMESTAMP(NOW(6)) * 1000000 AS SIGNED)",
        ),
    ] {
        timed(limit, what, conn.execute(sql)).await?;
    }
    let row = read_heartbeat_row(conn, limit).await?;
    let (seq, primary_time) = row.ok_or("the heartbeat row vanished after writing it")?;
    Ok(Written {
        seq,
        primary_time,
        at: Instant::now(),
    })
}

async fn read_heartbeat_row(
    conn: &mut MySqlConnection,
    limit: Duration,
) -> Res<Option<(i64, f64)>> {
    let rows = match named(
        conn,
        limit,
        "reading the heartbeat",
        "SELECT seq, written_us FROM _dbenv_heartbeat WHERE id = 1",
    )
    .await
    {
        Ok(rows) => rows,
        Err(e) if e.contains("1146") || e.contains("doesn't exist") => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(rows.first().and_then(|r| {
        let seq = field(r, &["seq"])?.parse().ok()?;
        let us: i64 = field(r, &["written_us"])?.parse().ok()?;
        Some((seq, us as f64 / 1e6))
    }))
}

async fn replica_view(
    ctx: &Ctx<'_>,
    primary: &Primary,
    target: &Target,
    conn: Res<MySqlConnection>,
) -> ReplicaReport {
    let (mut r, conn) = ReplicaReport::connected(&target.label, conn);
    let Some(mut conn) = conn else {
        return r;
    };
    if let Err(e) = read_replica(ctx, primary, &mut conn, &mut r).await {
        r.add(Severity::Critical, e);
    }
    close(conn).await;
    r
}

async fn read_replica(
    ctx: &Ctx<'_>,
    primary: &Primary,
    conn: &mut MySqlConnection,
    r: &mut ReplicaReport,
) -> Res<()> {
    let limit = ctx.options.timeout;
    let status = replica_status(conn, limit).await?;
    r.migration_version = migration_version(conn, limit).await?;
    let Some(s) = status else {
        r.state = "not a replica".into();
        r.add(
            Severity::Critical,
            "not a replica (SHOW REPLICA STATUS is empty): set it up with CHANGE MASTER TO … and START REPLICA",
        );
        return Ok(());
    };
    let io = field(&s, &["Slave_IO_Running", "Replica_IO_Running"]).unwrap_or("No");
    let sql = field(&s, &["Slave_SQL_Running", "Replica_SQL_Running"]).unwrap_or("No");
    r.state = format!("IO thread {}, SQL thread {}", running(io), running(sql));
    if io != "Yes" {
        let error = field(&s, &["Last_IO_Error"]).filter(|e| !e.is_empty());
        r.add(
            Severity::Critical,
            format!(
                "replication IO thread is {} (Slave_IO_Running = {io}){}",
                running(io),
                error
                    .map(|e| format!(": last IO error: {e}"))
                    .unwrap_or_default()
            ),
        );
    }
    if sql != "Yes" {
        let error = field(&s, &["Last_SQL_Error"]).filter(|e| !e.is_empty());
        r.add(
            Severity::Critical,
            format!(
                "replication SQL thread is {} (Slave_SQL_Running = {sql}){}",
                running(sql),
                error
                    .map(|e| format!(": last SQL error: {e}"))
                    .unwrap_or_else(|| ": start it with START REPLICA".into())
            ),
        );
    }
    let exec_file = field(&s, &["Relay_Master_Log_File", "Relay_Source_Log_File"]);
    let exec_pos: Option<u64> =
        field(&s, &["Exec_Master_Log_Pos", "Exec_Source_Log_Pos"]).and_then(|p| p.parse().ok());
    if let (Some(f), Some(p)) = (exec_file, exec_pos) {
        r.position = Some(format!("{f}:{p}"));
    }
    // Bytes are comparable within one binary log file only.
    r.lag_bytes = match (&primary.binlog, exec_file, exec_pos) {
        (Some((pf, pp)), Some(f), Some(p)) if pf == f => Some(pp.saturating_sub(p)),
        _ => None,
    };
    let behind = field(&s, &["Seconds_Behind_Master", "Seconds_Behind_Source"])
        .and_then(|v| v.parse::<u64>().ok())
        .map(Duration::from_secs);
    let seen = match &primary.heartbeat {
        Some(w) => read_heartbeat(conn, w, ctx.options.heartbeat_wait, limit).await?,
        None => None,
    };
    if primary.heartbeat.is_some() && seen.is_none() {
        r.add(
            Severity::Warning,
            "no heartbeat row on the replica yet (the table has not been replicated)",
        );
    }
    super::judge(r, behind, seen, &ctx.thresholds);
    super::compare_migrations(r, primary.report.migration_version);
    Ok(())
}

fn running(v: &str) -> &'static str {
    match v {
        "Yes" => "running",
        "Connecting" => "connecting",
        _ => "stopped",
    }
}

async fn replica_status(conn: &mut MySqlConnection, limit: Duration) -> Res<Option<Named>> {
    let rows = match named(
        conn,
        limit,
        "reading SHOW REPLICA STATUS",
        "SHOW REPLICA STATUS",
    )
    .await
    {
        Ok(rows) => rows,
        Err(e) if e.contains("timeout") => return Err(e),
        Err(_) => {
            named(
                conn,
                limit,
                "reading SHOW SLAVE STATUS",
                "SHOW SLAVE STATUS",
            )
            .await?
        }
    };
    Ok(rows.into_iter().next())
}

async fn read_heartbeat(
    conn: &mut MySqlConnection,
    w: &Written,
    wait: Duration,
    limit: Duration,
) -> Res<Option<Seen>> {
    loop {
        let row = read_heartbeat_row(conn, limit).await?;
        match heartbeat::step(w, wait, row) {
            Poll::Done(seen) => return Ok(seen),
            Poll::Again => heartbeat::pause(w).await,
        }
    }
}

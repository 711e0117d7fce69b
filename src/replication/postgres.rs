//! PostgreSQL: the primary's `pg_stat_replication` and `pg_replication_slots`, each
//! standby's recovery state, WAL receiver and replay position, compared by WAL position
//! (bytes) and by the commit time of the last replayed transaction (the primary's clock).

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::heartbeat::{self, Poll, Seen, Written};
use super::target::Target;
use super::{Ctx, PrimaryReport, ReplicaReport, Sender, Severity, Slot, timed};

type Row<T> = Result<T, String>;

/// What the primary said, for comparing replicas with it.
struct Primary {
    report: PrimaryReport,
    lsn: Option<u64>,
    /// The primary's clock when read (epoch seconds), and when that was on this machine.
    clock: Option<(f64, Instant)>,
    heartbeat: Option<Written>,
}

pub(super) async fn check(ctx: &Ctx<'_>) -> (PrimaryReport, Vec<ReplicaReport>) {
    let limit = ctx.options.timeout;
    // Connect everywhere at once: a check is as slow as its slowest server, not their sum.
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

async fn connect(target: &Target, limit: Duration) -> Row<PgConnection> {
    let options = PgConnectOptions::from_str(&target.url)
        .map_err(|_| "invalid PostgreSQL URL (not shown: it may hold a password)".to_string())?
        .application_name("dbenv check replication")
        .options([
            ("statement_timeout", format!("{}", limit.as_millis())),
            ("lock_timeout", format!("{}", limit.as_millis())),
            // A heartbeat must not wait for a synchronous standby that is down.
            ("synchronous_commit", "local".to_string()),
        ]);
    timed(limit, "connecting", options.connect()).await
}

async fn close(conn: PgConnection) {
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
}

async fn primary_view(ctx: &Ctx<'_>, conn: Row<PgConnection>) -> Primary {
    let mut p = Primary {
        report: PrimaryReport {
            target: ctx.primary.label.clone(),
            ..Default::default()
        },
        lsn: None,
        clock: None,
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

async fn read_primary(ctx: &Ctx<'_>, conn: &mut PgConnection, p: &mut Primary) -> Row<()> {
    let limit = ctx.options.timeout;
    let (in_recovery, lsn, now, version, has_heartbeat): (bool, Option<String>, f64, String, bool) =
        timed(
            limit,
            "reading the primary's state",
            sqlx::query_as(
                "SELECT pg_is_in_recovery(), \
                    CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END, \
                    extract(epoch FROM clock_timestamp())::float8, \
                    current_setting('server_version'), \
                    to_regclass('_dbenv_heartbeat') IS NOT NULL",
            )
            .fetch_one(&mut *conn),
        )
        .await?;
    p.clock = Some((now, Instant::now()));
    p.report.server_version = Some(version);
    p.report.migration_version = migration_version(conn, limit).await?;
    if in_recovery {
        return Err(format!(
            "{} is in recovery (a standby, not a primary): point url of the env at the primary",
            ctx.primary.label
        ));
    }
    p.lsn = lsn.as_deref().and_then(parse_lsn);
    p.report.position = lsn;
    p.report.senders = senders(conn, limit).await?;
    p.report.slots = slots(conn, limit).await?;
    judge_slots(&mut p.report, &ctx.thresholds);
    if ctx.heartbeat {
        match write_heartbeat(conn, limit, has_heartbeat).await {
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

async fn senders(conn: &mut PgConnection, limit: Duration) -> Row<Vec<Sender>> {
    type R = (
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<f64>,
        Option<f64>,
    );
    let rows: Vec<R> = timed(
        limit,
        "reading pg_stat_replication",
        sqlx::query_as(
            "SELECT application_name::text, client_addr::text, state::text, sync_state::text, \
                sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text, \
                pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8, \
                extract(epoch FROM replay_lag)::float8 \
         FROM pg_stat_replication ORDER BY application_name, client_addr",
        )
        .fetch_all(&mut *conn),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Sender {
            application_name: r.0,
            client: r.1,
            state: r.2.unwrap_or_default(),
            sync_state: r.3.unwrap_or_default(),
            sent_lsn: r.4,
            write_lsn: r.5,
            flush_lsn: r.6,
            replay_lsn: r.7,
            replay_lag_bytes: r.8.map(|b| b.max(0.0) as u64),
            replay_lag_seconds: r.9,
        })
        .collect())
}

async fn slots(conn: &mut PgConnection, limit: Duration) -> Row<Vec<Slot>> {
    let rows: Vec<(String, String, bool, Option<f64>)> = timed(
        limit,
        "reading pg_replication_slots",
        sqlx::query_as(
            "SELECT slot_name::text, slot_type::text, active, \
                pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)::float8 \
         FROM pg_replication_slots ORDER BY slot_name",
        )
        .fetch_all(&mut *conn),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, slot_type, active, retained)| Slot {
            name,
            slot_type,
            active,
            retained_bytes: retained.map(|b| b.max(0.0) as u64),
        })
        .collect())
}

/// An inactive slot keeps WAL forever (a warning); WAL kept beyond the byte thresholds is
/// judged like lag.
fn judge_slots(report: &mut PrimaryReport, t: &super::Thresholds) {
    for s in report.slots.clone() {
        let retained = s.retained_bytes.unwrap_or(0);
        let level = match (t.crit_bytes, t.warn_bytes) {
            (Some(c), _) if retained >= c => Severity::Critical,
            (_, Some(w)) if retained >= w => Severity::Warning,
            _ if !s.active => Severity::Warning,
            _ => continue,
        };
        let what = if s.active { "active" } else { "inactive" };
        report.add(
            level,
            format!(
                "{what} replication slot {} retains {retained} bytes of WAL{}",
                s.name,
                if s.active {
                    String::new()
                } else {
                    format!(" (drop it with SELECT pg_drop_replication_slot('{}') if no replica uses it)", s.name)
                }
            ),
        );
    }
}

async fn write_heartbeat(conn: &mut PgConnection, limit: Duration, exists: bool) -> Row<Written> {
    if !exists {
        timed(limit, "creating _dbenv_heartbeat", sqlx::query(
            "CREATE TABLE IF NOT EXISTS _dbenv_heartbeat (id integer PRIMARY KEY, seq bigint NOT NULL, written_at timestamptz NOT NULL)",
        )
        .execute(&mut *conn))
        .await?;
    }
    let (seq, primary_time): (i64, f64) = timed(limit, "writing the heartbeat", sqlx::query_as(
        "INSERT INTO _dbenv_heartbeat AS h (id, seq, written_at) VALUES (1, 1, clock_timestamp()) \
         ON CONFLICT (id) DO UPDATE SET seq = h.seq + 1, written_at = clock_timestamp() \
         RETURNING seq, extract(epoch FROM written_at)::float8",
    )
    .fetch_one(&mut *conn))
    .await?;
    Ok(Written {
        seq,
        primary_time,
        at: Instant::now(),
    })
}

/// The highest successful version in `_sqlx_migrations`, `None` without the table.
async fn migration_version(conn: &mut PgConnection, limit: Duration) -> Row<Option<i64>> {
    let exists: bool = timed(
        limit,
        "looking for _sqlx_migrations",
        sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
            .fetch_one(&mut *conn),
    )
    .await?;
    if !exists {
        return Ok(None);
    }
    timed(
        limit,
        "reading _sqlx_migrations",
        sqlx::query_scalar("SELECT max(version) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *conn),
    )
    .await
}

/// A standby's own state, in one query.
struct Standby {
    in_recovery: bool,
    replay_lsn: Option<String>,
    paused: bool,
    replay_time: Option<f64>,
    receiver: Option<String>,
}

async fn replica_view(
    ctx: &Ctx<'_>,
    primary: &Primary,
    target: &Target,
    conn: Row<PgConnection>,
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
    conn: &mut PgConnection,
    r: &mut ReplicaReport,
) -> Row<()> {
    let limit = ctx.options.timeout;
    let s = standby(conn, limit).await?;
    r.migration_version = migration_version(conn, limit).await?;
    r.position = s.replay_lsn.clone();
    if !s.in_recovery {
        r.state = "not in recovery".into();
        r.add(
            Severity::Critical,
            "not a standby (pg_is_in_recovery() is false): it was promoted, or the URL points at another primary",
        );
        return Ok(());
    }
    r.state = s
        .receiver
        .clone()
        .unwrap_or_else(|| "no WAL receiver".into());
    if s.receiver.as_deref() != Some("streaming") {
        r.add(
            Severity::Critical,
            format!(
                "WAL receiver is {} (pg_stat_wal_receiver): the standby does not stream from the primary; see its server log",
                s.receiver.as_deref().unwrap_or("not running")
            ),
        );
    }
    if s.paused {
        r.state.push_str(", replay paused");
        r.add(
            Severity::Warning,
            "WAL replay is paused (resume it with SELECT pg_wal_replay_resume())",
        );
    }
    let (lag, bytes) = lag(primary, &s);
    r.lag_bytes = bytes;
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
    super::judge(r, lag, seen, &ctx.thresholds);
    super::compare_migrations(r, primary.report.migration_version);
    Ok(())
}

async fn standby(conn: &mut PgConnection, limit: Duration) -> Row<Standby> {
    let row: (bool, Option<String>, bool, Option<f64>, Option<String>) = timed(
        limit,
        "reading the replica's recovery state",
        sqlx::query_as(
            "SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text, \
                CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() ELSE false END, \
                extract(epoch FROM pg_last_xact_replay_timestamp())::float8, \
                (SELECT status::text FROM pg_stat_wal_receiver LIMIT 1)",
        )
        .fetch_one(&mut *conn),
    )
    .await?;
    Ok(Standby {
        in_recovery: row.0,
        replay_lsn: row.1,
        paused: row.2,
        replay_time: row.3,
        receiver: row.4,
    })
}

/// Bytes: the primary's WAL position minus the standby's replay position. Time: none when
/// every byte is replayed; else how long ago (by the primary's clock) the last replayed
/// transaction was committed.
fn lag(primary: &Primary, s: &Standby) -> (Option<Duration>, Option<u64>) {
    let replayed = s.replay_lsn.as_deref().and_then(parse_lsn);
    let bytes = primary.lsn.zip(replayed).map(|(p, r)| p.saturating_sub(r));
    let time = match (bytes, s.replay_time, primary.clock) {
        (Some(0), _, _) => Some(Duration::ZERO),
        (_, Some(replayed_at), Some((now, read_at))) => {
            let primary_now = now + read_at.elapsed().as_secs_f64();
            Some(Duration::from_secs_f64(
                (primary_now - replayed_at).max(0.0),
            ))
        }
        _ => None,
    };
    (time, bytes)
}

async fn read_heartbeat(
    conn: &mut PgConnection,
    w: &Written,
    wait: Duration,
    limit: Duration,
) -> Row<Option<Seen>> {
    loop {
        let row: Option<(i64, f64)> = timed(limit, "reading the heartbeat", sqlx::query_as(
            "SELECT seq, extract(epoch FROM written_at)::float8 FROM _dbenv_heartbeat WHERE id = 1",
        )
        .fetch_optional(&mut *conn))
        .await
        .or_else(|e| if e.contains("does not exist") { Ok(None) } else { Err(e) })?;
        match heartbeat::step(w, wait, row) {
            Poll::Done(seen) => return Ok(seen),
            Poll::Again => heartbeat::pause(w).await,
        }
    }
}

/// `16/B374D848` → its 64-bit position.
pub(crate) fn parse_lsn(text: &str) -> Option<u64> {
    let (hi, lo) = text.split_once('/')?;
    Some((u64::from_str_radix(hi, 16).ok()? << 32) | u64::from_str_radix(lo, 16).ok()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lsns_parse_to_byte_positions() {
        assert_eq!(parse_lsn("0/0"), Some(0));
        assert_eq!(parse_lsn("0/3000148"), Some(0x3000148));
        assert_eq!(parse_lsn("16/B374D848"), Some((0x16 << 32) | 0xB374D848));
        assert_eq!(parse_lsn("nonsense"), None);
    }

    fn primary(lsn: u64) -> Primary {
        Primary {
            report: PrimaryReport::default(),
            lsn: Some(lsn),
            clock: Some((1000.0, Instant::now())),
            heartbeat: None,
        }
    }

    fn standby(replay: &str, replay_time: Option<f64>) -> Standby {
        Standby {
            in_recovery: true,
            replay_lsn: Some(replay.into()),
            paused: false,
            replay_time,
            receiver: Some("streaming".into()),
        }
    }

    #[test]
    fn a_caught_up_standby_has_no_lag_however_old_its_last_transaction() {
        let (time, bytes) = lag(&primary(0x100), &standby("0/100", Some(10.0)));
        assert_eq!((time, bytes), (Some(Duration::ZERO), Some(0)));
    }

    #[test]
    fn a_standby_behind_lags_by_bytes_and_by_the_primarys_clock() {
        let (time, bytes) = lag(&primary(0x1100), &standby("0/100", Some(990.0)));
        assert_eq!(bytes, Some(0x1000));
        let t = time.unwrap().as_secs_f64();
        assert!((10.0..10.5).contains(&t), "{t}");
        // Ahead of what the primary said a moment ago: caught up, not negative.
        assert_eq!(lag(&primary(0x100), &standby("0/200", None)).1, Some(0));
    }
}

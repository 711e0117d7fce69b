//! What a replication check found: per replica and for the primary, with a severity each,
//! serialisable as the `--json` output.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

use super::Thresholds;

/// The monitoring convention's four states, in the order of their exit codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Severity {
    #[default]
    Ok,
    Warning,
    Critical,
    /// The check could not tell (primary unreachable, nothing to check).
    Unknown,
}

impl Severity {
    /// 0, 1, 2, 3: the exit code monitoring systems (Nagios, Icinga, Sensu) expect.
    pub fn exit_code(self) -> u8 {
        self as u8
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Ok => "OK",
            Severity::Warning => "WARNING",
            Severity::Critical => "CRITICAL",
            Severity::Unknown => "UNKNOWN",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing found, with how bad it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub message: String,
}

/// The result of `dbenv check replication`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub env: String,
    pub engine: String,
    /// The worst of everything below; `UNKNOWN` when the primary could not be reached or
    /// there is nothing to check.
    pub status: Severity,
    /// One line saying why (the reason for `UNKNOWN`, else the worst findings).
    pub summary: String,
    pub thresholds: Thresholds,
    /// `None` when the check did not get as far as the primary (SQLite, no replicas).
    pub primary: Option<PrimaryReport>,
    pub replicas: Vec<ReplicaReport>,
    /// How long the check took.
    pub elapsed_ms: u64,
}

/// The primary's side: reachable, what it streams to, what its slots hold back.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrimaryReport {
    /// `host:port/database`: never a user, password or full URL.
    pub target: String,
    pub reachable: bool,
    pub server_version: Option<String>,
    /// Highest successful version in `_sqlx_migrations`.
    pub migration_version: Option<i64>,
    /// PostgreSQL: `pg_current_wal_lsn()`; MySQL/MariaDB: binary log `file:position`.
    pub position: Option<String>,
    /// PostgreSQL `pg_stat_replication`: the replicas the primary streams to.
    pub senders: Vec<Sender>,
    /// PostgreSQL `pg_replication_slots`.
    pub slots: Vec<Slot>,
    /// Whether this run wrote a heartbeat.
    pub heartbeat_written: bool,
    pub findings: Vec<Finding>,
}

/// One row of `pg_stat_replication`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sender {
    pub application_name: String,
    pub client: Option<String>,
    pub state: String,
    pub sync_state: String,
    pub sent_lsn: Option<String>,
    pub write_lsn: Option<String>,
    pub flush_lsn: Option<String>,
    pub replay_lsn: Option<String>,
    /// WAL bytes written on the primary but not yet replayed by this replica.
    pub replay_lag_bytes: Option<u64>,
    /// `replay_lag` as the primary measures it (`NULL` once the replica is idle and caught up).
    pub replay_lag_seconds: Option<f64>,
}

/// One row of `pg_replication_slots`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Slot {
    pub name: String,
    pub slot_type: String,
    pub active: bool,
    /// WAL the slot keeps on the primary's disk.
    pub retained_bytes: Option<u64>,
}

/// One configured replica, seen from itself (and compared with the primary).
#[derive(Debug, Clone, Default, Serialize)]
pub struct ReplicaReport {
    /// `host:port/database`: never a user, password or full URL.
    pub target: String,
    pub status: Severity,
    pub reachable: bool,
    /// In words: `streaming`, `replay paused`, `IO and SQL threads running`, …
    pub state: String,
    /// Time behind the primary, by the primary's clock (the larger of the engine's own
    /// measure and the heartbeat's).
    #[serde(serialize_with = "secs")]
    pub lag: Option<Duration>,
    /// WAL (PostgreSQL) or binary log (MySQL/MariaDB) bytes not yet replayed.
    pub lag_bytes: Option<u64>,
    /// Age of the newest heartbeat the replica has applied, by the primary's clock.
    #[serde(serialize_with = "secs")]
    pub heartbeat_lag: Option<Duration>,
    pub migration_version: Option<i64>,
    /// PostgreSQL: `pg_last_wal_replay_lsn()`; MySQL/MariaDB: executed `file:position`.
    pub position: Option<String>,
    pub findings: Vec<Finding>,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl ReplicaReport {
    pub(crate) fn new(target: String) -> ReplicaReport {
        ReplicaReport {
            target,
            ..Default::default()
        }
    }

    pub(crate) fn add(&mut self, severity: Severity, message: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            message: message.into(),
        });
        self.status = self.status.max(severity);
    }

    /// A replica's report from the outcome of connecting to it, and the connection when
    /// there is one: an unreachable replica's report is finished (CRITICAL); a reachable
    /// one's is to be filled.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub(crate) fn connected<C>(
        target: &str,
        conn: Result<C, String>,
    ) -> (ReplicaReport, Option<C>) {
        let mut r = ReplicaReport::new(target.to_string());
        match conn {
            Ok(conn) => {
                r.reachable = true;
                (r, Some(conn))
            }
            Err(e) => {
                r.state = "unreachable".into();
                r.add(Severity::Critical, format!("unreachable: {e}"));
                (r, None)
            }
        }
    }
}

impl PrimaryReport {
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    pub(crate) fn add(&mut self, severity: Severity, message: impl Into<String>) {
        self.findings.push(Finding {
            severity,
            message: message.into(),
        });
    }

    pub(crate) fn status(&self) -> Severity {
        self.findings
            .iter()
            .map(|f| f.severity)
            .max()
            .unwrap_or(Severity::Ok)
    }
}

impl Report {
    /// The largest time lag of any replica (`None` when none could be measured): what a
    /// migration guard compares with its limit.
    pub fn max_lag(&self) -> Option<Duration> {
        self.replicas.iter().filter_map(|r| r.lag).max()
    }

    /// The largest byte lag of any replica.
    pub fn max_lag_bytes(&self) -> Option<u64> {
        self.replicas.iter().filter_map(|r| r.lag_bytes).max()
    }

    /// The Nagios-style first line: `REPLICATION WARNING - prod: …`.
    pub fn headline(&self) -> String {
        format!(
            "REPLICATION {} - {}: {}",
            self.status, self.env, self.summary
        )
    }

    /// Settle `status` and `summary` from the primary and replica findings.
    pub(crate) fn conclude(&mut self) {
        let Some(primary) = &self.primary else {
            return;
        };
        if !primary.reachable {
            self.status = Severity::Unknown;
            self.summary = primary
                .findings
                .first()
                .map_or("primary unreachable".into(), |f| f.message.clone());
            return;
        }
        let worst = self
            .replicas
            .iter()
            .map(|r| r.status)
            .chain([primary.status()])
            .max()
            .unwrap_or(Severity::Ok);
        self.status = worst;
        self.summary = if worst == Severity::Ok {
            self.healthy_summary()
        } else {
            self.problems_summary(worst)
        };
    }

    fn healthy_summary(&self) -> String {
        let lag = self
            .max_lag()
            .map_or("unmeasured".into(), |d| format!("{:.3}s", d.as_secs_f64()));
        let n = self.replicas.len();
        format!(
            "{n} replica{} healthy, max lag {lag}",
            if n == 1 { "" } else { "s" }
        )
    }

    /// The findings at the worst level, prefixed by where they come from.
    fn problems_summary(&self, worst: Severity) -> String {
        let primary = self.primary.iter().flat_map(|p| {
            p.findings
                .iter()
                .filter(move |f| f.severity == worst)
                .map(|f| format!("primary: {}", f.message))
        });
        let replicas = self.replicas.iter().flat_map(|r| {
            r.findings
                .iter()
                .filter(move |f| f.severity == worst)
                .map(move |f| format!("{}: {}", r.target, f.message))
        });
        primary.chain(replicas).collect::<Vec<_>>().join("; ")
    }
}

pub(crate) fn secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&((d.as_secs_f64() * 1000.0).round() / 1000.0)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(primary_reachable: bool, replicas: &[Severity]) -> Report {
        let mut primary = PrimaryReport {
            reachable: primary_reachable,
            ..Default::default()
        };
        if !primary_reachable {
            primary.findings.push(Finding {
                severity: Severity::Unknown,
                message: "primary db:5432/app unreachable".into(),
            });
        }
        Report {
            env: "prod".into(),
            engine: "postgres".into(),
            status: Severity::Unknown,
            summary: String::new(),
            thresholds: Thresholds::default(),
            primary: Some(primary),
            replicas: replicas
                .iter()
                .enumerate()
                .map(|(i, s)| ReplicaReport {
                    target: format!("r{i}:5432/app"),
                    status: *s,
                    lag: Some(Duration::from_secs(i as u64)),
                    findings: vec![Finding {
                        severity: *s,
                        message: format!("finding {i}"),
                    }],
                    ..Default::default()
                })
                .collect(),
            elapsed_ms: 0,
        }
    }

    #[test]
    fn the_worst_replica_decides_and_the_summary_names_it() {
        let mut r = report(true, &[Severity::Ok, Severity::Critical, Severity::Warning]);
        r.conclude();
        assert_eq!(r.status, Severity::Critical);
        assert_eq!(
            r.headline(),
            "REPLICATION CRITICAL - prod: r1:5432/app: finding 1"
        );
        assert_eq!(r.max_lag(), Some(Duration::from_secs(2)));
        assert_eq!(r.status.exit_code(), 2);
    }

    #[test]
    fn an_unreachable_primary_is_unknown_whatever_the_replicas() {
        let mut r = report(false, &[Severity::Critical]);
        r.conclude();
        assert_eq!(r.status, Severity::Unknown);
        assert_eq!(r.summary, "primary db:5432/app unreachable");
        let mut ok = report(true, &[Severity::Ok]);
        ok.conclude();
        assert_eq!(ok.summary, "1 replica healthy, max lag 0.000s");
    }
}

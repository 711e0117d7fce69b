//! Replication health (`dbenv check replication`): the primary's view, each replica's own
//! view, lag against the env's thresholds, replicas behind on migrations, and an optional
//! heartbeat written on the primary and read back on each replica.
//!
//! | file | its job |
//! |---|---|
//! | [`report`] | the report model, [`Severity`] and the Nagios-style headline |
//! | [`thresholds`] | lag thresholds and their "both exceeded" verdict (pure) |
//! | `target` | the primary and replica endpoints, labelled `host:port/database` only |
//! | `postgres` | `pg_stat_replication`, `pg_stat_wal_receiver`, slots, replay positions |
//! | `mysql` | `SHOW REPLICA STATUS` (MySQL/MariaDB), binary log positions |
//! | `heartbeat` | the `_dbenv_heartbeat` row and how long replicas take to apply it |
//!
//! Every connection and query runs under [`CheckOptions::timeout`]: a hung server makes the
//! check report it, never hang.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dbenv::Error> {
//! let project = dbenv::project::Project::discover(std::path::Path::new("."))?;
//! let report = dbenv::replication::check(&project, Some("prod")).await?;
//! println!("{}", report.headline());
//! if report.max_lag() > Some(std::time::Duration::from_secs(30)) {
//!     eprintln!("replicas lag: hold the migration");
//! }
//! # Ok(()) }
//! ```

#[cfg(any(feature = "postgres", feature = "mysql"))]
mod heartbeat;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
pub mod report;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod target;
pub mod thresholds;

use std::time::{Duration, Instant};

pub use report::{Finding, PrimaryReport, ReplicaReport, Report, Sender, Severity, Slot};
pub use thresholds::Thresholds;

use crate::config::{EngineKind, EnvConfig};
use crate::error::Error;
use crate::project::Project;

/// The name of the heartbeat table on the primary (replicated to every replica). Its
/// `_dbenv` prefix keeps it out of introspection, seeding and status row counts.
pub const HEARTBEAT_TABLE: &str = "_dbenv_heartbeat";

/// How a check runs.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// Limit for each connection and each query (a hung server is reported, not waited on).
    pub timeout: Duration,
    /// How long replicas get to apply this run's heartbeat before its age is taken as lag.
    pub heartbeat_wait: Duration,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions {
            timeout: Duration::from_secs(5),
            heartbeat_wait: Duration::from_secs(1),
        }
    }
}

/// Check the replication of `env` (default: the project's default env) with the default
/// [`CheckOptions`]. Configuration errors are errors; everything the servers say (or fail
/// to say) is in the [`Report`].
pub async fn check(project: &Project, env: Option<&str>) -> Result<Report, Error> {
    check_with(project, env, &CheckOptions::default()).await
}

/// [`check`] with explicit options.
#[tracing::instrument(skip_all, fields(env = env.unwrap_or_default()))]
pub async fn check_with(
    project: &Project,
    env: Option<&str>,
    options: &CheckOptions,
) -> Result<Report, Error> {
    let started = Instant::now();
    let env = project.env(env)?;
    let mut report = Report {
        env: env.name.clone(),
        engine: env.engine.to_string(),
        status: Severity::Unknown,
        summary: String::new(),
        thresholds: Thresholds::from_config(env.replication.as_ref()),
        primary: None,
        replicas: Vec::new(),
        elapsed_ms: 0,
    };
    if let Some(reason) = not_checkable(env) {
        report.summary = reason;
    } else {
        run(project, env, options, &mut report).await?;
        report.conclude();
    }
    report.elapsed_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Why an env has nothing to check, if it has not.
fn not_checkable(env: &EnvConfig) -> Option<String> {
    if env.engine == EngineKind::Sqlite {
        return Some(format!(
            "not applicable: env {} uses sqlite, which has no replication (check replication \
             applies to postgres, mysql and mariadb envs)",
            env.name
        ));
    }
    if env.replicas.is_empty() {
        return Some(format!(
            "env {name} has no replicas configured: add replicas = [\"${{REPLICA_URL}}\"] to \
             [env.{name}] in dbenv.toml (one URL per replica)",
            name = env.name
        ));
    }
    None
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn run(
    project: &Project,
    env: &EnvConfig,
    options: &CheckOptions,
    report: &mut Report,
) -> Result<(), Error> {
    let primary = target::primary(project, env)?;
    let replicas = env
        .replicas
        .iter()
        .enumerate()
        .map(|(i, r)| target::replica(env, i, r, &primary.database))
        .collect::<Result<Vec<_>, Error>>()?;
    let ctx = Ctx {
        primary: &primary,
        replicas: &replicas,
        thresholds: report.thresholds,
        heartbeat: env.replication.as_ref().is_some_and(|r| r.heartbeat),
        options,
    };
    let (p, r) = match env.engine {
        #[cfg(feature = "postgres")]
        EngineKind::Postgres => postgres::check(&ctx).await,
        #[cfg(feature = "mysql")]
        EngineKind::Mysql | EngineKind::Mariadb => mysql::check(&ctx).await,
        other => {
            report.summary = not_compiled(other);
            return Ok(());
        }
    };
    report.primary = Some(p);
    report.replicas = r;
    Ok(())
}

#[cfg(not(any(feature = "postgres", feature = "mysql")))]
async fn run(_: &Project, env: &EnvConfig, _: &CheckOptions, r: &mut Report) -> Result<(), Error> {
    r.summary = not_compiled(env.engine);
    Ok(())
}

fn not_compiled(engine: EngineKind) -> String {
    format!(
        "this build of dbenv was compiled without the {engine} engine; rebuild with `--features {}`",
        if engine == EngineKind::Postgres {
            "postgres"
        } else {
            "mysql"
        }
    )
}

/// What an engine's check needs.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) struct Ctx<'a> {
    pub primary: &'a target::Target,
    pub replicas: &'a [target::Target],
    pub thresholds: Thresholds,
    pub heartbeat: bool,
    pub options: &'a CheckOptions,
}

/// Run `fut` within `limit`; the error says what timed out or what failed.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) async fn timed<T, E: std::fmt::Display>(
    limit: Duration,
    what: &str,
    fut: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, fut).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{what}: {e}")),
        Err(_) => Err(format!(
            "{what}: no answer within {} (timeout)",
            human(limit)
        )),
    }
}

/// `1.5s`, `250ms`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}

/// The lag shown and judged: a replica that applied this run's heartbeat is as far behind
/// as the heartbeat says; otherwise the larger of the engine's measure and the heartbeat's.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn judge(
    replica: &mut ReplicaReport,
    engine_lag: Option<Duration>,
    hb: Option<heartbeat::Seen>,
    t: &Thresholds,
) {
    replica.heartbeat_lag = hb.map(|h| h.lag);
    replica.lag = match hb {
        Some(h) if h.current => Some(h.lag),
        Some(h) => Some(engine_lag.map_or(h.lag, |l| l.max(h.lag))),
        None => engine_lag,
    };
    if let Some(h) = hb
        && !h.current
    {
        replica.add(
            Severity::Ok,
            format!(
                "this run's heartbeat was not applied within the wait; the newest one applied is {} old",
                human(h.lag)
            ),
        );
    }
    let level = t.level(replica.lag, replica.lag_bytes);
    if level > Severity::Ok {
        let lag = replica.lag.map_or("unmeasured".into(), human);
        let bytes = replica
            .lag_bytes
            .map_or("unmeasured".into(), |b| format!("{b} bytes"));
        replica.add(
            level,
            format!("lag {lag}, {bytes} behind (thresholds: {})", describe(t)),
        );
    }
}

/// The thresholds in words: `warn 10s/16777216 bytes, crit 60s`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn describe(t: &Thresholds) -> String {
    let one = |lag: Option<Duration>, bytes: Option<u64>| {
        let mut parts = Vec::new();
        if let Some(l) = lag {
            parts.push(human(l));
        }
        if let Some(b) = bytes {
            parts.push(format!("{b} bytes"));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(" and ")
        }
    };
    format!(
        "warn {}, crit {}",
        one(t.warn_lag, t.warn_bytes),
        one(t.crit_lag, t.crit_bytes)
    )
}

/// The migration comparison: a replica behind the primary's schema is a warning.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn compare_migrations(replica: &mut ReplicaReport, primary: Option<i64>) {
    if let Some(p) = primary
        && replica.migration_version.is_none_or(|r| r < p)
    {
        let r = replica
            .migration_version
            .map_or("no migrations".into(), |v| format!("migration {v}"));
        replica.add(
            Severity::Warning,
            format!("behind the primary's schema: {r}, the primary has migration {p}"),
        );
    }
}

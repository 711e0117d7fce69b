//! `dbenv check replication [ENV]`: replica health and lag, with the monitoring exit codes.

use std::time::Duration;

use clap::{Args, Subcommand};
use dbenv::project::Project;
use dbenv::replication::{self, CheckOptions, Report, Severity};

use super::GlobalArgs;

/// Health checks for monitoring systems (Nagios, Icinga, Sensu, cron): a one-line status
/// first, then details; exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub command: CheckCommand,
}

const EXIT_CODES: &str = "Exit codes: 0 OK; 1 WARNING (lag past warn_lag/warn_bytes, replay \
paused, a replica behind on migrations, an inactive slot); 2 CRITICAL (a replica unreachable, \
replication stopped or broken, lag past crit_lag/crit_bytes); 3 UNKNOWN (the primary \
unreachable, no replicas configured, a SQLite env, a configuration error).

When both a time and a byte threshold are set for a level, both must be exceeded (an idle \
primary's time lag grows with nothing to replay). Thresholds and the heartbeat are set in \
[env.X.replication] of dbenv.toml; see docs/replication.md.";

#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// Replica health and lag: the primary's view, each replica's own view, slots,
    /// migrations, heartbeat.
    #[command(after_help = EXIT_CODES)]
    Replication(ReplicationArgs),
}

#[derive(Debug, Args)]
pub struct ReplicationArgs {
    /// The env whose primary and `replicas` to check (default: project.default_env).
    pub env: Option<String>,
    /// Limit for each connection and each query, in seconds: a server that does not answer
    /// in time is reported, never waited on.
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub timeout: f64,
    /// With `heartbeat = true`: how long replicas get to apply this run's heartbeat, in
    /// seconds.
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    pub heartbeat_wait: f64,
}

pub async fn run(args: &CheckArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let CheckCommand::Replication(a) = &args.command;
    let options = CheckOptions {
        timeout: seconds(a.timeout, "--timeout")?,
        heartbeat_wait: seconds(a.heartbeat_wait, "--heartbeat-wait")?,
    };
    let report = match replication::check_with(project, a.env.as_deref(), &options).await {
        Ok(r) => r,
        // The monitoring convention: whatever stops the check is UNKNOWN (exit 3).
        Err(e) => return unknown(g, a.env.as_deref(), &format!("{e:#}")),
    };
    if g.json {
        super::print_json(&report)?;
    } else {
        print_text(&report);
    }
    Ok(report.status.exit_code())
}

/// The check could not start (no dbenv.toml, an invalid one): UNKNOWN.
pub fn unusable(args: &CheckArgs, g: &GlobalArgs, e: &dbenv::Error) -> anyhow::Result<u8> {
    let CheckCommand::Replication(a) = &args.command;
    unknown(g, a.env.as_deref(), &e.to_string())
}

fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| anyhow::anyhow!("{flag} must be a positive number of seconds, got {value}"))
}

fn unknown(g: &GlobalArgs, env: Option<&str>, message: &str) -> anyhow::Result<u8> {
    if g.json {
        super::print_json(&serde_json::json!({
            "env": env,
            "status": Severity::Unknown,
            "summary": message,
        }))?;
    } else {
        println!("REPLICATION UNKNOWN - {message}");
    }
    Ok(Severity::Unknown.exit_code())
}

fn print_text(r: &Report) {
    println!("{}{}", r.headline(), perfdata(r));
    if let Some(p) = &r.primary {
        let version = p.server_version.as_deref().unwrap_or("?");
        let position = p.position.as_deref().unwrap_or("-");
        let migration = version_text(p.migration_version);
        let reachable = if p.reachable { "" } else { "  UNREACHABLE" };
        println!(
            "primary  {}  {} {version}  position {position}  migration {migration}{reachable}",
            p.target, r.engine
        );
        for s in &p.senders {
            println!(
                "  sends to {} ({})  {} {}  sent {}  replay {}  replay lag {}",
                s.application_name,
                s.client.as_deref().unwrap_or("local"),
                s.state,
                s.sync_state,
                s.sent_lsn.as_deref().unwrap_or("-"),
                s.replay_lsn.as_deref().unwrap_or("-"),
                s.replay_lag_bytes.map_or("-".into(), |b| format!("{b} B")),
            );
        }
        for s in &p.slots {
            println!(
                "  slot {} ({}, {})  retains {}",
                s.name,
                s.slot_type,
                if s.active { "active" } else { "inactive" },
                s.retained_bytes.map_or("-".into(), |b| format!("{b} B")),
            );
        }
    }
    if !r.replicas.is_empty() {
        print_replicas(r);
    }
    print_findings(r);
}

fn print_replicas(r: &Report) {
    let rows: Vec<[String; 7]> = r
        .replicas
        .iter()
        .map(|x| {
            [
                x.target.clone(),
                x.status.to_string(),
                x.state.clone(),
                x.lag.map_or("-".into(), secs),
                x.lag_bytes.map_or("-".into(), |b| b.to_string()),
                x.heartbeat_lag.map_or("-".into(), secs),
                version_text(x.migration_version),
            ]
        })
        .collect();
    let head = [
        "replica",
        "status",
        "state",
        "lag",
        "lag bytes",
        "heartbeat",
        "migration",
    ];
    let mut widths = head.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.len());
        }
    }
    let line = |cells: [&str; 7]| {
        let text: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", text.join("  ").trim_end());
    };
    line(head);
    for row in &rows {
        line(row.each_ref().map(String::as_str));
    }
}

fn print_findings(r: &Report) {
    let primary = r.primary.iter().flat_map(|p| {
        p.findings
            .iter()
            .map(move |f| (f, format!("primary {}", p.target)))
    });
    let replicas = r
        .replicas
        .iter()
        .flat_map(|x| x.findings.iter().map(move |f| (f, x.target.clone())));
    for (f, whose) in primary.chain(replicas) {
        let level = if f.severity == Severity::Ok {
            "note"
        } else {
            f.severity.as_str()
        };
        println!("{level:<8} {whose}: {}", f.message);
    }
}

/// Nagios performance data: `| replica1_lag=0.002s;10;60 replica1_bytes=0B;;`.
fn perfdata(r: &Report) -> String {
    let t = &r.thresholds;
    let limit = |d: Option<Duration>| d.map_or(String::new(), |d| d.as_secs_f64().to_string());
    let bytes = |b: Option<u64>| b.map_or(String::new(), |b| b.to_string());
    let parts: Vec<String> = r
        .replicas
        .iter()
        .enumerate()
        .flat_map(|(i, x)| {
            let n = i + 1;
            let lag = x.lag.map(|d| format!("{:.3}s", d.as_secs_f64()));
            let b = x.lag_bytes.map(|b| format!("{b}B"));
            [
                lag.map(|v| {
                    format!(
                        "replica{n}_lag={v};{};{}",
                        limit(t.warn_lag),
                        limit(t.crit_lag)
                    )
                }),
                b.map(|v| {
                    format!(
                        "replica{n}_bytes={v};{};{}",
                        bytes(t.warn_bytes),
                        bytes(t.crit_bytes)
                    )
                }),
            ]
        })
        .flatten()
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" | {}", parts.join(" "))
    }
}

fn secs(d: Duration) -> String {
    format!("{:.3}s", d.as_secs_f64())
}

fn version_text(v: Option<i64>) -> String {
    v.map_or("none".into(), |v| v.to_string())
}

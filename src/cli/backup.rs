//! `dbenv backup [ENV]` and its subcommands `list`, `verify`, `restore`, `prune`.

use clap::{Args, Subcommand};
use dbenv::backup::{self, Listed, Manifest, RestoreOptions, Verification};
use dbenv::project::Project;

use super::{GlobalArgs, GuardArgs};

/// Take a backup of an env now (`dbenv backup prod`), or work with its backups.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, after_help = EXIT_CODES)]
pub struct BackupArgs {
    /// The env to back up (default: project.default_env).
    pub env: Option<String>,
    #[command(subcommand)]
    pub command: Option<BackupCommand>,
}

const EXIT_CODES: &str =
    "Backups go to the env's [env.X.backup] dir: a folder, or s3://bucket/prefix \
(credentials from AWS_* variables, another store's endpoint from AWS_ENDPOINT_URL).

Exit codes: 0 success; 1 the backup, restore or verification failed (a tool's error, a damaged \
file, a failed check, storage unreachable); 2 bad usage (malformed or unknown backup id, env \
without backups, bad config); 3 refused (restore into a production env without --force \
--confirm ENV).";

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// List an env's complete backups, oldest first (a table, or --json).
    #[command(after_help = EXIT_CODES)]
    List(ListArgs),
    /// Check a backup's checksum, restore it into a scratch database and compare it with
    /// its manifest (integrity, rows per table, migration version). Exit 1 if a check fails.
    #[command(after_help = EXIT_CODES)]
    Verify(IdArgs),
    /// Restore a backup into its env, or another env with --to. Refused on a production
    /// env without --force --confirm ENV (exit 3).
    #[command(after_help = EXIT_CODES)]
    Restore(RestoreArgs),
    /// Apply the env's keep policy: show what would be deleted; delete with --yes.
    #[command(after_help = EXIT_CODES)]
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// The env (default: project.default_env).
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct IdArgs {
    /// The backup id, as `dbenv backup list` shows it (e.g. 20261124T031500Z-a1b2);
    /// `verify` also takes `latest`, the env's newest backup.
    pub id: String,
    /// The env whose backups hold ID (default: the only env with backups configured).
    #[arg(long, value_name = "ENV")]
    pub env: Option<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub id: IdArgs,
    /// Restore into this env instead of the backup's own (same engine).
    #[arg(long, value_name = "ENV")]
    pub to: Option<String>,
    #[command(flatten)]
    pub guard: GuardArgs,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// The env (default: project.default_env).
    pub env: Option<String>,
    /// Delete the backups the policy does not keep (without it, only show them).
    #[arg(long)]
    pub yes: bool,
}

pub async fn run(args: &BackupArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    match &args.command {
        None => take(args.env.as_deref(), g, project).await,
        Some(BackupCommand::List(a)) => list(a, g, project).await,
        Some(BackupCommand::Verify(a)) => verify(a, g, project).await,
        Some(BackupCommand::Restore(a)) => restore(a, g, project).await,
        Some(BackupCommand::Prune(a)) => prune(a, g, project).await,
    }
}

async fn take(env: Option<&str>, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let m = backup::backup(project, env)
        .await
        .map_err(|e| project.naming_lost_server(env, "taking a backup", e))?;
    if g.json {
        return super::print_json(&m).map(|()| 0);
    }
    if g.quiet == 0 {
        eprintln!("{}", summary(&m));
    }
    println!("{}", m.id);
    Ok(0)
}

fn summary(m: &Manifest) -> String {
    let rows: u64 = m.tables.values().sum();
    format!(
        "{}: backup {} of {} ({}, migration {}): {} tables, {rows} rows, {} → {} stored ({}), {} ms",
        m.env,
        m.id,
        m.database_label(),
        m.engine,
        m.migration_version.map_or("none".into(), |v| v.to_string()),
        m.tables.len(),
        size(m.raw_bytes),
        size(m.stored_bytes),
        m.compression,
        m.duration_ms
    )
}

fn size(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 => format!("{:.2} GiB", b as f64 / (1u64 << 30) as f64),
        b if b >= 1 << 20 => format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64),
        b if b >= 1 << 10 => format!("{:.1} KiB", b as f64 / 1024.0),
        b => format!("{b} B"),
    }
}

async fn list(args: &ListArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let listed = backup::list(project, args.env.as_deref()).await?;
    if g.json {
        return super::print_json(&listed).map(|()| 0);
    }
    println!(
        "{:<22} {:<24} {:>10} {:>10} {:>9} verified",
        "id", "finished", "stored", "raw", "migration"
    );
    for l in &listed {
        let m = &l.manifest;
        println!(
            "{:<22} {:<24} {:>10} {:>10} {:>9} {}",
            m.id,
            m.finished_at,
            size(m.stored_bytes),
            size(m.raw_bytes),
            m.migration_version.map_or("-".into(), |v| v.to_string()),
            verified(l)
        );
    }
    Ok(0)
}

fn verified(l: &Listed) -> &'static str {
    match &l.verification {
        None => "no",
        Some(v) if v.ok => "yes",
        Some(_) => "FAILED",
    }
}

async fn verify(args: &IdArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let v = backup::verify(project, args.env.as_deref(), &args.id)
        .await
        .map_err(|e| {
            let env = backup::restore::target_env(project, args.env.as_deref(), None);
            project.naming_lost_server(env.ok().map(|e| e.name.as_str()), "verifying a backup", e)
        })?;
    if g.json {
        super::print_json(&v)?;
    } else {
        print_checks(&v);
    }
    if v.ok {
        return Ok(0);
    }
    let failed: Vec<String> = v
        .checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| format!("{}: {}", c.name, c.detail))
        .collect();
    Err(dbenv::Error::State(format!(
        "backup {} failed verification: {}",
        v.id,
        failed.join("; ")
    ))
    .into())
}

fn print_checks(v: &Verification) {
    for c in &v.checks {
        println!(
            "{:<18} {:<4} {}",
            c.name,
            if c.ok { "ok" } else { "FAIL" },
            c.detail
        );
    }
    println!(
        "backup {} {}",
        v.id,
        if v.ok {
            "verified"
        } else {
            "FAILED verification"
        }
    );
}

async fn restore(args: &RestoreArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let into = backup::restore::target_env(project, args.id.env.as_deref(), args.to.as_deref())?;
    let (name, production) = (&into.name, into.kind == dbenv::config::EnvKind::Production);
    let options = RestoreOptions {
        to: args.to.clone(),
        confirmation: args.guard.confirmation(name, production),
    };
    let r = backup::restore(project, args.id.env.as_deref(), &args.id.id, &options)
        .await
        .map_err(|e| {
            let into =
                backup::restore::target_env(project, args.id.env.as_deref(), args.to.as_deref());
            project.naming_lost_server(into.ok().map(|e| e.name.as_str()), "restoring a backup", e)
        })?;
    if g.json {
        return super::print_json(&r).map(|()| 0);
    }
    if g.quiet == 0 {
        eprintln!(
            "{}: restored backup {} (of env {}) in {} ms",
            r.env, r.id, r.from_env, r.duration_ms
        );
    }
    println!("{}", r.database);
    Ok(0)
}

async fn prune(args: &PruneArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let now = chrono::Utc::now();
    let r = backup::prune(project, args.env.as_deref(), args.yes, now).await?;
    if g.json {
        return super::print_json(&r).map(|()| 0);
    }
    for d in &r.decisions {
        let action = match (d.keep, r.dry_run) {
            (true, _) => "keep  ",
            (false, true) => "would delete",
            (false, false) => "deleted",
        };
        let why = if d.keep {
            format!(" ({})", d.reasons.join(", "))
        } else {
            String::new()
        };
        println!("{action:<12} {}{why}", d.id);
    }
    if r.dry_run && r.decisions.iter().any(|d| !d.keep) {
        eprintln!(
            "nothing deleted: run `dbenv backup prune {} --yes` to delete",
            r.env
        );
    }
    Ok(0)
}

use clap::{Args, Subcommand};
use dbenv::migrate::{self, MigrationState};
use dbenv::project::{self, Project};

use super::{GlobalArgs, GuardArgs};

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct MigrateArgs {
    #[command(subcommand)]
    pub command: Option<MigrateCommand>,
    /// The env (default: project.default_env).
    pub env: Option<String>,
    /// Show the plan and the SQL, apply nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Apply up to this version (inclusive).
    #[arg(long, value_name = "VERSION")]
    pub to: Option<i64>,
}

#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Where each migration stands on an env (applied, pending, changed, missing, …).
    Status {
        /// The env (default: project.default_env).
        env: Option<String>,
    },
    /// Create the next migration file in the migrations folder.
    New {
        /// What it does, in letters, digits and underscores (e.g. add_labels).
        name: String,
        /// Write a reversible pair (.up.sql and .down.sql).
        #[arg(long, short)]
        reversible: bool,
    },
    /// Revert the latest migration (or down to --to) with its .down.sql.
    Down {
        /// The env (default: project.default_env).
        env: Option<String>,
        /// Revert every migration above this version.
        #[arg(long, value_name = "VERSION")]
        to: Option<i64>,
        #[command(flatten)]
        guard: GuardArgs,
    },
}

pub async fn run(args: &MigrateArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    match &args.command {
        None if args.dry_run => dry_run(args, g, project).await,
        None => {
            let report = project::migrate(project, args.env.as_deref(), args.to).await?;
            print_applied(&report, g, "applied")
        }
        Some(MigrateCommand::Status { env }) => status(env.as_deref(), g, project).await,
        Some(MigrateCommand::New { name, reversible }) => {
            let set = project.migrations(project.env(None)?)?;
            let created = migrate::create(&set, name, *reversible, chrono::Utc::now())?;
            for f in &created.files {
                println!("{}", f.display());
            }
            Ok(0)
        }
        Some(MigrateCommand::Down { env, to, guard }) => {
            let (name, production) = super::is_production(project, env.as_deref());
            let report = project::migrate_down(
                project,
                env.as_deref(),
                *to,
                &guard.confirmation(&name, production),
            )
            .await?;
            print_applied(&report, g, "reverted")
        }
    }
}

fn print_applied(
    report: &project::MigrateReport,
    g: &GlobalArgs,
    verb: &str,
) -> anyhow::Result<u8> {
    if g.json {
        return super::print_json(report).map(|()| 0);
    }
    for a in &report.applied {
        println!("{verb} {} ({} ms)", a.file, a.elapsed.as_millis());
    }
    if report.applied.is_empty() && g.quiet == 0 {
        eprintln!("{}: nothing to do, migrations are up to date", report.env);
    }
    Ok(0)
}

async fn dry_run(args: &MigrateArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let pending = project::migrate_plan(project, args.env.as_deref(), args.to).await?;
    if g.json {
        let plan: Vec<_> = pending.iter().map(|m| serde_json::json!({ "version": m.version, "file": m.file_name(), "sql": m.up.sql.as_str() })).collect();
        return super::print_json(&plan).map(|()| 0);
    }
    if pending.is_empty() {
        eprintln!("nothing to apply");
    }
    for m in &pending {
        println!(
            "-- {} (version {})\n{}\n",
            m.file_name(),
            m.version,
            m.up.sql.as_str().trim_end()
        );
    }
    Ok(0)
}

async fn status(env: Option<&str>, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let lines = project::migrate_status(project, env).await?;
    if g.json {
        return super::print_json(&lines).map(|()| 0);
    }
    for l in &lines {
        let state = serde_json::to_value(l.state)?
            .as_str()
            .unwrap_or_default()
            .to_string();
        let file = l.file.as_deref().unwrap_or("(file missing)");
        let when = l.installed_on.as_deref().unwrap_or("");
        println!("{:<14} {:<12} {file}  {when}", l.version, state);
    }
    let bad = lines
        .iter()
        .any(|l| !matches!(l.state, MigrationState::Applied | MigrationState::Pending));
    Ok(if bad { 1 } else { 0 })
}

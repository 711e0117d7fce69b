use std::io::IsTerminal;

use clap::{Args, Subcommand};
use dbenv::migrate::{self, MigrationState};
use dbenv::project::{self, MigrateOptions, MigratePlan, Project};

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
    /// Apply the plan on a production env without asking (for CI; the plan is still shown).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Resume a half-applied migration on a production env (MySQL/MariaDB), after the
    /// statements already applied; development envs resume without it.
    #[arg(long)]
    pub resume: bool,
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
        None => apply(args, g, project).await,
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

async fn apply(args: &MigrateArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let mut ask = |plan: &MigratePlan| confirm(plan, args.yes);
    let options = MigrateOptions {
        target: args.to,
        resume: args.resume,
        approve: Some(&mut ask),
    };
    let report = project::migrate(project, args.env.as_deref(), options)
        .await
        .map_err(|e| project.naming_lost_server(args.env.as_deref(), "migrating it", e))?;
    print_applied(&report, g, "applied")
}

/// A production env's plan, on stderr, then the confirmation: `--yes`, or the env's name
/// (or y) typed at a terminal; refused (exit 3) when nobody can be asked.
fn confirm(plan: &MigratePlan, yes: bool) -> Result<(), dbenv::Error> {
    let env = &plan.env;
    eprint!("{}", plan_text(plan));
    if yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() {
        return Err(dbenv::Error::Refused(format!(
            "refusing to migrate {env} without confirmation: it is a production env and stdin is not a terminal; pass --yes to apply this plan (CI), or --dry-run to see its SQL"
        )));
    }
    eprint!("{env} is a production env. Type its name (or y) to apply this plan: ");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    match line.trim() {
        answer if answer == env || answer == "y" || answer == "yes" => Ok(()),
        answer => Err(dbenv::Error::Refused(format!(
            "not migrating {env}: the confirmation \"{answer}\" is neither \"{env}\" nor \"y\"; nothing was applied"
        ))),
    }
}

/// The plan, one migration per line.
fn plan_text(plan: &MigratePlan) -> String {
    let n = plan.migrations.len();
    let mut out = format!(
        "Plan for {}: {n} migration{} to apply\n",
        plan.env,
        if n == 1 { "" } else { "s" }
    );
    for m in &plan.migrations {
        let s = if m.statements == 1 { "" } else { "s" };
        let mut line = format!(
            "  {} (version {}, {} statement{s}",
            m.file, m.version, m.statements
        );
        if m.no_transaction {
            line.push_str(", no transaction");
        }
        line.push(')');
        if let Some(r) = &m.resume {
            line.push_str(&format!(
                ": half-applied, resumes at statement {}{} (statements 1-{} applied, the last at {} UTC)",
                r.next_statement,
                r.next_line.map(|l| format!(" (line {l})")).unwrap_or_default(),
                r.applied,
                r.applied_at
            ));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

async fn dry_run(args: &MigrateArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let plan = project::migrate_plan(project, args.env.as_deref(), args.to).await?;
    if g.json {
        let plan: Vec<_> = plan
            .migrations
            .iter()
            .map(|m| {
                serde_json::json!({
                    "version": m.version,
                    "file": m.file,
                    "statements": m.statements,
                    "no_transaction": m.no_transaction,
                    "resume": m.resume,
                    "sql": m.migration.up.sql.as_str(),
                })
            })
            .collect();
        return super::print_json(&plan).map(|()| 0);
    }
    if plan.migrations.is_empty() {
        eprintln!("nothing to apply");
    } else if g.quiet == 0 {
        eprint!("{}", plan_text(&plan));
    }
    for m in &plan.migrations {
        let resume = m
            .resume
            .as_ref()
            .map(|r| {
                format!(
                    ", resumes at statement {}: the statements before it are applied",
                    r.next_statement
                )
            })
            .unwrap_or_default();
        println!(
            "-- {} (version {}{resume})\n{}\n",
            m.file,
            m.version,
            m.migration.up.sql.as_str().trim_end()
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

//! Command-line interface: global flags and dispatch. Each command lives in its own file
//! with its arguments and a thin `run` that calls the library.

mod backup;
mod check;
mod completions;
mod down;
mod gc;
mod init;
pub mod logging;
mod migrate;
mod progress;
mod reset;
mod schedule;
mod seed;
mod status;
mod up;
mod url;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use dbenv::project::{Confirmation, Project};

/// Every environment of an application gets the database it needs: dev, tests and
/// production from one set of migrations and seed scenarios.
///
/// Exit codes: 0 success, 1 operation failed, 2 usage or configuration error,
/// 3 refused by a guard (production env, missing confirmation), 130 interrupted.
#[derive(Debug, Parser)]
#[command(name = "dbenv", version, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Use this dbenv.toml instead of searching the current folder and its parents.
    #[arg(long, global = true, value_name = "PATH", env = "DBENV_CONFIG")]
    pub config: Option<PathBuf>,
    /// More log output on stderr (-v, -vv).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Less log output on stderr (errors only), no progress bars.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
    /// Machine-readable JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// When to color log output.
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Seconds to wait for another dbenv working on the same env.
    #[arg(long, global = true, default_value_t = 60, value_name = "SECONDS")]
    pub lock_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create dbenv.toml, migrations/ and seeds/ for a new project, in the current folder.
    Init(init::InitArgs),
    /// Provision an env: create its database, migrate, seed; idempotent. Prints the URL.
    Up(up::UpArgs),
    /// Stop what `up` started; --purge also deletes the data.
    Down(down::DownArgs),
    /// Replace an env's data with migrations + a scenario, from a cached template.
    Reset(reset::ResetArgs),
    /// Add a scenario's data on top of an env's current data.
    Seed(seed::SeedArgs),
    /// What runs where, migration version, row counts, health.
    Status(status::StatusArgs),
    /// Print an env's connection URL.
    Url(url::UrlArgs),
    /// Apply pending migrations (or see `migrate status`, `migrate new`, `migrate down`).
    Migrate(migrate::MigrateArgs),
    /// Take a backup now, or list, verify, restore and prune backups.
    Backup(backup::BackupArgs),
    /// Health checks with monitoring exit codes: `check replication`.
    Check(check::CheckArgs),
    /// Run the backup schedules in the foreground until stopped (or print systemd units).
    Schedule(schedule::ScheduleArgs),
    /// Remove templates, databases and temporary files that no env owns any more.
    Gc(gc::GcArgs),
    /// Print a shell completion script.
    Completions(completions::CompletionsArgs),
}

/// The production guard's flags, shared by every destructive command.
#[derive(Debug, Args, Clone, Default)]
pub struct GuardArgs {
    /// Allow a destructive operation on a production env.
    #[arg(long)]
    pub force: bool,
    /// The env's name, confirming a destructive operation on a production env.
    #[arg(long, value_name = "ENV")]
    pub confirm: Option<String>,
}

impl GuardArgs {
    /// With --force but no --confirm at a terminal, ask for the env name.
    pub fn confirmation(&self, env: &str, kind_is_production: bool) -> Confirmation {
        let mut confirm = self.confirm.clone();
        if self.force && confirm.is_none() && kind_is_production && std::io::stdin().is_terminal() {
            eprint!("{env} is a production env. Type its name to confirm: ");
            let mut line = String::new();
            if std::io::stdin().read_line(&mut line).is_ok() {
                confirm = Some(line.trim().to_string());
            }
        }
        Confirmation {
            force: self.force,
            confirm,
        }
    }
}

pub async fn run(cli: Cli) -> anyhow::Result<u8> {
    let g = &cli.global;
    match &cli.command {
        Command::Init(args) => init::run(args, g),
        Command::Completions(args) => completions::run(args),
        command => {
            let loaded = match &g.config {
                Some(path) => Project::load(path),
                None => Project::discover(&std::env::current_dir()?),
            };
            let mut project = match (loaded, command) {
                // Monitoring checks end UNKNOWN (3) on a configuration error, not 2.
                (Err(e), Command::Check(args)) => return check::unusable(args, g, &e),
                (loaded, _) => loaded?,
            };
            project.lock_timeout = Duration::from_secs(g.lock_timeout);
            match command {
                Command::Up(args) => up::run(args, g, &project).await,
                Command::Down(args) => down::run(args, g, &project).await,
                Command::Reset(args) => reset::run(args, g, &project).await,
                Command::Seed(args) => seed::run(args, g, &project).await,
                Command::Status(args) => status::run(args, g, &project).await,
                Command::Url(args) => url::run(args, g, &project),
                Command::Migrate(args) => migrate::run(args, g, &project).await,
                Command::Gc(args) => gc::run(args, g, &project).await,
                Command::Backup(args) => backup::run(args, g, &project).await,
                Command::Check(args) => check::run(args, g, &project).await,
                Command::Schedule(args) => schedule::run(args, g, &project).await,
                Command::Init(_) | Command::Completions(_) => unreachable!("handled above"),
            }
        }
    }
}

/// Whether the command handles SIGINT/SIGTERM itself (`main` otherwise stops it at Ctrl-C).
pub fn handles_signals(cli: &Cli) -> bool {
    matches!(&cli.command, Command::Schedule(a) if !a.print_systemd)
}

/// Whether logs are JSON: `--log-format json`, or `dbenv schedule` of a production env.
pub fn json_logs(cli: &Cli) -> bool {
    cli.global.log_format == LogFormat::Json || schedule::production_logs(&cli.command, &cli.global)
}

/// The exit code for an error that ends the program (DESIGN.md §3).
pub fn exit_code(e: &anyhow::Error) -> u8 {
    if let Some(e) = e.downcast_ref::<dbenv::Error>() {
        return e.exit_code();
    }
    if e.downcast_ref::<dbenv::config::ConfigError>().is_some() {
        return dbenv::EXIT_USAGE;
    }
    dbenv::EXIT_FAILURE
}

/// Print `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn is_production(project: &Project, env: Option<&str>) -> (String, bool) {
    match project.env(env) {
        Ok(e) => (e.name.clone(), e.kind == dbenv::config::EnvKind::Production),
        Err(_) => (env.unwrap_or_default().to_string(), false),
    }
}

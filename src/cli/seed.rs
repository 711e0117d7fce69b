use clap::Args;
use dbenv::project::{self, Project, SeedOnTopOptions};

use super::{GlobalArgs, GuardArgs};

#[derive(Debug, Args)]
pub struct SeedArgs {
    /// The env (default: project.default_env).
    pub env: Option<String>,
    /// Scenario whose data is added (default: the env's `scenario`, else `empty`).
    #[arg(long, short)]
    pub scenario: Option<String>,
    /// Seed for the fake data generator (default: derived from the scenario's seed and the
    /// amount of data already there, so repeated seeds add new values).
    #[arg(long)]
    pub seed: Option<u64>,
    #[command(flatten)]
    pub guard: GuardArgs,
}

pub async fn run(args: &SeedArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let (name, production) = super::is_production(project, args.env.as_deref());
    let options = SeedOnTopOptions {
        scenario: args.scenario.clone(),
        seed: args.seed,
        progress: super::progress::bar(g.quiet > 0),
        confirmation: args.guard.confirmation(&name, production),
    };
    let report = project::seed_on_top(project, args.env.as_deref(), &options)
        .await
        .map_err(|e| project.naming_lost_server(args.env.as_deref(), "seeding it", e))?;
    if g.json {
        return super::print_json(&report).map(|()| 0);
    }
    if g.quiet == 0 {
        eprintln!(
            "{name}: added {} rows from scenario {} (seed {}) in {} ms",
            report.total_rows(),
            report.scenario,
            report.seed,
            report.elapsed.as_millis()
        );
    }
    for (table, rows) in &report.rows {
        println!("{table}\t{rows}");
    }
    Ok(0)
}

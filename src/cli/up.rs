use clap::Args;
use dbenv::project::{self, Project, ResetOptions};

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The env (default: project.default_env).
    pub env: Option<String>,
    /// Scenario to seed a new database with (default: the env's `scenario`, else `empty`).
    #[arg(long, short)]
    pub scenario: Option<String>,
    /// Seed for the fake data generator (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Build the database from scratch instead of copying a cached template.
    #[arg(long, env = "DBENV_NO_TEMPLATE")]
    pub no_template: bool,
}

pub async fn run(args: &UpArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let options = ResetOptions {
        scenario: args.scenario.clone(),
        seed: args.seed,
        no_template: args.no_template,
        progress: super::progress::bar(g.quiet > 0),
        confirmation: Default::default(),
    };
    let report = project::up(project, args.env.as_deref(), &options).await?;
    if g.json {
        return super::print_json(&report).map(|()| 0);
    }
    if g.quiet == 0 {
        super::reset::describe(&report);
    }
    println!("{}", report.url);
    Ok(0)
}

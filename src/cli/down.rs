use clap::Args;
use dbenv::project::{self, Project};

use super::{GlobalArgs, GuardArgs};

#[derive(Debug, Args)]
pub struct DownArgs {
    /// The env (default: project.default_env).
    pub env: Option<String>,
    /// Also delete the env's data.
    #[arg(long)]
    pub purge: bool,
    #[command(flatten)]
    pub guard: GuardArgs,
}

pub async fn run(args: &DownArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let (name, production) = super::is_production(project, args.env.as_deref());
    let confirmation = args.guard.confirmation(&name, production);
    let report = project::down(project, args.env.as_deref(), args.purge, &confirmation).await?;
    if g.json {
        return super::print_json(&report).map(|()| 0);
    }
    if g.quiet == 0 {
        eprintln!("{}: {}", report.env, report.message);
    }
    Ok(0)
}

use clap::Args;
use dbenv::project::{self, Project, ResetOptions};

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct UpArgs {
    /// The env (default: project.default_env).
    pub env: Option<String>,
    #[command(flatten)]
    pub build: super::reset::BuildArgs,
}

pub async fn run(args: &UpArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let options = ResetOptions {
        scenario: args.build.scenario.clone(),
        seed: args.build.seed,
        no_template: args.build.no_template,
        progress: super::progress::bar(g.quiet > 0),
        confirmation: Default::default(),
    };
    let report = project::up(project, args.env.as_deref(), &options)
        .await
        .map_err(|e| project.naming_lost_server(args.env.as_deref(), "bringing it up", e))?;
    if g.json {
        return super::print_json(&report).map(|()| 0);
    }
    if g.quiet == 0 {
        super::reset::describe(&report);
    }
    println!("{}", report.url);
    Ok(0)
}

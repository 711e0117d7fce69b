use clap::Args;
use dbenv::project::{self, Project, ResetOptions, ResetReport};

use super::{GlobalArgs, GuardArgs};

/// How a database is built: shared by `up` and `reset`.
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// Scenario to rebuild with (default: the env's `scenario`, else `empty`).
    #[arg(long, short)]
    pub scenario: Option<String>,
    /// Seed for the fake data generator (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Rebuild from scratch instead of copying a cached template.
    #[arg(long, env = "DBENV_NO_TEMPLATE")]
    pub no_template: bool,
}

#[derive(Debug, Args)]
pub struct ResetArgs {
    /// The env (default: project.default_env).
    pub env: Option<String>,
    #[command(flatten)]
    pub build: BuildArgs,
    #[command(flatten)]
    pub guard: GuardArgs,
}

pub async fn run(args: &ResetArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let (name, production) = super::is_production(project, args.env.as_deref());
    let options = ResetOptions {
        scenario: args.build.scenario.clone(),
        seed: args.build.seed,
        no_template: args.build.no_template,
        progress: super::progress::bar(g.quiet > 0),
        confirmation: args.guard.confirmation(&name, production),
    };
    let report = project::reset(project, args.env.as_deref(), &options)
        .await
        .map_err(|e| {
            project.naming_lost_server(args.env.as_deref(), "resetting its database", e)
        })?;
    if g.json {
        return super::print_json(&report).map(|()| 0);
    }
    if g.quiet == 0 {
        describe(&report);
    }
    println!("{}", report.url);
    Ok(0)
}

/// One human line on stderr about what `up`/`reset` did.
pub fn describe(r: &ResetReport) {
    let migrated = match r.migrations_applied.len() {
        0 => String::new(),
        n => format!(", {n} migration(s) applied"),
    };
    if !r.created {
        eprintln!(
            "{}: database exists, up to date{migrated} ({} ms)",
            r.env, r.elapsed_ms
        );
        return;
    }
    let source = match (&r.template, r.template_built) {
        (Some(_), true) => "template built",
        (Some(_), false) => "from cached template",
        (None, _) => "built without template",
    };
    let scenario = r.scenario.as_deref().unwrap_or("empty");
    let seed = r.seed.map(|s| format!(", seed {s}")).unwrap_or_default();
    eprintln!(
        "{}: ready with scenario {scenario}{seed}: {} rows, {source} ({} ms)",
        r.env, r.rows, r.elapsed_ms
    );
}

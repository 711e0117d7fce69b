use clap::Args;
use dbenv::project::{self, Project};

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct UrlArgs {
    /// The env (default: project.default_env).
    pub env: Option<String>,
    /// Print a shell line for `eval "$(dbenv url --export)"`.
    #[arg(long)]
    pub export: bool,
    /// The variable set by --export.
    #[arg(long, default_value = "DATABASE_URL", value_name = "NAME")]
    pub var: String,
}

pub fn run(args: &UrlArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let env = project.env(args.env.as_deref())?;
    let url = project::url(project, env)?;
    if g.json {
        return super::print_json(
            &serde_json::json!({ "env": env.name, "engine": env.engine.to_string(), "url": url }),
        )
        .map(|()| 0);
    }
    if args.export {
        println!("export {}='{}'", args.var, url.replace('\'', r"'\''"));
    } else {
        println!("{url}");
    }
    Ok(0)
}

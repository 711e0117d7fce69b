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
    /// Print the password of a production env's URL (it is shown as `***` otherwise).
    #[arg(long)]
    pub show_password: bool,
    /// The variable set by --export.
    #[arg(long, default_value = "DATABASE_URL", value_name = "NAME")]
    pub var: String,
}

pub fn run(args: &UrlArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let env = project.env(args.env.as_deref())?;
    let mut url = project::url(project, env)?;
    if env.kind == dbenv::config::EnvKind::Production && !args.show_password {
        url = redact_password(&url);
    }
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

/// `url` with its password (if any) replaced by `***`: production output never holds one
/// (DESIGN.md §6); `--show-password` is the explicit way to get it.
fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            eprintln!(
                "note: the password is shown as *** on a production env; pass --show-password to print it"
            );
            u.to_string()
        }
        _ => url.to_string(),
    }
}

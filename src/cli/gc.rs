use clap::Args;
use dbenv::project::{self, Project};

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct GcArgs {
    /// Only list what would be removed.
    #[arg(long)]
    pub dry_run: bool,
}

pub async fn run(args: &GcArgs, g: &GlobalArgs, project: &Project) -> anyhow::Result<u8> {
    let report = project::gc(project, args.dry_run).await?;
    if g.json {
        return super::print_json(&report).map(|()| 0);
    }
    for path in &report.removed {
        println!("{}", path.display());
    }
    for what in &report.removed_servers {
        println!("{what}");
    }
    if g.quiet == 0 {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        eprintln!(
            "{verb} {} file(s), {} kB, {} server object(s); kept {} current template(s)",
            report.removed.len(),
            report.freed_bytes / 1024,
            report.removed_servers.len(),
            report.kept_templates
        );
    }
    Ok(0)
}

use clap::{Args, CommandFactory};
use clap_complete::Shell;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell (bash, zsh, fish, elvish, powershell).
    pub shell: Shell,
}

pub fn run(args: &CompletionsArgs) -> anyhow::Result<u8> {
    let mut command = super::Cli::command();
    clap_complete::generate(args.shell, &mut command, "dbenv", &mut std::io::stdout());
    Ok(0)
}

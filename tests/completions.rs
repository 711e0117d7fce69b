//! Shell completions, `--help` and `--version`: they work anywhere, without a dbenv.toml.

mod common;

use common::*;

const COMMANDS: [&str; 10] = [
    "init",
    "up",
    "down",
    "reset",
    "seed",
    "status",
    "url",
    "migrate",
    "gc",
    "completions",
];

#[test]
fn completion_scripts() {
    let p = Project::bare();
    let bash = p.ok(&["completions", "bash"]);
    assert!(bash.stdout.contains("dbenv"), "{}", bash.stdout);
    assert!(
        bash.stdout.contains("complete -F"),
        "not a bash completion script"
    );
    for cmd in COMMANDS {
        assert!(bash.stdout.contains(cmd), "bash completion lacks {cmd}");
    }
    assert!(bash.stdout.contains("--lock-timeout"));
    let zsh = p.ok(&["completions", "zsh"]);
    assert!(
        zsh.stdout.starts_with("#compdef dbenv"),
        "{}",
        &zsh.stdout[..80.min(zsh.stdout.len())]
    );
    let fish = p.ok(&["completions", "fish"]);
    assert!(fish.stdout.contains("complete -c dbenv"));
    // Nothing is created in the folder.
    assert!(p.snapshot().is_empty());
    p.run(&["completions", "tcsh"]).code(2).err_has("tcsh");
}

#[test]
fn help_lists_the_commands() {
    let p = Project::bare();
    let help = p.ok(&["--help"]);
    for cmd in COMMANDS {
        assert!(
            help.stdout
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("{cmd} "))),
            "--help does not list {cmd}:\n{}",
            help.stdout
        );
    }
    help.out_has("--config")
        .out_has("--lock-timeout")
        .out_has("--json")
        .out_has("Exit codes");
    p.ok(&["migrate", "--help"])
        .out_has("status")
        .out_has("new")
        .out_has("down")
        .out_has("--dry-run");
    p.ok(&["reset", "--help"])
        .out_has("--scenario")
        .out_has("--no-template")
        .out_has("--force")
        .out_has("--confirm");
    p.ok(&["--version"])
        .out_has(&format!("dbenv {}", env!("CARGO_PKG_VERSION")));
    // No subcommand: usage on stderr, exit 2.
    p.run(&[]).code(2).err_has("Usage");
}

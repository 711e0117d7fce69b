//! `dbenv init`: a working starter project in the current folder.

use std::path::Path;

use clap::Args;

use super::GlobalArgs;

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Create the project here instead of the current folder.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<std::path::PathBuf>,
}

const CONFIG: &str = r#"# dbenv configuration: envs, engines, scenarios (see dbenv's docs/configuration.md)
[project]
migrations = "migrations"
seeds = "seeds"
default_env = "dev"

[env.dev]
engine = "sqlite"
scenario = "demo"
"#;

const MIGRATION: &str = r#"-- The first migration: edit it, or add more with `dbenv migrate new NAME`.
CREATE TABLE authors (
    id INTEGER PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    email VARCHAR(200) NOT NULL UNIQUE,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE posts (
    id INTEGER PRIMARY KEY,
    author_id INTEGER NOT NULL,
    title VARCHAR(200) NOT NULL,
    body TEXT NOT NULL,
    status VARCHAR(10) NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'published')),
    published_at TIMESTAMP,
    FOREIGN KEY (author_id) REFERENCES authors (id)
);
"#;

const SCENARIO: &str = r#"description = "A few authors and their posts"
seed = 42

[tables.authors]
rows = 10

[tables.posts]
rows = { per = "authors", min = 0, max = 8 }
columns.status = { one_of = ["draft", "published"], weights = [1, 3] }
columns.title = { fake = "sentence", words = [3, 8] }
"#;

pub fn run(args: &InitArgs, g: &GlobalArgs) -> anyhow::Result<u8> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::current_dir()?,
    };
    let files = [
        ("dbenv.toml", CONFIG),
        ("migrations/0001_initial.sql", MIGRATION),
        ("seeds/demo.toml", SCENARIO),
    ];
    let mut created = 0;
    for (name, body) in files {
        let path = dir.join(name);
        if path.exists() {
            if g.quiet == 0 {
                eprintln!("kept existing {name}");
            }
            continue;
        }
        write_new(&path, body)?;
        println!("{}", path.display());
        created += 1;
    }
    add_gitignore(&dir)?;
    if g.quiet == 0 {
        eprintln!("created {created} file(s); next: `dbenv up` to create the dev database");
    }
    Ok(0)
}

fn write_new(path: &Path, body: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)?;
    std::io::Write::write_all(&mut f, body.as_bytes())?;
    Ok(())
}

/// Keep `.dbenv/` (databases, templates, state) out of version control.
fn add_gitignore(dir: &Path) -> anyhow::Result<()> {
    let path = dir.join(".gitignore");
    let existing = std::fs::read_to_string(&path).unwrap_or_default();
    if existing
        .lines()
        .any(|l| l.trim() == ".dbenv/" || l.trim() == ".dbenv")
    {
        return Ok(());
    }
    let sep = if existing.is_empty() || existing.ends_with('\n') {
        ""
    } else {
        "\n"
    };
    std::fs::write(&path, format!("{existing}{sep}.dbenv/\n"))?;
    Ok(())
}

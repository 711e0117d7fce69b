//! `dbenv migrate new NAME`: the next migration file, named the way the folder already is.

use std::path::{Path, PathBuf};

use super::{MigrateError, MigrationSet};

/// What `create` wrote.
#[derive(Debug, Clone)]
pub struct NewMigration {
    pub version: i64,
    pub files: Vec<PathBuf>,
}

/// Versions above this are timestamps (YYYYMMDDHHMMSS); below, sequence numbers.
const TIMESTAMP_FLOOR: i64 = 10_000_000_000;

/// Create the next migration: a sequence number when the folder uses them (`0004_x.sql`), a
/// UTC timestamp otherwise (sqlx-cli's default). `reversible` writes an `.up.sql`/`.down.sql` pair.
pub fn create(
    set: &MigrationSet,
    name: &str,
    reversible: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<NewMigration, MigrateError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(MigrateError::BadName(name.to_string()));
    }
    let name = name.replace('-', "_");
    let (version, prefix) = next_version(set, now);
    std::fs::create_dir_all(&set.dir).map_err(|e| io(&set.dir, e))?;
    let files: Vec<(String, String)> = if reversible {
        vec![
            (
                format!("{prefix}_{name}.up.sql"),
                format!("-- {name}: apply\n"),
            ),
            (
                format!("{prefix}_{name}.down.sql"),
                format!("-- {name}: revert what the .up.sql does\n"),
            ),
        ]
    } else {
        vec![(format!("{prefix}_{name}.sql"), format!("-- {name}\n"))]
    };
    let mut written = Vec::new();
    for (file, body) in files {
        let path = set.dir.join(file);
        // create_new: never overwrite a migration, even one racing us.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io(&path, e))?;
        std::io::Write::write_all(&mut f, body.as_bytes()).map_err(|e| io(&path, e))?;
        written.push(path);
    }
    Ok(NewMigration {
        version,
        files: written,
    })
}

fn next_version(set: &MigrationSet, now: chrono::DateTime<chrono::Utc>) -> (i64, String) {
    let sequential = set
        .migrations
        .last()
        .filter(|m| m.version < TIMESTAMP_FLOOR);
    match sequential {
        Some(last) => {
            let width = last
                .file_name()
                .split('_')
                .next()
                .map(str::len)
                .unwrap_or(4);
            let version = last.version + 1;
            (version, format!("{version:0width$}"))
        }
        None => {
            let stamp = now.format("%Y%m%d%H%M%S").to_string();
            let mut version: i64 = stamp.parse().expect("a timestamp is digits");
            // Two `new` within one second (or a clock behind the latest file) still sort after.
            if let Some(last) = set.latest_version() {
                version = version.max(last + 1);
            }
            (version, version.to_string())
        }
    }
}

fn io(path: &Path, e: std::io::Error) -> MigrateError {
    MigrateError::Io(format!("{}: {e}", path.display()))
}

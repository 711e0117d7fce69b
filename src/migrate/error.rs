use std::path::PathBuf;

/// What can go wrong with migrations. Messages name the file and say how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("cannot read migrations in {}: {message}", dir.display())]
    Resolve { dir: PathBuf, message: String },
    #[error(
        "migration file name {file:?} does not start with a version: name it like `0001_create_users.sql` or run `dbenv migrate new NAME`"
    )]
    BadFileName { file: String },
    #[error(
        "migration {file} is not valid UTF-8 (first bad byte at offset {offset}); save it as UTF-8"
    )]
    NotUtf8 { file: String, offset: usize },
    #[error(
        "two migrations have version {version}: {first} and {second}; give one of them a new version"
    )]
    DuplicateVersion {
        version: i64,
        first: String,
        second: String,
    },
    #[error(
        "{file} has no matching .up.sql: a down script needs the up script of the same version"
    )]
    OrphanDown { file: String },
    #[error("{0}")]
    Drift(String),
    #[error(
        "migration {file} failed at line {line}: {message}\n  statement: {statement}\n  the database is left at {left_at} (this migration was rolled back)"
    )]
    Failed {
        file: String,
        line: usize,
        statement: String,
        message: String,
        left_at: String,
    },
    #[error("{file}: {message}")]
    Parse { file: String, message: String },
    #[error(
        "cannot revert migration {version} ({file}): it has no down script ({expected}); write one, or restore from a backup"
    )]
    NotReversible {
        version: i64,
        file: String,
        expected: String,
    },
    #[error("no migration with version {0} in the migrations folder")]
    UnknownVersion(i64),
    #[error(
        "invalid migration name {0:?}: use letters, digits and underscores (for example add_labels)"
    )]
    BadName(String),
    #[error(
        "another migrator holds the migration lock on {0} (waited {1:?}); try again when it has finished"
    )]
    LockTimeout(String, std::time::Duration),
    #[error("{context}: {source}")]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("{0}")]
    Io(String),
}

impl MigrateError {
    /// Mistakes in the migrations folder or the command line, as opposed to runtime failures.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            MigrateError::BadFileName { .. }
                | MigrateError::NotUtf8 { .. }
                | MigrateError::DuplicateVersion { .. }
                | MigrateError::OrphanDown { .. }
                | MigrateError::Parse { .. }
                | MigrateError::NotReversible { .. }
                | MigrateError::UnknownVersion(_)
                | MigrateError::BadName(_)
        )
    }

    pub(crate) fn db(context: impl Into<String>, source: sqlx::Error) -> Self {
        MigrateError::Database {
            context: context.into(),
            source,
        }
    }
}

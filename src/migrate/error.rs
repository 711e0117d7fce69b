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
        "migration {file} failed at line {line}: {message}\n  statement: {statement}\n  statement number: {statement_no} of {statements}\n  the database is left at {left_at}"
    )]
    Failed {
        file: String,
        statement_no: usize,
        statements: usize,
        line: usize,
        statement: String,
        /// The database's words, and which setting stopped the statement when a configured
        /// timeout did (`statement_timeout`, `lock_timeout`).
        message: String,
        left_at: String,
    },
    #[error(
        "{file} (version {version}) was applied half-way on {env}: {applied}; {next} has not run yet (dbenv never runs the applied statements again).\n  Check the file and fix it if needed, keeping statements 1-{applied_count} exactly as they were, then resume with `dbenv migrate {env} --resume`"
    )]
    ResumeNeeded {
        file: String,
        version: i64,
        env: String,
        /// "statements 1-2 of 4 are applied (the last at …)"
        applied: String,
        applied_count: usize,
        /// "statement 3 (line 7)"
        next: String,
    },
    #[error(
        "{file} (version {version}) was applied half-way on {env} ({applied}), and statement {changed} (line {line}) has changed since it was applied, so dbenv cannot tell what the database holds.\n  Either restore statements 1-{applied_count} of {file} exactly as they were applied (from version control) and fix only the statements after them, then run `dbenv migrate {env} --resume`;\n  or repair by hand: finish or undo what the applied statements did, then run `DELETE FROM _dbenv_migration_progress WHERE version = {version}` and `DELETE FROM _sqlx_migrations WHERE version = {version}` so the migration runs again from the top (or, if you finished it by hand, record it as applied)"
    )]
    PartialChanged {
        file: String,
        version: i64,
        env: String,
        applied: String,
        applied_count: usize,
        changed: usize,
        line: usize,
    },
    #[error(
        "the migrations pending on {env} changed after the plan was confirmed ({what}); nothing was applied: run the command again to see the new plan"
    )]
    PlanChanged { env: String, what: String },
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
        "the migration lock on {place} is still held by {} after waiting {} s; another migration is running there: try again when it has finished, or wait longer with --lock-timeout SECONDS",
        holder.as_deref().unwrap_or("another migrator"),
        waited.as_secs_f64()
    )]
    LockTimeout {
        place: String,
        waited: std::time::Duration,
        holder: Option<String>,
    },
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
            MigrateError::Resolve { .. }
                | MigrateError::BadFileName { .. }
                | MigrateError::NotUtf8 { .. }
                | MigrateError::DuplicateVersion { .. }
                | MigrateError::OrphanDown { .. }
                | MigrateError::Parse { .. }
                | MigrateError::NotReversible { .. }
                | MigrateError::UnknownVersion(_)
                | MigrateError::BadName(_)
        )
    }

    /// Guards that refuse to go on until the user says so (exit 3).
    pub fn is_refusal(&self) -> bool {
        matches!(self, MigrateError::ResumeNeeded { .. })
    }

    pub(crate) fn db(context: impl Into<String>, source: sqlx::Error) -> Self {
        MigrateError::Database {
            context: context.into(),
            source,
        }
    }
}

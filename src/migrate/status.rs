//! Comparing the migrations folder with `_sqlx_migrations`, and the drift guard.

use serde::Serialize;
use sha2::{Digest, Sha384};

use super::{MigrateError, MigrationSet};
use crate::engine::{AppliedMigration, StatementProgress};

/// Where one migration stands on one database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum MigrationState {
    /// Applied, and the file is unchanged.
    Applied,
    /// Not applied yet, newer than everything applied.
    Pending,
    /// Not applied, but older than an applied migration: sqlx would apply it silently.
    OutOfOrder,
    /// Applied, but the file changed since.
    Changed,
    /// Applied, but no file has this version any more.
    Missing,
    /// Recorded as failed (`success = false`): a half-applied migration.
    Dirty,
    /// Half-applied, with its applied statements recorded by dbenv (MySQL/MariaDB): the
    /// next `dbenv migrate` resumes it after them.
    Partial,
}

/// One line of `dbenv migrate status`.
#[derive(Debug, Clone, Serialize)]
pub struct StatusLine {
    pub version: i64,
    pub description: String,
    pub state: MigrationState,
    /// The file, when there is one.
    pub file: Option<String>,
    pub installed_on: Option<String>,
    pub reversible: bool,
    /// For `changed`: the edit only changed line endings (CRLF ↔ LF).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub line_endings_only: bool,
}

/// Merge local files and applied rows into one ordered list.
pub fn status(set: &MigrationSet, applied: &[AppliedMigration]) -> Vec<StatusLine> {
    let max_applied = applied.iter().map(|a| a.version).max();
    let mut lines: Vec<StatusLine> = Vec::new();
    for local in &set.migrations {
        let row = applied.iter().find(|a| a.version == local.version);
        let state = match row {
            Some(a) if !a.success => MigrationState::Dirty,
            Some(a) if a.checksum != *local.up.checksum => MigrationState::Changed,
            Some(_) => MigrationState::Applied,
            None if max_applied.is_some_and(|max| local.version < max) => {
                MigrationState::OutOfOrder
            }
            None => MigrationState::Pending,
        };
        let line_endings_only = state == MigrationState::Changed
            && row.is_some_and(|a| same_but_line_endings(local.up.sql.as_str(), &a.checksum));
        lines.push(StatusLine {
            version: local.version,
            description: local.description.clone(),
            state,
            file: Some(local.file_name()),
            installed_on: row.map(|a| a.installed_on.clone()),
            reversible: local.down.is_some(),
            line_endings_only,
        });
    }
    for a in applied.iter().filter(|a| set.get(a.version).is_none()) {
        lines.push(StatusLine {
            version: a.version,
            description: a.description.clone(),
            state: if a.success {
                MigrationState::Missing
            } else {
                MigrationState::Dirty
            },
            file: None,
            installed_on: Some(a.installed_on.clone()),
            reversible: false,
            line_endings_only: false,
        });
    }
    lines.sort_by_key(|l| l.version);
    lines
}

/// Mark the migrations whose applied statements dbenv recorded (a half-applied migration
/// on MySQL/MariaDB) as [`MigrationState::Partial`]: resumable, not drift.
pub fn mark_partial(lines: &mut [StatusLine], progress: &[StatementProgress]) {
    for line in lines.iter_mut() {
        let recorded = progress.iter().any(|p| p.version == line.version);
        let unfinished = matches!(
            line.state,
            MigrationState::Dirty | MigrationState::Pending | MigrationState::OutOfOrder
        );
        if recorded && unfinished && line.file.is_some() {
            line.state = MigrationState::Partial;
        }
    }
}

/// Was the applied script this same text with other line endings? (A classic of git's
/// autocrlf: worth saying, because the fix is different.)
fn same_but_line_endings(sql: &str, applied_checksum: &[u8]) -> bool {
    let lf = sql.replace("\r\n", "\n");
    let crlf = lf.replace('\n', "\r\n");
    [lf, crlf]
        .iter()
        .any(|variant| Sha384::digest(variant.as_bytes()).as_slice() == applied_checksum)
}

/// Refuse to go on when the database and the folder disagree about the past.
pub fn check_drift(lines: &[StatusLine], env: &str) -> Result<(), MigrateError> {
    let problems: Vec<String> = lines.iter().filter_map(|l| drift_message(l, env)).collect();
    if problems.is_empty() {
        return Ok(());
    }
    Err(MigrateError::Drift(format!(
        "migrations on {env} have drifted from the migrations folder:\n  - {}",
        problems.join("\n  - ")
    )))
}

fn drift_message(line: &StatusLine, env: &str) -> Option<String> {
    let file = line.file.as_deref().unwrap_or("(no file)");
    let v = line.version;
    Some(match line.state {
        MigrationState::Applied | MigrationState::Pending | MigrationState::Partial => {
            return None;
        }
        MigrationState::Changed if line.line_endings_only => format!(
            "{file} (version {v}) was applied and then only its line endings changed (CRLF ↔ LF, often git's autocrlf); restore the original line endings, e.g. with a .gitattributes rule `*.sql -text`"
        ),
        MigrationState::Changed => format!(
            "{file} (version {v}) was changed after it was applied on {env}; restore it from version control and put the change in a new migration (`dbenv migrate new NAME`)"
        ),
        MigrationState::Missing => format!(
            "version {v} ({}) is applied on {env} but no file in the migrations folder has that version; restore the file, or check out the branch that has it",
            line.description
        ),
        MigrationState::OutOfOrder => format!(
            "{file} (version {v}) is not applied but is older than the latest applied migration; give it a version above the latest one so every database applies migrations in the same order"
        ),
        MigrationState::Dirty => format!(
            "version {v} ({file}) is recorded as failed half-way; repair the database by hand, then delete its row from _sqlx_migrations"
        ),
    })
}

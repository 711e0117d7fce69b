//! Half-applied migrations (MySQL/MariaDB): which statements of a migration that failed
//! half-way are applied, whether the file still starts with them, and where to resume.

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{LocalMigration, MigrateError};
use crate::engine::StatementProgress;
use crate::sqltext::Statement;

/// Where a half-applied migration goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resume {
    /// Statements 1..=applied are applied and unchanged in the file.
    pub applied: usize,
    /// The first statement to run (`applied + 1`), and its line in the file.
    pub next_statement: usize,
    pub next_line: Option<usize>,
    /// When the last applied statement ran.
    pub applied_at: String,
}

/// The identity of a statement: SHA-256 of its text with whitespace collapsed, so that
/// re-indenting a statement is not a change but editing it is.
pub fn statement_sha(sql: &str) -> String {
    let collapsed = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    hex::encode(Sha256::digest(collapsed.as_bytes()))
}

/// Check that the recorded statements are still the first statements of the file, and
/// say where to resume. A changed (or removed) applied statement is refused: what the
/// database holds is then unknown.
pub fn resume_point(
    migration: &LocalMigration,
    statements: &[Statement],
    recorded: &[&StatementProgress],
    env: &str,
) -> Result<Resume, MigrateError> {
    let applied_count = recorded.iter().map(|p| p.statement_no).max().unwrap_or(0);
    for p in recorded {
        let current = statements.get(p.statement_no.wrapping_sub(1));
        if current.is_none_or(|s| statement_sha(&s.sql) != p.sha256) {
            return Err(MigrateError::PartialChanged {
                file: migration.file_name(),
                version: migration.version,
                env: env.to_string(),
                applied: applied_summary(applied_count, statements.len(), recorded),
                applied_count,
                changed: p.statement_no,
                line: current.map_or(p.line, |s| s.line),
            });
        }
    }
    Ok(Resume {
        applied: applied_count,
        next_statement: applied_count + 1,
        next_line: statements.get(applied_count).map(|s| s.line),
        applied_at: recorded
            .last()
            .map(|p| p.applied_at.clone())
            .unwrap_or_default(),
    })
}

/// "statements 1-2 of 4 are applied (the last at 2024-05-01 10:00:00)"
pub fn applied_summary(applied: usize, total: usize, recorded: &[&StatementProgress]) -> String {
    let which = if applied == 1 {
        "statement 1".to_string()
    } else {
        format!("statements 1-{applied}")
    };
    let verb = if applied == 1 { "is" } else { "are" };
    let when = recorded
        .last()
        .map(|p| format!(" (the last at {} UTC)", p.applied_at))
        .unwrap_or_default();
    format!("{which} of {total} {verb} applied{when}")
}

/// The refusal of a production env without `--resume`.
pub fn resume_needed(
    migration: &LocalMigration,
    resume: &Resume,
    total: usize,
    recorded: &[&StatementProgress],
    env: &str,
) -> MigrateError {
    let next = match resume.next_line {
        Some(line) => format!("statement {} (line {line})", resume.next_statement),
        None => "only the final bookkeeping".to_string(),
    };
    MigrateError::ResumeNeeded {
        file: migration.file_name(),
        version: migration.version,
        env: env.to_string(),
        applied: applied_summary(resume.applied, total, recorded),
        applied_count: resume.applied,
        next,
    }
}

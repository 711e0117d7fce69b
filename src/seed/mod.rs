//! Scenarios and fake data (DESIGN.md §4): a scenario file says how much data of what
//! shape; the schema after migrations says the rest. Generation is deterministic (same
//! scenario, seed and migrations give byte-identical data), foreign keys always point at
//! existing rows, unique keys never collide, and a seed runs in one transaction.

pub mod fakes;
pub mod generate;
pub mod plan;
mod rules;
mod run;
pub mod scenario;
pub mod values;

pub use run::{Progress, SeedOptions, SeedReport, seed};
pub use scenario::{EMPTY, Scenario};

/// What can go wrong while seeding.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error("unknown scenario \"{name}\" ({hint}scenarios in {dir}: {available})")]
    UnknownScenario {
        name: String,
        hint: String,
        available: String,
        dir: String,
    },
    /// A mistake in a scenario file, at a place in it.
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
    /// The scenario asks for something the schema cannot hold.
    #[error("impossible scenario: {0}")]
    Impossible(String),
    #[error("writing {table} failed: {message}{hint}")]
    Write {
        table: String,
        message: String,
        hint: String,
    },
    #[error("{file}:{line}: {message}\n  statement: {statement}")]
    SqlFile {
        file: String,
        line: usize,
        statement: String,
        message: String,
    },
    #[error("{context}: {source}")]
    Database {
        context: String,
        #[source]
        source: sqlx::Error,
    },
}

impl SeedError {
    /// Mistakes in the scenario (exit 2) rather than failures while running (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            SeedError::UnknownScenario { .. }
                | SeedError::Invalid { .. }
                | SeedError::Impossible(_)
        )
    }
}

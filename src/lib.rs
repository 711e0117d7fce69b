//! # dbenv
//!
//! Every environment of an application gets the database it needs, from one set of
//! migrations and seed scenarios:
//!
//! - **development**: `dbenv up dev` provisions a database (embedded SQLite by default),
//!   applies `migrations/` and fills it with realistic, deterministic fake data from a
//!   scenario in `seeds/`; `dbenv reset --scenario empty` rebuilds it in milliseconds from a
//!   cached template;
//! - **production**: the same migrations, applied with guards sqlx lacks (drift detection,
//!   ordering, locks, confirmation);
//! - **tests**: isolated, migrated, seeded databases cloned from the same templates.
//!
//! The library is organised as the product is:
//!
//! | module | what it does |
//! |---|---|
//! | [`config`] | `dbenv.toml`: discovery, `${VAR}` expansion, validation with positions |
//! | [`migrate`] | sqlx-compatible migrations with drift, order and lock guards |
//! | [`seed`] | scenarios, generation plans, fake values, bulk writers |
//! | [`engine`] | what each database engine provides, behind the [`engine::Backend`] trait |
//! | [`template`] | migrated + seeded databases kept for instant resets |
//! | [`project`] | the operations behind each command (`up`, `reset`, `status`, …) |
//! | [`fixture`] | [`TestDb`]: an isolated, migrated, seeded database per test |
//! | [`backup`] | backups: take, list, verify by restoring, restore, prune |
//! | [`replication`] | replica health and lag (`dbenv check replication`) |
//! | [`schedule`] | `dbenv schedule`: backup schedules, restore drills, systemd timers |
//!
//! ```no_run
//! # async fn demo() -> Result<(), dbenv::Error> {
//! let project = dbenv::project::Project::discover(std::path::Path::new("."))?;
//! let report = dbenv::project::reset(&project, None, &dbenv::project::ResetOptions {
//!     scenario: Some("demo".into()),
//!     ..Default::default()
//! }).await?;
//! println!("{} rows at {}", report.rows, report.url);
//! # Ok(()) }
//! ```

pub mod backup;
pub mod config;
pub mod engine;
mod error;
pub mod fixture;
#[doc(hidden)]
pub mod fuzzing;
pub mod migrate;
pub mod project;
pub mod provider;
pub mod replication;
pub mod schedule;
pub mod schema;
pub mod seed;
pub mod sqltext;
pub mod state;
pub mod template;
pub mod util;
pub mod value;

/// `#[dbenv::test]`: the test gets its own database; see [`fixture`].
#[cfg(feature = "macros")]
pub use dbenv_macros::test;
pub use error::{EXIT_FAILURE, EXIT_OK, EXIT_REFUSED, EXIT_USAGE, Error, Result};
pub use fixture::{TestDb, TestDbBuilder};

//! The operations behind each command. Commands parse arguments and print; everything they
//! do is here, so the library offers exactly what the CLI does.

mod dev;
mod gc;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) mod gc_server;
mod guard;
mod lost;
mod migrations;
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) mod server;
#[cfg(any(feature = "postgres", feature = "mysql"))]
mod server_dev;
mod status;

use std::path::{Path, PathBuf};
use std::time::Duration;

pub(crate) use dev::BuildInputs;
pub use dev::{
    DownReport, ResetOptions, ResetReport, SeedOnTopOptions, down, reset, seed_on_top, up,
};
pub use gc::{GcReport, gc};
pub use guard::{Confirmation, guard};
pub use migrations::{
    Approve, MigrateOptions, MigratePlan, MigrateReport, migrate, migrate_down, migrate_plan,
    migrate_status,
};
pub use status::{Status, TableCount, status};

use crate::config::{Config, EngineKind, EnvConfig};
use crate::engine::AnyBackend;
use crate::engine::sqlite::{OpenMode, SqliteBackend};
use crate::error::Error;
use crate::migrate::MigrationSet;
use crate::seed::Scenario;
use crate::state::{FileLock, StateDir};

/// A loaded project: its configuration and its `.dbenv/` folder.
#[derive(Debug)]
pub struct Project {
    pub config: Config,
    pub state: StateDir,
    /// How long to wait for another dbenv working on the same env.
    pub lock_timeout: Duration,
}

impl Project {
    /// Find `dbenv.toml` from `start` upwards.
    pub fn discover(start: &Path) -> Result<Project, Error> {
        Ok(Project::new(Config::discover(start)?))
    }

    pub fn load(file: &Path) -> Result<Project, Error> {
        Ok(Project::new(Config::load(file)?))
    }

    pub fn new(config: Config) -> Project {
        let state = StateDir::new(&config.root);
        Project {
            config,
            state,
            lock_timeout: Duration::from_secs(60),
        }
    }

    pub fn env(&self, name: Option<&str>) -> Result<&EnvConfig, Error> {
        Ok(self.config.env(name)?)
    }

    /// The migrations of `env`: its own folder when it has one, else the project's.
    pub fn migrations(&self, env: &EnvConfig) -> Result<MigrationSet, Error> {
        let dir = env
            .migrations
            .as_ref()
            .unwrap_or(&self.config.project.migrations);
        Ok(MigrationSet::load(dir)?)
    }

    /// The fingerprints of every env's migrations (templates of other ones are stale).
    pub fn migration_fingerprints(&self) -> Result<Vec<String>, Error> {
        let mut all = Vec::new();
        for env in self.config.envs.values() {
            let f = self.migrations(env)?.fingerprint();
            if !all.contains(&f) {
                all.push(f);
            }
        }
        Ok(all)
    }

    pub fn scenario(&self, name: &str) -> Result<Scenario, Error> {
        Ok(Scenario::load(&self.config.project.seeds, name)?)
    }

    /// The scenario an env uses when none is given: its `scenario`, else `empty`.
    pub fn default_scenario(&self, env: &EnvConfig) -> String {
        env.scenario
            .clone()
            .unwrap_or_else(|| crate::seed::EMPTY.to_string())
    }

    pub(crate) fn lock(&self, env: &EnvConfig) -> Result<FileLock, Error> {
        self.state.lock_env(&env.name, self.lock_timeout)
    }

    /// The SQLite file of an env (only SQLite envs are provisioned by this release).
    pub fn sqlite_file(&self, env: &EnvConfig) -> Result<PathBuf, Error> {
        require_sqlite(env)?;
        Ok(env.sqlite_path(&self.config.root)?)
    }
}

/// The connection URL of an env, as an application would use it (sqlx's format). Server
/// envs have one once `dbenv up` has brought their server up.
pub fn url(project: &Project, env: &EnvConfig) -> Result<String, Error> {
    match env.engine {
        EngineKind::Sqlite => Ok(format!("sqlite://{}", project.sqlite_file(env)?.display())),
        // An external server's URL is the user's own, printed as written.
        _ if env.provider == crate::config::ProviderKind::External
            && env.database.is_none()
            && let Some(url) = &env.url =>
        {
            #[cfg(any(feature = "postgres", feature = "mysql"))]
            server::env_url(env, url)?;
            Ok(url.resolve()?)
        }
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        _ => match server::known(project, env)? {
            Some(server) => Ok(server.url()),
            None => Err(Error::State(format!(
                "env {} has no server yet; run `dbenv up {}` first",
                env.name, env.name
            ))),
        },
        #[cfg(not(any(feature = "postgres", feature = "mysql")))]
        _ => Err(not_compiled(env)),
    }
}

pub(crate) fn require_sqlite(env: &EnvConfig) -> Result<(), Error> {
    match env.engine {
        EngineKind::Sqlite => Ok(()),
        _ => Err(Error::Unsupported(format!(
            "env {} uses {}, which has no database file",
            env.name, env.engine
        ))),
    }
}

#[cfg(not(any(feature = "postgres", feature = "mysql")))]
fn not_compiled(env: &EnvConfig) -> Error {
    Error::Unsupported(format!(
        "env {} uses {}, but this build of dbenv has no server engines; rebuild with `--features {}`",
        env.name, env.engine, env.engine
    ))
}

/// Open an env's existing database (starting a server env's server when it is stopped),
/// with a clear error when there is none yet.
pub(crate) async fn open_existing(project: &Project, env: &EnvConfig) -> Result<AnyBackend, Error> {
    if env.engine.is_server() {
        #[cfg(any(feature = "postgres", feature = "mysql"))]
        return server_dev::open_existing(project, env).await;
        #[cfg(not(any(feature = "postgres", feature = "mysql")))]
        return Err(not_compiled(env));
    }
    let path = project.sqlite_file(env)?;
    if !path.exists() {
        return Err(Error::State(format!(
            "env {} has no database yet ({} does not exist); run `dbenv up {}` first",
            env.name,
            path.display(),
            env.name
        )));
    }
    Ok(AnyBackend::Sqlite(
        SqliteBackend::open(&path, OpenMode::Existing).await?,
    ))
}

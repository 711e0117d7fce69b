//! Backups (`dbenv backup`): consistent online backups in each engine's native format,
//! compressed and checksummed on the way to a folder or an object store, listed, verified
//! by a real restore, restored, and pruned by a keep policy.
//!
//! | file | its job |
//! |---|---|
//! | [`id`] | backup ids, sortable by time, strictly validated |
//! | [`manifest`] | the manifest (written last) and the verification record |
//! | [`store`] | local folder or S3-compatible store (`s3` module, feature `s3`) |
//! | [`pipe`] | streaming zstd + SHA-256, and the way back |
//! | [`tools`] | `pg_dump`/`pg_restore`, `mariadb-dump`/`mariadb`, credentials kept off argv |
//! | [`inspect`] | row counts, migration version, integrity checks |
//! | [`take`], [`verify`], [`restore`], [`catalog`] | the operations behind the commands |
//! | [`retention`] | which backups a keep policy keeps (pure) |
//! | `routines` | MySQL routines and events, carried across a database swap |
//!
//! ```no_run
//! # async fn demo() -> Result<(), dbenv::Error> {
//! let project = dbenv::project::Project::discover(std::path::Path::new("."))?;
//! let manifest = dbenv::backup::backup(&project, Some("prod")).await?;
//! let check = dbenv::backup::verify(&project, Some("prod"), &manifest.id).await?;
//! assert!(check.ok);
//! # Ok(()) }
//! ```

pub mod catalog;
#[cfg(feature = "mysql")]
pub mod dump_rows;
pub mod id;
pub mod inspect;
pub mod manifest;
pub mod pipe;
pub mod restore;
pub mod retention;
#[cfg(feature = "mysql")]
mod routines;
#[cfg(feature = "s3")]
pub mod s3;
pub mod store;
pub mod take;
pub mod tools;
pub mod verify;

pub use catalog::{Listed, PruneReport, list, prune};
pub use id::BackupId;
pub use manifest::{Check, Manifest, Verification};
pub use restore::{RestoreOptions, RestoreReport, restore};
pub use take::backup;
pub use verify::verify;

use crate::config::{BackupConfig, EnvConfig};
use crate::error::Error;
use crate::project::Project;
use store::Store;

/// An env whose backups we work with, and where they are.
pub(crate) struct Target<'a> {
    pub env: &'a EnvConfig,
    pub config: &'a BackupConfig,
    pub store: Store,
}

impl<'a> Target<'a> {
    /// The env named `env` (default: the project's default env), which must configure backups.
    pub fn open(project: &'a Project, env: Option<&str>) -> Result<Target<'a>, Error> {
        let env = project.env(env)?;
        let Some(config) = &env.backup else {
            return Err(Error::Unsupported(format!(
                "env {name} has no backups configured: add\n  [env.{name}.backup]\n  dir = \"backups/{name}\"   # or s3://bucket/prefix\nto dbenv.toml",
                name = env.name
            )));
        };
        let dir = config.dir.resolve_nonempty()?;
        let store = Store::open(&dir, &project.config.root, &env.name)?;
        Ok(Target { env, config, store })
    }

    /// The env for a command about one backup: the one named, else the only env that
    /// configures backups.
    pub fn for_id(project: &'a Project, env: Option<&str>) -> Result<Target<'a>, Error> {
        if env.is_some() {
            return Target::open(project, env);
        }
        let with: Vec<&str> = project
            .config
            .envs
            .values()
            .filter(|e| e.backup.is_some())
            .map(|e| e.name.as_str())
            .collect();
        match with.as_slice() {
            [one] => Target::open(project, Some(one)),
            [] => Target::open(project, None),
            many => Err(Error::Unsupported(format!(
                "several envs have backups ({}); say which with --env ENV",
                many.join(", ")
            ))),
        }
    }

    /// Serialises backups and cleanups of the same storage on this machine.
    pub fn lock(&self, project: &Project) -> Result<crate::state::FileLock, Error> {
        use sha2::{Digest, Sha256};
        let hash = hex::encode(Sha256::digest(self.store.describe().as_bytes()));
        project
            .state
            .lock_env(&format!("backup-{}", &hash[..12]), project.lock_timeout)
    }
}

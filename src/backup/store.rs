//! Where backups live: a local folder, or an S3-compatible object store (`s3://bucket/prefix`,
//! feature `s3`). Both hold the same flat set of files per backup: the data, the manifest
//! (written last, its presence makes the backup exist) and, once verified, a verification
//! record.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::pipe::private_file;
use crate::error::{Error, IoContext};
use crate::state::{TEMP_MARKER, remove_stale_temps, rename_synced, temp_beside};

/// A backup storage location.
#[derive(Debug)]
pub enum Store {
    /// A folder on this machine.
    Local(PathBuf),
    #[cfg(feature = "s3")]
    S3(super::s3::S3Store),
}

impl Store {
    /// The storage a backup `dir` names: `s3://bucket/prefix`, or a folder (relative to
    /// `root`, the project root).
    pub fn open(dir: &str, root: &Path, env: &str) -> Result<Store, Error> {
        if let Some((scheme, _)) = dir.split_once("://") {
            return match scheme {
                #[cfg(feature = "s3")]
                "s3" => Ok(Store::S3(super::s3::S3Store::open(dir, env)?)),
                #[cfg(not(feature = "s3"))]
                "s3" => Err(Error::Unsupported(format!(
                    "the backup dir of env {env} is an S3 URL, but this build of dbenv has no S3 support; rebuild with `--features s3`"
                ))),
                other => Err(Error::Unsupported(format!(
                    "the backup dir of env {env} uses {other}://, which dbenv cannot store to; use a folder or s3://bucket/prefix (any S3-compatible store, with AWS_ENDPOINT_URL)"
                ))),
            };
        }
        let path = Path::new(dir);
        let path = if path.is_absolute() {
            path.to_path_buf()
        } else {
            root.join(path)
        };
        if path.exists() && !path.is_dir() {
            return Err(Error::Unsupported(format!(
                "the backup dir of env {env}, {}, is a file, not a folder; set dir in [env.{env}.backup] to a folder",
                path.display()
            )));
        }
        Ok(Store::Local(path))
    }

    /// Where the backups are, for messages (never holds credentials).
    pub fn describe(&self) -> String {
        match self {
            Store::Local(dir) => dir.display().to_string(),
            #[cfg(feature = "s3")]
            Store::S3(s3) => s3.describe(),
        }
    }

    /// The names of the files in the storage (no temporary files).
    pub async fn names(&self) -> Result<Vec<String>, Error> {
        match self {
            Store::Local(dir) => {
                let entries = match std::fs::read_dir(dir) {
                    Ok(entries) => entries,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                    Err(e) => return Err(Error::io(dir, e)),
                };
                let mut names: Vec<String> = entries
                    .flatten()
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| !n.contains(TEMP_MARKER))
                    .collect();
                names.sort();
                Ok(names)
            }
            #[cfg(feature = "s3")]
            Store::S3(s3) => s3.names().await,
        }
    }

    /// A small file (manifest, verification record), whole.
    pub async fn read(&self, name: &str) -> Result<Vec<u8>, Error> {
        match self {
            Store::Local(dir) => std::fs::read(dir.join(name)).at(dir.join(name)),
            #[cfg(feature = "s3")]
            Store::S3(s3) => s3.read(name).await,
        }
    }

    /// Write a small file atomically (temporary name, synced, renamed, folder synced).
    pub async fn put(&self, name: &str, bytes: &[u8]) -> Result<(), Error> {
        match self {
            Store::Local(dir) => {
                let target = dir.join(name);
                let temp = temp_beside(&target);
                let _ = std::fs::remove_file(&temp);
                let mut file = private_file(&temp).at(&temp)?;
                file.write_all(bytes).at(&temp)?;
                file.sync_all().at(&temp)?;
                rename_synced(&temp, &target)
            }
            #[cfg(feature = "s3")]
            Store::S3(s3) => s3.put(name, bytes).await,
        }
    }

    /// A streaming writer for a data file; nothing exists under `name` until
    /// [`Sink::commit`]. Write to it from a blocking thread (the S3 sink waits on uploads).
    pub async fn sink(&self, name: &str) -> Result<Sink, Error> {
        match self {
            Store::Local(dir) => {
                create_private_dir(dir)?;
                let target = dir.join(name);
                let temp = temp_beside(&target);
                let _ = std::fs::remove_file(&temp);
                let file = private_file(&temp).at(&temp)?;
                Ok(Sink::Local { file, temp, target })
            }
            #[cfg(feature = "s3")]
            Store::S3(s3) => Ok(Sink::S3(s3.sink(name).await?)),
        }
    }

    /// A data file on this machine, to hash and restore from: the file itself for a local
    /// folder, a downloaded temporary copy (removed on drop) for an object store.
    pub async fn fetch(&self, name: &str) -> Result<Fetched, Error> {
        match self {
            Store::Local(dir) => {
                let path = dir.join(name);
                if !path.exists() {
                    return Err(Error::State(format!(
                        "backup data file {} is missing; the backup cannot be used",
                        path.display()
                    )));
                }
                Ok(Fetched { path, _temp: None })
            }
            #[cfg(feature = "s3")]
            Store::S3(s3) => s3.fetch(name).await,
        }
    }

    pub async fn delete(&self, name: &str) -> Result<(), Error> {
        match self {
            Store::Local(dir) => {
                let path = dir.join(name);
                match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(path, e)),
                    _ => Ok(()),
                }
            }
            #[cfg(feature = "s3")]
            Store::S3(s3) => s3.delete(name).await,
        }
    }

    /// Remove the partial data file of a backup of this process that failed.
    pub fn discard_partial(&self, name: &str) {
        match self {
            Store::Local(dir) => {
                let _ = std::fs::remove_file(temp_beside(&dir.join(name)));
            }
            // An upload that never completed shows no object.
            #[cfg(feature = "s3")]
            Store::S3(_) => {}
        }
    }

    /// Remove what killed backups left: temporary files of processes that no longer run
    /// (local folders; an object store shows no unfinished upload).
    pub fn remove_stale_temps(&self) -> Vec<String> {
        match self {
            Store::Local(dir) => remove_stale_temps(dir)
                .into_iter()
                .map(|p| p.display().to_string())
                .collect(),
            #[cfg(feature = "s3")]
            Store::S3(_) => Vec::new(),
        }
    }
}

/// Create the backup folder (and its parents) private to the user, when missing.
fn create_private_dir(dir: &Path) -> Result<(), Error> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir).at(dir)
}

/// A data file on this machine (see [`Store::fetch`]).
pub struct Fetched {
    pub path: PathBuf,
    pub(crate) _temp: Option<tempfile::TempPath>,
}

/// Where a data file is being written.
pub enum Sink {
    Local {
        file: File,
        temp: PathBuf,
        target: PathBuf,
    },
    #[cfg(feature = "s3")]
    S3(super::s3::S3Sink),
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::Local { file, .. } => file.write(buf),
            #[cfg(feature = "s3")]
            Sink::S3(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::Local { file, .. } => file.flush(),
            #[cfg(feature = "s3")]
            Sink::S3(s) => s.flush(),
        }
    }
}

impl Sink {
    /// Make the data durable under its final name (local: sync, rename, sync the folder;
    /// S3: complete the multipart upload).
    pub fn commit(self) -> Result<(), Error> {
        match self {
            Sink::Local { file, temp, target } => {
                file.sync_all().at(&temp)?;
                drop(file);
                rename_synced(&temp, &target)
            }
            #[cfg(feature = "s3")]
            Sink::S3(s) => s.commit(),
        }
    }

    /// Throw away what was written.
    pub fn abort(self) {
        match self {
            Sink::Local { file, temp, .. } => {
                drop(file);
                let _ = std::fs::remove_file(temp);
            }
            #[cfg(feature = "s3")]
            Sink::S3(s) => s.abort(),
        }
    }
}

//! The `container` provider: a database server in a Docker container that outlives the
//! command.
//!
//! A container that `dbenv up` starts is named and labelled per project and env
//! (`dbenv-<project>-<hash8>-<env>`, labels [`LABEL_PROJECT`], [`LABEL_ENV`]…), keeps its data
//! in a named volume with the same labels, and publishes its port on `127.0.0.1` only. The
//! next `up` finds it by name and reuses it ([`Docker::ensure_running`]), `down` stops it
//! ([`Docker::stop`]), `down --purge` deletes it with its volume ([`Docker::remove`]), and
//! `gc` sweeps what no env owns any more ([`Docker::list`], [`Docker::list_volumes`]).
//!
//! Readiness is the caller's business (it polls a real query); when the server dies during
//! start, [`Docker::health`] reports the exit code and [`Docker::logs_tail`] the last lines.
//!
//! ```no_run
//! # async fn demo() -> Result<(), dbenv::Error> {
//! use dbenv::config::PullPolicy;
//! use dbenv::provider::container::{ContainerSpec, Docker, LABEL_ENV, LABEL_PROJECT};
//!
//! let docker = Docker::connect().await?;
//! let spec = ContainerSpec {
//!     name: "dbenv-shop-1a2b3c4d-dev".into(),
//!     image: "postgres:16-alpine".into(),
//!     pull: PullPolicy::Missing,
//!     labels: [(LABEL_PROJECT, "shop"), (LABEL_ENV, "dev")]
//!         .into_iter()
//!         .map(|(k, v)| (k.to_string(), v.to_string()))
//!         .collect(),
//!     env: vec![("POSTGRES_PASSWORD".into(), "secret".into())],
//!     container_port: 5432,
//!     host_port: 0,
//!     volume: "dbenv-shop-1a2b3c4d-dev".into(),
//!     volume_target: "/var/lib/postgresql/data".into(),
//!     args: vec![],
//! };
//! let running = docker.ensure_running(&spec).await?;
//! println!("listening on 127.0.0.1:{}", running.host_port);
//! # Ok(()) }
//! ```

mod image;
mod lifecycle;
mod list;
mod port;
mod up;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use bollard::errors::Error as DockerError;

use crate::config::PullPolicy;
use crate::error::Error;

pub use list::{Listed, ListedVolume};

/// Label: the project's name (the folder holding `dbenv.toml`).
pub const LABEL_PROJECT: &str = "dbenv.project";
/// Label: the absolute path of the project's folder, to tell apart projects of the same name.
pub const LABEL_PROJECT_PATH: &str = "dbenv.project.path";
/// Label: the env that owns the container or volume (`dev`, `test`…).
pub const LABEL_ENV: &str = "dbenv.env";
/// Label: the engine the container runs (`postgres`, `mysql`, `mariadb`).
pub const LABEL_ENGINE: &str = "dbenv.engine";

/// Where the Docker engine is reached when `DOCKER_HOST` is not set.
pub const DEFAULT_DOCKER_HOST: &str = "unix:///var/run/docker.sock";

/// Limit for connecting to the engine (ping and version negotiation).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Limit for one ordinary API call (inspect, create, start, list…).
const API_TIMEOUT: Duration = Duration::from_secs(60);
/// Seconds a server gets to shut down cleanly on `stop` before Docker kills it.
const STOP_GRACE_SECS: i32 = 30;
/// Limit for a pull to make progress: a pull that reports nothing for this long is abandoned.
const PULL_STALL_TIMEOUT: Duration = Duration::from_secs(300);

/// A connected Docker engine client.
///
/// Cheap to clone; every call has a time limit, and every error names the container, volume
/// or image involved and says what to do.
#[derive(Clone)]
pub struct Docker {
    client: bollard::Docker,
    host: String,
}

impl fmt::Debug for Docker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Docker").field("host", &self.host).finish()
    }
}

/// What container [`Docker::ensure_running`] should find or create.
#[derive(Clone)]
pub struct ContainerSpec {
    /// The container's name, e.g. `dbenv-<project>-<hash8>-<env>`; found again by it.
    pub name: String,
    /// The image, e.g. `postgres:16-alpine`.
    pub image: String,
    /// When to pull [`ContainerSpec::image`] (only consulted when the container is created).
    pub pull: PullPolicy,
    /// Labels for discovery, set on the container and its volume: [`LABEL_PROJECT`],
    /// [`LABEL_PROJECT_PATH`], [`LABEL_ENV`], [`LABEL_ENGINE`]…
    pub labels: BTreeMap<String, String>,
    /// Environment of the container. Holds passwords: never logged, redacted by `Debug`.
    pub env: Vec<(String, String)>,
    /// The server's port inside the container (5432, 3306).
    pub container_port: u16,
    /// The port published on `127.0.0.1`; 0 = a free port chosen when the container is
    /// created (and kept by it afterwards).
    pub host_port: u16,
    /// The named volume holding the server's data; created with [`ContainerSpec::labels`].
    pub volume: String,
    /// Where the volume is mounted (`/var/lib/postgresql/data`, `/var/lib/mysql`).
    pub volume_target: String,
    /// The container's command when not empty, replacing the image's `CMD`. The official
    /// postgres and mariadb images treat a command starting with `-` as server flags
    /// (`["-c", "fsync=off"]`).
    pub args: Vec<String>,
}

impl ContainerSpec {
    /// The env named by the [`LABEL_ENV`] label, for messages (`ENV` when absent).
    pub fn env_name(&self) -> &str {
        self.labels.get(LABEL_ENV).map_or("ENV", String::as_str)
    }
}

impl fmt::Debug for ContainerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let env: Vec<String> = self.env.iter().map(|(k, _)| format!("{k}=***")).collect();
        f.debug_struct("ContainerSpec")
            .field("name", &self.name)
            .field("image", &self.image)
            .field("pull", &self.pull)
            .field("labels", &self.labels)
            .field("env", &env)
            .field("container_port", &self.container_port)
            .field("host_port", &self.host_port)
            .field("volume", &self.volume)
            .field("volume_target", &self.volume_target)
            .field("args", &self.args)
            .finish()
    }
}

/// The outcome of [`Docker::ensure_running`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    /// The container's id.
    pub id: String,
    /// The port the server is published on, on `127.0.0.1`.
    pub host_port: u16,
    /// True when this call created the container (a fresh server: its data folder is new
    /// unless the volume survived an earlier container).
    pub created: bool,
    /// True when this call started the container (created, or found stopped).
    pub started: bool,
}

/// What [`Docker::health`] finds under a container name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// The container runs; the server may still be starting.
    Running { id: String, host_port: u16 },
    /// The container exists but does not run: never started, stopped by `down`, or exited
    /// on its own (`exit_code` is then not 0; see [`Docker::logs_tail`]).
    Stopped {
        id: String,
        /// Docker's state: `created`, `exited`, `paused`, `dead`…
        status: String,
        /// The exit code of the last run; `None` when it never ran.
        exit_code: Option<i64>,
    },
    /// No container has that name.
    Missing,
}

impl Docker {
    /// Connect to the Docker engine named by `DOCKER_HOST` (default
    /// [`DEFAULT_DOCKER_HOST`]), check that it answers and agree on an API version.
    pub async fn connect() -> Result<Docker, Error> {
        let host = std::env::var("DOCKER_HOST")
            .ok()
            .filter(|h| !h.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_DOCKER_HOST.to_string());
        Docker::connect_with_host(&host).await
    }

    /// Connect to the Docker engine at `host` (`unix:///path`, `tcp://host:port`,
    /// `http://…`), whatever `DOCKER_HOST` says.
    pub async fn connect_with_host(host: &str) -> Result<Docker, Error> {
        let unreachable = |detail: String| {
            Error::Server(format!(
                "cannot reach the Docker engine at {host}: {detail} — is Docker running? \
                 (start it, or set provider = \"native\" in the env's section of dbenv.toml \
                 to use the server binaries installed on this machine)"
            ))
        };
        let client = bollard::Docker::connect_with_host(host)
            .map_err(|e| unreachable(describe(&e)))?
            .with_timeout(API_TIMEOUT);
        within(CONNECT_TIMEOUT, client.ping())
            .await
            .map_err(|e| unreachable(describe(&e)))?;
        let client = within(CONNECT_TIMEOUT, client.negotiate_version())
            .await
            .map_err(|e| unreachable(describe(&e)))?;
        tracing::debug!(host, api = %client.client_version(), "connected to the Docker engine");
        Ok(Docker {
            client,
            host: host.to_string(),
        })
    }

    /// The address of the engine this client talks to.
    pub fn host(&self) -> &str {
        &self.host
    }
}

/// Run one Docker API call with a time limit; running out of time is a
/// [`DockerError::RequestTimeoutError`].
async fn within<T>(
    limit: Duration,
    call: impl Future<Output = Result<T, DockerError>>,
) -> Result<T, DockerError> {
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or(Err(DockerError::RequestTimeoutError))
}

/// An error of the Docker engine, for a message: the engine's own words when it answered,
/// else bollard's error with its causes.
fn describe(e: &DockerError) -> String {
    match e {
        DockerError::DockerResponseServerError { message, .. } => message.trim().to_string(),
        DockerError::DockerStreamError { error } => error.trim().to_string(),
        DockerError::RequestTimeoutError => {
            "the Docker engine did not answer in time (is it overloaded or stuck? \
             `docker info` should answer at once)"
                .to_string()
        }
        _ => {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let c_text = c.to_string();
                if !text.contains(&c_text) {
                    text = format!("{text}: {c_text}");
                }
                cause = c.source();
            }
            text
        }
    }
}

/// `what` failed because of `e`: a [`Error::Server`] naming both.
fn fail(what: impl fmt::Display, e: &DockerError) -> Error {
    Error::Server(format!("{what}: {}", describe(e)))
}

/// True when the engine answered 404 (no such container, volume or image).
fn is_not_found(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// True when the engine answered 409 (a name already taken, a volume in use).
fn is_conflict(e: &DockerError) -> bool {
    matches!(
        e,
        DockerError::DockerResponseServerError {
            status_code: 409,
            ..
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_of_a_spec_redacts_env_values() {
        let spec = ContainerSpec {
            name: "dbenv-x-00000000-dev".into(),
            image: "postgres:16".into(),
            pull: PullPolicy::Missing,
            labels: BTreeMap::new(),
            env: vec![("POSTGRES_PASSWORD".into(), "hunter2".into())],
            container_port: 5432,
            host_port: 0,
            volume: "v".into(),
            volume_target: "/data".into(),
            args: vec![],
        };
        let text = format!("{spec:?}");
        assert!(text.contains("POSTGRES_PASSWORD=***"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
        assert_eq!(spec.env_name(), "ENV");
    }

    #[test]
    fn engine_errors_are_described_in_the_engines_words() {
        let e = DockerError::DockerResponseServerError {
            status_code: 404,
            message: "No such container: x\n".into(),
        };
        assert_eq!(describe(&e), "No such container: x");
        assert!(is_not_found(&e));
        assert!(!is_conflict(&e));
    }
}

//! The server of a server env (PostgreSQL, MySQL, MariaDB): brought up by its provider,
//! found again through `.dbenv/state/<env>.json`, checked, stopped and purged.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::RngExt;
use sha2::{Digest, Sha256};
use tracing::{debug, info};

use super::Project;
use crate::config::{ConfigStr, EngineKind, EnvConfig, ProviderKind};
use crate::engine::ServerAdmin;
use crate::error::Error;
use crate::provider::container::{self, ContainerSpec, Docker};
use crate::provider::native::{self, NativeSpec};
use crate::provider::{Endpoint, ServerState};
use crate::state::EnvState;

/// How long a freshly started server may take to answer its first query.
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// A server env's server, up and answering, and the database that holds the env's data.
pub(crate) struct ServerEnv {
    pub endpoint: Endpoint,
    pub database: String,
}

impl ServerEnv {
    pub fn url(&self) -> String {
        self.url_of(&self.database)
    }

    /// The URL of another database on the same server.
    pub fn url_of(&self, database: &str) -> String {
        self.endpoint.url(database)
    }

    pub async fn admin(&self) -> Result<ServerAdmin, Error> {
        let url = self.url_of(self.endpoint.admin_database());
        ServerAdmin::connect(self.endpoint.engine, &url).await
    }
}

/// Bring the env's server up (create, start or reuse it), wait until a query succeeds and
/// remember how to find it again. Returns the server and the env's state (updated).
pub(crate) async fn ensure_up(
    project: &Project,
    env: &EnvConfig,
) -> Result<(ServerEnv, EnvState), Error> {
    let mut state = project.state.read_env(&env.name).unwrap_or_default();
    state.engine = env.engine.to_string();
    let password = password(env, &mut state)?;
    let user = admin_user(env);
    let (endpoint, server) = match env.provider {
        ProviderKind::Container => up_container(project, env, &state, &user, &password).await?,
        ProviderKind::Native => up_native(project, env, &state, &user, &password).await?,
        ProviderKind::External => (external_endpoint(env)?, ServerState::External),
        ProviderKind::File => unreachable!("file provider is SQLite's"),
    };
    let database = database_name(env)?;
    state.server = Some(server);
    state.database = Some(database.clone());
    state.updated_at = chrono::Utc::now().to_rfc3339();
    project.state.write_env(&env.name, &state)?;
    Ok((ServerEnv { endpoint, database }, state))
}

/// The env's server as last provided, without starting anything; `None` before the first
/// `up` (or after `down --purge`).
pub(crate) fn known(project: &Project, env: &EnvConfig) -> Result<Option<ServerEnv>, Error> {
    let Some(state) = project.state.read_env(&env.name) else {
        return match env.provider {
            ProviderKind::External => Ok(Some(ServerEnv {
                endpoint: external_endpoint(env)?,
                database: database_name(env)?,
            })),
            _ => Ok(None),
        };
    };
    let Some(server) = &state.server else {
        return Ok(None);
    };
    let mut state_for_password = state.clone();
    let password = password(env, &mut state_for_password)?;
    let user = admin_user(env);
    let endpoint = match server {
        ServerState::External => external_endpoint(env)?,
        ServerState::Native { server } => native::endpoint(server, &user, &password),
        ServerState::Container { port, .. } => local_endpoint(env.engine, *port, &user, &password),
    };
    Ok(Some(ServerEnv {
        endpoint,
        database: state.database.clone().unwrap_or(database_name(env)?),
    }))
}

/// Where the env's server is, in words: a container, a data folder, a host.
pub(crate) fn location(project: &Project, env: &EnvConfig) -> String {
    let state = project.state.read_env(&env.name);
    match state.and_then(|s| s.server) {
        Some(ServerState::Container { name, port, .. }) => {
            format!("container {name} on 127.0.0.1:{port}")
        }
        Some(ServerState::Native { server }) => format!(
            "native server on 127.0.0.1:{}, data in {}",
            server.port,
            server.dir.display()
        ),
        _ => match external_endpoint(env) {
            Ok(e) => format!("external server {}:{}", e.host, e.port),
            Err(_) => "not created".into(),
        },
    }
}

/// Whether the env's server runs, in words, without starting it.
pub(crate) async fn health(project: &Project, env: &EnvConfig) -> (bool, String) {
    let state = project.state.read_env(&env.name);
    match state.as_ref().and_then(|s| s.server.as_ref()) {
        None if env.provider != ProviderKind::External => {
            (false, "not created: run `dbenv up`".into())
        }
        None | Some(ServerState::External) => (true, "external server".into()),
        Some(ServerState::Native { server }) => match native::health(server) {
            native::Health::Running { pid } => (true, format!("running (pid {pid})")),
            native::Health::Stopped => (false, "stopped: run `dbenv up` to start it".into()),
            native::Health::DataMissing => (
                false,
                format!(
                    "data folder {} is gone: run `dbenv up` to create a new server",
                    server.dir.display()
                ),
            ),
        },
        Some(ServerState::Container { name, .. }) => match Docker::connect().await {
            Err(e) => (false, e.to_string()),
            Ok(docker) => match docker.health(name).await {
                Ok(container::Health::Running { .. }) => {
                    (true, format!("container {name} running"))
                }
                Ok(container::Health::Stopped { .. }) => (
                    false,
                    format!("container {name} stopped: run `dbenv up` to start it"),
                ),
                Ok(container::Health::Missing) => (
                    false,
                    format!("container {name} was removed: run `dbenv up` to create it again"),
                ),
                Err(e) => (false, e.to_string()),
            },
        },
    }
}

/// Stop the env's server (`down`); with `purge`, delete it and its data too. External
/// servers are never stopped. Returns what was done, in words.
pub(crate) async fn stop(project: &Project, env: &EnvConfig, purge: bool) -> Result<String, Error> {
    let state = project.state.read_env(&env.name);
    let Some(server) = state.as_ref().and_then(|s| s.server.clone()) else {
        if purge && env.provider == ProviderKind::Container {
            // A first `up` that failed half-way (port taken, server that would not start)
            // may have left a volume or container under the env's names: purge finds them.
            return purge_by_name(project, env).await;
        }
        return Ok(format!("env {} has no server running", env.name));
    };
    match server {
        ServerState::External => Ok(format!(
            "env {} uses an external server: nothing to stop",
            env.name
        )),
        ServerState::Native { server } if purge => {
            native::purge(&server).await?;
            Ok(format!(
                "stopped the server and deleted {}",
                server.dir.display()
            ))
        }
        ServerState::Native { server } => {
            native::stop(&server).await?;
            Ok(format!(
                "stopped the server; its data stays in {} (`dbenv up` starts it again)",
                server.dir.display()
            ))
        }
        ServerState::Container { name, volume, .. } => {
            let docker = Docker::connect().await?;
            if purge {
                docker.remove(&name, Some(&volume)).await?;
                Ok(format!("removed container {name} and volume {volume}"))
            } else if docker.stop(&name).await? {
                Ok(format!(
                    "stopped container {name}; its data stays in volume {volume} (`dbenv up` starts it again)"
                ))
            } else {
                Ok(format!("container {name} was not running"))
            }
        }
    }
}

async fn purge_by_name(project: &Project, env: &EnvConfig) -> Result<String, Error> {
    let docker = Docker::connect().await?;
    let name = container_name(project, env);
    let volume = format!("{name}-data");
    if docker.remove(&name, Some(&volume)).await? {
        Ok(format!("removed container {name} and volume {volume}"))
    } else {
        Ok(format!("env {} has no server", env.name))
    }
}

async fn up_container(
    project: &Project,
    env: &EnvConfig,
    state: &EnvState,
    user: &str,
    password: &str,
) -> Result<(Endpoint, ServerState), Error> {
    let docker = Docker::connect().await?;
    let spec = container_spec(project, env, state, user, password);
    let running = docker.ensure_running(&spec).await?;
    if running.created {
        info!(container = %spec.name, image = %spec.image, port = running.host_port, "created container");
    } else if running.started {
        info!(container = %spec.name, port = running.host_port, "started container");
    }
    let endpoint = local_endpoint(env.engine, running.host_port, user, password);
    wait_container_ready(&docker, &spec.name, &endpoint).await?;
    let server = ServerState::Container {
        name: spec.name,
        volume: spec.volume,
        image: spec.image,
        port: running.host_port,
    };
    Ok((endpoint, server))
}

async fn up_native(
    project: &Project,
    env: &EnvConfig,
    state: &EnvState,
    user: &str,
    password: &str,
) -> Result<(Endpoint, ServerState), Error> {
    let previous = match &state.server {
        Some(ServerState::Native { server }) => Some(server),
        _ => None,
    };
    let dir = native_dir(project, env);
    let spec = NativeSpec {
        engine: env.engine,
        dir: &dir,
        port: if env.port != 0 {
            env.port
        } else {
            previous.map_or(0, |p| p.port)
        },
        user,
        password,
        bin_dir: env.bin_dir.as_deref(),
        durable: true,
    };
    let server = native::ensure_running(&spec, previous).await?;
    let endpoint = native::endpoint(&server, user, password);
    Ok((endpoint, ServerState::Native { server }))
}

/// `.dbenv/<env>/`: the data folder, log and socket of a native server.
pub(crate) fn native_dir(project: &Project, env: &EnvConfig) -> PathBuf {
    project.state.root().join(&env.name)
}

/// Poll until a query succeeds on the server's maintenance database. `died` is asked now
/// and then whether the server is gone, and returns what it said last (log lines).
pub(crate) async fn wait_ready<F, Fut>(endpoint: &Endpoint, died: F) -> Result<(), String>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Option<String>>,
{
    let start = Instant::now();
    let url = endpoint.url(endpoint.admin_database());
    let mut last_check = Instant::now();
    loop {
        let attempt = ServerAdmin::connect(endpoint.engine, &url).await;
        let error = match attempt {
            Ok(_) => {
                debug!(ms = start.elapsed().as_millis() as u64, "server ready");
                return Ok(());
            }
            Err(e) => e.to_string(),
        };
        if refused_login(&error) {
            return Err(format!(
                "the server refused dbenv's login ({error}); it was probably initialised with another password (the env's `password` changed, or .dbenv/state was deleted): set the old password, or run `dbenv down --purge` on the env to start afresh"
            ));
        }
        if last_check.elapsed() > Duration::from_secs(2) {
            last_check = Instant::now();
            if let Some(log) = died().await {
                return Err(format!(
                    "the server stopped while starting; its last log lines:\n{log}"
                ));
            }
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(format!(
                "the server did not answer a query within {}s (last error: {error})",
                READY_TIMEOUT.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Poll until the server in container `name` answers a query; if the container stops
/// meanwhile, fail with its last log lines.
pub(crate) async fn wait_container_ready(
    docker: &Docker,
    name: &str,
    endpoint: &Endpoint,
) -> Result<(), Error> {
    wait_ready(endpoint, || async {
        match docker.health(name).await {
            Ok(container::Health::Running { .. }) => None,
            _ => Some(
                docker
                    .logs_tail(name, 20)
                    .await
                    .unwrap_or_else(|e| e.to_string()),
            ),
        }
    })
    .await
    .map_err(|e| Error::Server(format!("container {name}: {e}")))
}

/// A wrong password never becomes right by waiting.
fn refused_login(error: &str) -> bool {
    error.contains("password authentication failed") || error.contains("Access denied for user")
}

fn container_spec(
    project: &Project,
    env: &EnvConfig,
    state: &EnvState,
    user: &str,
    password: &str,
) -> ContainerSpec {
    let container_name = container_name(project, env);
    let (id, _) = project_identity(project);
    let mut labels = BTreeMap::new();
    labels.insert(container::LABEL_PROJECT.to_string(), id);
    labels.insert(
        container::LABEL_PROJECT_PATH.to_string(),
        project.config.root.display().to_string(),
    );
    labels.insert(container::LABEL_ENV.to_string(), env.name.clone());
    labels.insert(container::LABEL_ENGINE.to_string(), env.engine.to_string());
    let defaults = ContainerDefaults::of(env.engine, user, password);
    let remembered = state.server.as_ref().and_then(ServerState::port);
    ContainerSpec {
        volume: format!("{container_name}-data"),
        name: container_name,
        image: env
            .image
            .clone()
            .unwrap_or_else(|| defaults.image.to_string()),
        pull: env.pull,
        labels,
        env: defaults.env,
        container_port: defaults.port,
        host_port: if env.port != 0 {
            env.port
        } else {
            remembered.unwrap_or(0)
        },
        volume_target: defaults.volume_target.to_string(),
        args: Vec::new(),
    }
}

/// What the official image of an engine expects: the image (when the env names none), the
/// server's port, where its data lives, and the environment that sets the admin password.
pub(crate) struct ContainerDefaults {
    pub image: &'static str,
    pub port: u16,
    pub volume_target: &'static str,
    pub env: Vec<(String, String)>,
}

impl ContainerDefaults {
    pub fn of(engine: EngineKind, user: &str, password: &str) -> ContainerDefaults {
        let (image, port, volume_target, vars) = match engine {
            EngineKind::Postgres => (
                "postgres:16-alpine",
                5432,
                "/var/lib/postgresql/data",
                vec![
                    ("POSTGRES_USER", user.to_string()),
                    ("POSTGRES_PASSWORD", password.to_string()),
                ],
            ),
            engine => (
                if engine == EngineKind::Mysql {
                    "mysql:8.4"
                } else {
                    "mariadb:11"
                },
                3306,
                "/var/lib/mysql",
                vec![
                    ("MYSQL_ROOT_PASSWORD", password.to_string()),
                    ("MARIADB_ROOT_PASSWORD", password.to_string()),
                ],
            ),
        };
        ContainerDefaults {
            image,
            port,
            volume_target,
            env: vars.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        }
    }
}

/// `dbenv-<project folder>-<hash of its path>-<env>`: readable, and unique per project.
fn container_name(project: &Project, env: &EnvConfig) -> String {
    let (id, name) = project_identity(project);
    format!("dbenv-{name}-{}-{}", &id[..8], docker_safe(&env.name))
}

/// A stable id for the project (hash of its root path) and a readable name (its folder).
pub(crate) fn project_identity(project: &Project) -> (String, String) {
    let root = project.config.root.display().to_string();
    let id = hex::encode(Sha256::digest(root.as_bytes()));
    let name = project
        .config
        .root
        .file_name()
        .map(|n| docker_safe(&n.to_string_lossy()))
        .unwrap_or_else(|| "project".into());
    (id[..16].to_string(), name)
}

fn docker_safe(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    cleaned.trim_matches('-').chars().take(40).collect()
}

pub(crate) fn local_endpoint(
    engine: EngineKind,
    port: u16,
    user: &str,
    password: &str,
) -> Endpoint {
    Endpoint {
        engine,
        host: "127.0.0.1".into(),
        port,
        user: user.into(),
        password: password.into(),
        query: None,
    }
}

/// The account dbenv administers its own servers with.
pub(crate) fn admin_user(env: &EnvConfig) -> String {
    env.user.clone().unwrap_or_else(|| match env.engine {
        EngineKind::Postgres => "postgres".into(),
        _ => "root".into(),
    })
}

/// The configured password, else the one generated for this env the first time.
fn password(env: &EnvConfig, state: &mut EnvState) -> Result<String, Error> {
    if let Some(p) = &env.password {
        return Ok(p.resolve()?);
    }
    if let Some(p) = &state.generated_password {
        return Ok(p.clone());
    }
    let p = random_password(24);
    state.generated_password = Some(p.clone());
    Ok(p)
}

/// A password of `len` letters and digits, without the look-alikes (l, 1, O, 0…).
pub(crate) fn random_password(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// The database holding the env's data: `database` from the config, else the external
/// URL's database, else the env name made into an identifier (`dev-pg` → `dev_pg`).
pub(crate) fn database_name(env: &EnvConfig) -> Result<String, Error> {
    if let Some(d) = &env.database {
        return Ok(d.clone());
    }
    if env.provider == ProviderKind::External
        && let Some(url) = &env.url
    {
        let parsed = env_url(env, url)?;
        let path = parsed.path().trim_start_matches('/');
        if !path.is_empty() {
            return Ok(percent_decode(path));
        }
    }
    Ok(env
        .name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect())
}

pub(crate) fn external_endpoint(env: &EnvConfig) -> Result<Endpoint, Error> {
    let Some(url) = &env.url else {
        return Err(Error::Unsupported(format!(
            "env {} uses provider \"external\" but has no url; set url = \"${{DATABASE_URL}}\" in [env.{}]",
            env.name, env.name
        )));
    };
    let parsed = env_url(env, url)?;
    let default_port = if env.engine == EngineKind::Postgres {
        5432
    } else {
        3306
    };
    Ok(Endpoint {
        engine: env.engine,
        host: parsed.host_str().unwrap_or("localhost").to_string(),
        port: parsed.port().unwrap_or(default_port),
        user: percent_decode(parsed.username()),
        password: parsed.password().map(percent_decode).unwrap_or_default(),
        query: parsed.query().filter(|q| !q.is_empty()).map(str::to_string),
    })
}

/// The env's `url`, expanded, parsed and checked against its engine. The URL may hold a
/// password: errors point at `dbenv.toml`, never print the text.
pub(crate) fn env_url(env: &EnvConfig, url: &ConfigStr) -> Result<url::Url, Error> {
    let expected = match env.engine {
        EngineKind::Postgres => "postgres",
        _ => "mysql",
    };
    let parsed = url::Url::parse(&url.resolve_nonempty()?).map_err(|e| {
        url.invalid(&format!(
            "is not a valid URL ({e}); expected {expected}://user:password@host:port/database"
        ))
    })?;
    let fits = match env.engine {
        EngineKind::Postgres => matches!(parsed.scheme(), "postgres" | "postgresql"),
        _ => matches!(parsed.scheme(), "mysql" | "mariadb"),
    };
    if !fits {
        return Err(url
            .invalid(&format!(
                "is a {}:// URL, but engine is \"{}\" (write {expected}://user:password@host:port/database, or change engine)",
                parsed.scheme(),
                env.engine
            ))
            .into());
    }
    Ok(parsed)
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

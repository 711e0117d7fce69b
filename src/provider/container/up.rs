//! `ensure_running`: find the env's container and reuse it, start it, or create it.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, HostConfig, RestartPolicy,
    RestartPolicyNameEnum, VolumeCreateRequest,
};
use bollard::query_parameters::CreateContainerOptionsBuilder;

use super::lifecycle::is_running;
use super::port::{self, HOST_IP};
use super::{
    API_TIMEOUT, ContainerSpec, Docker, LABEL_PROJECT, Running, describe, fail, is_conflict, within,
};
use crate::error::Error;

/// Lines of a dead container's log shown in the error.
const DIED_LOG_LINES: usize = 20;

impl Docker {
    /// Find the spec's container by name and make sure it runs: reuse it when it runs, start
    /// it when it is stopped, create it (volume, image per the pull policy, port) when it is
    /// missing. Fails, rather than use the wrong server, when the container found was made
    /// from another image or with other labels; a container made for another host port is
    /// recreated on the same volume (the data stays).
    #[tracing::instrument(skip_all, fields(container = %spec.name), err)]
    pub async fn ensure_running(&self, spec: &ContainerSpec) -> Result<Running, Error> {
        let started = Instant::now();
        let running = match self.inspect(&spec.name).await? {
            Some(found) => {
                check_matches(spec, &found)?;
                if wants_other_port(spec, &found) {
                    self.recreate(spec).await?
                } else {
                    self.reuse(spec, found).await?
                }
            }
            None => self.create_and_start(spec).await?,
        };
        tracing::info!(
            id = %short(&running.id),
            port = running.host_port,
            created = running.created,
            started = running.started,
            elapsed = ?started.elapsed(),
            "container running"
        );
        Ok(running)
    }

    /// A container found under the spec's name: check it is the one the spec describes,
    /// start it if needed, read its port.
    async fn reuse(
        &self,
        spec: &ContainerSpec,
        found: ContainerInspectResponse,
    ) -> Result<Running, Error> {
        check_matches(spec, &found)?;
        let id = found.id.clone().unwrap_or_else(|| spec.name.clone());
        if found.state.as_ref().is_some_and(|s| s.paused == Some(true)) {
            return Err(Error::Server(format!(
                "container {} is paused: run `docker unpause {}`",
                spec.name, spec.name
            )));
        }
        if is_running(&found) {
            let host_port = self.read_port(spec, &found)?;
            return Ok(Running {
                id,
                host_port,
                created: false,
                started: false,
            });
        }
        if let Some(p) = port::configured(&found, spec) {
            port::check_free(spec, p)?;
        }
        self.start(spec, &id).await?;
        self.running(spec, id, false).await
    }

    /// No container yet: image, volume, port, create, start. A container created here that
    /// fails to start is removed again (its volume stays), so the next try starts afresh.
    async fn create_and_start(&self, spec: &ContainerSpec) -> Result<Running, Error> {
        self.ensure_image(spec).await?;
        self.ensure_volume(spec).await?;
        let host_port = match spec.host_port {
            0 => port::free_port(spec)?,
            p => {
                port::check_free(spec, p)?;
                p
            }
        };
        let id = match self.create(spec, host_port).await? {
            Some(id) => id,
            None => {
                // Another dbenv created it meanwhile: use that one.
                let found = self.inspect(&spec.name).await?.ok_or_else(|| {
                    Error::Server(format!("container {} vanished while created", spec.name))
                })?;
                return self.reuse(spec, found).await;
            }
        };
        if let Err(e) = self.start(spec, &id).await {
            if let Err(cleanup) = self.remove_container(&id).await {
                tracing::warn!("{cleanup}");
            }
            return Err(e);
        }
        self.running(spec, id, true).await
    }

    /// The spec asks for another host port than the container has: replace the container,
    /// keeping its volume and so its data.
    async fn recreate(&self, spec: &ContainerSpec) -> Result<Running, Error> {
        tracing::info!(
            container = %spec.name,
            port = spec.host_port,
            "the port changed: recreating the container on the same volume"
        );
        port::check_free(spec, spec.host_port)?;
        self.stop(&spec.name).await?;
        self.remove_container(&spec.name).await?;
        self.create_and_start(spec).await
    }

    /// Create the container; `None` when the name is already taken (409).
    async fn create(&self, spec: &ContainerSpec, host_port: u16) -> Result<Option<String>, Error> {
        let options = CreateContainerOptionsBuilder::new()
            .name(&spec.name)
            .build();
        let body = create_body(spec, host_port);
        match within(
            API_TIMEOUT,
            self.client.create_container(Some(options), body),
        )
        .await
        {
            Ok(created) => {
                for w in created.warnings.iter().filter(|w| !w.is_empty()) {
                    tracing::warn!(container = %spec.name, "{w}");
                }
                Ok(Some(created.id))
            }
            Err(e) if is_conflict(&e) => Ok(None),
            Err(e) => Err(fail(
                format_args!(
                    "cannot create container {} from image {}",
                    spec.name, spec.image
                ),
                &e,
            )),
        }
    }

    async fn start(&self, spec: &ContainerSpec, id: &str) -> Result<(), Error> {
        match within(API_TIMEOUT, self.client.start_container(id, None)).await {
            Ok(()) => Ok(()),
            Err(e) => {
                let message = describe(&e);
                if port::is_port_taken(&message) {
                    let inspected = self.inspect(id).await.ok().flatten();
                    let p = inspected.and_then(|c| port::configured(&c, spec));
                    return Err(port::in_use(spec, p.unwrap_or(spec.host_port)));
                }
                Err(Error::Server(format!(
                    "cannot start container {} (image {}): {message}; its logs: `docker logs {}`",
                    spec.name, spec.image, spec.name
                )))
            }
        }
    }

    /// The [`Running`] of a container just started: its port as Docker published it.
    async fn running(
        &self,
        spec: &ContainerSpec,
        id: String,
        created: bool,
    ) -> Result<Running, Error> {
        let c = self.inspect(&id).await?.ok_or_else(|| {
            Error::Server(format!(
                "container {} disappeared right after it was started (removed by someone else?)",
                spec.name
            ))
        })?;
        if !is_running(&c) {
            return Err(self.died(spec, &c).await);
        }
        let host_port = self.read_port(spec, &c)?;
        Ok(Running {
            id,
            host_port,
            created,
            started: true,
        })
    }

    /// The error for a container that stopped as soon as it started, with its last lines.
    async fn died(&self, spec: &ContainerSpec, c: &ContainerInspectResponse) -> Error {
        let code = c.state.as_ref().and_then(|s| s.exit_code).unwrap_or(-1);
        let logs = self
            .logs_tail(&spec.name, DIED_LOG_LINES)
            .await
            .unwrap_or_else(|e| format!("(no logs: {e})"));
        Error::Server(format!(
            "container {} (image {}) stopped right after it started, with exit code {code}; \
             its last lines (`docker logs {}` shows more):\n{}",
            spec.name,
            spec.image,
            spec.name,
            logs.trim_end()
        ))
    }

    fn read_port(&self, spec: &ContainerSpec, c: &ContainerInspectResponse) -> Result<u16, Error> {
        port::published(c, spec).ok_or_else(|| {
            Error::Server(format!(
                "container {} does not publish port {} on {HOST_IP}; remove it with `dbenv \
                 down --purge {}` (this deletes its data) and run `dbenv up {}` again",
                spec.name,
                port::tcp_key(spec),
                spec.env_name(),
                spec.env_name()
            ))
        })
    }

    /// Create the spec's volume with its labels, or check that the existing one is ours.
    async fn ensure_volume(&self, spec: &ContainerSpec) -> Result<(), Error> {
        let request = VolumeCreateRequest {
            name: Some(spec.volume.clone()),
            labels: Some(to_hash_map(&spec.labels)),
            ..Default::default()
        };
        let volume = within(API_TIMEOUT, self.client.create_volume(request))
            .await
            .map_err(|e| fail(format_args!("cannot create volume {}", spec.volume), &e))?;
        if let Some((key, want, have)) = label_mismatch(spec, &volume.labels) {
            return Err(Error::Server(format!(
                "volume {} already exists with label {key}={have:?} where dbenv expects \
                 {want:?}: it belongs to something else; remove it (`docker volume rm {}`) \
                 or rename the env",
                spec.volume, spec.volume
            )));
        }
        Ok(())
    }
}

/// The body of the create call: image, env, labels, command, port binding, volume mount,
/// no restart policy (dbenv starts it; a reboot leaves it stopped until the next `up`).
fn create_body(spec: &ContainerSpec, host_port: u16) -> ContainerCreateBody {
    let host_config = HostConfig {
        port_bindings: Some(port::bindings(spec, host_port)),
        binds: Some(vec![format!("{}:{}", spec.volume, spec.volume_target)]),
        restart_policy: Some(RestartPolicy {
            name: Some(RestartPolicyNameEnum::NO),
            maximum_retry_count: None,
        }),
        ..Default::default()
    };
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(to_hash_map(&spec.labels)),
        cmd: (!spec.args.is_empty()).then(|| spec.args.clone()),
        exposed_ports: Some(vec![port::tcp_key(spec)]),
        host_config: Some(host_config),
        ..Default::default()
    }
}

/// Fail when the container under the spec's name is not the one the spec describes: not
/// made by dbenv, made from another image, or labelled for another project or env.
fn check_matches(spec: &ContainerSpec, c: &ContainerInspectResponse) -> Result<(), Error> {
    let config = c.config.as_ref();
    let empty = HashMap::new();
    let labels = config.and_then(|c| c.labels.as_ref()).unwrap_or(&empty);
    let env = spec.env_name();
    let purge =
        format!("run `dbenv down --purge {env}` to delete it and its data, then `dbenv up {env}`");
    if !labels.contains_key(LABEL_PROJECT) {
        return Err(Error::Server(format!(
            "a container named {} exists but dbenv did not create it (no {LABEL_PROJECT} \
             label); rename or remove it (`docker rm -f {}`)",
            spec.name, spec.name
        )));
    }
    let image = config.and_then(|c| c.image.as_deref()).unwrap_or("");
    if image != spec.image {
        return Err(Error::Server(format!(
            "container {} runs image {image} but [env.{env}] asks for {}: {purge}, or set \
             image = \"{image}\" back",
            spec.name, spec.image
        )));
    }
    if let Some((key, want, have)) = label_mismatch(spec, labels) {
        return Err(Error::Server(format!(
            "container {} has label {key}={have:?} but dbenv expects {want:?}: {purge}",
            spec.name
        )));
    }
    Ok(())
}

/// The first label of the spec that `have` lacks or gives another value: (key, wanted, had).
fn label_mismatch<'a>(
    spec: &'a ContainerSpec,
    have: &'a HashMap<String, String>,
) -> Option<(&'a str, &'a str, &'a str)> {
    spec.labels.iter().find_map(|(k, want)| {
        let had = have.get(k).map_or("", String::as_str);
        (had != want).then_some((k.as_str(), want.as_str(), had))
    })
}

/// True when the spec names a host port and the container was made for another one.
fn wants_other_port(spec: &ContainerSpec, c: &ContainerInspectResponse) -> bool {
    spec.host_port != 0 && port::configured(c, spec).is_some_and(|p| p != spec.host_port)
}

fn to_hash_map(labels: &BTreeMap<String, String>) -> HashMap<String, String> {
    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The first 12 characters of a container id, as `docker ps` shows it.
fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

//! A container's life after `up`: its health, stopping it, removing it with its volume.

use bollard::models::{ContainerInspectResponse, ContainerStateStatusEnum};
use bollard::query_parameters::{
    RemoveContainerOptionsBuilder, RemoveVolumeOptionsBuilder, StopContainerOptionsBuilder,
};

use super::{
    API_TIMEOUT, Docker, Health, STOP_GRACE_SECS, describe, fail, is_conflict, is_not_found, within,
};
use crate::error::Error;

impl Docker {
    /// What runs under the container name `name`, including how a stopped one ended.
    pub async fn health(&self, name: &str) -> Result<Health, Error> {
        let Some(c) = self.inspect(name).await? else {
            return Ok(Health::Missing);
        };
        let id = c.id.clone().unwrap_or_default();
        let state = c.state.as_ref();
        if is_running(&c) {
            let host_port = c
                .network_settings
                .as_ref()
                .and_then(|n| n.ports.as_ref())
                .and_then(|ports| ports.values().flatten().flatten().next())
                .and_then(|b| b.host_port.as_deref()?.parse().ok())
                .unwrap_or(0);
            return Ok(Health::Running { id, host_port });
        }
        let status = state
            .and_then(|s| s.status)
            .map_or_else(|| "unknown".to_string(), |s| s.to_string());
        let ran = state
            .and_then(|s| s.started_at.as_deref())
            .is_some_and(|t| !t.starts_with("0001-"));
        let exit_code = state.and_then(|s| s.exit_code).filter(|_| ran);
        Ok(Health::Stopped {
            id,
            status,
            exit_code,
        })
    }

    /// Stop the container `name`, giving the server time to shut down cleanly. Returns false
    /// when there was nothing to stop (no such container, or not running).
    #[tracing::instrument(skip(self), err)]
    pub async fn stop(&self, name: &str) -> Result<bool, Error> {
        match self.inspect(name).await? {
            Some(c) if is_running(&c) => {}
            _ => return Ok(false),
        }
        let options = StopContainerOptionsBuilder::new()
            .t(STOP_GRACE_SECS)
            .build();
        let limit = API_TIMEOUT + std::time::Duration::from_secs(STOP_GRACE_SECS as u64);
        match within(limit, self.client.stop_container(name, Some(options))).await {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(fail(format_args!("cannot stop container {name}"), &e)),
        }
    }

    /// Force-remove the container `name` (running or not) and then the named `volume`, with
    /// the data in it. Returns false when neither existed.
    #[tracing::instrument(skip(self), err)]
    pub async fn remove(&self, name: &str, volume: Option<&str>) -> Result<bool, Error> {
        let removed_container = self.remove_container(name).await?;
        let removed_volume = match volume {
            Some(v) => self.remove_volume(v, name).await?,
            None => false,
        };
        Ok(removed_container || removed_volume)
    }

    /// The container's inspect data, `None` when no container has that name.
    pub(super) async fn inspect(
        &self,
        name: &str,
    ) -> Result<Option<ContainerInspectResponse>, Error> {
        match within(API_TIMEOUT, self.client.inspect_container(name, None)).await {
            Ok(c) => Ok(Some(c)),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(fail(format_args!("cannot inspect container {name}"), &e)),
        }
    }

    pub(super) async fn remove_container(&self, name: &str) -> Result<bool, Error> {
        let options = RemoveContainerOptionsBuilder::new()
            .force(true)
            .v(true)
            .build();
        match within(
            API_TIMEOUT,
            self.client.remove_container(name, Some(options)),
        )
        .await
        {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(fail(format_args!("cannot remove container {name}"), &e)),
        }
    }

    async fn remove_volume(&self, volume: &str, container: &str) -> Result<bool, Error> {
        let options = RemoveVolumeOptionsBuilder::new().force(false).build();
        match within(
            API_TIMEOUT,
            self.client.remove_volume(volume, Some(options)),
        )
        .await
        {
            Ok(()) => Ok(true),
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) if is_conflict(&e) => Err(Error::Server(format!(
                "cannot remove volume {volume} of container {container}: another container \
                 still uses it ({}); find it with `docker ps -a --filter volume={volume}`",
                describe(&e)
            ))),
            Err(e) => Err(fail(format_args!("cannot remove volume {volume}"), &e)),
        }
    }
}

/// True when the container runs (and is not paused).
pub(super) fn is_running(c: &ContainerInspectResponse) -> bool {
    c.state.as_ref().is_some_and(|s| {
        s.status == Some(ContainerStateStatusEnum::RUNNING)
            || (s.running == Some(true) && s.paused != Some(true))
    })
}
